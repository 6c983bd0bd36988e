"""Issue 16's acceptance for transfer learning (``--from``): few labels of a new task or a new speaker
do better fine-tuned from a run on related data than from scratch. The figures are printed and
recorded in benchmarks/RESULTS.md ("Transfer and export"); benchmarks/transfer.py runs the MNIST one
on more seeds and the full 0-4 set.

The data sets are built in tmp_path from ../shared/datasets (arrays in memory, symlinks to the WAV
files), never copied into the repository.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import nnguru
from nnguru.cli import main
from nnguru.datasets import load_mnist

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")  # the shared copy of FSDD has these five
FEW_REPETITIONS = range(5, 10)  # the new speaker's labelled recordings: 5 per digit


def _link(folder: Path, files: list[Path]) -> Path:
    """A folder of symlinks named ``digit-speaker-repetition.wav`` (not FSDD's ``_`` names, so the pipeline
    splits the few files at random instead of taking repetitions 0-4 as the test set)."""
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name.replace("_", "-")).symlink_to(f.resolve())
    return folder


def _accuracy(run_dir: Path, data: Path, tmp_path: Path) -> float:
    out = tmp_path / f"eval-{run_dir.name}.json"
    assert main(["evaluate", str(run_dir), str(data), "--label-from-name", r"^(\d+)-", "--allow-outside-paths",
                 "--out", str(out), "--quiet"]) == 0
    return float(json.loads(out.read_text())["test"]["accuracy"])


MNIST_OPTIONS = {"model": "cnn", "hidden_scale": 0.5, "verbose": 0, "monitor": False}  # a small CNN: quick on CPU
MNIST_SEEDS = 3


@pytest.mark.slow
@pytest.mark.xfail(run=False, reason="issue 16 target not met yet (fine-tuned ~ level with a CNN from scratch; "
                   "benchmarks/RESULTS.md, 'Transfer and export'); long on 2 cores. Run with --runxfail.")
def test_mnist_few_labels_fine_tuned_beats_scratch(mnist_dir, tmp_path):
    """Pretrain on 6,000 images of digits 0-4; with 50 labelled images of each of 5-9, the CNN ``--from`` the
    0-4 run beats the same CNN from scratch on those 500 and, as a second reference, the MLP from scratch,
    on every seed (all MNIST test images of 5-9). Not met yet on 2026-11-30: see benchmarks/RESULTS.md."""
    (xtr, ytr), (xte, yte) = load_mnist(mnist_dir)
    low = ytr <= 4
    t0 = time.perf_counter()
    nnguru.train((xtr[low][:6000], ytr[low][:6000]), out=tmp_path / "base", epochs=3, **MNIST_OPTIONS)
    rows: list[dict] = [{"pretrain_seconds": round(time.perf_counter() - t0, 1)}]
    test = yte >= 5
    arms = {"scratch": MNIST_OPTIONS,  # default epochs and early stopping for every arm: a fair comparison
            "mlp_scratch": {**MNIST_OPTIONS, "model": "mlp", "hidden_scale": 1.0},
            "fine_tuned": {"base": tmp_path / "base", **MNIST_OPTIONS}}
    for seed in range(MNIST_SEEDS):
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), 50, replace=False) for c in range(5, 10)])
        row: dict = {"seed": seed}
        for name, options in arms.items():
            run = nnguru.train((xtr[idx], ytr[idx]), out=tmp_path / f"{name}{seed}", seed=seed, **options)
            row[name] = float((run.predict(xte[test]) == yte[test]).mean())
        rows.append(row)
        print(json.dumps(row))
    gains = [r["fine_tuned"] - max(r["scratch"], r["mlp_scratch"]) for r in rows[1:]]
    print(json.dumps({**rows[0], "mean_gain_over_the_better_scratch": float(np.mean(gains))}))
    assert min(gains) > 0 and np.mean(gains) >= 0.01


@pytest.mark.slow
@pytest.mark.xfail(run=False, reason="issue 16: not measured yet with a fully trained base (an undertrained "
                   "base made fine-tuning worse); long on 2 cores. Run with --runxfail.")
def test_speaker_transfer(shared_datasets, tmp_path):
    """A spoken-digit run on four speakers, fine-tuned on a fifth speaker's 50 recordings (5 per digit),
    beats both the four-speaker run alone and a run from scratch on those 50, on that speaker's other 450."""
    recordings = sorted((shared_datasets / "free_spoken_digit_dataset" / "recordings").glob("*.wav"))
    base_speakers, new = SPEAKERS[:-1], SPEAKERS[-1]
    mine = [f for f in recordings if f.stem.split("_")[1] == new]
    few = [f for f in mine if int(f.stem.split("_")[2]) in FEW_REPETITIONS]
    others = _link(tmp_path / "others", [f for f in recordings if f.stem.split("_")[1] in base_speakers])
    few_dir = _link(tmp_path / "few", few)
    held_out = _link(tmp_path / "held_out", [f for f in mine if f not in few])
    common = ["--label-from-name", r"^(\d+)-", "--allow-outside-paths", "--quiet", "--no-monitor"]
    t0 = time.perf_counter()
    assert main(["train", str(others), "--out", str(tmp_path / "base"), *common]) == 0
    row: dict = {"base_seconds": round(time.perf_counter() - t0, 1), "few": len(few), "held_out": len(mine) - len(few)}
    for name, extra in (("scratch", []), ("fine_tuned", ["--from", str(tmp_path / "base")])):
        t0 = time.perf_counter()
        assert main(["train", str(few_dir), "--out", str(tmp_path / name), *extra, *common]) == 0
        row[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
    for name in ("base", "scratch", "fine_tuned"):
        row[name] = _accuracy(tmp_path / name, held_out, tmp_path)
    print(json.dumps(row))
    assert row["fine_tuned"] > row["base"] and row["fine_tuned"] > row["scratch"]
    record = json.loads((tmp_path / "fine_tuned" / "transfer.json").read_text())
    assert record["warm_up_epochs"] >= 1 and record["reused_params"] > 0
    assert "Transfer learning" in (tmp_path / "fine_tuned" / "report.html").read_text()
