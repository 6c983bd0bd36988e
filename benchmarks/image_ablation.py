"""Ablation of the image defaults (issue 12): the cnn template and its training, one choice at a time.

Each variant changes one thing against nnguru's default image run (the cnn template, Adam 1e-3,
batch 32, early stopping on val_loss with restored best weights) and is scored on the test split
of several image sets, over seeds:

- MNIST subsets of two sizes (training images from the official training set; 500 validation and
  1,000 test images from the official test set), 28x28 grayscale;
- the generated photo folder (``tests/photo_folder.py``: 10 shapes, 100x100 JPEG), decoded by
  nnguru's featurizer at its default size (64 px), split by nnguru's ``three_way_split``.

Arrays are built once and cached under ``--cache``. The training loop is nnguru's own
``Model.fit`` with the callbacks the pipeline uses (``pipeline.fit``), so a variant is what
``nnguru train`` would do with that choice.

    python benchmarks/image_ablation.py --quick                  # 1 seed, small sets (~10 min, 2 cores)
    python benchmarks/image_ablation.py --variants default,noaug --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))
sys.path.insert(0, str(REPO / "tests"))


def mnist_arrays(n_train: int, cache: Path) -> dict:
    path = cache / f"mnist{n_train}.npz"
    if not path.exists():
        from nnguru.datasets import load_mnist

        (x, y), (xt, yt) = load_mnist(DATASETS / "mnist")
        rng = np.random.default_rng(0)
        tr = rng.choice(len(x), n_train, replace=False)
        te = rng.permutation(len(xt))[:1500]
        f = np.float32(1 / 255)
        np.savez(path, x_train=x[tr, ..., None] * f, y_train=y[tr], x_val=xt[te[:500], ..., None] * f,
                 y_val=yt[te[:500]], x_test=xt[te[500:], ..., None] * f, y_test=yt[te[500:]])
    return dict(np.load(path))


def photo_arrays(per_class: int, cache: Path) -> dict:
    path = cache / f"photos{per_class}.npz"
    if not path.exists():
        from nnguru.data.features.image import ImageFeaturizer
        from nnguru.data.split import three_way_split
        from photo_folder import make_photo_folder

        with tempfile.TemporaryDirectory() as tmp:
            folder = make_photo_folder(Path(tmp) / "photos", per_class)
            paths = sorted(str(p) for p in folder.rglob("*.jpg"))
            labels = np.array([Path(p).parent.name for p in paths])
            _, y = np.unique(labels, return_inverse=True)
            parts = dict(zip(("train", "val", "test"), three_way_split(len(paths), labels, seed=0), strict=True))
            feat = ImageFeaturizer().fit([paths[i] for i in parts["train"]])
            arrays = {}
            for k, idx in parts.items():
                arrays[f"x_{k}"] = feat.transform([paths[i] for i in idx])
                arrays[f"y_{k}"] = y[idx]
        np.savez(path, **arrays)
    return dict(np.load(path))


def nnguru_arrays(name: str, seed: int, cache: Path) -> dict:
    """``png`` (defaults.py's MNIST PNG folder: 4,000 test digits with planted bad files) or ``fsdd``
    (the spoken digits): nnguru's own prepared arrays, split as ``nnguru train DATA --seed seed`` splits."""
    path = cache / f"{name}-seed{seed}.npz"
    if not path.exists():
        from rich.console import Console

        from nnguru import pipeline
        from nnguru.config import resolve_config

        if name == "png":
            sys.path.insert(0, str(REPO / "tests" / "data"))
            from conftest import write_mnist_png_folder

            folder = cache / "mnist_png"
            if not folder.exists():
                write_mnist_png_folder(folder, DATASETS / "mnist", count=4000)
            data = str(folder)
            opts = {}
        else:
            data, opts = str(DATASETS / "free_spoken_digit_dataset" / "recordings"), {"label_from_name": r"^(\d+)_"}
        cfg = resolve_config(None, data=data, seed=seed, **opts)
        ds = pipeline.load(data, cfg)
        p = pipeline.choose_task(ds, cfg, Console(quiet=True)).prepare(ds, Console(quiet=True))
        np.savez(path, **{f"{a}_{k}": (p.x if a == "x" else p.y)[k] for a in ("x", "y")
                          for k in ("train", "val", "test")})
    return dict(np.load(path))


def arrays(name: str, seed: int, cache: Path) -> dict:
    if name.startswith("mnist"):
        return mnist_arrays(int(name[5:]), cache)
    if name.startswith("photos"):
        return photo_arrays(int(name[6:]), cache)
    return nnguru_arrays(name, seed, cache)


# variant name -> template kwargs (or loss/batch changes); each changes one thing against "default".
# Stopping rules are not variants: every run trains a fixed number of epochs, logging validation
# and test scores per epoch, and the rules (early stopping on val_loss or val_accuracy, patience
# 10 or 20, an epoch cap) are applied to the logged curve afterwards (``select``): one run per
# variant and seed scores them all.
VARIANTS: dict[str, dict] = {
    "default": {},
    "noaug": {"augment": "none"},
    "ls0.1": {"label_smoothing": 0.1},
    "batch64": {"batch_size": 64},
    "drop0.1": {"dropout": 0.1},
    "plateau": {"plateau": (0.3, 3)},  # ReduceLROnPlateau(val_loss, factor, patience)
    "plateau0.5": {"plateau": (0.5, 2)},
    # the rate falls linearly to 0 over the run's epochs (BudgetDecay; with --epochs E standing in for
    # the time budget): judge it by "val_loss all", the best validation epoch with no early stop
    "budget": {"budget_decay": True},
}


def plain_cnn(data: dict, seed: int, epochs: int) -> dict:
    """``benchmarks/defaults.py``'s reference: two conv blocks, a ~4x4 head, Dense 128, Adam, batch 64
    (it keeps its best validation-accuracy epoch: its "val_loss" here is minus that accuracy)."""
    from defaults import plain_cnn_net
    from torch import nn

    torch.manual_seed(seed)
    xs = {k: torch.as_tensor(data[f"x_{k}"]).permute(0, 3, 1, 2).contiguous() for k in ("train", "val", "test")}
    ys = {k: torch.as_tensor(data[f"y_{k}"]).long() for k in ("train", "val", "test")}
    c, h, w = xs["train"].shape[1:]
    net = plain_cnn_net(c, h, w, int(ys["train"].max()) + 1)
    net(xs["train"][:2])
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def accuracy(split: str) -> float:
        net.eval()
        with torch.inference_mode():
            pred = torch.cat([net(xb).argmax(1) for xb in xs[split].split(1024)])
        net.train()
        return float((pred == ys[split]).float().mean())

    val_acc, test_acc, t0, c0 = [], [], time.perf_counter(), time.process_time()
    for _ in range(epochs):
        for idx in torch.randperm(len(xs["train"])).split(64):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(xs["train"][idx]), ys["train"][idx]).backward()
            opt.step()
        val_acc.append(accuracy("val"))
        test_acc.append(accuracy("test"))
    return {"variant": "plain_cnn", "seed": seed, "val_loss": [-v for v in val_acc], "val_acc": val_acc,
            "test_acc": test_acc, "wall": round(time.perf_counter() - t0, 1),
            "cpu_per_epoch": round((time.process_time() - c0) / epochs, 2)}


