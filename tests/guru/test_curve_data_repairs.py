"""Curve and data faults the planted-fault benchmark left unrepaired (issue 14): each test is one
cause found in the benchmark's rows, checked on small hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnguru.guru import Finding, diagnose, strongest_remedy
from nnguru.guru.data_checks import _least_shrunk, label_issues
from nnguru.guru.rules import LR_LOW_MAX_UPDATE_RATIO


def _monitor(ratio: float, n: int = 10) -> dict:
    """monitor.json with n samples whose fastest layer moves by ``ratio`` per step."""
    return {"samples": [{"epoch": 1 + i // 2, "step": i, "update_ratio": [ratio / 3, ratio, None]}
                        for i in range(n)], "layers": []}


def test_a_flat_curve_with_tiny_weight_updates_is_a_crawl_not_underfitting():
    """An LSTM at SGD 1e-5: the loss sits at ln 3 to 4 digits (no curve test sees a slope), but
    the monitor shows each step moving even the fastest layer by ~5e-7 of its size."""
    flat = [math.log(3) + 1e-6 * (20 - i) for i in range(20)]
    history = {"loss": flat, "val_loss": flat, "accuracy": [0.34] * 20, "val_accuracy": [0.33] * 20}
    crawl = {f.code: f for f in diagnose(history=history, n_classes=3, lr=1e-5,
                                         monitor=_monitor(5e-7))}
    assert "lr_too_low" in crawl and "underfitting" not in crawl
    assert crawl["lr_too_low"].evidence["median_update_ratio"] == pytest.approx(5e-7)
    # the same curve with well-sized steps (stuck for another reason) stays underfitting
    stuck = {f.code for f in diagnose(history=history, n_classes=3, lr=1e-3,
                                      monitor=_monitor(3e-3))}
    assert "underfitting" in stuck and "lr_too_low" not in stuck


def test_small_late_steps_of_a_converged_run_are_no_crawl():
    """Plain SGD near a minimum takes tiny steps too; a loss far below the prior's is done."""
    done = [0.9 * 0.6 ** i + 0.02 for i in range(15)]
    found = {f.code for f in diagnose(history={"loss": done, "val_loss": done}, n_classes=3,
                                      lr=1e-2, monitor=_monitor(LR_LOW_MAX_UPDATE_RATIO / 10))}
    assert "lr_too_low" not in found


def test_flat_underfitting_tries_the_rate_before_capacity():
    """Underfitting whose loss barely moved ("try a higher learning rate first") with a plain
    global step gets the rate remedy; an adam run at its default gets a wider model."""
    flat = Finding("underfitting", "warning", {"flat": True})
    assert strongest_remedy([flat], {"optimizer": "sgd", "lr": 0.01})["changes"] == {
        "optimizer": "adam", "lr": pytest.approx(1e-3)}
    assert strongest_remedy([flat], {"optimizer": "adam", "lr": 1e-4})["changes"] == {
        "lr": pytest.approx(1e-3)}
    wide = strongest_remedy([flat], {"optimizer": "adam", "lr": 1e-3, "epochs": 20})["changes"]
    assert wide == {"hidden_scale": 2.0, "epochs": 40}
    moved = Finding("underfitting", "warning", {"flat": False})
    assert "hidden_scale" in strongest_remedy([moved], {"optimizer": "sgd", "lr": 0.01})["changes"]


def test_underfitting_evidence_says_whether_the_curve_was_flat():
    flat = [1.0986] * 8
    f = {x.code: x for x in diagnose(history={"loss": flat, "val_loss": flat}, n_classes=3)}
    assert f["underfitting"].evidence["flat"] is True


def test_early_stopping_added_against_overfitting_waits_as_long_as_the_run_took():
    """A GRU on 60 rows rose for 10 epochs before it learned; its best validation loss came at
    epoch 47. Early stopping with the default patience stops it at its untrained start."""
    over = Finding("overfitting", "warning", {"best_epoch": 47})
    changes = strongest_remedy([over], {"early_stopping": False, "dropout": 0.0})["changes"]
    assert changes == {"dropout": 0.3, "early_stopping": True, "patience": 47}
    # a patience already longer is kept
    changes = strongest_remedy([over], {"early_stopping": False, "patience": 60})["changes"]
    assert "patience" not in changes


