"""torchrun: ranks shard the data, gradients are averaged, every rank ends with the same weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_two_cpu_ranks_stay_in_sync():
    worker = Path(__file__).with_name("ddp_worker.py")
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         str(worker)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT"))
    assert "same_weights=True" in line
    assert "steps=8" in line  # 256 samples / 2 ranks / batch 16
