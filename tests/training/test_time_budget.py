"""TimeBudget: stops at the budget on a fake clock (no sleeping) and keeps the best weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.callbacks import Callback, TimeBudget
from nnguru.errors import NNGuruError
from nnguru.layers import Dense
from nnguru.training.callbacks.time_budget import format_duration, parse_duration


class FakeClock:
    """Advances ``per_batch`` seconds at every training batch (called first among the callbacks)."""

    def __init__(self, per_batch: float) -> None:
        self.now, self.per_batch = 1000.0, per_batch

    def __call__(self) -> float:
        return self.now


class Tick(Callback):
    def __init__(self, clock: FakeClock, val_losses: list[float] | None = None) -> None:
        super().__init__()
        self.clock, self.val_losses, self.weights, self.batches = clock, val_losses, [], 0

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.clock.per_batch
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.val_losses is not None:  # scripted curve: the callbacks after this one read it
            logs["val_loss"] = self.val_losses[epoch]
        self.weights.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})


def _model_and_data(n: int = 64):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = Sequential([Dense(8, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, x, y


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), (90, 90), ("90s", 90), ("10m", 600), ("1.5h", 5400),
                                                 ("1h30m", 5400), (" 2 min ", 120), (0.5, 0.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "abc", "10 parsecs", "0", "-5m", "m", True, None, float("inf"), "1e400"])
def test_parse_duration_refuses(bad):
    with pytest.raises(NNGuruError, match="must be a positive duration"):
        parse_duration(bad)


def test_format_duration():
    assert [format_duration(s) for s in (4.25, 42, 125, 7260)] == ["4.2s", "42s", "2m05s", "2h01m"]


def test_stops_before_an_epoch_that_would_not_fit_and_keeps_the_best_weights():
    model, x, y = _model_and_data()  # 4 batches of 16: an epoch takes 4 fake seconds
    clock = FakeClock(per_batch=1.0)
    tick = Tick(clock, val_losses=[3.0, 1.0, 2.0, 2.5, 2.6, 2.7])
    budget = TimeBudget("14s", clock=clock)
    history = model.fit(x, y, batch_size=16, epochs=6, verbose=0, validation_data=(x, y), callbacks=[tick, budget])
    # epochs end at 4, 8, 12 s; a fourth would end at 16 > 14, so training stops after three
    assert len(history.history["loss"]) == 3 and tick.batches == 12
    assert budget.reached and budget.best_epoch == 1
    for key, value in model.state_dict().items():  # the weights of epoch 2 (val_loss 1.0), not of epoch 3
        torch.testing.assert_close(value, tick.weights[1][key])
    assert not torch.equal(next(iter(tick.weights[1].values())), next(iter(tick.weights[2].values())))
    assert "time budget of 14s was reached after 3 epoch(s)" in budget.message()
    assert "best weights, from epoch 2" in budget.message()


def test_stops_inside_an_epoch_at_the_budget():
    model, x, y = _model_and_data(n=320)  # 20 batches of 16 per epoch
    clock = FakeClock(per_batch=1.0)
    tick = Tick(clock)
    budget = TimeBudget(5.5, clock=clock, monitor="loss")
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[tick, budget])
    # the budget is checked before each batch: the 6th begins at 6 s > 5.5 and is the last to run
    assert tick.batches == 6 and len(history.history["loss"]) == 1 and budget.reached


def test_no_stop_within_the_budget():
    model, x, y = _model_and_data()
    clock = FakeClock(per_batch=0.01)
    budget = TimeBudget("1h", clock=clock)
    before = None

    class Last(Callback):
        def on_train_end(self, logs=None):
            nonlocal before
            before = {k: v.clone() for k, v in self.model.state_dict().items()}

    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[Tick(clock), Last(), budget])
    assert len(history.history["loss"]) == 3 and not budget.reached
    for key, value in model.state_dict().items():  # not restored: training ended by itself
        torch.testing.assert_close(value, before[key])


def test_spent_time_survives_a_checkpoint():
    clock = FakeClock(per_batch=0.0)
    budget = TimeBudget(100, clock=clock)
    budget.on_train_begin()
    clock.now += 40
    resumed = TimeBudget(100, clock=clock)
    resumed.on_train_begin()
    resumed.load_state_dict(budget.state_dict())
    clock.now += 10
    assert resumed.elapsed() == pytest.approx(50) and resumed.remaining() == pytest.approx(50)


@pytest.mark.parametrize("value", ["abc", "0", "-1m"])
def test_cli_train_refuses_a_budget_that_does_not_parse(tmp_path, capsys, value):
    from nnguru.cli import main

    assert main(["train", "builtin:iris", "--out", str(tmp_path / "run"), f"--time-budget={value}"]) == 2
    assert "time_budget (--time-budget) must be a positive duration" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_records_budget_and_estimate(tmp_path):
    import json

    from nnguru import clock, pipeline

    with clock.command_clock(started=clock.time.monotonic() - 30.0):  # 30 s into the command
        auto = pipeline.time_budget_seconds({"time_budget": "auto", "epochs": None}, after=12.0)
    assert auto == pytest.approx(clock.AUTO_COMMAND_SECONDS - 30.0 - 12.0, abs=0.5)  # what is left of the deadline
    assert pipeline.time_budget_seconds({"time_budget": "auto", "epochs": 5}) is None  # epochs given: run them
    assert pipeline.time_budget_seconds({"time_budget": "none", "epochs": None}) is None
    run = pipeline.train("builtin:iris", out=tmp_path / "run", epochs=4, time_budget="10m", verbose=0)
    m = json.loads((run.run_dir / "metrics.json").read_text())
    assert m["time_budget"]["seconds"] == 600.0 and m["time_budget"]["reached"] is False
    assert 1 <= m["time_budget"]["best_epoch"] <= 4
    assert m["estimate"]["epochs_cap"] == 4 and m["estimate"]["actual_epochs"] == m["epochs_run"] == 4
    assert m["estimate_seconds"] == m["estimate"]["seconds"] > 0
    # metrics.json rounds train_seconds to ms: on a sub-second run that moves the error by ~1%
    assert m["estimate"]["error"] == pytest.approx((m["estimate"]["seconds"] - m["train_seconds"])
                                                   / m["train_seconds"], abs=0.02)
    assert run.config["time_budget"] == 600.0