class _TestEachEpoch:
    """Test accuracy after every epoch (for the post-hoc stopping rules only; never for a choice)."""

    def __init__(self, x, y):
        from nnguru.callbacks import Callback

        outer = self

        class _CB(Callback):
            def on_epoch_end(self, epoch, logs=None):
                outer.acc.append(float((self.model.predict(x, verbose=0).argmax(1) == y).mean()))

        self.acc: list[float] = []
        self.callback = _CB()


def run(data: dict, variant: str, seed: int, epochs: int) -> dict:
    """One fit of ``epochs`` epochs: the per-epoch val_loss, val_accuracy and test accuracy."""
    if variant == "plain_cnn":
        return plain_cnn(data, seed, epochs)
    import nnguru
    from nnguru.nn import templates
    from nnguru.nn.layers import Dense

    kw = dict(VARIANTS[variant])
    smoothing, batch = kw.pop("label_smoothing", None), kw.pop("batch_size", 32)
    plateau = kw.pop("plateau", None)
    budget_decay = kw.pop("budget_decay", False)
    nnguru.set_seed(seed)
    n_out = int(data["y_train"].max()) + 1
    model = templates.build("cnn", data["x_train"].shape[1:], [Dense(n_out, activation="softmax")],
                            len(data["x_train"]), **kw)
    loss = {"name": "sparse_categorical_crossentropy", "label_smoothing": smoothing} if smoothing else \
        "sparse_categorical_crossentropy"
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    tester = _TestEachEpoch(data["x_test"], data["y_test"])
    callbacks = [tester.callback]
    if plateau:
        from nnguru.callbacks import ReduceLROnPlateau

        callbacks.insert(0, ReduceLROnPlateau("val_loss", factor=plateau[0], patience=plateau[1], min_lr=1e-5))
    if budget_decay:
        from nnguru.training.callbacks.budget_decay import BudgetDecay

        callbacks.insert(0, BudgetDecay(epochs))
    t0, c0 = time.perf_counter(), time.process_time()
    hist = model.fit(data["x_train"], data["y_train"], batch_size=batch, epochs=epochs,
                     validation_data=(data["x_val"], data["y_val"]), callbacks=callbacks, verbose=0).history
    return {"variant": variant, "seed": seed, "val_loss": hist["val_loss"], "val_acc": hist["val_accuracy"],
            "test_acc": tester.acc, "wall": round(time.perf_counter() - t0, 1),
            "cpu_per_epoch": round((time.process_time() - c0) / epochs, 2)}


