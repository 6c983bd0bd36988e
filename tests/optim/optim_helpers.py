"""Tiny training helper for the optimizer tests (the real loop lives in nnguru.training.loop)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_iris

from nnguru.optim import ModelOptimizer


def cross_entropy(outputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    if w is None:
        return F.cross_entropy(outputs, y)
    return (F.cross_entropy(outputs, y, reduction="none") * w).sum() / w.sum()


def mse(outputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    return F.mse_loss(outputs, y)


def step(opt, model, loss_fn, x, y, w=None) -> float:
    """One update through either side of the contract; returns the loss before it."""
    if isinstance(opt, ModelOptimizer):
        loss, _ = opt.step_batch(model, loss_fn, x, y, w)
    else:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y, w)
        loss.backward()
        opt.step()
    return float(loss)


def run(opt, model, loss_fn, x, y, steps: int, w=None) -> list[float]:
    return [step(opt, model, loss_fn, x, y, w) for _ in range(steps)]


def iris() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's iris, standardized (the same data as builtin:iris)."""
    x, y = load_iris(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def mlp(sizes: tuple[int, ...], seed: int = 0, act=torch.nn.Tanh, dtype=torch.float32):
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers).to(dtype)


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
