"""What the network monitor costs: fit with it on vs off, interleaved, on three kinds of model.

Models (MNIST, shared dataset): the tutorial MLP (784-128 relu-10, Adam, batch 32, the fast-dense
path), a small CNN (two 3x3 convolutions, pooling) and an LSTM reading the 28 rows of an image as
28 steps. Each repeat trains a fresh model (same seed) once with ``NetworkMonitor("auto")`` and once
without, alternating which goes first, so load changes on a shared machine hit both. Reported: the
median fit seconds of each, the overhead share ``(on - off) / off`` (target <= 5%, issue 14), and
the monitor's own clock (``monitor.seconds / fit seconds``), which load disturbs less.

Run: ``python benchmarks/monitor_overhead.py --quick`` (a slice, ~2 min) or without ``--quick``
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


def fit_seconds(build, x, y, monitored: bool) -> tuple[float, float, int]:
    """(fit wall seconds, the monitor's own seconds, samples taken) of one epoch."""
    nnguru.set_seed(0)
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mon = NetworkMonitor("auto") if monitored else None
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[mon] if mon else [])
    wall = time.perf_counter() - start
    return wall, (mon.seconds if mon else 0.0), (len(mon.samples) if mon else 0)


def measure(name: str, x_all: np.ndarray, y_all: np.ndarray, rows: int, repeats: int) -> dict:
    build, shape, _ = MODELS[name]
    x, y = x_all[:rows].reshape(rows, *shape), y_all[:rows]
    fit_seconds(build, x[:256], y[:256], True)  # warm-up: imports, first kernels
    on, off, own, samples = [], [], [], 0
    for r in range(repeats):
        for monitored in ((True, False) if r % 2 == 0 else (False, True)):
            wall, spent, n = fit_seconds(build, x, y, monitored)
            (on if monitored else off).append(wall)
            if monitored:
                own.append(spent / wall)
                samples = n
    t_on, t_off = statistics.median(on), statistics.median(off)
    return {"model": name, "rows": rows, "steps": -(-rows // 32), "repeats": repeats, "samples": samples,
            "seconds_on": round(t_on, 3), "seconds_off": round(t_off, 3),
            "overhead": round((t_on - t_off) / t_off, 4), "monitor_share": round(statistics.median(own), 4),
            "on_all": [round(v, 3) for v in on], "off_all": [round(v, 3) for v in off]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a slice of MNIST and 3 repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--models", default="mlp,cnn,lstm")
    p.add_argument("--data", type=Path, default=default_data_path())
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    raw = load_mnist_uint8(args.data)
    x = raw["x_train"].astype(np.float32) / 255.0
    y = raw["y_train"].astype(np.int64)
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"load: {os.getloadavg()} on {os.cpu_count()} CPUs")
    results = []
    for name in args.models.split(","):
        rows = MODELS[name][2][0 if args.quick else 1]
        res = measure(name, x, y, rows, repeats)
        results.append(res)
        verdict = "ok" if res["overhead"] <= TARGET else "over target"
        print(f"{name:5s} {rows:6d} rows, {res['samples']:3d} samples: off {res['seconds_off']:.2f}s, on "
              f"{res['seconds_on']:.2f}s, overhead {res['overhead']:+.1%} ({verdict}); monitor's own clock "
              f"{res['monitor_share']:.1%} of fit", flush=True)
    print(f"load after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"quick": args.quick, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
