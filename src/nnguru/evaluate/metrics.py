"""Test-split metrics, computed with scikit-learn so the numbers match what users can reproduce.

Every function returns plain Python numbers, lists and dicts: the result is written as-is to
``metrics.json`` and read back by the diagnosis and the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from nnguru.errors import NNGuruError, describe

# The decision threshold on P(positive) when none was chosen: the argmax rule for two classes.
DEFAULT_THRESHOLD = 0.5
# Thresholds shown in the precision/recall trade-off table (the chosen one is added to them).
TRADE_OFF_GRID = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


def _float(value: float) -> float | None:
    """A JSON-safe float: non-finite values (undefined metrics) become None."""
    value = float(value)
    return value if np.isfinite(value) else None


def _as_proba(proba: np.ndarray, n_classes: int) -> tuple[np.ndarray, int]:
    """(N, K) row-stochastic probabilities and how many rows were not finite.

    A sigmoid output ``(N,)`` or ``(N, 1)`` is read as P(class 1) of a binary task. Non-finite
    rows (a diverged model) become uniform, so the metrics still describe what the model does.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        if n_classes != 2:
            raise NNGuruError(
                f"proba has one column but there are {n_classes} classes; pass one probability "
                "column per class, shape (N, K)."
            )
        p = p.reshape(-1)
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise NNGuruError(
            f"proba has shape {p.shape} but there are {n_classes} classes; pass one probability "
            "column per class, shape (N, K)."
        )
    bad = ~np.isfinite(p).all(axis=1)
    p = np.where(bad[:, None], 1.0 / n_classes, p)
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / n_classes)
    return p, int(bad.sum())


def _labels_index(y: np.ndarray, n_classes: int, name: str) -> np.ndarray:
    """Validate class indices 0..K-1 (labels are encoded before metrics are computed)."""
    y = np.asarray(y).reshape(-1)
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            return _labels_index(y.astype(np.int64), n_classes, name)
        raise NNGuruError(
            f"{name} must hold class indices 0..{n_classes - 1} (encoded labels); received "
            f"{describe(y[:5])}. Encode labels with the run's preprocessor first."
        )
    return y.astype(np.int64)


def resolve_positive(
    classes: Sequence[Any], positive: Any = None, y_reference: np.ndarray | None = None
) -> int:
    """Index of the positive class of a binary task.

    ``positive`` names a class label (its string form is accepted too, as the CLI passes text).
    Without one, the positive class is the minority class of ``y_reference`` (the training labels
    when the caller has them, else the evaluated labels): the rare class is the one users care
    about (fraud, disease, spam). On a tie the second class (index 1, the conventional "1") wins.
    """
    classes = list(classes)
    if positive is not None:
        for i, c in enumerate(classes):
            if c == positive:
                return i
        for i, c in enumerate(classes):
            if str(c) == str(positive):
                return i
        raise NNGuruError(
            f"positive class {describe(positive)} is not one of the classes "
            f"{[str(c) for c in classes]}; pass --positive with one of them."
        )
    if y_reference is None or len(y_reference) == 0:
        return 1
    counts = np.bincount(np.asarray(y_reference, dtype=np.int64), minlength=2)[:2]
    return 0 if counts[0] < counts[1] else 1


