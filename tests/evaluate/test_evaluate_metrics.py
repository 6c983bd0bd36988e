"""Metrics against scikit-learn directly and against hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from nnguru.errors import NNGuruError
from nnguru.evaluate import (
    baseline,
    choose_threshold,
    classification_metrics,
    regression_metrics,
    resolve_positive,
)


def _binary(n: int = 300, pos_rate: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_rate).astype(int)
    p1 = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1)
    return y, np.stack([1 - p1, p1], axis=1)


def test_binary_hand_computed():
    # P(class 1) = [.9, .6, .4, .2, .7]; at 0.5 the predictions are [1, 1, 0, 0, 1].
    y = np.array([1, 0, 1, 0, 0])
    p1 = np.array([0.9, 0.6, 0.4, 0.2, 0.7])
    m = classification_metrics(y, p1, ["no", "yes"])
    # Minority in y_true is class 1 ("yes"): TP=1, FP=2, FN=1.
    assert m["positive"] == "yes"
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["confusion_matrix"] == [[1, 2], [1, 1]]
    assert m["per_class"]["no"]["support"] == 3
    expected_loss = -np.mean(np.log([0.9, 0.4, 0.4, 0.8, 0.3]))
    assert m["loss"] == pytest.approx(expected_loss)
    json.dumps(m, allow_nan=False)


def test_binary_matches_sklearn_with_minority_positive():
    y, proba = _binary()
    m = classification_metrics(y, proba, [0, 1])
    pred = (proba[:, 1] >= 0.5).astype(int)
    assert m["positive"] == "1"
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label=1))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label=1))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label=1))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, proba[:, 1]))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["loss"] == pytest.approx(skm.log_loss(y, proba))


def test_binary_positive_when_class_zero_is_rare():
    y, proba = _binary()
    y0, proba0 = 1 - y, proba[:, ::-1]  # now class 0 is the rare one
    m = classification_metrics(y0, proba0, ["rare", "common"])
    pred = (proba0[:, 0] >= 0.5).astype(int)
    pred = np.where(pred == 1, 0, 1)
    assert m["positive"] == "rare"
    assert m["recall"] == pytest.approx(skm.recall_score(y0, pred, pos_label=0))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y0 == 0, proba0[:, 0]))


def test_positive_label_given_and_training_labels_decide():
    y, proba = _binary()
    forced = classification_metrics(y, proba, [0, 1], positive="0")  # CLI passes text
    assert forced["positive"] == "0"
    pred = (proba[:, 1] >= 0.5).astype(int)
    assert forced["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    # Training labels where class 0 is the minority choose class 0.
    from_train = classification_metrics(y, proba, [0, 1], y_train=np.array([0, 1, 1, 1]))
    assert from_train["positive"] == "0"
    with pytest.raises(NNGuruError, match="not one of the classes"):
        classification_metrics(y, proba, [0, 1], positive="cat")
    assert resolve_positive(["a", "b"], None, np.array([0, 0, 1, 1])) == 1  # tie -> index 1


def test_threshold_moves_predictions():
    y, proba = _binary()
    low = classification_metrics(y, proba, [0, 1], threshold=0.2)
    high = classification_metrics(y, proba, [0, 1], threshold=0.8)
    assert low["threshold"] == 0.2
    assert low["recall"] >= high["recall"]
    pred = (proba[:, 1] >= 0.2).astype(int)
    assert low["f1"] == pytest.approx(skm.f1_score(y, pred))


def test_sigmoid_column_is_probability_of_class_one():
    y, proba = _binary()
    assert classification_metrics(y, proba[:, 1], [0, 1]) == classification_metrics(
        y, proba, [0, 1])
    assert classification_metrics(y, proba[:, 1:], [0, 1])["f1"] == pytest.approx(
        classification_metrics(y, proba, [0, 1])["f1"])


def test_multiclass_macro_and_per_class_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 2.0 * np.eye(4)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    classes = ["a", "b", "c", "d"]
    m = classification_metrics(y, proba, classes)
    pred = proba.argmax(1)
    assert "positive" not in m and "roc_auc" not in m
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["loss"] == pytest.approx(skm.log_loss(y, proba))
    per = skm.f1_score(y, pred, average=None)
    for i, c in enumerate(classes):
        assert m["per_class"][c]["f1"] == pytest.approx(per[i])
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_class_absent_from_eval_split_is_zero_not_error():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    m = classification_metrics(y, proba, ["x", "y", "z"])
    assert m["per_class"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["balanced_accuracy"] == pytest.approx(0.75)  # mean recall of the classes present


def test_nonfinite_probabilities_are_counted_not_fatal():
    y, proba = _binary(50)
    proba[:3] = np.nan
    m = classification_metrics(y, proba, [0, 1])
    assert m["nonfinite_predictions"] == 3
    json.dumps(m, allow_nan=False)


def test_classification_input_errors():
    y, proba = _binary(10)
    with pytest.raises(NNGuruError, match="samples"):
        classification_metrics(y[:5], proba, [0, 1])
    with pytest.raises(NNGuruError, match="class indices"):
        classification_metrics(y + 5, proba, [0, 1])
    with pytest.raises(NNGuruError, match="at least 2 classes"):
        classification_metrics(y * 0, proba[:, :1], [0])
    with pytest.raises(NNGuruError, match="shape"):
        classification_metrics(y, proba, [0, 1, 2])


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    yt = rng.normal(size=100)
    yp = yt + rng.normal(scale=0.3, size=100)
    m = regression_metrics(yt, yp)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(yt, yp))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yt, yp)))
    assert m["r2"] == pytest.approx(skm.r2_score(yt, yp))
    assert regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == {
        "n": 3, "mae": pytest.approx(2 / 3), "rmse": pytest.approx(np.sqrt(4 / 3)),
        "r2": pytest.approx(1 - 4 / 2)}
    assert regression_metrics(yt, yp[:, None])["mae"] == pytest.approx(m["mae"])


def test_regression_nonfinite_and_errors():
    m = regression_metrics([1.0, 2.0], [np.nan, 2.0])
    assert m["mae"] is None and m["nonfinite_predictions"] == 1
    with pytest.raises(NNGuruError, match="shape"):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])


def test_classification_baseline_is_majority_class():
    y_train = np.array([0] * 90 + [1] * 10)
    y_eval = np.array([0] * 45 + [1] * 5)
    b = baseline("classification", y_train, y_eval, classes=["ok", "fraud"])
    assert b["accuracy"] == pytest.approx(0.9)
    assert b["positive"] == "fraud"
    assert b["recall"] == 0.0 and b["precision"] == 0.0 and b["f1"] == 0.0
    assert b["roc_auc"] == pytest.approx(0.5)
    assert b["pr_auc"] == pytest.approx(0.1)
    assert b["confusion_matrix"] == [[45, 0], [5, 0]]
    assert "majority class ok" in b["strategy"]
    prior = np.array([91, 11]) / 102  # add-one smoothed training shares
    assert b["loss"] == pytest.approx(skm.log_loss(y_eval, np.tile(prior, (50, 1))))


def test_baseline_multiclass_tie_and_regression():
    b = baseline("classification", np.array([0, 1, 2, 2]), np.array([2, 2, 0, 1]))
    assert b["accuracy"] == pytest.approx(0.5) and b["recall"] == pytest.approx(1 / 3)
    tie = baseline("binary", np.array([0, 1]), np.array([0, 1, 1]), classes=["a", "b"])
    assert tie["accuracy"] == pytest.approx(2 / 3)  # the tie predicts the positive class "b"
    assert "majority class b" in tie["strategy"]
    r = baseline("regression", np.array([1.0, 3.0]), np.array([0.0, 4.0]))
    assert r["mae"] == pytest.approx(2.0) and r["rmse"] == pytest.approx(2.0)
    assert r["r2"] == pytest.approx(0.0)
    assert "2" in r["strategy"]
    with pytest.raises(NNGuruError, match="no baseline"):
        baseline("clustering", np.zeros(3), np.zeros(3))


def test_choose_threshold_maximizes_validation_f1():
    y, proba = _binary(400, 0.1, seed=3)
    t, table = choose_threshold(y, proba, positive_index=1)
    f1_at = lambda thr: skm.f1_score(y, proba[:, 1] >= thr)  # noqa: E731
    best_brute = max(f1_at(s) for s in np.unique(proba[:, 1]))
    assert f1_at(t) == pytest.approx(best_brute)
    chosen = [r for r in table if r["chosen"]]
    assert len(chosen) == 1 and chosen[0]["threshold"] == t
    assert chosen[0]["f1"] == pytest.approx(best_brute)
    assert [r["threshold"] for r in table] == sorted(r["threshold"] for r in table)
    # The metrics at that threshold agree with the table.
    m = classification_metrics(y, proba, [0, 1], threshold=t)
    assert m["f1"] == pytest.approx(chosen[0]["f1"])


def test_choose_threshold_without_positives_keeps_default():
    t, table = choose_threshold(np.zeros(5, int), np.full((5, 2), 0.5), positive_index=1)
    assert t == 0.5 and all(r["f1"] == 0 for r in table)
