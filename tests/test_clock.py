"""nnguru.clock: the whole command's clock and the automatic time budget's arithmetic."""

from __future__ import annotations

import time

import pytest

from nnguru import clock, pipeline


def test_auto_budget_is_what_the_deadline_leaves():
    assert clock.auto_budget(elapsed=20.0, after=15.0) == pytest.approx(clock.AUTO_COMMAND_SECONDS - 35.0)
    assert clock.auto_budget(elapsed=200.0, after=15.0) == clock.AUTO_MIN_TRAIN_SECONDS  # late: the floor
    assert clock.auto_budget(elapsed=0.0, after=0.0, deadline=60.0, floor=1.0) == 60.0


def test_command_clock_nests():
    assert clock.command_elapsed() == 0.0  # no command under way
    with clock.command_clock(started=time.monotonic() - 50.0):
        assert clock.command_elapsed() == pytest.approx(50.0, abs=1.0)
        with clock.command_clock():  # train() inside the CLI command keeps the command's start
            assert clock.command_elapsed() == pytest.approx(50.0, abs=1.0)
        assert clock.command_elapsed() == pytest.approx(50.0, abs=1.0)
    assert clock.command_elapsed() == 0.0


def test_process_seconds_counts_this_process():
    age = clock.process_seconds()
    assert 0.0 < age < 24 * 3600  # Linux /proc: the test process started before this test


def test_command_decorators_start_the_clock(monkeypatch):
    from types import SimpleNamespace

    @clock.command
    def inner() -> float:
        return clock.command_elapsed()

    @clock.process_command
    def cli(args) -> float:
        return clock.command_elapsed()

    assert inner() < 1.0
    # the process is this command line: its clock started with the process
    monkeypatch.setattr(clock.sys, "argv", ["nnguru", "train", "data.csv"])
    assert cli(SimpleNamespace(argv=["train", "data.csv"])) == pytest.approx(clock.process_seconds(), abs=2.0)
    # main([...]) called from an older process (a test, a notebook): the clock starts at the call
    assert cli(SimpleNamespace(argv=["train", "other.csv"])) < 1.0


def test_time_budget_seconds_auto_and_given():
    with clock.command_clock(started=time.monotonic() - 30.0):
        auto = pipeline.time_budget_seconds({"time_budget": "auto", "epochs": None}, after=10.0)
        fallback = pipeline.time_budget_seconds({"time_budget": "auto", "epochs": None})
    assert auto == pytest.approx(clock.AUTO_COMMAND_SECONDS - 40.0, abs=1.0)
    assert fallback == pytest.approx(clock.AUTO_COMMAND_SECONDS - 30.0 - pipeline.AUTO_AFTER_FALLBACK_S, abs=1.0)
    assert pipeline.time_budget_seconds({"time_budget": 42.0, "epochs": None}) == 42.0
    assert pipeline.time_budget_seconds({"time_budget": "auto", "epochs": 3}) is None
