"""BudgetDecay: the learning rate falls linearly to zero over the run's budget, epochs or seconds.

"Budgeted training" (Li, Yumer and Ramanan, ICLR 2020): when a run is bounded by a budget, a
schedule that reaches zero exactly when the budget ends beats a constant rate stopped early, and
linear decay is the best of the shapes they compare. The budget is whichever ends first, the epoch
cap or a wall-clock budget (a :class:`TimeBudget`, read each step), so the rate is near zero when
training stops either way and the last epochs settle in the minimum instead of oscillating around it.
"""

from __future__ import annotations

from nnguru.training.callbacks.base import Callback
from nnguru.training.callbacks.reduce_lr_on_plateau import get_lr, set_lr


class BudgetDecay(Callback):
    """``lr = base * (1 - progress)`` before every step, ``progress`` in [0, 1] the larger of the
    epochs done (``epoch + step / steps``) over ``epochs`` and, with ``time_budget``, its elapsed
    seconds over its budget. ``base`` is the compiled rate at the start of training."""

    state_attrs = ("base",)

    def __init__(self, epochs: int, time_budget=None) -> None:
        super().__init__()
        self.epochs, self.time_budget = max(int(epochs), 1), time_budget
        self.base: float | None = None
        self._epoch, self._first = 0, None  # the epoch under way, the rate it started with

    def progress(self, epoch: int, step: int) -> float:
        steps = self.params.get("steps") or 0
        done = (epoch + (step / steps if steps else 0.0)) / self.epochs
        if self.time_budget is not None:
            done = max(done, self.time_budget.elapsed() / self.time_budget.seconds)
        return min(max(done, 0.0), 1.0)

    def on_train_begin(self, logs=None):
        if self.base is None:  # a resumed run keeps the first run's base (state_attrs)
            self.base = get_lr(self.model.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        rate = self.base * (1.0 - self.progress(self._epoch, batch))
        if batch == 0:
            self._first = rate
        set_lr(self.model.optimizer, rate)

    def on_epoch_end(self, epoch, logs=None):
        # the rate the epoch started with, as an epoch-wise schedule logs it: the history's first rate
        # is the compiled one, which the pipeline writes back to config.yaml for a rerun
        if logs is not None:
            first = self._first if self._first is not None else get_lr(self.model.optimizer)
            logs["lr"] = logs["learning_rate"] = first
