"""Which task a target implies, decided the way a practitioner would (and overridable by --task)."""

from __future__ import annotations

import numpy as np

from nnguru.errors import NNGuruError

TASKS = ("classification", "regression")
MAX_CLASSES_FOR_INTEGERS = 20  # integer targets with more distinct values are counts/amounts


def infer_task(y: np.ndarray) -> str:
    """Text, booleans and integers with few distinct values -> classification; else regression."""
    y = np.asarray(y)
    if y.dtype.kind in "OUSb" or str(y.dtype) in ("category", "string", "str"):
        return "classification"
    values = y[~np.isnan(y)] if y.dtype.kind == "f" else y
    if len(values) == 0:
        raise NNGuruError("The target has no values (all missing); choose another target column.")
    integral = y.dtype.kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
    if integral and len(np.unique(values)) <= MAX_CLASSES_FOR_INTEGERS:
        return "classification"
    return "regression"


def check_task(task: str | None) -> str | None:
    if task is None or task == "auto":
        return None
    if task not in TASKS:
        raise NNGuruError(f"Unknown task {task!r}. Valid tasks: {', '.join(TASKS)} (or 'auto').")
    return task
