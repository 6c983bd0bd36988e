"""Issue 13's figures: anomaly detection and clustering next to their plain references.

    python benchmarks/unsupervised.py            # every case (a few minutes on a laptop CPU)
    python benchmarks/unsupervised.py --quick    # fewer MNIST rows and epochs
    python benchmarks/unsupervised.py --only digits,planted

Each case is one ``nnguru.train`` run with the task's defaults; the reference (IsolationForest or
k-means on the same preprocessed features) comes from the same run's metrics.json. The numbers
are printed as the Markdown table kept in benchmarks/RESULTS.md ("Without labels").
The data makers are shared with the acceptance tests (tests/acceptance/test_unsupervised.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))


def planted_table(n: int = 600, n_out: int = 40, seed: int = 0) -> pd.DataFrame:
    """Rows on a 2-D plane in 6-D; outliers keep every column's values but leave the plane."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n + n_out, 2))
    x = z @ rng.normal(size=(2, 6)) + rng.normal(0, 0.05, (n + n_out, 6))
    x[n:] = rng.permuted(x[n:], axis=0)  # each column shuffled among the outliers
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(6)])
    frame["label"] = ["normal"] * n + ["outlier"] * n_out
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def shapes_images(n: int = 600, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 16x16 images of three shapes (disc, square outline, diagonal bar), each of a random
    size, shifted up to 1.5 pixels from the centre: classes that differ in form, not in place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, labels = np.zeros((n, size, size), np.float32), rng.integers(0, 3, n)
    for i, kind in enumerate(labels):
        cy, cx = size / 2 - 0.5 + rng.uniform(-1.5, 1.5, 2)
        r = rng.uniform(3.0, 5.0)
        if kind == 0:
            img = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif kind == 1:
            inside = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
            img = inside & ~((abs(yy - cy) <= r - 1.5) & (abs(xx - cx) <= r - 1.5))
        else:
            img = (abs((yy - cy) - (xx - cx)) <= 1.0) & (abs(yy - cy) <= r + 1)
        images[i] = img + rng.normal(0, 0.2, (size, size))
    return np.clip(images, 0, 1), labels


def blobs_table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n, n_features=8, centers=5, cluster_std=1.5, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(8)])
    frame["group"] = y
    return frame


def mnist_held_out(digit: int = 0, n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random MNIST training subset; labels 'normal' or 'anomaly' (the held-out digit)."""
    from nnguru.datasets import load_mnist

    (x, y), _ = load_mnist(DATASETS / "mnist")
    keep = np.random.default_rng(seed).choice(len(x), n, replace=False)
    return x[keep], np.where(y[keep] == digit, "anomaly", "normal")


def run(data, out: Path, **options) -> tuple[dict, float]:
    import nnguru

    t0 = time.perf_counter()
    result = nnguru.train(data, out=out, overwrite=True, verbose=0, **options)
    return result.metrics, time.perf_counter() - t0


def cases(quick: bool) -> dict:
    mnist_n, mnist_epochs = (3000, 8) if quick else (12000, 20)
    pima = DATASETS / "pima_indians_diabetes" / "pima-indians-diabetes.csv"
    return {
        "digits": ("cluster", lambda: ("builtin:digits", {"task": "cluster"})),
        "shapes": ("cluster", lambda: (shapes_images(), {"task": "cluster", "clusters": 3})),
        "blobs": ("cluster", lambda: (blobs_table(), {"task": "cluster", "target": "group"})),
        "planted": ("anomaly", lambda: (planted_table(), {"task": "anomaly", "target": "label"})),
        "pima": ("anomaly", lambda: (str(pima), {"task": "anomaly", "target": -1})),
        "mnist0": ("anomaly", lambda: (mnist_held_out(0, mnist_n), {"task": "anomaly", "normal": "normal",
                                                                    "epochs": mnist_epochs})),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer MNIST rows and epochs")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args(argv)
    chosen = cases(args.quick)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (task, make) in chosen.items():
            data, options = make()  # labels given with the data only evaluate
            metrics, seconds = run(data, Path(tmp) / name, **options)
            test, base = metrics["test"], next(iter(metrics["baseline"].values()))
            keys = ("roc_auc", "pr_auc", "f1") if task == "anomaly" else ("ari", "nmi", "silhouette")
            rows.append({"case": name, "task": task, **{k: test.get(k) for k in keys},
                         **{f"ref_{k}": base.get(k) for k in keys}, "seconds": round(seconds, 1)})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else table.to_string(index=False))
    return 0


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


if __name__ == "__main__":
    sys.exit(main())
