"""Keras-like progress display: a rich bar per epoch on a terminal, one plain line otherwise.

The bar is redrawn at most every ``REFRESH_S`` seconds so drawing never shows up in the step
time; the running loss is read from the device only at those moments.
"""

from __future__ import annotations

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
        per_step = seconds / max(self.steps, 1)
        timing = f"{seconds:.1f}s {per_step * 1e3:.1f}ms/step"
        if self.bar is not None:  # the live bar gives way to Keras's one-line epoch summary
            self.bar.stop()
            self.bar = None
            self.console.print(f"{self.steps}/{self.steps} - {timing} - {format_logs(logs)}", highlight=False)
        elif self.mode == 2:
            self.console.print(f"Epoch {epoch + 1}/{self.epochs} - {timing} - {format_logs(logs)}",
                               highlight=False)
