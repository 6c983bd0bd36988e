"""ReduceLROnPlateau: multiply the learning rate by ``factor`` when the monitor stalls."""

from __future__ import annotations

import inspect
import math

from nnguru.training.callbacks import monitor as mon
from nnguru.training.callbacks.base import Callback


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def get_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


class ReduceLROnPlateau(Callback):
    """Keras semantics (``patience``, ``factor``, ``cooldown``, ``min_lr``)."""

    state_attrs = ("best", "wait", "cooldown_counter")

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0, verbose: int = 0) -> None:
        super().__init__()
        if not 0 < factor < 1:
            from nnguru.errors import NNGuruError
            raise NNGuruError(f"ReduceLROnPlateau factor must be in (0, 1); received {factor!r}.")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.mode = mon.mode_for(monitor, mode)
        self.min_delta, self.cooldown, self.min_lr, self.verbose = min_delta, cooldown, min_lr, verbose

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # Keras logs the rate the epoch ran with
            logs["learning_rate"] = get_lr(self.model.optimizer)
        current = mon.read(logs or {}, self.monitor, "ReduceLROnPlateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if mon.improved(current, self.best, self.mode, self.min_delta):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = get_lr(self.model.optimizer)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                set_lr(self.model.optimizer, new)
                if self.verbose:
                    print(f"ReduceLROnPlateau: epoch {epoch + 1}: learning rate {old:.3g} -> {new:.3g}.")
            self.cooldown_counter, self.wait = self.cooldown, 0


def _takes_lr(schedule) -> bool:
    """Whether ``schedule`` takes ``(epoch, lr)`` rather than Keras's older ``(epoch)`` alone."""
    try:
        params = list(inspect.signature(schedule).parameters.values())
    except (TypeError, ValueError):  # no signature (a builtin): Keras's current form
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` at the start of every epoch (Keras signature); a
    ``schedule(epoch)`` of one argument works too, as Keras keeps it for older programs
    (Machine Learning Mastery's ``step_decay(epoch)``)."""

    def __init__(self, schedule, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        if _takes_lr(self.schedule):
            lr = float(self.schedule(epoch, get_lr(self.model.optimizer)))
        else:
            lr = float(self.schedule(epoch))
        set_lr(self.model.optimizer, lr)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # Keras logs the rate the epoch ran with
            logs["learning_rate"] = get_lr(self.model.optimizer)

