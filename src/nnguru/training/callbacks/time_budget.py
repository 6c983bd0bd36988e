"""TimeBudget: stop training at a wall-clock budget, keeping the best weights seen so far.

Users think of training time in minutes, not epochs (Keras, Lightning and Ludwig users ask for a
wall-clock limit in their trackers). The budget is checked before every batch (a clock read, no
host sync), so a run never overshoots by more than one step plus the epoch's validation; at an
epoch's end it also stops when the next epoch, at the pace of the epochs so far, would not fit,
so the last epoch is not cut short for nothing.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from nnguru.errors import NNGuruError
from nnguru.training.callbacks import monitor as mon
from nnguru.training.callbacks.base import Callback

UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_duration(value: object, name: str = "time_budget (--time-budget)") -> float:
    """Seconds in ``value``: a number of seconds, or text such as ``90s``, ``10m``, ``1.5h``, ``1h30m``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text, seconds, pos = value.strip().lower(), 0.0, 0
        while pos < len(text):
            m = _DURATION.match(text, pos)
            if m is None or m.end() == pos or m.group(2) not in UNITS:
                seconds = math.nan
                break
            seconds += float(m.group(1)) * UNITS[m.group(2)]
            pos = m.end()
    else:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise NNGuruError(f"{name} must be a positive duration; received {value!r}. Write seconds (90), or a "
                          "number with a unit: 90s, 10m, 1.5h, 1h30m.")
    return seconds


def format_duration(seconds: float) -> str:
    """``2m05s``-style text for people: what the console and the report show."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TimeBudget(Callback):
    """Stop when ``seconds`` of training have passed; restore the best weights by ``monitor``.

    ``clock`` is injectable (tests use a fake one). The spent time travels through checkpoints,
    so a resumed run gets only what is left of its budget. After training, ``reached`` says
    whether the budget stopped it and ``best_epoch`` which epoch's weights the model holds.
    """

    state_attrs = ("spent", "best", "best_epoch", "best_weights", "reached", "epoch_seconds")

    def __init__(self, seconds: float | str, monitor: str = "val_loss", restore_best_weights: bool = True,
                 clock: Callable[[], float] = time.monotonic, verbose: int = 0) -> None:
        super().__init__()
        self.seconds = parse_duration(seconds, "TimeBudget(seconds)")
        self.monitor, self.restore_best_weights = monitor, restore_best_weights
        self.clock, self.verbose = clock, verbose
        self.reached = False
        self.best_epoch: int | None = None
        self.spent = 0.0

    # -- time ---------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.spent + (self.clock() - self._start)

    def remaining(self) -> float:
        return max(self.seconds - self.elapsed(), 0.0)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["spent"] = self.elapsed()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._start = self.clock()  # the resumed run's clock starts now, on top of what was spent

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._start, self.spent = self.clock(), 0.0
        self.best, self.best_epoch, self.best_weights = None, None, None
        self.reached, self.epoch_seconds = False, []
        self._epoch_start = self._start

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.clock()

    def on_train_batch_begin(self, batch, logs=None):
        if self.elapsed() >= self.seconds:
            self._stop()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch_seconds.append(self.clock() - self._epoch_start)
        key = self.monitor if self.monitor in logs else "loss"  # no validation split: the training loss
        current = logs.get(key)
        if current is not None and math.isfinite(current) and (
                self.best is None or mon.improved(current, self.best, mon.mode_for(key, "auto"), 0.0)):
            self.best, self.best_epoch = float(current), epoch
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        pace = sum(self.epoch_seconds) / len(self.epoch_seconds)
        if self.elapsed() + pace > self.seconds and epoch + 1 < self.params.get("epochs", math.inf):
            self._stop()

    def on_train_end(self, logs=None):
        if self.reached and self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.reached and self.verbose:
            print(self.message())

    def _stop(self) -> None:
        self.reached = True
        self.model.stop_training = True

    def message(self) -> str:
        """What the run says when the budget stopped it."""
        kept = "" if self.best_epoch is None else f"; kept the best weights, from epoch {self.best_epoch + 1}"
        return (f"the time budget of {format_duration(self.seconds)} was reached after "
                f"{len(self.epoch_seconds)} epoch(s) ({format_duration(self.elapsed())} of training){kept}.")
