"""Flush denormal floats to zero on every CPU thread torch trains on, for the length of a fit.

Adam's moving averages of rarely active weights (MNIST's border pixels, rare one-hot columns)
decay geometrically into the denormal range (below 1.2e-38), and x86 CPUs compute on denormals
through a slow microcode path: on the tutorial MLP, 7% denormal entries made the fused Adam step
twice as slow (benchmarks/RESULTS.md). TensorFlow flushes denormals on its compute threads by
default; this does the same for torch while ``fit`` runs and restores the previous mode after.

``torch.set_flush_denormal`` sets only the calling thread's control register, but the intra-op
work (element-wise kernels, MKL's matrix products) runs on an OpenMP team. The team's threads are
reached through ``GOMP_parallel`` — the entry point GCC-compiled code uses for every ``omp
parallel`` region, exported by libgomp and, for compatibility, by LLVM's and Intel's runtimes —
with a callback that sets the mode on each thread. When no such runtime is loaded (other
platforms), only the calling thread is set, which is all a one-thread fit needs.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def flushing() -> bool:
    """Whether this thread flushes denormals now (a float32 product that underflows gives 0)."""
    return float(torch.tensor(1e-30) * torch.tensor(1e-10)) == 0.0


@functools.cache
def _openmp_runtime():
    """``GOMP_parallel`` as torch's own CPU library resolves it, or None.

    Looked up through libtorch_cpu's handle, so the symbol comes from the OpenMP runtime torch is
    linked to, not from another copy in the process (scikit-learn wheels bring their own libgomp,
    whose threads are not torch's).
    """
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        if os.path.basename(path).startswith("libtorch_cpu."):
            try:
                entry = ctypes.CDLL(path).GOMP_parallel
            except (OSError, AttributeError):
                return None
            entry.argtypes = [_CALLBACK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
            entry.restype = None
            return entry
    return None


def _set_on_team(on: bool, threads: int) -> None:
    entry = _openmp_runtime() if threads > 1 else None
    if entry is not None:
        callback = _CALLBACK(lambda _: torch.set_flush_denormal(on))
        entry(callback, None, threads, 0)  # runs the callback once on each thread of the team


@contextmanager
def flush_denormals(threads: int) -> Iterator[None]:
    """Flush denormals on this thread and its ``threads``-strong OpenMP team, then restore.

    ``threads=0`` (training on a GPU) changes nothing.
    """
    if threads < 1 or flushing() or not torch.set_flush_denormal(True):
        yield  # already on (the caller chose it), or a CPU without the mode: leave it alone
        return
    try:
        _set_on_team(True, threads)
        yield
    finally:
        _set_on_team(False, threads)
        torch.set_flush_denormal(False)
