"""Keras-like progress display: a rich bar per epoch on a terminal, one plain line otherwise.

The bar is redrawn at most every ``REFRESH_S`` seconds so drawing never shows up in the step
time; the running loss is read from the device only at those moments. Each epoch's line ends
with the whole run's ETA (issue 15): the epochs left at the recent pace, or where early stopping
typically ends, capped by the time budget's remainder, with the most it can take in brackets.
"""

from __future__ import annotations

import math
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

REFRESH_S = 0.1  # 10 redraws a second look live and cost nothing next to the training steps


def format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key in ("lr", "seconds") or not isinstance(value, (int, float)):
            continue
        parts.append(f"{key}: {value:.4f}")
    return " - ".join(parts)


def resolve_verbose(verbose: int | str) -> int:
    """Keras's 'auto': a bar on a terminal, one line per epoch in logs and notebooks' files."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


class ProgressDisplay:
    """Drawn by the loop on the main process: ``epoch_begin``, ``step``, ``epoch_end``."""

    def __init__(self, verbose: int, epochs: int, steps: int, console: Console | None = None) -> None:
        self.mode, self.epochs, self.steps = verbose, epochs, steps
        self.console = console or Console()
        self.bar: Progress | None = None
        self.next_draw = 0.0
        self.durations: list[float] = []
        self.budget = self.early = None

    def watch(self, callbacks) -> None:
        """The callbacks that can end the run early: a time budget and early stopping (for the ETA)."""
        from nnguru.training.callbacks import EarlyStopping

        self.budget = next((cb for cb in callbacks if hasattr(cb, "remaining")), None)
        self.early = next((cb for cb in callbacks if isinstance(cb, EarlyStopping)), None)

    def eta(self, epoch: int) -> str:
        """`` - ETA 40s (at most 1m30s)`` after ``epoch`` (0-based) ends; empty after the last."""
        from nnguru.estimate import TYPICAL_STOP_PATIENCES
        from nnguru.training.callbacks.time_budget import format_duration

        left = self.epochs - (epoch + 1)
        if left <= 0 or not self.durations:
            return ""
        pace = sum(self.durations[-5:]) / len(self.durations[-5:])  # recent epochs: after warm-up
        most = left * pace
        if self.budget is not None:
            most = min(most, self.budget.remaining())
        likely = most
        if self.early is not None and getattr(self.early, "wait", None) is not None:
            expected = (getattr(self.early, "expected_epochs", None)
                        or math.ceil(TYPICAL_STOP_PATIENCES * self.early.patience))
            typical = expected - (epoch + 1)
            likely = min(most, max(self.early.patience - self.early.wait, typical, 1) * pace)
        text = f" - ETA {format_duration(likely)}"
        return text + (f" (at most {format_duration(most)})" if most > likely * 1.05 else "")

    def epoch_begin(self, epoch: int) -> None:
        self.t0 = time.perf_counter()
        if self.mode != 1:
            return
        self.console.print(f"Epoch {epoch + 1}/{self.epochs}")
        self.bar = Progress(
            MofNCompleteColumn(), BarColumn(bar_width=30), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"), console=self.console, transient=True,
            auto_refresh=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=self.steps, info="")

    def step(self, step: int, running) -> None:
        """``running()`` returns the current logs; called only when the bar is redrawn."""
        if self.bar is None:
            return
        now = time.perf_counter()
        if now < self.next_draw and step + 1 < self.steps:
            return
        self.next_draw = now + REFRESH_S
        self.bar.update(self.task, completed=step + 1, info=format_logs(running()))
        self.bar.refresh()

    def epoch_end(self, epoch: int, logs: dict) -> None:
        seconds = time.perf_counter() - self.t0
        self.durations.append(seconds)
        per_step = seconds / max(self.steps, 1)
        timing = f"{seconds:.1f}s {per_step * 1e3:.1f}ms/step"
        eta = self.eta(epoch) if self.mode != 0 else ""
        if self.bar is not None:  # the live bar gives way to Keras's one-line epoch summary
            self.bar.stop()
            self.bar = None
            self.console.print(f"{self.steps}/{self.steps} - {timing} - {format_logs(logs)}{eta}", highlight=False)
        elif self.mode == 2:
            self.console.print(f"Epoch {epoch + 1}/{self.epochs} - {timing} - {format_logs(logs)}{eta}",
                               highlight=False)
