"""Real training runs for the planted-fault and auto-fix suites, with nnguru's Keras API.

``train_mlp`` builds a ``nnguru.Sequential`` MLP classifier from a small config whose keys are
exactly those ``nnguru.guru.remedies`` returns (lr, dropout, early_stopping, class_weight,
hidden_scale, epochs), so ``--auto-fix`` is tested end to end: diagnose -> remedies -> retrain
with the changes -> compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

import nnguru
from nnguru.callbacks import EarlyStopping
from nnguru.evaluate import baseline, classification_metrics
from nnguru.guru import Finding, diagnose
from nnguru.layers import Dense, Dropout


@dataclass
class Trained:
    history: dict[str, list[float]]
    model: Any
    n_params: int
    restored_epoch: int | None
    config: dict[str, Any]

    def proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(x, np.float32)), dtype=np.float64)

    def log_loss(self, x: np.ndarray, y: np.ndarray) -> float:
        p = np.clip(self.proba(x)[np.arange(len(y)), y], 1e-12, 1)
        return float(-np.log(p).mean())


def train_mlp(x_tr, y_tr, x_val, y_val, *, hidden=(64,), lr=1e-3, epochs=20, batch_size=32,
              optimizer="adam", dropout=0.0, class_weight=None, early_stopping=False,
              patience=5, hidden_scale=1, seed=0, **_unused) -> Trained:
    """Fit ``Sequential([Dense(h, relu), (Dropout), ..., Dense(k, softmax)])``."""
    nnguru.set_seed(seed)
    k = int(max(y_tr.max(), y_val.max()) + 1)
    layers: list[Any] = []
    for h in hidden:
        first = {"input_shape": (x_tr.shape[1],)} if not layers else {}
        layers.append(Dense(int(h * hidden_scale), activation="relu", **first))
        if dropout:
            layers.append(Dropout(dropout))
    first = {"input_shape": (x_tr.shape[1],)} if not layers else {}
    layers.append(Dense(k, activation="softmax", **first))
    model = nnguru.Sequential(layers)
    model.compile(optimizer={"name": optimizer, "lr": lr},
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights = None
    if class_weight == "balanced":
        counts = np.bincount(y_tr, minlength=k)
        weights = {c: len(y_tr) / (k * max(n, 1)) for c, n in enumerate(counts)}
    early = (EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
             if early_stopping else None)
    hist = model.fit(np.asarray(x_tr, np.float32), y_tr, epochs=int(epochs),
                     batch_size=batch_size, verbose=0, class_weight=weights,
                     validation_data=(np.asarray(x_val, np.float32), y_val),
                     callbacks=[early] if early else None).history
    restored = early.best_epoch + 1 if early and early.best_epoch is not None else None
    config = {"lr": lr, "epochs": epochs, "dropout": dropout, "class_weight": class_weight,
              "early_stopping": early_stopping, "hidden_scale": hidden_scale}
    return Trained(dict(hist), model, model.count_params(), restored, config)


def diagnose_run(run: Trained, y_tr: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
                 n_test: int | None = None, duplicates: int = 0,
                 **extra: Any) -> tuple[list[Finding], dict[str, Any]]:
    """What nnguru.train does after fit: validation metrics, baseline, data facts, diagnosis.

    ``n_test`` / ``duplicates``: the test split's size and its samples copied from training.
    """
    k = int(max(y_tr.max(), y_val.max()) + 1)
    classes = list(range(k))
    metrics = {"val": classification_metrics(y_val, run.proba(x_val), classes, y_train=y_tr),
               "baseline": baseline("classification", y_tr, y_val, classes=classes)}
    counts = {str(c): int(n) for c, n in enumerate(np.bincount(y_tr, minlength=k))}
    n_test = len(y_val) if n_test is None else n_test
    report = {"target": {"name": "y", "missing_rows_dropped": 0, "type": "classes",
                         "class_balance": {"counts": counts}},
              "split": {"method": "stratified", "train": len(y_tr), "val": len(y_val),
                        "test": n_test, "stratified": True, "seed": 0,
                        "official_test_set": False, "duplicates_train_test": duplicates}}
    findings = diagnose(history=run.history, data_report=report, metrics=metrics,
                        headline="accuracy", n_params=run.n_params, n_classes=k,
                        class_weight=run.config["class_weight"],
                        restored_epoch=run.restored_epoch, **extra)
    return findings, metrics


@pytest.fixture
def trainer():
    """``(train_mlp, diagnose_run)`` on one CPU thread (the suite shares small machines)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield train_mlp, diagnose_run
    torch.set_num_threads(threads)


@pytest.fixture
def overfit_data():
    """40 training rows, 20 features of which 15 are noise: easy to memorize, hard to learn."""
    x, y = make_classification(n_samples=240, n_features=20, n_informative=5, flip_y=0.05,
                               random_state=0)
    x = StandardScaler().fit_transform(x)
    return x[:40], y[:40], x[40:], y[40:]


@pytest.fixture
def imbalanced_data():
    """98:2 classes that overlap: a plain model predicts the majority class only."""
    x, y = make_classification(n_samples=3000, n_features=10, n_informative=3, weights=[0.98],
                               flip_y=0, class_sep=0.5, random_state=1)
    return x[:2000], y[:2000], x[2000:], y[2000:]
