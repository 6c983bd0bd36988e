"""Where early stopping ends a default run on tables and text: the epoch model of ``nnguru estimate``.

    python benchmarks/stop_epochs.py [--seeds 2] [--json out.json]

The up-front estimate predicts training time as seconds per epoch (timed, close on every dataset)
times the epochs the run will take, and on tables and text the second factor was its miss
(RESULTS "Estimate accuracy by factor": boston ran 85 epochs against the 20 predicted, SMS 12).
This script runs ``nnguru.train`` with defaults only on many tables -- the shared ones, scikit-learn's
bundled sets and generated ones, classification and regression -- and prints, per run, the epochs
run, the best (restored) epoch and the patience, and per task the median stop in patiences: the
number :data:`nnguru.estimate.TYPICAL_STOP_PATIENCES` and the tasks' ``typical_stop_patiences``
come from. Cases are split into the ones the rule was first read from (``fit``) and the others
(``check``), so the check errors are out of sample. One thread, small data: a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NNGURU_DATASETS", ROOT.parent / "shared" / "datasets"))


def _frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    df["target"] = y
    return df


def cases() -> list[tuple[str, str, object, dict]]:
    """(name, role, data, train kwargs): ``role`` fit or check (see the module docstring)."""
    from sklearn import datasets as skd

    out: list[tuple[str, str, object, dict]] = [
        ("titanic", "fit", str(DATASETS / "titanic/titanic.csv"), {"target": "Survived"}),
        ("pima", "fit", str(DATASETS / "pima_indians_diabetes/pima-indians-diabetes.csv"), {"target": -1}),
        ("boston", "fit", str(DATASETS / "boston_housing/housing.csv"), {"target": -1}),
        ("breast_cancer", "check", "builtin:breast_cancer", {}),
        ("wine", "check", "builtin:wine", {}),
        ("diabetes", "check", "builtin:diabetes", {}),
    ]
    x, y = skd.make_classification(n_samples=2000, n_features=20, n_informative=8, flip_y=0.05, random_state=0)
    out.append(("gen_clf_2k", "check", _frame(x, y), {"target": "target"}))
    x, y = skd.make_classification(n_samples=6000, n_features=30, n_informative=10, n_classes=3,
                                   flip_y=0.05, random_state=1)
    out.append(("gen_clf3_6k", "check", _frame(x, y), {"target": "target"}))
    x, y = skd.make_friedman1(n_samples=1500, noise=1.0, random_state=0)
    out.append(("friedman1", "check", _frame(x, y), {"target": "target"}))
    x, y = skd.make_regression(n_samples=3000, n_features=15, n_informative=8, noise=20.0, random_state=0)
    out.append(("gen_reg_3k", "check", _frame(x, y), {"target": "target"}))
    x, y = skd.make_friedman3(n_samples=800, noise=0.1, random_state=0)
    out.append(("friedman3", "check", _frame(x, y), {"target": "target"}))
    sms = DATASETS / "sms_spam_collection/SMSSpamCollection"
    if sms.exists():
        out.append(("sms_spam", "fit", str(sms), {"target": "Label"}))
    return out


def run(name: str, role: str, data, kwargs: dict, seed: int, work: Path) -> dict:
    import nnguru

    t0 = time.perf_counter()
    r = nnguru.train(data, out=work / f"{name}-{seed}", verbose=0, seed=seed, **kwargs)
    m = r.metrics
    val = r.history.get("val_loss") or []
    est = m.get("estimate") or {}
    return {"case": name, "role": role, "seed": seed, "task": r.config["task"],
            "epochs_run": m["epochs_run"], "best_epoch": int(np.argmin(val)) + 1 if val else None,
            "patience": r.config["patience"], "epochs_cap": r.config["epochs"],
            "epochs_est": est.get("epochs"), "train_seconds": m["train_seconds"],
            "train_est": est.get("seconds"), "wall": time.perf_counter() - t0}


def summarize(rows: list[dict]) -> str:
    lines = ["| case | role | task | seeds | epochs run | best epoch | patience | stop / patience | "
             "estimated epochs |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in dict.fromkeys(r["case"] for r in rows):
        rs = [r for r in rows if r["case"] == name]
        ratio = [r["epochs_run"] / r["patience"] for r in rs]
        lines.append(f"| {name} | {rs[0]['role']} | {rs[0]['task']} | {len(rs)} | "
                     f"{', '.join(str(r['epochs_run']) for r in rs)} | "
                     f"{', '.join(str(r['best_epoch']) for r in rs)} | {rs[0]['patience']} | "
                     f"{statistics.median(ratio):.1f} | {', '.join(str(r['epochs_est']) for r in rs)} |")
    for task in dict.fromkeys(r["task"] for r in rows):
        for role in ("fit", "check", None):
            ratio = [r["epochs_run"] / r["patience"] for r in rows if r["task"] == task
                     and (role is None or r["role"] == role)]
            if ratio:
                lines.append(f"\n{task} ({role or 'all'}): median stop {statistics.median(ratio):.2f} patiences "
                             f"over {len(ratio)} runs (range {min(ratio):.1f}-{max(ratio):.1f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--summarize", nargs="*", help="only print the table of these row files")
    args = parser.parse_args(argv)
    if args.summarize:
        rows = [r for f in args.summarize for r in json.loads(Path(f).read_text())]
        print(summarize(rows))
        return 0
    import torch

    torch.set_num_threads(1)
    chosen = [c for c in cases() if not args.only or c[0] in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, role, data, kwargs in chosen:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                rows.append(run(name, role, data, kwargs, seed, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(summarize(rows))
    print(f"load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