def test_small_data_says_where_the_validation_loss_was_best():
    vl = [1.5, 1.7, 1.4, 1.2, 0.9, 0.8, 0.85, 0.9]
    f = {x.code: x for x in diagnose(history={"loss": [1.0] * 8, "val_loss": vl}, n_params=10**6,
                                     data_report={"split": {"train": 60, "val": 20, "test": 20,
                                                            "duplicates_train_test": 0}})}
    assert f["small_data"].evidence["best_epoch"] == 6


def test_the_label_check_uses_the_least_shrunk_fit_within_one_standard_error():
    labels = np.array([0, 1] * 50)
    right = np.eye(2)[labels] * 0.8 + 0.1
    wrong = right[:, ::-1]
    good = right.copy()
    good[:20] = wrong[:20]  # 0.80 right
    close = right.copy()
    close[:23] = wrong[:23]  # 0.77: within one standard error (0.04) of 0.80
    far = right.copy()
    far[:30] = wrong[:30]  # 0.70: not
    assert _least_shrunk({1.0: far, 0.1: close, 0.01: good}, labels)[0] == 0.1
    assert _least_shrunk({1.0: far, 0.01: good}, labels)[0] == 0.01


def test_flipped_labels_in_noisy_features_are_flagged_with_few_honest_rows(monkeypatch):
    """Many noisy features, few rows (as noisy tone spectra): an unregularized held-out model
    memorizes its folds' flipped labels and doubts honest rows; the chosen shrinkage does not."""
    import nnguru.guru.data_checks as checks

    rng = np.random.default_rng(0)
    n, d = 300, 200
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1, (n, d))
    x[:, :21] += 1.5 * (y[:, None] == np.arange(3).repeat(7)[None, :])
    flip = rng.random(n) < 0.2
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, 3, flip.sum())) % 3

    def precision() -> tuple[int, float]:
        found = label_issues(x.astype("float32"), noisy)
        return found["count"], float(np.isin(found["train_indices"], np.flatnonzero(flip)).mean())

    count, right = precision()
    assert count >= 10 and right >= 0.8
    monkeypatch.setattr(checks, "LABEL_C", (1.0,))  # the loose fit alone: half are honest rows
    assert precision()[1] < 0.7


def test_a_flat_start_of_a_few_optimizer_steps_is_no_plateau():
    """An LSTM on 60 rows (2 steps an epoch) sits at ln 3 for 8 epochs, then learns: 16 steps
    are a recurrent net's ordinary start, not a stuck optimizer; the same curve over 8 epochs of
    12 steps each is a plateau. Without the steps per epoch the epoch count decides, as before."""
    curve = [1.0986] * 8 + [0.9, 0.6, 0.4, 0.2, 0.1, 0.05, 0.02, 0.01] + [0.005] * 8

    def codes(steps):
        return {f.code for f in diagnose(history={"loss": curve}, n_classes=3, lr=1e-3,
                                         steps_per_epoch=steps)}

    assert "plateau" not in codes(2)
    assert "plateau" in codes(12)
    assert "plateau" in codes(None)


@pytest.mark.parametrize("dropout, scale, emb, units", [(0.0, 1.0, 16, 32), (0.0, 4.0, 64, 128),
                                                        (0.5, 0.5, 8, 16)])
def test_the_benchmark_text_model_takes_the_overfitting_remedy_where_it_memorizes(dropout, scale, emb,
                                                                                  units):
    """Planted overfitting on text (60 rows, an LSTM over token ids) was repaired on 1 of 6 seeds
    while dropout reached only the LSTM's last state and the width only the LSTM: the embedding
    (40 noise tokens x 16 dims) and the recurrent weights kept memorizing. The remedy's keys now
    reach both, as a text template's would (6 of 6); the healthy model (no dropout) is unchanged."""
    import benchmark_module
    from nnguru.layers import LSTM, Dropout, Embedding

    gf = benchmark_module.load("guru_faults")
    data = gf.Data({"train": np.ones((4, 12), "int64")}, {"train": np.zeros(4, "int64")}, 3, "text")
    model = gf.build(data, {**gf.DEFAULT, "dropout": dropout, "hidden_scale": scale})
    (embedding,), (lstm,) = ([x for x in model.layers if isinstance(x, t)] for t in (Embedding, LSTM))
    assert (embedding.output_dim, lstm.units) == (emb, units)
    assert lstm.dropout == lstm.recurrent_dropout == dropout
    assert any(isinstance(x, Dropout) for x in model.layers) == bool(dropout)  # and before the head
