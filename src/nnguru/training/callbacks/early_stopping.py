"""EarlyStopping: stop when the monitored quantity stops improving; optionally restore the best weights."""

from __future__ import annotations

import math

from nnguru.training.callbacks import monitor as mon
from nnguru.training.callbacks.base import Callback


class EarlyStopping(Callback):
    """Keras semantics: ``patience`` epochs without a ``min_delta`` improvement stop training.

    With ``restore_best_weights`` the weights of the best epoch are copied back at the end (also
    when training ran all its epochs), so the model you get is the one the curve says is best.
    """

    state_attrs = ("wait", "best", "best_weights", "best_epoch", "stopped_epoch")

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0, verbose: int = 0) -> None:
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.min_delta = abs(min_delta)
        self.mode = mon.mode_for(monitor, mode)
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        # the epochs the run's estimate expects it to stop after (nnguru train sets it from the replay
        # of the run's start); the progress display's ETA reads it, else early stopping's typical stop
        self.expected_epochs: int | None = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = self.baseline
        self.best_weights = None
        self.best_epoch = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = mon.read(logs or {}, self.monitor, "EarlyStopping")
        if mon.improved(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1} "
                      f"({self.monitor}={self.best:.4g}).")
