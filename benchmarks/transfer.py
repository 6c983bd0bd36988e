"""Transfer learning on MNIST: pretrain on digits 0-4, fine-tune on 5-9 with 50 labelled images per class.

Compares, per seed, the test accuracy on MNIST's official test images of 5-9 of
(a) a model fine-tuned with ``--from`` the 0-4 run (freeze-then-unfreeze) and
(b) the same template trained from scratch on the same 500 images.

    .venv/bin/python benchmarks/transfer.py [--quick] [--seeds 3] [--model cnn|mlp] [--hidden-scale 1]
                                            [--pretrain-images N] [--epochs N]

--quick pretrains on 6,000 images of 0-4 instead of all ~30,600 and runs fewer epochs.
--epochs caps the epochs of both small-data runs (default: nnguru's, with early stopping).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--hidden-scale", type=float, default=1.0)
    ap.add_argument("--pretrain-images", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--mnist", default=os.environ.get("NNGURU_DATASETS", "../shared/datasets") + "/mnist")
    args = ap.parse_args()
    (xtr, ytr), (xte, yte) = load_mnist(args.mnist)
    low = ytr <= 4
    x04, y04 = xtr[low], ytr[low]
    n_pre = args.pretrain_images or (6000 if args.quick else None)
    if n_pre:
        x04, y04 = x04[:n_pre], y04[:n_pre]
    test = yte >= 5
    results = {"model": args.model, "hidden_scale": args.hidden_scale, "pretrain_images": int(len(x04)),
               "per_class": args.per_class, "epochs": args.epochs, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        nnguru.train((x04, y04), out=Path(tmp) / "base", model=args.model, epochs=3 if args.quick else 8,
                     hidden_scale=args.hidden_scale, verbose=0, monitor=False)
        results["pretrain_seconds"] = round(time.perf_counter() - t0, 1)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), args.per_class, replace=False)
                                  for c in range(5, 10)])
            small = (xtr[idx], ytr[idx])
            row = {"seed": seed}
            for name, extra in (("scratch", {}), ("fine_tuned", {"base": str(Path(tmp) / "base")})):
                t0 = time.perf_counter()
                run = nnguru.train(small, out=Path(tmp) / f"{name}{seed}", model=args.model, seed=seed, verbose=0,
                                   hidden_scale=args.hidden_scale, epochs=args.epochs, monitor=False, **extra)
                row[name] = float((run.predict(xte[test]) == yte[test]).mean())
                row[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
            results["runs"].append(row)
            print(json.dumps(row))
    for name in ("scratch", "fine_tuned"):
        values = [r[name] for r in results["runs"]]
        results[name] = {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))}
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
