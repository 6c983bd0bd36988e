"""The whole command's clock: what the automatic time budget is measured against.

A default ``nnguru train`` (``time_budget: auto``, no --epochs) should end within 2 minutes on 2
cores (issue 12), load to report. Its training budget is what is left of the command's deadline
once the time already spent (imports, loading, preparing, the estimate) and the predicted time of
what follows training (evaluation, embeddings, data checks, report) are taken off. The CLI starts
the clock at process start; ``nnguru.train`` starts it when called (a nested call keeps the outer
start). No heavy imports here: the CLI reads it before anything else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# 12 s of the 2 minutes stay for what no prediction sees: interpreter exit, the run directory's commit,
# and the spread of the stages after training (with 115 s, the default MNIST command ended at 123 s on a
# quiet 2-core machine: its 51,000 embeddings and 19,000 evaluated images took 8 s more than predicted).
AUTO_COMMAND_SECONDS = 108.0
# However late training starts, it gets at least this much, a few epochs of the shared sets' CNNs on
# 2 cores (a slow disk or a busy machine can eat the deadline before training; the estimate says so).
AUTO_MIN_TRAIN_SECONDS = 30.0

_command_start: list[float] = []  # monotonic start of the command under way (outermost first)


def process_seconds() -> float:
    """Seconds since this process started (Linux's /proc; 0.0 elsewhere): the command's imports
    count against its deadline too."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


@contextlib.contextmanager
def command_clock(started: float | None = None) -> Iterator[None]:
    """Mark the start of a command (``started``: a ``time.monotonic()`` value, default now). Nested
    uses keep the outer start: the CLI starts the clock at process start, and the ``train`` it
    calls does not restart it."""
    now = time.monotonic() if started is None else started
    _command_start.append(_command_start[-1] if _command_start else now)
    try:
        yield
    finally:
        _command_start.pop()


def command_elapsed() -> float:
    """Seconds since the command under way started (0.0 outside :func:`command_clock`)."""
    return time.monotonic() - _command_start[-1] if _command_start else 0.0


def command(fn: Callable) -> Callable:
    """Run ``fn`` as a command: its clock starts at the call (unless a command is under way)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with command_clock():
            return fn(*args, **kwargs)

    return wrapper


def process_command(fn: Callable) -> Callable:
    """Run ``fn(args)`` (a CLI command) as a command whose clock started with the process when the
    process is that command line (``args.argv`` is ``sys.argv[1:]``: the interpreter's start and the
    imports are part of what the user waits for), else at the call (``cli.main([...])`` from a
    test or a notebook, whose process may be hours old)."""
    @functools.wraps(fn)
    def wrapper(args, *rest, **kwargs):
        own = list(getattr(args, "argv", None) or []) == sys.argv[1:]
        with command_clock(time.monotonic() - process_seconds() if own else None):
            return fn(args, *rest, **kwargs)

    return wrapper


def auto_budget(elapsed: float, after: float, deadline: float = AUTO_COMMAND_SECONDS,
                floor: float = AUTO_MIN_TRAIN_SECONDS) -> float:
    """Seconds of training that keep a command within ``deadline``: what is left after the
    ``elapsed`` seconds so far and the ``after`` seconds predicted for the stages after training,
    but never under ``floor``."""
    return max(deadline - elapsed - after, floor)
