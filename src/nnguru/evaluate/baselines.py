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


def baseline(task: str, y_train: np.ndarray, y_eval: np.ndarray, **kwargs: Any) -> dict[str, Any]:
    """The trivial baseline of ``task`` (a registered task name), fitted on ``y_train``."""
    from nnguru import tasks

    try:
        fit = tasks.get(task).baseline
    except (NNGuruError, AttributeError):
        with_one = [n for n in tasks.names() if hasattr(tasks.get(n), "baseline")]
        raise NNGuruError(f"task {task!r} has no baseline; use one of {with_one}.") from None
    return fit(y_train, y_eval, **kwargs)


def majority_class(
    y_train: np.ndarray,
    y_eval: np.ndarray,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
) -> dict[str, Any]:
    """Always the majority class of ``y_train`` (class indices), scored on ``y_eval``.

    Its probabilities are the training class frequencies, so log-loss and AUCs are defined
    (AUC = 0.5); the frequencies get add-one smoothing so a class unseen in training does not give
    infinite loss. The keys match :func:`classification_metrics`, plus ``strategy`` saying what the
    baseline predicts.
    """
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


def training_mean(y_train: np.ndarray, y_eval: np.ndarray) -> dict[str, Any]:
    """Always the mean of the training targets; the keys match :func:`regression_metrics`."""
    mean = np.asarray(y_train, dtype=np.float64).mean(axis=0)
    y_ev = np.asarray(y_eval, dtype=np.float64)
    out = regression_metrics(y_ev, np.broadcast_to(mean, y_ev.shape))
    out["strategy"] = "mean of the training targets" + (f" ({float(mean):.4g})" if np.ndim(mean) == 0 else "")
    return out

