"""torchrun: ranks split every batch, gradients are averaged, every rank ends with the same weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_two_ranks(*args: str) -> str:
    """The RESULT line of ``ddp_worker.py`` run by torchrun on two CPU ranks."""
    worker = Path(__file__).with_name("ddp_worker.py")
    out = subprocess.run(
        # --standalone: a local rendezvous on a free port (a fixed port can be taken on a busy machine)
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker), *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout[-1000:] + out.stderr[-3000:]
    return next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))


def test_two_cpu_ranks_stay_in_sync():
    line = run_two_ranks()
    assert "same_weights=True" in line
    assert "steps=16" in line  # 256 samples / global batch 16 (each rank takes 8 of every batch)
    assert "epochs=3" in line


def test_a_stop_asked_on_one_rank_stops_every_rank_at_the_same_step():
    # Rank 1 alone sets stop_training mid-epoch; if it left while rank 0 went on, rank 0 would wait
    # in its next gradient all-reduce until the gloo timeout.
    line = run_two_ranks("stop-on-rank-1")
    assert "same_weights=True" in line
    assert "epochs=1" in line
