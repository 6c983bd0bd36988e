"""torchrun: ranks shard the data, gradients are averaged, every rank ends with the same weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_two_cpu_ranks_stay_in_sync():
    worker = Path(__file__).with_name("ddp_worker.py")
    out = subprocess.run(
        # --standalone: a local rendezvous on a free port (a fixed port can be taken on a busy machine)
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout[-1000:] + out.stderr[-3000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT"))
    assert "same_weights=True" in line
    assert "steps=8" in line  # 256 samples / 2 ranks / batch 16
