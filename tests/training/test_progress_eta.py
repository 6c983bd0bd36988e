"""The whole-run ETA printed after each epoch (training/progress.py)."""

from __future__ import annotations

from types import SimpleNamespace

from nnguru.callbacks import EarlyStopping
from nnguru.training.progress import ProgressDisplay


def _display(durations, callbacks=()):
    d = ProgressDisplay(0, epochs=10, steps=5)
    d.watch(list(callbacks))
    d.durations = list(durations)
    return d


def test_eta_is_the_epochs_left_at_the_recent_pace():
    assert _display([9.0, 2.0, 2.0, 2.0, 2.0, 2.0]).eta(5) == " - ETA 8.0s"  # 4 left x 2 s (warm-up forgotten)
    assert _display([2.0]).eta(9) == ""  # the last epoch: nothing left


def test_eta_capped_by_the_time_budget():
    budget = SimpleNamespace(remaining=lambda: 5.0)
    assert _display([2.0, 2.0], [budget]).eta(1) == " - ETA 5.0s"


def test_eta_with_early_stopping_gives_the_likely_and_the_most():
    early = EarlyStopping(patience=2)
    early.wait = 1
    # 2 epochs done, typical stop at 4 patiences (TYPICAL_STOP_PATIENCES) = 8: 6 more at 2 s; at most 8
    # more (10 epochs)
    assert _display([2.0, 2.0], [early]).eta(1) == " - ETA 12s (at most 16s)"
    early.wait = 0  # improving at epoch 7, past the typical stop: at least a patience (2 epochs) to go
    assert _display([2.0] * 7, [early]).eta(6) == " - ETA 4.0s (at most 6.0s)"


def test_epoch_line_ends_with_the_eta(capsys):
    from rich.console import Console

    d = ProgressDisplay(2, epochs=3, steps=5, console=Console(width=200))
    d.watch([])
    d.epoch_begin(0)
    d.epoch_end(0, {"loss": 0.5})
    out = capsys.readouterr().out
    assert "Epoch 1/3" in out and " - ETA " in out


def test_eta_follows_the_stop_the_estimate_expects():
    early = EarlyStopping(patience=2)
    early.wait, early.expected_epochs = 0, 5  # nnguru train's replay saw the run stop after epoch 5
    # 2 epochs done, improving: 3 more to the expected stop (not the typical 8), at 2 s; at most 8 more
    assert _display([2.0, 2.0], [early]).eta(1) == " - ETA 6.0s (at most 16s)"
