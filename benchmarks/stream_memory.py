"""Data larger than memory: peak resident memory of ``nnguru train FILE --stream`` by table size.

Generates tables (numeric and categorical columns, a class target) of the requested sizes as CSV
and Parquet in a temporary folder, in chunks (the generator never holds more than one chunk),
runs ``nnguru train FILE --target y --stream --epochs 1`` on each in a fresh subprocess, and
prints the peak RSS of that process (``getrusage(RUSAGE_CHILDREN)`` in a one-shot wrapper, so each
run is measured alone), its wall time and rows per second (rows in the file over the whole
command: every pass, training and evaluation included). Target (issue 11): peak RSS within
150 MB between the smallest and the largest table. The tables are deleted afterwards.

    python benchmarks/stream_memory.py                       # ~100 MB and ~2 GB, CSV and Parquet
    python benchmarks/stream_memory.py --sizes-mb 20 200 --formats parquet

Check the free space first (``df -h /tmp``): the 2 GB CSV and its Parquet twin need ~3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GEN_ROWS = 200_000  # rows generated and written per chunk
N_NUMERIC = 8
CATEGORIES = {"color": ["red", "green", "blue", "yellow", "black"], "city": [f"city{i}" for i in range(40)]}
WRAPPER = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "code = subprocess.run(sys.argv[1:]).returncode; "
    "print('RESULT', code, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def chunk(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` rows: 8 numeric columns (5% missing in one), 2 categorical, a binary target."""
    x = rng.normal(size=(n, N_NUMERIC)).round(5)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_NUMERIC)])
    frame.loc[rng.random(n) < 0.05, "x0"] = np.nan
    for name, values in CATEGORIES.items():
        frame[name] = rng.choice(values, size=n)
    logit = x[:, 1] - 0.5 * x[:, 2] + (frame["color"] == "red").to_numpy()
    frame["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


def generate(folder: Path, size_mb: float, fmt: str, seed: int = 0) -> tuple[Path, int]:
    """A table of about ``size_mb`` MB on disk, written chunk by chunk; returns (path, rows)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    probe = chunk(np.random.default_rng(seed + 1), GEN_ROWS)
    if fmt == "csv":
        per_row = len(probe.to_csv(index=False).encode()) / GEN_ROWS
    else:
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(probe, preserve_index=False), buffer)
        per_row = buffer.tell() / GEN_ROWS
    n_chunks = max(1, round(size_mb * 2**20 / per_row / GEN_ROWS))
    path = folder / f"table_{size_mb:g}mb.{fmt}"
    writer = None
    for i in range(n_chunks):
        frame = chunk(rng, GEN_ROWS)
        if fmt == "csv":
            frame.to_csv(path, mode="a", header=i == 0, index=False)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=GEN_ROWS)
    if writer is not None:
        writer.close()
    return path, n_chunks * GEN_ROWS


def measure(path: Path, rows: int, out: Path, extra: list[str], threads: int) -> dict:
    command = [sys.executable, "-m", "nnguru.cli", "train", str(path), "--target", "y", "--stream",
               "--epochs", "1", "--out", str(out), "--overwrite", "--quiet", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, env=env)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"the run did not report: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    _, code, seconds, maxrss_kb = line.split()
    if int(code) != 0:
        raise SystemExit(f"nnguru train failed ({code}) on {path}: {done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {"file": path.name, "format": path.suffix[1:], "size_mb": round(path.stat().st_size / 2**20, 1),
            "rows": rows, "peak_rss_mb": round(int(maxrss_kb) / 1024, 1), "seconds": round(float(seconds), 1),
            "rows_per_s": round(rows / float(seconds)), "train_seconds": metrics["train_seconds"],
            "test_accuracy": round(metrics["test"]["accuracy"], 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 2048])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"], choices=["parquet", "csv"])
    parser.add_argument("--batch-size", type=int, default=1024, help="a data-throughput benchmark: large batches")
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP_NUM_THREADS of the runs (default 1: steady on a shared machine)")
    parser.add_argument("--dir", help="where to write the tables (default: a temporary folder in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated tables")
    args = parser.parse_args()

    folder = Path(args.dir or tempfile.mkdtemp(prefix="nnguru-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free / 2**30
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{folder}: {free:.1f} GiB free")
    results = []
    try:
        for fmt in args.formats:
            for size in args.sizes_mb:
                t0 = time.perf_counter()
                path, rows = generate(folder, size, fmt)
                print(f"generated {path.name}: {path.stat().st_size / 2**20:.0f} MB, {rows:,} rows "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
                result = measure(path, rows, folder / f"run_{path.stem}_{fmt}", ["--batch-size", str(args.batch_size)],
                                 args.threads)
                print(json.dumps(result), flush=True)
                results.append(result)
                if not args.keep:
                    path.unlink()
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print("\n| format | file MB | rows | peak RSS MB | wall s | rows/s | test accuracy |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['format']} | {r['size_mb']} | {r['rows']:,} | {r['peak_rss_mb']} | {r['seconds']} | "
              f"{r['rows_per_s']:,} | {r['test_accuracy']} |")
    ok = True
    for fmt in args.formats:
        rss = [r["peak_rss_mb"] for r in results if r["format"] == fmt]
        spread = max(rss) - min(rss)
        ok &= spread <= 150
        print(f"{fmt}: peak RSS spread {spread:.0f} MB between the sizes (target <= 150): "
              f"{'PASS' if spread <= 150 else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
