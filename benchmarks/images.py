"""Image defaults: `nnguru train FOLDER` (defaults only) vs a plain PyTorch CNN, side by side.

The reference is issue 12's: conv3x3-BatchNorm-ReLU-maxpool blocks (32, 64, 128, 128 filters),
adaptive average pooling to a 4x4 map, Flatten, Linear; Adam 1e-3, batch 32, a fixed number of
epochs, the weights of the best validation epoch. It trains on the same files, split the same way
(nnguru's split indices), decoded by nnguru's featurizer at the data's own size (no cap), so
the comparison is of defaults: model, input size, augmentation, epochs.

Datasets: the generated photo folder (``tests/photo_folder.py``: 10 shapes, 100x100 JPEG, and a
mixed-size variant), MNIST written as a PNG folder (``--mnist N`` digits from the shared set) and
the spoken digits (FSDD, nnguru only: its spectrograms through the cnn template).

Speed (issue 12: "an epoch over 2,000 photos takes a few seconds on 2 cores"): each row also gives
nnguru's seconds per epoch in the run (wall, whatever the machine's load) and a single-thread
measurement of one training epoch of the default template on the same arrays (wall and CPU time
from ``time.process_time``), so a loaded machine can still be judged; the decoding of the folder is
timed the same way.

    python benchmarks/images.py             # ~2,000 photos (+ mixed sizes), 1,000 MNIST digits, FSDD
    python benchmarks/images.py --quick     # 600 photos and 500 digits, 6 epochs each side (< 3 min)
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
from torch import nn

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))
sys.path.insert(0, str(REPO / "tests"))  # the photo generator lives with the tests that use it

from photo_folder import make_photo_folder  # noqa: E402


def reference_cnn(channels: int, n_classes: int) -> nn.Module:
    """Issue 12's plain PyTorch CNN with a 4x4 spatial head."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip((channels, 32, 64, 128), (32, 64, 128, 128), strict=True):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128 * 16, n_classes))


def run_reference(x: dict, y: dict, epochs: int, seed: int = 0) -> tuple[float, float]:
    """Test accuracy at the best validation epoch, and the fit's wall time."""
    torch.manual_seed(seed)
    t = {k: torch.from_numpy(v).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last) for k, v in x.items()}
    ty = {k: torch.from_numpy(v) for k, v in y.items()}
    model = reference_cnn(t["train"].shape[1], int(ty["train"].max()) + 1).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    best, best_state = -1.0, None
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(t["train"])).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(t["train"][idx]), ty["train"][idx]).backward()
            opt.step()
        acc = _accuracy(model, t["val"], ty["val"])
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time.perf_counter() - t0
    model.load_state_dict(best_state)
    return _accuracy(model, t["test"], ty["test"]), seconds


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        pred = torch.cat([model(b).argmax(1) for b in x.split(256)])
    return float((pred == y).float().mean())


def run_nnguru(folder: Path, out: Path, extra: list[str]) -> dict:
    """`nnguru train FOLDER` with defaults; the run's metrics and its split (for the reference)."""
    from nnguru.cli import main

    t0 = time.perf_counter()
    code = main(["train", str(folder), "--out", str(out), "--quiet", "--overwrite", *extra])
    wall = time.perf_counter() - t0
    if code != 0:
        return {"error": f"exit {code}"}
    metrics = json.loads((out / "metrics.json").read_text())
    epochs = metrics["epochs_run"]
    return {"accuracy": metrics["test"]["accuracy"], "wall": wall, "train_seconds": metrics["train_seconds"],
            "epochs": epochs, "s_per_epoch": metrics["train_seconds"] / max(epochs, 1)}


def epoch_seconds(folder: Path) -> dict:
    """Decoding the folder, then one training epoch of nnguru's default template on it, both on one
    thread: wall and CPU seconds (``time.process_time``; the CPU figure is what a quiet core needs)."""
    from nnguru.data.features.image import ImageFeaturizer
    from nnguru.nn import templates
    from nnguru.nn.layers import Dense

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
        w0, c0 = time.perf_counter(), time.process_time()
        feat = ImageFeaturizer().fit(paths)
        x = feat.transform(paths)
        decode = (time.perf_counter() - w0, time.process_time() - c0)
        y = np.unique([Path(p).parent.name for p in paths], return_inverse=True)[1]
        model = templates.build("cnn", x.shape[1:], [Dense(int(y.max()) + 1, activation="softmax")], len(x))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # warm-up: allocations, kernel choice
        w0, c0 = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        epoch = (time.perf_counter() - w0, time.process_time() - c0)
    finally:
        torch.set_num_threads(threads)
    return {"images": len(paths), "shape": list(x.shape[1:]), "decode_wall": decode[0], "decode_cpu": decode[1],
            "epoch_wall": epoch[0], "epoch_cpu": epoch[1]}


