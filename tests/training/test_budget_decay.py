"""BudgetDecay: the learning rate each step follows base * (1 - progress), progress by epochs or by a
time budget's seconds (fake clock), whichever is further; the pipeline gives it to the cnn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.callbacks import Callback, TimeBudget
from nnguru.layers import Dense
from nnguru.training.callbacks.budget_decay import BudgetDecay


class StepRates(Callback):
    """Records the rate each step runs with (after BudgetDecay set it) and advances a fake clock."""

    def __init__(self, clock: list[float], per_step: float) -> None:
        super().__init__()
        self.clock, self.per_step, self.rates = clock, per_step, []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(self.model.optimizer.param_groups[0]["lr"])
        self.clock[0] += self.per_step


def _fit(epochs: int, budget_s: float | None, per_step: float = 0.0) -> tuple[list[float], list[float]]:
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)  # 4 steps of 16 an epoch
    y = (x[:, 0] > 0).astype(np.int64)
    model = Sequential([Dense(4, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer={"name": "adam", "lr": 0.01}, loss="sparse_categorical_crossentropy")
    clock = [100.0]
    budget = None if budget_s is None else TimeBudget(budget_s, clock=lambda: clock[0])
    record = StepRates(clock, per_step)
    cbs = [BudgetDecay(epochs, budget), record] + ([budget] if budget else [])
    history = model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=cbs)
    return record.rates, history.history["learning_rate"]


def test_linear_to_zero_over_the_epochs():
    rates, logged = _fit(epochs=2, budget_s=None)
    expected = [0.01 * (1 - s / 8) for s in range(8)]  # 8 steps; the rate is set before each
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    np.testing.assert_allclose(logged, [expected[0], expected[4]], rtol=1e-6)  # each epoch's first step


def test_the_time_budget_drives_the_decay_when_it_ends_first():
    # 1 fake second a step, a 9 s budget: time progress (elapsed / 9) runs ahead of the 10 epochs'
    rates, _ = _fit(epochs=10, budget_s=9.0, per_step=1.0)
    assert len(rates) == 8  # TimeBudget stops after two 4-step epochs (a third would not fit)
    # the clock advances after the rate is read: the rate of step s is set at elapsed time s
    np.testing.assert_allclose(rates, [0.01 * (1 - s / 9) for s in range(8)], rtol=1e-6)


@pytest.mark.parametrize(("option", "optimizer", "expected"), [
    (None, "adam", "budget"), ("none", "adam", "none"), (None, "sgd", "none"), ("budget", "sgd", "budget")])
def test_the_cnn_gets_the_budget_decay_unless_told_otherwise(option, optimizer, expected):
    from nnguru import pipeline
    from nnguru.nn import templates

    class Built:  # what make_model sets on a template's model
        lr_decay = templates.LR_DECAY["cnn"]

    cfg = {"lr_decay": option, "optimizer": optimizer}
    assert pipeline.lr_decay(cfg, Built()) == expected
    assert pipeline.stops_early(cfg, Built(), True, 60.0) is (expected != "budget")
    assert pipeline.stops_early(cfg, Built(), True, None) is True  # no budget: early stopping ends the run
    assert pipeline.lr_decay({"lr_decay": None, "optimizer": "adam"}, object()) == "none"  # a user's model
