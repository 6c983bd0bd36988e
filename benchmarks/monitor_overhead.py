"""What the network monitor costs: fit with it on vs off, interleaved, on three kinds of model.

Models (MNIST, shared dataset): the tutorial MLP (784-128 relu-10, Adam, batch 32, the fast-dense
path), a small CNN (two 3x3 convolutions, pooling) and an LSTM reading the 28 rows of an image as
28 steps. Each repeat trains a fresh model (same seed) once with ``NetworkMonitor("auto")`` and once
without, alternating which goes first, so load changes on a shared machine hit both.

Reported, per model: the median fit time of each in process CPU seconds (``time.process_time``,
which other processes on a loaded machine disturb far less than the wall clock) and in wall
seconds; the overhead share ``(on - off) / off`` of each (target <= 5%, issue 14); the median of the
paired per-repeat CPU differences; and the monitor's own clock (its sampled passes, CPU seconds /
fit CPU seconds). Under heavy load the wall-clock figures swing by +-30% between identical fits:
read the CPU columns, and rerun on a quiet machine for the wall figures.

Run: ``python benchmarks/monitor_overhead.py --quick`` (a slice, ~2 min quiet) or without ``--quick``
(the full training split for the MLP, ~15 min on a quiet 2-core machine). ``--json FILE`` saves it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_peers import default_data_path, load_mnist_uint8  # noqa: E402

import nnguru  # noqa: E402
from nnguru.layers import LSTM, Conv2D, Dense, Flatten, Input, MaxPooling2D  # noqa: E402
from nnguru.training.monitor import NetworkMonitor  # noqa: E402
from nnguru.training.step import Step  # noqa: E402

TARGET = 0.05


def mlp():
    return nnguru.Sequential([Input(shape=(784,)), Dense(128, activation="relu"), Dense(10, activation="softmax")])


def cnn():
    return nnguru.Sequential([Input(shape=(28, 28, 1)), Conv2D(16, 3, activation="relu"), MaxPooling2D(2),
                              Conv2D(32, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                              Dense(10, activation="softmax")])


def lstm():
    return nnguru.Sequential([Input(shape=(28, 28)), LSTM(64), Dense(10, activation="softmax")])


# name -> (builder, input shape, rows (quick, full))
MODELS = {"mlp": (mlp, (784,), (12000, 60000)), "cnn": (cnn, (28, 28, 1), (2000, 10000)),
          "lstm": (lstm, (28, 28), (3000, 15000))}


def fit_seconds(build, x, y, monitored: bool) -> dict:
    """Wall and process-CPU seconds of one epoch's fit, with the monitor's own share and samples."""
    nnguru.set_seed(0)
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mon = NetworkMonitor("auto") if monitored else None
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[mon] if mon else [])
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "own_cpu": mon.cpu_seconds if mon else 0.0, "samples": len(mon.samples) if mon else 0}


def unsampled_step_cpu(build, repeats: int = 20_000) -> float:
    """Process CPU seconds the monitor adds to a step it does not sample (its wrapper and the
    "is a sample due?" check), timed on a no-op step: the per-step part of its cost, which the
    sampled passes (``cpu_seconds``) do not include."""
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mon = NetworkMonitor("auto")
    mon.set_model(model)
    mon.set_params({"steps": repeats})
    mon.on_train_begin()
    step = mon.wrap_step(Step("noop", lambda x, y, w: (x, y)))
    mon._t0 = time.perf_counter()  # as if the first step (always sampled) had run
    mon.seconds = float("inf")  # over the time budget: no step is sampled
    start = time.process_time()
    for _ in range(repeats):
        step.run(None, None, None)
    return (time.process_time() - start) / repeats


def share(on: float, off: float) -> float:
    return round((on - off) / off, 4)


def measure(name: str, x_all: np.ndarray, y_all: np.ndarray, rows: int, repeats: int) -> dict:
    build, shape, _ = MODELS[name]
    x, y = x_all[:rows].reshape(rows, *shape), y_all[:rows]
    fit_seconds(build, x[:256], y[:256], True)  # warm-up: imports, first kernels
    on: list[dict] = []
    off: list[dict] = []
    for r in range(repeats):
        for monitored in ((True, False) if r % 2 == 0 else (False, True)):
            (on if monitored else off).append(fit_seconds(build, x, y, monitored))
    med = {f"{k}_{arm}": statistics.median(f[k] for f in runs)
           for k in ("wall", "cpu") for arm, runs in (("on", on), ("off", off))}
    per_step = unsampled_step_cpu(build)
    steps = -(-rows // 32)
    paired = statistics.median((a["cpu"] - b["cpu"]) / b["cpu"] for a, b in zip(on, off, strict=True))
    return {"model": name, "rows": rows, "steps": steps, "repeats": repeats, "samples": on[-1]["samples"],
            "cpu_on": round(med["cpu_on"], 3), "cpu_off": round(med["cpu_off"], 3),
            "overhead_cpu": share(med["cpu_on"], med["cpu_off"]), "overhead_cpu_paired": round(paired, 4),
            "seconds_on": round(med["wall_on"], 3), "seconds_off": round(med["wall_off"], 3),
            "overhead_wall": share(med["wall_on"], med["wall_off"]),
            "monitor_share_cpu": round(statistics.median(f["own_cpu"] / f["cpu"] for f in on), 4),
            "unsampled_step_us": round(per_step * 1e6, 2),
            "monitor_total_cpu": round(statistics.median((f["own_cpu"] + per_step * steps) / f["cpu"] for f in on), 4),
            "cpu_on_all": [round(f["cpu"], 3) for f in on], "cpu_off_all": [round(f["cpu"], 3) for f in off],
            "wall_on_all": [round(f["wall"], 3) for f in on], "wall_off_all": [round(f["wall"], 3) for f in off]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a slice of MNIST and 5 repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--data", type=Path, default=default_data_path())
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    raw = load_mnist_uint8(args.data)
    x = raw["x_train"].astype(np.float32) / 255.0
    y = raw["y_train"].astype(np.int64)
    repeats = args.repeats or (5 if args.quick else 7)
    print(f"load: {os.getloadavg()} on {os.cpu_count()} CPUs")
    results = []
    for name in args.models.split(","):
        rows = MODELS[name][2][0 if args.quick else 1]
        res = measure(name, x, y, rows, repeats)
        results.append(res)
        verdict = "ok" if res["overhead_cpu"] <= TARGET else "over target"
        print(f"{name:5s} {rows:6d} rows, {res['samples']:3d} samples: CPU off {res['cpu_off']:.2f}s, on "
              f"{res['cpu_on']:.2f}s, overhead {res['overhead_cpu']:+.1%} ({verdict}; paired median "
              f"{res['overhead_cpu_paired']:+.1%}); wall off {res['seconds_off']:.2f}s, on {res['seconds_on']:.2f}s "
              f"({res['overhead_wall']:+.1%}); monitor's own passes {res['monitor_share_cpu']:.1%} of fit CPU, "
              f"plus {res['unsampled_step_us']:.1f} us per unsampled step: {res['monitor_total_cpu']:.1%} in all",
              flush=True)
    print(f"load after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"quick": args.quick, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
