"""A small plain-PyTorch trainer that writes Keras-style histories, for the planted-fault suite.

It stands in for ``nnguru.Sequential`` so the guru is tested on real training curves; the config
keys it accepts are exactly those ``nnguru.guru.remedies`` returns, so ``--auto-fix`` is tested
end to end: diagnose -> remedies -> retrain with the changes -> compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn


@dataclass
class Trained:
    history: dict[str, list[float]]
    model: nn.Module
    n_params: int

    def proba(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.model.eval()(torch.as_tensor(x, dtype=torch.float32))
            return torch.softmax(out, dim=1).numpy().astype(np.float64)

    def val_loss(self, x: np.ndarray, y: np.ndarray) -> float:
        p = np.clip(self.proba(x)[np.arange(len(y)), y], 1e-12, 1)
        return float(-np.log(p).mean())


def train_mlp(x_tr, y_tr, x_val, y_val, *, hidden=(64,), lr=1e-3, epochs=20, batch_size=32,
              optimizer="adam", dropout=0.0, class_weight=None, early_stopping=False,
              patience=5, hidden_scale=1, seed=0, **_ignored) -> Trained:
    """Fit an MLP classifier; history keys follow Keras (loss, val_loss, accuracy, ...)."""
    torch.manual_seed(seed)
    k = int(max(y_tr.max(), y_val.max()) + 1)
    layers: list[nn.Module] = []
    width_in = x_tr.shape[1]
    for h in hidden:
        h = int(h * hidden_scale)
        layers += [nn.Linear(width_in, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        width_in = h
    model = nn.Sequential(*layers, nn.Linear(width_in, k))
    opt = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer](model.parameters(), lr=lr)
    weight = None
    if class_weight == "balanced":
        counts = np.bincount(y_tr, minlength=k)
        weight = torch.tensor(len(y_tr) / (k * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    xt, yt = torch.as_tensor(x_tr, dtype=torch.float32), torch.as_tensor(y_tr)
    xv, yv = torch.as_tensor(x_val, dtype=torch.float32), torch.as_tensor(y_val)
    hist: dict[str, list[float]] = {k: [] for k in
                                    ("loss", "val_loss", "accuracy", "val_accuracy", "lr")}
    gen = torch.Generator().manual_seed(seed)
    best, best_state, wait = np.inf, None, 0
    for _ in range(epochs):
        model.train()
        total, correct, nonfinite = 0.0, 0, False
        for idx in torch.randperm(len(xt), generator=gen).split(batch_size):
            out = model(xt[idx])
            loss = loss_fn(out, yt[idx])
            if not torch.isfinite(loss):
                nonfinite = True
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        model.eval()
        with torch.no_grad():
            vout = model(xv)
            vloss = float(nn.functional.cross_entropy(vout, yv))
            vacc = float((vout.argmax(1) == yv).float().mean())
        hist["loss"].append(float("nan") if nonfinite else total / len(xt))
        hist["accuracy"].append(correct / len(xt))
        hist["val_loss"].append(vloss)
        hist["val_accuracy"].append(vacc)
        hist["lr"].append(lr)
        if nonfinite:
            break
        if early_stopping:
            if vloss < best:
                best, wait = vloss, 0
                best_state = {n: t.clone() for n, t in model.state_dict().items()}
            else:
                wait += 1
                if wait >= patience:
                    break
    if early_stopping and best_state is not None:
        model.load_state_dict(best_state)
    return Trained(hist, model, sum(p.numel() for p in model.parameters()))


@pytest.fixture
def trainer():
    """``train_mlp`` on one CPU thread (the suite shares small machines), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield train_mlp
    torch.set_num_threads(threads)
