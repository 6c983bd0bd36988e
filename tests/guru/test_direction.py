"""Issue 14: learning-rate advice points the right way, and no two findings of a run contradict.

The runs are the ones the issue describes, trained for real on scikit-learn's digits (small, <1 s
each): SGD at lr 3 bounces at the prior's loss (``lr_too_high``, never ``underfitting``), SGD at
lr 3e-5 crawls, also when dropout makes the training curve noisy (``lr_too_low``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

import nnguru
from nnguru import Sequential
from nnguru.guru import diagnose
from nnguru.guru import rules as guru_rules
from nnguru.layers import Dense, Dropout

EPOCHS = 15


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16).astype("float32"), y


def _train(digits, lr: float, dropout: float, optimizer: str = "sgd") -> dict:
    x, y = digits
    nnguru.set_seed(0)
    model = Sequential([Dense(64, activation="relu", input_shape=(64,)), Dropout(dropout),
                        Dense(10, activation="softmax")])
    model.compile(optimizer={"name": optimizer, "lr": lr},
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x[:1200], y[:1200], epochs=EPOCHS, batch_size=32, verbose=0,
                  validation_data=(x[1200:], y[1200:]))
    return h.history


def _codes(history: dict) -> list[str]:
    val_acc = history["val_accuracy"][-1]
    metrics = {"val": {"accuracy": val_acc}, "test": {"accuracy": val_acc},
               "baseline": {"accuracy": 0.1, "loss": math.log(10)}}
    return [f.code for f in diagnose(history=history, n_classes=10, metrics=metrics)]


def test_sgd_lr_3_is_lr_too_high_not_underfitting(digits):
    codes = _codes(_train(digits, 3.0, 0.0))
    assert "lr_too_high" in codes and "underfitting" not in codes and "lr_too_low" not in codes


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_sgd_lr_3e5_is_a_crawl_even_with_dropout(digits, dropout):
    codes = _codes(_train(digits, 3e-5, dropout))
    assert "lr_too_low" in codes and "underfitting" not in codes and "lr_too_high" not in codes


def test_a_well_set_rate_gets_no_learning_rate_finding(digits):
    codes = _codes(_train(digits, 1e-3, 0.2, optimizer="adam"))
    assert not {"lr_too_high", "lr_too_low"} & set(codes)


def test_rules_with_opposite_lr_advice_suppress_each_other():
    """Every pair of registered rules whose advice moves the learning rate in opposite directions
    is ordered by suppression, so a run can never get both."""
    directed = [r for r in guru_rules.RULES.values() if r.lr_direction]
    assert {"lr_too_high", "lr_too_low"} <= {r.code for r in directed}
    for a, b in itertools.combinations(directed, 2):
        if a.lr_direction != b.lr_direction:
            assert b.code in a.suppresses or a.code in b.suppresses, (a.code, b.code)


def test_diagnose_drops_a_contradiction_a_plugin_rule_would_cause():
    """A rule registered without suppressing its opposite still cannot contradict: the earlier
    registered (higher priority) direction wins."""
    def always_up(f):
        return guru_rules.Finding("needs_higher_lr", "warning", {"summary": "up"}, "raise it")

    guru_rules.register("needs_higher_lr", always_up, lr_direction="up")
    try:
        history = {"loss": [1.0, float("nan")], "lr": [1.0, 1.0]}
        codes = [f.code for f in diagnose(history=history, n_classes=2)]
        assert "lr_too_high" in codes and "needs_higher_lr" not in codes
    finally:
        del guru_rules.RULES["needs_higher_lr"]


def test_lr_direction_must_be_up_or_down():
    with pytest.raises(nnguru.errors.NNGuruError, match="lr_direction"):
        guru_rules.register("x_bad", lambda f: None, lr_direction="sideways")
    assert "x_bad" not in guru_rules.RULES


def test_every_finding_declares_no_lr_direction_it_contradicts():
    """The advice text agrees with the declared direction (no 'higher learning rate' in a
    finding that lowers it, and the reverse)."""
    hist = {"loss": list(np.linspace(2.4, 2.3, 8)), "lr": [1e-5] * 8}
    for finding in diagnose(history=hist, n_classes=10):
        rule = guru_rules.RULES.get(finding.code)
        if rule is not None and rule.lr_direction == "down":
            assert "higher learning rate" not in finding.advice
        if rule is not None and rule.lr_direction == "up":
            assert "Lower the learning rate" not in finding.advice
