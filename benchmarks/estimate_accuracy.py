"""How close ``nnguru estimate`` comes to the run it predicts, on every shared dataset (issue 15).

    python benchmarks/estimate_accuracy.py [--only titanic,fsdd] [--quick] [--json out.json]

For each dataset it runs ``nnguru estimate DATA`` and then ``nnguru train DATA`` (subprocesses,
defaults only, as a user would) and prints, next to each other:

- training time: the estimate's ``seconds`` against the run's ``train_seconds``, and the error;
- its two factors, so a miss can be traced: predicted epochs against ``epochs_run`` (the epoch
  model: the cap, early stopping's typical stop, the time budget) and predicted seconds per epoch
  against ``train_seconds / epochs_run`` (the time model: steps, validation, per-epoch overhead);
- the whole command: the estimate's ``command_seconds`` against the train command's wall time;
- the estimate the run itself printed (metrics.json ``estimate``), made in the same process.

Estimate and run are measured one after the other under the same load, so their ratio stays
meaningful on a busy machine; the load average is printed. ``--quick``: the small cases only
(tables, SMS, the tutorial recipe), a minute or two on 2 cores. Cases: those of
``benchmarks/defaults.py``, plus the spoken digits learned without labels (``--task anomaly``,
an autoencoder).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults import CASES, DATASETS, ROOT, Case, recipe  # noqa: E402

CASES = [*CASES, Case("fsdd_anomaly", "audio", "free_spoken_digit_dataset/recordings",
                      ["--label-from-name", r"^(\d+)_", "--task", "anomaly"])]
QUICK = ("titanic", "pima", "boston", "sms_spam", "mnist_recipe")
TARGET = 0.25  # issue 15: within 25% of the actual training time


def _nnguru(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nnguru", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"nnguru {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def _error(predicted: float | None, actual: float | None) -> float | None:
    return None if predicted is None or not actual else (predicted - actual) / actual


def run_case(case: Case, work: Path) -> dict:
    data = str(DATASETS / case.path) if case.path else ""
    if case.kind == "recipe":
        rc = recipe(case, data)
        return {"case": case.name, "train_est": rc["estimate"], "train_actual": rc["actual"],
                "train_error": rc["error"], "epochs_est": 5, "epochs_actual": 5}
    if case.name == "mnist_png":
        sys.path.insert(0, str(ROOT / "tests" / "data"))
        from conftest import write_mnist_png_folder  # the acceptance test's folder

        data = str(write_mnist_png_folder(work / "mnist_png", DATASETS / "mnist", count=4000).root)
    est_path, run_dir = work / f"{case.name}-estimate.json", work / f"run-{case.name}"
    est_wall = _nnguru("estimate", data, *case.flags, "--out", str(est_path), "--quiet")
    wall = _nnguru("train", data, *case.flags, "--out", str(run_dir), "--quiet")
    est = json.loads(est_path.read_text())
    m = json.loads((run_dir / "metrics.json").read_text())
    epochs, train_s = m["epochs_run"], m["train_seconds"]
    inrun = m.get("estimate") or {}
    return {"case": case.name, "estimate_wall": est_wall, "train_est": est["seconds"], "train_actual": train_s,
            "train_error": _error(est["seconds"], train_s),
            "epochs_est": est["epochs"], "epochs_actual": epochs, "stop_est": est["stop"],
            "budget_reached": (m.get("time_budget") or {}).get("reached"),
            "epoch_s_est": est["seconds_per_epoch"], "epoch_s_actual": train_s / max(epochs, 1),
            "epoch_s_error": _error(est["seconds_per_epoch"], train_s / max(epochs, 1)),
            "command_est": est.get("command_seconds"), "command_actual": wall,
            "command_error": _error(est.get("command_seconds"), wall),
            "inrun_error": inrun.get("error")}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.0%}"


def table(results: list[dict]) -> str:
    lines = ["| data | training: estimate / actual | error | epochs: est. / actual (stop) | s per epoch: est. / "
             "actual | error | whole command: est. / actual | error | in-run estimate error |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['case']} | error: {r['error'][:100]} |")
            continue
        ok = "" if r["train_error"] is None or abs(r["train_error"]) <= TARGET else " MISS"
        stop = r.get("stop_est", "epochs") + (", budget reached" if r.get("budget_reached") else "")
        per_epoch = (f"{r['epoch_s_est']:.3g} / {r['epoch_s_actual']:.3g} s" if "epoch_s_est" in r else "-")
        command = (f"{r['command_est']:.0f} / {r['command_actual']:.0f} s" if r.get("command_est") else "-")
        lines.append(f"| {r['case']} | {r['train_est']:.1f} / {r['train_actual']:.1f} s | {_pct(r['train_error'])}{ok} "
                     f"| {r['epochs_est']} / {r['epochs_actual']} ({stop}) | {per_epoch} | "
                     f"{_pct(r.get('epoch_s_error'))} | {command} | {_pct(r.get('command_error'))} | "
                     f"{_pct(r.get('inrun_error'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated case names: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--quick", action="store_true", help="the small cases only: " + ", ".join(QUICK))
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(QUICK) if args.quick else None
    unknown = sorted(set(names or []) - {c.name for c in CASES})
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {[c.name for c in CASES]}")
    chosen = [c for c in CASES if names is None or c.name in names]
    print(f"load average before: {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="nnguru-estimate-") as tmp:
        for case in chosen:
            print(f"-- {case.name}", flush=True)
            try:
                results.append(run_case(case, Path(tmp)))
            except Exception as exc:  # one broken case must not hide the others' results
                results.append({"case": case.name, "error": f"{type(exc).__name__}: {exc}"})
            print(json.dumps(results[-1], default=float), flush=True)
    print(f"load average after: {os.getloadavg()}\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