def split_arrays(folder: Path, seed: int = 0) -> tuple[dict, dict]:
    """nnguru's split of the folder, decoded at the most common size without a cap."""
    from nnguru.data.features.image import ImageFeaturizer
    from nnguru.data.split import three_way_split

    paths = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    labels = np.array([Path(p).parent.name for p in paths])
    classes, y = np.unique(labels, return_inverse=True)
    parts = dict(zip(("train", "val", "test"), three_way_split(len(paths), labels, seed=seed), strict=True))
    feat = ImageFeaturizer(max_side=10_000).fit([paths[i] for i in parts["train"]])
    x = {k: feat.transform([paths[i] for i in v]) for k, v in parts.items()}
    return x, {k: y[v].astype(np.int64) for k, v in parts.items()}


def mnist_folder(root: Path, count: int) -> Path | None:
    src = DATASETS / "mnist"
    if not (src / "train-images-idx3-ubyte.gz").is_file():
        return None
    from PIL import Image

    from nnguru.datasets import load_mnist

    (x, y), _ = load_mnist(src)
    for i in range(count):
        (root / str(int(y[i]))).mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i]).save(root / str(int(y[i])) / f"{i}.png")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="600 photos and 500 digits, 6 epochs each side, no mixed sizes or FSDD (< 3 min)")
    parser.add_argument("--mnist", type=int, default=None, help="MNIST digits written as PNG (default 1000)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="reference epochs (default 15, quick 6); with --quick also nnguru's")
    parser.add_argument("--skip-fsdd", action="store_true")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    per_class = 60 if args.quick else 200
    epochs = args.epochs or (6 if args.quick else 15)
    n_mnist = args.mnist or (500 if args.quick else 1000)
    print(f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}; reference epochs {epochs}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = {f"photos 100x100 ({per_class * 10})": make_photo_folder(tmp / "photos", per_class)}
        if not args.quick:
            sets["photos mixed sizes"] = make_photo_folder(tmp / "mixed", per_class, sizes=(60, 160), seed=1)
        digits = mnist_folder(tmp / "mnist", n_mnist)
        if digits is not None:
            sets[f"MNIST {n_mnist} PNG"] = digits
        for name, folder in sets.items():
            speed = epoch_seconds(folder)
            ours = run_nnguru(folder, tmp / f"run-{len(rows)}", ["--epochs", str(epochs)] if args.quick else [])
            x, y = split_arrays(folder)
            ref_acc, ref_s = run_reference(x, y, epochs)
            rows.append({"data": name, "nnguru": ours, "reference": {"accuracy": ref_acc, "wall": ref_s}, **speed})
            print(f"{name:22s} nnguru {ours.get('accuracy', float('nan')):.3f} in {ours.get('wall', 0):6.1f}s "
                  f"({ours.get('epochs')} epochs, {ours.get('s_per_epoch', 0):.1f} s/epoch) | plain CNN "
                  f"{ref_acc:.3f} in {ref_s:6.1f}s | one thread: decode {speed['images']} images "
                  f"{speed['decode_wall']:.1f}s wall/{speed['decode_cpu']:.1f}s CPU, an epoch at "
                  f"{speed['shape']} {speed['epoch_wall']:.1f}s wall/{speed['epoch_cpu']:.1f}s CPU", flush=True)
        fsdd = DATASETS / "free_spoken_digit_dataset"
        if not (args.skip_fsdd or args.quick) and fsdd.is_dir():
            recordings = next((p for p in fsdd.rglob("recordings") if p.is_dir()), fsdd)
            ours = run_nnguru(recordings, tmp / "run-fsdd", ["--label-from-name", r"^(\d)_"])
            rows.append({"data": "FSDD spectrograms", "nnguru": ours})
            print(f"{'FSDD spectrograms':22s} nnguru {ours.get('accuracy', float('nan')):.3f} in "
                  f"{ours.get('wall', 0):6.1f}s ({ours.get('epochs')} epochs)", flush=True)
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
