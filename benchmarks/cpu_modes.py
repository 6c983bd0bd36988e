"""Two CPU settings nnguru's loop chooses for small steps, measured where they matter.

1. Denormals. Adam's moving averages of rarely active weights decay below 1.2e-38, and x86 CPUs
   compute on such denormal floats in slow microcode. This times the fused Adam step on the
   tutorial MLP's parameters (784*128 + 128 + 128*10 + 10) with a given share of denormal
   first moments, with the default mode and inside ``nnguru.training.denormals.flush_denormals``
   (which ``fit`` uses). After the tutorial's 5 epochs, ~7% of the first layer's exp_avg entries
   are denormal (MNIST's border pixels are almost never lit).
2. Threads. The tutorial step (2e7 FLOPs) on 1 and on all intra-op threads, the whole nnguru fit
   loop on a slice of MNIST, interleaved; wall time, so a busy machine shows up as it would for a
   user.

Run: ``.venv-bench/bin/python benchmarks/cpu_modes.py`` (about a minute; `--skip-threads` for
the denormal part only).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_peers import BATCH_SIZE, as_recipe_arrays, default_data_path, load_mnist_uint8  # noqa: E402

SHAPES = [(128, 784), (128,), (10, 128), (10,)]


def adam_step_us(denormal_share: float, flush: bool, threads: int, calls: int = 500, repeats: int = 7) -> float:
    """Median µs of one ``_fused_adam_`` call over the tutorial's parameters."""
    from nnguru.training.denormals import flush_denormals

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen) for s in SHAPES]
    grads = [torch.zeros(s) for s in SHAPES]  # inactive inputs: zero gradient, decaying moments
    exp_avg_sq = [torch.full(s, 1e-8) for s in SHAPES]
    first = torch.zeros(SHAPES[0])
    first[torch.rand(SHAPES[0], generator=gen) < denormal_share] = 1e-39  # set before any flushing
    exp_avg = [first, *(torch.zeros(s) for s in SHAPES[1:])]
    fresh = first.clone()
    steps = [torch.tensor(100.0) for _ in SHAPES]
    times = []
    mode = flush_denormals(threads) if flush else contextlib.nullcontext()
    with mode:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                exp_avg[0].copy_(fresh)  # the kernel would decay the denormals away; put them back
                torch._fused_adam_(params, grads, exp_avg, exp_avg_sq, [], steps, amsgrad=False, lr=1e-3,
                                   beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-7, maximize=False)
            times.append((time.perf_counter() - start) / calls)
    return 1e6 * statistics.median(times)


def fit_seconds(threads: int, x, y, epochs: int = 1) -> float:
    from nnguru import Sequential
    from nnguru.layers import Dense, Flatten
    from nnguru.training import loop

    torch.manual_seed(0)
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    original = loop.step_threads
    loop.step_threads = lambda *a: threads  # the choice under test, instead of the FLOP rule
    try:
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        return time.perf_counter() - start
    finally:
        loop.step_threads = original


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data_path())
    p.add_argument("--rounds", type=int, default=5, help="interleaved fits per thread count")
    p.add_argument("--images", type=int, default=20000, help="training images per fit (one epoch)")
    p.add_argument("--skip-threads", action="store_true")
    args = p.parse_args(argv)
    all_threads = torch.get_num_threads()

    print(f"torch {torch.__version__}, {all_threads} intra-op threads by default\n")
    print("fused Adam step, tutorial MLP parameters (median µs):")
    print(f"{'denormal share of exp_avg[W1]':>32} {'threads':>8} {'default':>9} {'flushed':>9}")
    for share in (0.0, 0.07, 0.5):
        for threads in sorted({1, all_threads}):
            keep = adam_step_us(share, False, threads)
            flushed = adam_step_us(share, True, threads)
            print(f"{share:>32.2f} {threads:>8} {keep:>9.1f} {flushed:>9.1f}")
    torch.set_num_threads(all_threads)

    if args.skip_threads or all_threads == 1:
        return 0
    x, y, _, _ = as_recipe_arrays(load_mnist_uint8(args.data))
    x, y = x[: args.images].reshape(-1, 28, 28), y[: args.images]
    runs: dict[int, list[float]] = {1: [], all_threads: []}
    for _ in range(args.rounds):
        for threads in runs:
            runs[threads].append(fit_seconds(threads, x, y))
    print(f"\nnnguru fit, tutorial MLP, {len(x)} images, 1 epoch, {args.rounds} interleaved rounds (wall s):")
    for threads, secs in runs.items():
        print(f"  {threads} thread(s): median {statistics.median(secs):.2f}, "
              f"range {min(secs):.2f}-{max(secs):.2f}  [{', '.join(f'{s:.2f}' for s in secs)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
