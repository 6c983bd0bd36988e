"""Shared logic for callbacks that watch one logged quantity (early stopping, LR on plateau)."""

from __future__ import annotations

import math

from nnguru.errors import NNGuruError


def mode_for(monitor: str, mode: str) -> str:
    """'min' for losses and errors, 'max' for scores, as Keras's 'auto' mode decides."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise NNGuruError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}.")
    name = monitor.removeprefix("val_")
    higher = ("acc", "accuracy", "precision", "recall", "f1", "auc", "r2")
    return "max" if name in higher or name.endswith(higher) else "min"


def improved(current: float, best: float, mode: str, min_delta: float) -> bool:
    if math.isnan(current):
        return False
    return current < best - min_delta if mode == "min" else current > best + min_delta


def read(logs: dict, monitor: str, who: str) -> float | None:
    """The monitored value, or a clear error listing what is logged."""
    if monitor in logs:
        return float(logs[monitor])
    loss = logs.get("loss")
    if isinstance(loss, float) and math.isnan(loss):
        return float("nan")  # a diverged epoch logs only its NaN loss: nothing improved
    if not monitor.startswith("val_") or any(k.startswith("val_") for k in logs):
        raise NNGuruError(
            f"{who} monitors {monitor!r}, which is not logged. Available: {', '.join(sorted(logs))}."
        )
    raise NNGuruError(
        f"{who} monitors {monitor!r} but there is no validation data. Pass validation_data= or "
        f"validation_split=, or monitor one of: {', '.join(sorted(logs))}."
    )
