"""TensorBoard event files for ``--tensorboard`` (only when the ``tensorboard`` package exists).

nnguru does not depend on TensorBoard; history.csv is always written. These helpers write the
same per-epoch numbers as event files under ``RUN_DIR/tensorboard`` through
``torch.utils.tensorboard``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nnguru.errors import NNGuruError

TENSORBOARD_DIR = "tensorboard"
# History keys that are bookkeeping, not curves.
SKIP_KEYS = {"epoch", "seconds", "time"}


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


def tensorboard_writer(run_dir: str | Path) -> Any:
    """A ``SummaryWriter`` logging to ``RUN_DIR/tensorboard``; a clear error without the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise NNGuruError(
            "--tensorboard needs the 'tensorboard' package, which is not installed; run "
            "`pip install tensorboard` or leave out --tensorboard (history.csv is always written)."
        ) from exc
    return SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))


def _tag(key: str) -> str:
    """``val_accuracy`` -> ``accuracy/validation``: TensorBoard then overlays train and val."""
    if key.startswith("val_"):
        return f"{key[4:]}/validation"
    return key if key == "lr" else f"{key}/train"


def log_epoch(writer: Any, epoch: int, logs: dict[str, Any]) -> None:
    """Write one epoch's logs (Keras ``logs`` dict); ``epoch`` is 0-based like Keras hooks."""
    for key, value in logs.items():
        if key in SKIP_KEYS or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if math.isfinite(value):
            writer.add_scalar(_tag(key), float(value), epoch + 1)


def write_history(history: dict[str, list[Any]], run_dir: str | Path) -> Path:
    """Write a whole Keras-style history as event files after training; returns the log dir."""
    writer = tensorboard_writer(run_dir)
    try:
        n = max((len(v) for v in history.values()), default=0)
        for i in range(n):
            log_epoch(writer, i, {k: v[i] for k, v in history.items() if i < len(v) and v[i]
                                  is not None})
    finally:
        writer.close()
    return Path(run_dir) / TENSORBOARD_DIR


class TensorBoardLogger:
    """Keras-style callback object (``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.writer = tensorboard_writer(run_dir)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        log_epoch(self.writer, epoch, logs or {})
        self.writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.writer.close()
