"""Issue 16's acceptance for transfer learning (``--from``): few labels of a new task or a new speaker
do better fine-tuned from a run on related data than from scratch. The measuring code is
benchmarks/transfer.py's (more seeds there); the figures are in benchmarks/RESULTS.md ("Transfer and
export"). The data sets are built in tmp_path from ../shared/datasets (arrays in memory, symlinks to the
WAV files), never copied into the repository.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import benchmark_module

MNIST_SEEDS = (0, 1, 2)  # benchmarks/transfer.py runs 5


@pytest.fixture(scope="module")
def bench():
    module = benchmark_module.load("transfer")
    if not module.datasets().is_dir():
        pytest.skip(f"shared datasets not found at {module.datasets()} (set NNGURU_DATASETS)")
    return module


@pytest.mark.slow
@pytest.mark.xfail(run=False, reason="issue 16 target not met: fine-tuned (0.3x body rate) beats the CNN from "
                   "scratch by +0.016 and +0.013 on seeds 0-1 but trails by 0.007 on seed 2 (benchmarks/RESULTS.md, "
                   "'Transfer, third round'); ~10 min on 2 cores. Run with --runxfail.")
def test_mnist_few_labels_fine_tuned_beats_scratch(bench, tmp_path):
    """Pretrain the CNN on MNIST's 0-4; with 50 labelled images of each of 5-9, the CNN ``--from`` the 0-4
    run beats the same template from scratch on those 500, on every seed (all MNIST test images of 5-9)."""
    mnist = bench.datasets() / "mnist"
    seconds = bench.pretrain_mnist(mnist, tmp_path / "base")
    rows = [bench.mnist_seed(mnist, tmp_path / "base", seed, tmp_path) for seed in MNIST_SEEDS]
    gains = [r["fine_tuned"] - r["scratch"] for r in rows]
    print(json.dumps({"pretrain_seconds": seconds, "rows": rows, "mean_gain": float(np.mean(gains))}))
    assert min(gains) > 0 and np.mean(gains) >= 0.005


@pytest.mark.slow
def test_speaker_transfer(bench, tmp_path):
    """A spoken-digit run on four speakers, fine-tuned on a fifth speaker's 50 recordings (5 per digit),
    beats both the four-speaker run alone and a run from scratch on those 50, on that speaker's other 450."""
    others, few, held_out = bench.speaker_folders(bench.datasets() / "free_spoken_digit_dataset", tmp_path)
    seconds = bench.speaker_base(others, tmp_path / "base")
    alone = bench._accuracy(tmp_path / "base", held_out, tmp_path)
    row = bench.speaker_seed(tmp_path / "base", few, held_out, 0, tmp_path)
    print(json.dumps({"base_seconds": seconds, "base_alone": alone, **row}))
    assert row["fine_tuned"] > alone and row["fine_tuned"] > row["scratch"]
    record = json.loads((tmp_path / "fine_tuned0" / "transfer.json").read_text())
    assert record["same_classes"] and record["replaced"] == [] and record["reused_params"] > 0
    assert "Transfer learning" in (tmp_path / "fine_tuned0" / "report.html").read_text()
