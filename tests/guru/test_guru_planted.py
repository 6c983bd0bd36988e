"""The planted-fault suite: real training runs built to fail in one way each, and healthy runs.

Each faulty run must be diagnosed with its code (and never as healthy); healthy runs on digits
and MNIST must give only ``healthy``. Runs are small (well under a second each on one thread).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_circles, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nnguru.data.clean import duplicates_across


def codes(findings):
    return [f.code for f in findings]


def tabular(n=600, seed=0):
    x, y = make_classification(n_samples=n, n_features=10, n_informative=5, random_state=seed)
    return x[:400], y[:400], x[400:], y[400:]


def test_planted_overfitting(trainer, overfit_data):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = overfit_data
    run = train(x_tr, y_tr, x_va, y_va, hidden=(256, 256), epochs=100, batch_size=8)
    found, _ = diag(run, y_tr, x_va, y_va)
    assert "overfitting" in codes(found) and "healthy" not in codes(found)
    over = next(f for f in found if f.code == "overfitting")
    assert over.evidence["final_val_loss"] > 1.5 * over.evidence["best_val_loss"]


def test_planted_underfitting(trainer):
    train, diag = trainer
    x, y = make_circles(n_samples=600, noise=0.1, factor=0.5, random_state=0)
    run = train(x[:400], y[:400], x[400:], y[400:], hidden=(), lr=1e-2, epochs=30)
    found, _ = diag(run, y[:400], x[400:], y[400:])
    assert codes(found) == ["underfitting"]


@pytest.mark.parametrize("optimizer,lr", [("sgd", 1e3), ("adam", 3.0)])
def test_planted_divergence(trainer, optimizer, lr):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = tabular()
    run = train(x_tr, y_tr, x_va, y_va, optimizer=optimizer, lr=lr, epochs=20)
    found, _ = diag(run, y_tr, x_va, y_va, lr=lr)
    assert found[0].code == "lr_too_high"
    assert found[0].evidence["advised_lr"] == pytest.approx(lr / 10)
    assert "underfitting" not in codes(found) and "overfitting" not in codes(found)


def test_planted_crawl(trainer):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = tabular()
    run = train(x_tr, y_tr, x_va, y_va, lr=1e-5, epochs=20)
    found, _ = diag(run, y_tr, x_va, y_va, lr=1e-5)
    assert codes(found) == ["lr_too_low"]
    assert found[0].evidence["advised_lr"] == pytest.approx(1e-4)


def test_planted_imbalance(trainer, imbalanced_data):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = imbalanced_data
    assert 0.015 < y_tr.mean() < 0.03
    run = train(x_tr, y_tr, x_va, y_va, epochs=15)
    found, metrics = diag(run, y_tr, x_va, y_va)
    assert set(codes(found)) == {"class_imbalance", "accuracy_paradox"}
    assert metrics["val"]["per_class"]["1"]["recall"] <= 0.1


def test_planted_leakage(trainer):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = tabular()
    rng = np.random.default_rng(0)
    copies = rng.choice(len(x_tr), 60, replace=False)
    x_te = np.concatenate([x_va[:140], x_tr[copies]])  # 60 of 200 test rows seen in training
    leaked = duplicates_across(x_tr, x_te)
    assert leaked == 60
    run = train(x_tr, y_tr, x_va, y_va, epochs=20, early_stopping=True)
    found, metrics = diag(run, y_tr, x_va, y_va, n_test=len(x_te), duplicates=leaked)
    leak = next(f for f in found if f.code == "leakage")
    assert leak.severity == "error"
    assert leak.evidence["duplicated_test_samples"] == 60


def test_healthy_digits_only_healthy(trainer):
    train, diag = trainer
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_va = scaler.transform(x_tr), scaler.transform(x_va)
    for early in (False, True):
        run = train(x_tr, y_tr, x_va, y_va, epochs=30, early_stopping=early, patience=10)
        found, metrics = diag(run, y_tr, x_va, y_va)
        assert codes(found) == ["healthy"], [f.summary for f in found]
        assert metrics["val"]["accuracy"] > 0.9


@pytest.mark.slow
def test_healthy_mnist_only_healthy(trainer, mnist_dir):
    from nnguru.datasets import load_mnist

    train, diag = trainer
    (x, y), _ = load_mnist(mnist_dir)
    x = x.reshape(len(x), -1).astype(np.float32) / 255.0
    y = y.astype(np.int64)
    # The seed tutorial's model and schedule on a 20k/5k slice (the full set takes minutes).
    run = train(x[:20000], y[:20000], x[50000:55000], y[50000:55000], hidden=(128,), epochs=5)
    found, metrics = diag(run, y[:20000], x[50000:55000], y[50000:55000])
    assert codes(found) == ["healthy"], [f.summary for f in found]
    assert metrics["val"]["accuracy"] > 0.93
