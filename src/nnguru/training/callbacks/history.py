"""History: per-epoch logs in Keras's shape (``history.history['val_loss']``)."""

from __future__ import annotations

from nnguru.training.callbacks.base import Callback


class History(Callback):
    """Always installed by ``fit`` and returned from it."""

    state_attrs = ("history", "epoch")

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)):
                self.history.setdefault(key, []).append(float(value))
