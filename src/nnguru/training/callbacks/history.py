"""History: per-epoch logs in Keras's shape (``history.history['val_loss']``)."""

from __future__ import annotations

from nnguru.training.callbacks.base import Callback

# Logged by nnguru's loop for its own files (history.csv, the report, the guru), not by Keras: they
# stay out of ``history.history``, whose keys tutorials print and plot, and live in ``history.logs``.
NNGURU_KEYS = ("lr", "seconds")


class History(Callback):
    """Always installed by ``fit`` and returned from it.

    ``history`` holds what Keras's holds: the loss, the metrics, their ``val_`` forms, and
    ``learning_rate`` when a learning-rate callback logs it. ``logs`` holds every number the loop
    logged, adding each epoch's learning rate (``lr``) and duration (``seconds``).
    """

    state_attrs = ("history", "logs", "epoch")

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.logs: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)):
                self.logs.setdefault(key, []).append(float(value))
                if key not in NNGURU_KEYS:
                    self.history.setdefault(key, []).append(float(value))
