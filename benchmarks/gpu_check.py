"""GPU figures for RESULTS.md: the Keras tutorial's MNIST MLP on one CUDA device, nnguru against a
plain PyTorch loop (same recipe, same device, same arrays), and ``nnguru.train`` on MNIST's IDX
folder with the default CNN template.

    python benchmarks/gpu_check.py [--data MNIST_FOLDER] [--epochs 5]

Recipe (as ``mnist_peers.py``): 784-128(relu)-10, Adam 1e-3, batch 32, shuffled, ``--epochs``
epochs; only ``fit`` is timed, after one warm-up epoch on the first 2,048 images (CUDA context,
kernels). nnguru runs fp32 (``model.amp = False``) and bf16 autocast (``model.amp = True``, what
``nnguru train`` uses on a GPU). Prints one JSON object; exits 1 without CUDA.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch


def idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder: Path) -> tuple[np.ndarray, ...]:
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    arrays = [idx(next(folder.glob(n + "*"))) for n in names]
    return arrays[0].astype(np.float32) / 255, arrays[1].astype(np.int64), arrays[2].astype(np.float32) / 255, \
        arrays[3].astype(np.int64)


def sync() -> None:
    torch.cuda.synchronize()


def nnguru_fit(x, y, xt, yt, epochs: int, amp: bool) -> dict:
    import nnguru
    from nnguru.layers import Dense, Flatten

    nnguru.set_seed(0)
    model = nnguru.Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                               Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.to("cuda")
    model.amp = amp
    model.fit(x[:2048], y[:2048], epochs=1, verbose=0)  # warm-up
    sync()
    t0 = time.perf_counter()
    h = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    sync()
    seconds = time.perf_counter() - t0
    acc = float((model.predict(xt).argmax(1) == yt).mean())
    return {"fit_seconds": round(seconds, 2), "test_accuracy": round(acc, 4),
            "train_step": h.params.get("train_step"), "last_loss": round(h.history["loss"][-1], 4)}


def torch_fit(x, y, xt, yt, epochs: int) -> dict:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10)).cuda()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xg, yg = torch.as_tensor(x).cuda(), torch.as_tensor(y).cuda()

    def epoch(n: int) -> None:
        order = torch.randperm(n, device="cuda")
        for i in range(0, n, 32):
            idx_ = order[i:i + 32]
            loss = torch.nn.functional.cross_entropy(net(xg[idx_]), yg[idx_])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    epoch(2048)
    sync()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch(len(xg))
    sync()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((net(torch.as_tensor(xt).cuda()).argmax(1).cpu().numpy() == yt).mean())
    return {"fit_seconds": round(seconds, 2), "test_accuracy": round(acc, 4)}


def pipeline_run(folder: Path, out: Path) -> dict:
    import nnguru

    t0 = time.perf_counter()
    run = nnguru.train(str(folder), out=str(out), epochs=3, verbose=0)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 1), "test_accuracy": round(run.metrics["test"]["accuracy"], 4),
            "device": str(run.model.device), "amp": bool(run.model.amp), "epochs": run.metrics.get("epochs_run")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path(os.environ.get("NNGURU_DATASETS", "../shared/datasets")) / "mnist")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("/tmp/nnguru-gpu-check"))
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here.", file=sys.stderr)
        return 1
    x, y, xt, yt = load(args.data)
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    result["torch_loop"] = torch_fit(x, y, xt, yt, args.epochs)
    result["nnguru_fp32"] = nnguru_fit(x, y, xt, yt, args.epochs, amp=False)
    result["nnguru_bf16"] = nnguru_fit(x, y, xt, yt, args.epochs, amp=True)
    result["ratio_fp32_vs_torch"] = round(result["nnguru_fp32"]["fit_seconds"] / result["torch_loop"]["fit_seconds"], 2)
    result["pipeline_mnist_cnn_3_epochs"] = pipeline_run(args.data, args.out)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