def classification_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[Any],
    positive: Any = None,
    threshold: float | None = None,
    y_train: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, log-loss, per-class table and confusion matrix.

    ``y_true`` holds class indices into ``classes``; ``proba`` is (N, K) probabilities (or (N,)
    P(class 1) for a sigmoid). Binary tasks report precision/recall/F1 of the positive class
    (see :func:`resolve_positive`; ``y_train`` picks the minority class from the training labels)
    plus ROC-AUC and PR-AUC (average precision, scikit-learn's step-wise area, which does not
    over-credit interpolation), and predict positive when P(positive) >= ``threshold``.
    Multi-class tasks report macro averages, so every class counts the same.
    """
    classes = list(classes)
    k = len(classes)
    if k < 2:
        raise NNGuruError(
            f"classification needs at least 2 classes; received classes={classes!r}. "
            "Check the target column, or use --task regression for a numeric target."
        )
    p, n_bad = _as_proba(proba, k)
    y = _labels_index(y_true, k, "y_true")
    if len(y) != len(p):
        raise NNGuruError(
            f"y_true has {len(y)} samples but proba has {len(p)}; pass predictions for the "
            "same rows."
        )
    if len(y) == 0:
        raise NNGuruError("no samples to evaluate: the evaluated split is empty.")
    labels = list(range(k))
    out: dict[str, Any] = {"n": len(y), "classes": [str(c) for c in classes]}
    if k == 2:
        pos = resolve_positive(classes, positive, y_train if y_train is not None else y)
        t = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        pred = np.where(p[:, pos] >= t, pos, 1 - pos)
        prec, rec, f1, _ = skm.precision_recall_fscore_support(
            y, pred, labels=labels, pos_label=pos, average="binary", zero_division=0
        )
        out["positive"] = str(classes[pos])
        out["threshold"] = t
    else:
        pred = p.argmax(axis=1)
        prec, rec, f1, _ = skm.precision_recall_fscore_support(
            y, pred, labels=labels, average="macro", zero_division=0
        )
    out["accuracy"] = float(skm.accuracy_score(y, pred))
    out["precision"], out["recall"], out["f1"] = float(prec), float(rec), float(f1)
    out["loss"] = _float(skm.log_loss(y, p, labels=labels))
    if k == 2:
        is_pos = y == pos
        both = 0 < is_pos.sum() < len(y)  # AUCs are undefined when one class is absent
        out["roc_auc"] = _float(skm.roc_auc_score(is_pos, p[:, pos])) if both else None
        out["pr_auc"] = _float(skm.average_precision_score(is_pos, p[:, pos])) if both else None
    pc, rc, fc, sc = skm.precision_recall_fscore_support(
        y, pred, labels=labels, average=None, zero_division=0
    )
    # Mean recall over the classes present: the accuracy a majority-class guess cannot inflate.
    out["balanced_accuracy"] = float(np.mean(rc[sc > 0]))
    out["per_class"] = {
        str(c): {"precision": float(pc[i]), "recall": float(rc[i]), "f1": float(fc[i]),
                 "support": int(sc[i])}
        for i, c in enumerate(classes)
    }
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
    if n_bad:
        out["nonfinite_predictions"] = n_bad
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE and R² (uniform average over several targets).

    Non-finite predictions (a diverged model) make every metric None and are counted, rather
    than crashing the report of a run that needs it most.
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yp.ndim == 2 and yp.shape[1] == 1 and yt.ndim == 1:
        yp = yp[:, 0]
    if yt.shape != yp.shape:
        raise NNGuruError(
            f"y_true has shape {yt.shape} but y_pred has shape {yp.shape}; pass one prediction "
            "per target value."
        )
    if yt.size == 0:
        raise NNGuruError("no samples to evaluate: the evaluated split is empty.")
    out: dict[str, Any] = {"n": int(yt.shape[0])}
    bad = int((~np.isfinite(yp)).reshape(len(yp), -1).any(axis=1).sum())
    if bad:
        out.update(mae=None, rmse=None, r2=None, nonfinite_predictions=bad)
        return out
    out["mae"] = float(skm.mean_absolute_error(yt, yp))
    out["rmse"] = float(np.sqrt(skm.mean_squared_error(yt, yp)))
    out["r2"] = _float(skm.r2_score(yt, yp)) if len(yt) >= 2 else None
    return out


def choose_threshold(
    y_val: np.ndarray, proba_val: np.ndarray, positive_index: int
) -> tuple[float, list[dict[str, float]]]:
    """The decision threshold on P(positive) that maximizes F1 on the validation split.

    Returns the threshold and the precision/recall trade-off table (a fixed grid plus the chosen
    value, flagged ``chosen``) for the report. F1 is the target because it weighs precision and
    recall of the positive class equally, which is what a rare positive class needs. Without any
    positive sample in validation nothing can be learned, and the default 0.5 is kept.
    """
    p = np.asarray(proba_val, dtype=np.float64)
    scores = p[:, positive_index] if p.ndim == 2 and p.shape[1] > 1 else p.reshape(-1)
    scores = np.nan_to_num(scores, nan=0.0, posinf=1.0, neginf=0.0)
    is_pos = np.asarray(y_val).reshape(-1) == positive_index
    if len(is_pos) != len(scores):
        raise NNGuruError(
            f"y_val has {len(is_pos)} samples but proba_val has {len(scores)}; pass predictions "
            "for the same rows."
        )
    best = DEFAULT_THRESHOLD
    if is_pos.any():
        prec, rec, thr = skm.precision_recall_curve(is_pos, scores)
        f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(prec), where=(prec + rec) > 0)
        best = float(thr[int(np.argmax(f1[:-1]))])  # the last PR point has no threshold

    def row(t: float) -> dict[str, float]:
        pred = scores >= t
        prec, rec, f1, _ = skm.precision_recall_fscore_support(
            is_pos, pred, average="binary", zero_division=0
        )
        return {"threshold": float(t), "precision": float(prec), "recall": float(rec),
                "f1": float(f1), "chosen": bool(t == best)}

    grid = sorted({*TRADE_OFF_GRID, best})
    return best, [row(t) for t in grid]
