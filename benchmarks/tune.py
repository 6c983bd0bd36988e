"""Issue 15's acceptance for ``nnguru tune``: 20 trials within a time limit against the default run.

    python benchmarks/tune.py [--quick] [--only pima,fsdd] [--json results.json]

For each dataset: ``nnguru train DATA`` with default settings, then ``nnguru tune DATA --trials 20
--timeout T`` (TPE; trial 0 is the default configuration; the best is retrained and tested once),
both with the same seed and split. It prints one row per dataset: validation loss and accuracy of
the default run, of the best trial and of the retrained best, their test metrics, the trials
(complete / pruned), and seconds. The test metric is reported, never selected on: it may honestly
be worse than the default's.

Cases: ``pima`` (table, MLP family, median pruner) and ``fsdd``, the free spoken digits (audio, CNN
family on mel spectrograms, successive-halving pruner: most trials stop at epoch 6). FSDD is used
rather than the MNIST PNG folder because the folder has to be written first and its default run is
no cheaper (both ~60 s of training on a quiet 2-core machine). ``--quick``: the FSDD subset the CI
test uses (repetitions 0-1 test, 5-12 train/val: 500 recordings) and shorter time limits — a
harness check in about 3 minutes; the full run takes about 15 minutes on a quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NNGURU_DATASETS", ROOT.parent / "shared" / "datasets"))
FSDD = "free_spoken_digit_dataset/recordings"
FSDD_NAME = re.compile(r"^(\d+)_([a-z]+)_(\d+)\.wav$")
QUICK_REPETITIONS = (0, 1, *range(5, 13))  # 0-4 are FSDD's official test repetitions


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    flags: list[str]
    timeout: float  # seconds for the search (the whole of it: trials stop starting when it is spent)
    pruner: str = "median"
    quick_timeout: float = 120.0
    tune_flags: list[str] = field(default_factory=list)


CASES = [
    Case("pima", "pima_indians_diabetes/pima-indians-diabetes.csv", ["--target", "-1"], timeout=300),
    Case("fsdd", FSDD, ["--label-from-name", r"^(\d+)_"], timeout=600, pruner="halving", quick_timeout=150),
]


def fsdd_subset(dest: Path, repetitions=QUICK_REPETITIONS, source: Path | None = None) -> Path:
    """A folder of the FSDD recordings of ``repetitions`` (every digit and speaker), hard-linked or
    copied (nnguru does not follow symlinks out of a data folder); the file names keep FSDD's
    official split (repetitions 0-4 are the test set)."""
    source = source or DATASETS / FSDD
    dest.mkdir(parents=True, exist_ok=True)
    for wav in sorted(source.glob("*.wav")):
        m = FSDD_NAME.match(wav.name)
        if m and int(m.group(3)) in repetitions and not (dest / wav.name).exists():
            try:
                os.link(wav, dest / wav.name)
            except OSError:  # another file system
                shutil.copyfile(wav, dest / wav.name)
    return dest


def compare(data: str, flags: list[str], work: Path, *, trials: int = 20, timeout: float = 600,
            pruner: str = "median", tune_flags: list[str] | None = None) -> dict:
    """``nnguru train`` with defaults, then ``nnguru tune`` (same flags, seed and split): the row."""
    from nnguru.cli import main

    default, tuned = work / "default", work / "tuned"
    t0 = time.perf_counter()
    assert main(["train", data, *flags, "--out", str(default), "--overwrite", "--quiet"]) == 0
    t_default = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert main(["tune", data, *flags, "--trials", str(trials), "--timeout", str(timeout), "--pruner", pruner,
                 *(tune_flags or []), "--out", str(tuned), "--overwrite", "--quiet"]) == 0
    t_tune = time.perf_counter() - t0
    d, t = (json.loads((run / "metrics.json").read_text()) for run in (default, tuned))
    summary = json.loads((tuned / "tune.json").read_text())
    trials_csv = pd.read_csv(tuned / "trials.csv")
    first = trials_csv[trials_csv["default"]].iloc[0]
    keys = ("loss", "accuracy")  # "val": the evaluate stage's scores (no class weights), "val_loss": the history's

    def history_val_loss(run: Path) -> float:
        return float(pd.read_csv(run / "history.csv")["val_loss"].min())

    return {
        "data": Path(data).name, "trials": int(sum(summary["counts"].values())), "counts": summary["counts"],
        "pruner": pruner, "timeout": timeout,
        "val_loss": {"default_run": history_val_loss(default),
                     "trial_0": None if pd.isna(first["val_loss"]) else float(first["val_loss"]),
                     "best_trial": float(summary["best"]["value"]), "retrained": history_val_loss(tuned)},
        "val": {k: (d["val"].get(k), t["val"].get(k)) for k in keys},
        "test": {k: (d["test"].get(k), t["test"].get(k)) for k in keys},
        "seconds": {"default": round(t_default, 1), "tune": round(t_tune, 1),
                    "search": summary.get("search_seconds")},
        "best": {"number": summary["best"]["number"], **summary["best"]["params"]},
    }


def markdown(rows: list[dict]) -> str:
    """The RESULTS.md table."""
    def pair(values, fmt=".3f"):
        return " -> ".join("-" if v is None else format(v, fmt) for v in values)

    lines = ["| data | trials (complete / pruned) | val loss: default run, trial 0, best trial, retrained best "
             "| val accuracy | test accuracy | test loss | seconds: default / tune (search) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        v = r["val_loss"]
        lines.append(
            f"| {r['data']} | {r['trials']} ({r['counts'].get('complete', 0)} / {r['counts'].get('pruned', 0)}) "
            f"| {pair([v['default_run'], v['trial_0'], v['best_trial'], v['retrained']], '.4f')} "
            f"| {pair(r['val']['accuracy'])} | {pair(r['test']['accuracy'])} | {pair(r['test']['loss'], '.4f')} "
            f"| {r['seconds']['default']:.0f} / {r['seconds']['tune']:.0f} ({r['seconds']['search']:.0f}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="FSDD subset and shorter limits (~3 minutes)")
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, help="seconds for each search (default: the case's limit)")
    parser.add_argument("--keep", help="write the runs (trials.csv, tune.json, ...) under this folder")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="nnguru-tune-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        for case in chosen:
            data = str(DATASETS / case.path)
            if args.quick and case.path == FSDD:
                data = str(fsdd_subset(work / "fsdd_subset"))
            row = compare(data, case.flags, work / case.name, trials=args.trials, pruner=case.pruner,
                          timeout=args.timeout or (case.quick_timeout if args.quick else case.timeout),
                          tune_flags=case.tune_flags)
            print(json.dumps(row, default=str), flush=True)
            rows.append(row)
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
