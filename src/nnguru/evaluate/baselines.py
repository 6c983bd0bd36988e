"""Trivial predictors every score is shown next to: a model must beat them to be worth anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnguru.errors import NNGuruError
from nnguru.evaluate.metrics import (
    classification_metrics,
    regression_metrics,
    resolve_positive,
)

CLASSIFICATION_TASKS = ("classification", "binary", "multiclass")
REGRESSION_TASKS = ("regression",)


def baseline(
    task: str,
    y_train: np.ndarray,
    y_eval: np.ndarray,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
) -> dict[str, Any]:
    """Metrics of the trivial predictor fitted on the training labels, scored on ``y_eval``.

    Classification: always the majority class of ``y_train`` (class indices), with the training
    class frequencies as its probabilities so log-loss and AUCs are defined (AUC = 0.5); the
    frequencies get add-one smoothing so a class unseen in training does not give infinite loss.
    Regression: always the training mean. The keys match :func:`classification_metrics` /
    :func:`regression_metrics`, plus ``strategy`` saying what the baseline predicts.
    """
    if task in CLASSIFICATION_TASKS:
        y_tr = np.asarray(y_train).reshape(-1).astype(np.int64)
        k = len(classes) if classes is not None else int(max(y_tr.max(), np.max(y_eval)) + 1)
        classes = list(classes) if classes is not None else list(range(k))
        counts = np.bincount(y_tr, minlength=k)[:k].astype(np.float64)
        prior = (counts + 1.0) / (counts.sum() + k)
        majority = int(np.argmax(counts))
        if k == 2 and counts[0] == counts[1]:
            # A tie at P = 0.5 predicts the positive class (P >= threshold): name that one.
            majority = resolve_positive(classes, positive, y_tr)
        proba = np.tile(prior, (len(y_eval), 1))
        out = classification_metrics(y_eval, proba, classes, positive=positive, y_train=y_tr)
        share = counts[majority] / max(counts.sum(), 1.0)
        out["strategy"] = f"majority class {classes[majority]!s} (training share {share:.3f})"
        return out
    if task in REGRESSION_TASKS:
        mean = np.asarray(y_train, dtype=np.float64).mean(axis=0)
        y_ev = np.asarray(y_eval, dtype=np.float64)
        out = regression_metrics(y_ev, np.broadcast_to(mean, y_ev.shape))
        out["strategy"] = "mean of the training targets" + (
            f" ({float(mean):.4g})" if np.ndim(mean) == 0 else ""
        )
        return out
    raise NNGuruError(
        f"task {task!r} has no baseline; use one of {CLASSIFICATION_TASKS + REGRESSION_TASKS}."
    )