def select(row: dict, monitor: str = "val_loss", patience: int = 10,
           max_epochs: int | None = None) -> tuple[int, float]:
    """(restored epoch, its test accuracy) under early stopping on ``monitor`` with ``patience``."""
    values = row["val_loss"] if monitor == "val_loss" else [-v for v in row["val_acc"]]
    values = values[:max_epochs] if max_epochs else values
    best, wait = 0, 0
    for e in range(1, len(values)):
        if values[e] < values[best]:
            best, wait = e, 0
        else:
            wait += 1
            if wait >= patience:
                break
    return best + 1, row["test_acc"][best]


RULES = {"val_loss p10": ("val_loss", 10), "val_loss p20": ("val_loss", 20), "val_acc p10": ("val_acc", 10),
         "val_acc p20": ("val_acc", 20), "val_loss all": ("val_loss", 10**6)}


def summary(rows: list[dict]) -> None:
    """Mean test accuracy per set, variant and stopping rule (and the restored epochs)."""
    print("| set | variant | seeds | " + " | ".join(RULES) + " | s CPU/epoch |")
    print("| --- | --- | --- |" + " --- |" * (len(RULES) + 1))
    keys = sorted({(r["set"], r["variant"]) for r in rows}, key=lambda k: (k[0], k[1] != "plain_cnn", k[1]))
    for key in keys:
        group = [r for r in rows if (r["set"], r["variant"]) == key]
        cells = []
        for monitor, patience in RULES.values():
            picks = [select(r, monitor, patience) for r in group]
            cells.append(f"{np.mean([p[1] for p in picks]):.4f} (ep {'/'.join(str(p[0]) for p in picks)})")
        print(f"| {key[0]} | {key[1]} | {len(group)} | " + " | ".join(cells)
              + f" | {np.mean([r['cpu_per_epoch'] for r in group]):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="MNIST 1,000 and photos 60/class, seed 0, 20 epochs")
    ap.add_argument("--sets", default=None, help="comma list: mnist1000,mnist3000,photos200 (photosN: N per class), "
                    "png (defaults.py's MNIST PNG folder), fsdd (spoken digits); png and fsdd split per seed")
    ap.add_argument("--variants", default=",".join(["plain_cnn", *VARIANTS]))
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "nnguru-image-ablation"))
    ap.add_argument("--json", default=None, help="append result rows here (JSON lines); with --summary, read them")
    ap.add_argument("--summary", action="store_true", help="only print the table of the rows in --json")
    args = ap.parse_args()
    if args.summary:
        summary([json.loads(line) for line in Path(args.json).read_text().splitlines() if line.strip()])
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sets = (args.sets or ("mnist1000,photos60" if args.quick else "mnist1000,mnist3000,photos200")).split(",")
    seeds = [0] if args.quick and args.seeds == "0,1" else [int(s) for s in args.seeds.split(",")]
    epochs = 20 if args.quick and args.epochs == 40 else args.epochs
    print(f"threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for item in sets:  # NAME or NAME:EPOCHS (a set's own epoch count: what its time budget fits)
        name, _, own = item.partition(":")
        for variant in args.variants.split(","):
            for seed in seeds:
                data = arrays(name, seed, cache)
                row = {"set": item, **run(data, variant, seed, int(own or epochs)),
                       "load": round(os.getloadavg()[0], 1)}
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
    summary(rows)


if __name__ == "__main__":
    main()
