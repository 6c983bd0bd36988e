"""Similarity search on real data (issue 13): precision@5 of the stored embedding against the same
search on the preprocessed features, what storing the embeddings costs, and nearest recordings.

    .venv/bin/python benchmarks/similarity.py                # MNIST (IDX folder, mlp, 3 epochs) + spoken digits
    .venv/bin/python benchmarks/similarity.py --model cnn    # MNIST with the image default template (slow on a CPU)
    .venv/bin/python benchmarks/similarity.py --quick        # MNIST subsample of 6,000, mlp, 3 epochs

Each run is a plain ``nnguru.train``; the figures come from its ``metrics.json`` (``similarity``:
precision@5 of same-label neighbours of up to 1,000 test items among the training items) and from
the bundle's files. Datasets: ../shared/datasets (or $NNGURU_DATASETS).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import nnguru
from nnguru.datasets import load_mnist

DATA = Path(os.environ.get("NNGURU_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def costs(run_dir: Path) -> dict:
    model = run_dir / "model"
    sim = json.loads((run_dir / "metrics.json").read_text())["similarity"]
    return {"embedding": sim["embedding"], "preprocessed_features": sim["preprocessed_features"],
            "items": sim["items"], "dim": sim["dim"], "queries": sim.get("queries"),
            "embed_seconds": sim["embed_seconds"], "eval_seconds": sim["eval_seconds"],
            "train_seconds": json.loads((run_dir / "metrics.json").read_text())["train_seconds"],
            "embeddings_mb": round((model / "embeddings.safetensors").stat().st_size / 2**20, 2),
            "weights_mb": round((model / "weights.safetensors").stat().st_size / 2**20, 2)}


def mnist(out: Path, quick: bool, model: str) -> dict:
    if quick:
        (x, y), _ = load_mnist(DATA / "mnist")
        pick = np.random.default_rng(0).choice(len(x), 6000, replace=False)
        run = nnguru.train((x[pick], y[pick]), out=out / "mnist", model="mlp", epochs=3, verbose=0)
    else:
        run = nnguru.train(str(DATA / "mnist"), out=out / "mnist", model=model, epochs=3, verbose=0)
    return {"accuracy": run.metrics["test"]["accuracy"], **costs(run.run_dir)}


def spoken_digits(out: Path) -> dict:
    folder = DATA / "free_spoken_digit_dataset" / "recordings"
    run = nnguru.train(str(folder), out=out / "fsdd", label_from_name=r"^(\d+)_", verbose=0)
    test = sorted(p for p in folder.glob("*.wav") if int(p.stem.split("_")[2]) <= 4)  # official test files
    t0 = time.perf_counter()
    found = run.similar([str(p) for p in test], k=5)
    seconds = time.perf_counter() - t0
    digit = found["query"].map(lambda s: Path(s).name.split("_")[0]).astype(str)
    same = (found["label"].astype(str) == digit).to_numpy().reshape(-1, 5)
    return {"accuracy": run.metrics["test"]["accuracy"], **costs(run.run_dir),
            "held_out_queries": len(test), "top5_same_digit": float(same.mean()),
            "majority_same_digit": float((same.sum(axis=1) >= 3).mean()), "search_seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MNIST subsample with the mlp template only")
    parser.add_argument("--mnist-only", action="store_true", help="skip the spoken digits")
    parser.add_argument("--model", default="mlp", help="MNIST's template (mlp, or cnn: the image default)")
    args = parser.parse_args()
    nnguru.set_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        results = {"mnist": mnist(out, args.quick, args.model)}
        if not (args.quick or args.mnist_only):
            results["free_spoken_digit_dataset"] = spoken_digits(out)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
