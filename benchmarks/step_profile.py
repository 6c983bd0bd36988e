"""Where one training step's time goes: nnguru's loop next to the plain PyTorch DataLoader loop.

``mnist_peers.py`` says *whether* nnguru meets its targets; this says *why not*. It times each
piece of a step of the MNIST recipe (784-128-10, Adam, batch 32) in one process:

- the plain loop's pieces: ``DataLoader`` batch, forward + loss + backward, ``torch.optim.Adam``;
- nnguru's pieces: the batch gather, the step ``fit`` chooses for this model
  (``training.step.choose_step``: forward + loss + backward + its optimizer), the running loss
  and the compiled metrics;
- both whole loops per step, and a minimal reference loop (``index_select`` gather + the chosen
  step, no bookkeeping): the floor nnguru's loop can reach with this model.

Why it measures this way: the numbers must hold on a shared, noisy machine. Every row runs on
one thread and is timed with the thread's CPU clock (``time.thread_time``), so time spent
descheduled does not count; each row is the minimum over ``--repeats`` blocks, and the rows are
interleaved so a slow spell hits all of them. Absolute values are for *this* machine; compare
rows with each other.

Run: ``.venv-bench/bin/python benchmarks/step_profile.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from nnguru.training.step import choose_step

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_peers import BATCH_SIZE, LR, as_recipe_arrays, default_data_path, load_mnist_uint8  # noqa: E402


def min_per_call(rows: dict[str, Callable[[], object]], calls: int, repeats: int) -> dict[str, float]:
    """Minimum thread-CPU seconds per call of each row, blocks of ``calls`` interleaved."""
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(repeats):
        for name, fn in rows.items():
            start = time.thread_time()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (time.thread_time() - start) / calls)
    return best


class Cycler:
    """Endless batches from a DataLoader, re-iterated at each epoch's end as a loop would."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader, self.it = loader, iter(loader)

    def __call__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data_path())
    p.add_argument("--repeats", type=int, default=10, help="blocks per row; the minimum is kept")
    p.add_argument("--calls", type=int, default=200, help="steps per block")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is exact)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    x, y, _, _ = as_recipe_arrays(load_mnist_uint8(args.data))
    n = len(x)
    torch.manual_seed(0)

    # ---- the plain PyTorch tutorial loop, piece by piece
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    loss_fn = torch.nn.CrossEntropyLoss()
    adam = torch.optim.Adam(net.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=BATCH_SIZE, shuffle=True)
    next_batch = Cycler(loader)
    xb, yb = next_batch()

    def plain_fwd_bwd() -> None:
        adam.zero_grad()
        loss_fn(net(xb), yb).backward()

    def plain_step() -> None:
        xb_, yb_ = next_batch()
        adam.zero_grad()
        loss_fn(net(xb_), yb_).backward()
        adam.step()

    plain_fwd_bwd()
    adam.step()
    plain = {
        "plain: DataLoader batch (TensorDataset + default collate)": next_batch,
        "plain: zero_grad + forward + loss + backward": plain_fwd_bwd,
        "plain: torch.optim.Adam step (defaults: per-tensor loop on CPU)": adam.step,
        "plain: whole step": plain_step,
    }

    # ---- nnguru: the tutorial model, then its loop's pieces
    from nnguru import Sequential  # noqa: I001
    from nnguru.layers import Dense, Flatten
    from nnguru.training import loop

    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_img = x.reshape(-1, 28, 28)
    model.fit(x_img[:BATCH_SIZE], y[:BATCH_SIZE], epochs=1, batch_size=BATCH_SIZE, verbose=0)
    train = model._tensors(x_img, y, None, "")  # the tensors fit() trains on
    order = torch.randperm(n)
    cursor = {"i": 0}

    def next_idx() -> torch.Tensor:
        cursor["i"] = (cursor["i"] + 1) % (n // BATCH_SIZE)
        return order[cursor["i"] * BATCH_SIZE : (cursor["i"] + 1) * BATCH_SIZE]

    opt = model.optimizer
    step = choose_step(model, opt, model.loss, train.x)  # the step fit() runs for this model
    nxb, nyb, _ = train.batch(next_idx())
    loss, out = step.run(nxb, nyb, None)
    tally = loop.Tally(model.compiled_metrics, train.x.device)
    folds = {"n": 0}

    def nn_fwd_bwd() -> None:
        o = model(nxb).float()
        opt.zero_grad(set_to_none=True)
        model.loss(o, nyb, None).backward()

    def nn_tally() -> None:  # what the loop does per step: queue, and fold every FOLD_EVERY steps
        tally.add(loss, out, nyb)
        folds["n"] += 1
        if folds["n"] % loop.FOLD_EVERY == 0:
            tally.fold()

    def reference_step() -> None:
        idx = next_idx()
        step.run(train.x.index_select(0, idx), train.y.index_select(0, idx), None)

    steps_per_fit = 4 * args.calls  # one loop.fit epoch of this many steps per block
    sub = loop.TensorData(train.x[: steps_per_fit * BATCH_SIZE], train.y[: steps_per_fit * BATCH_SIZE])

    def nn_fit_epoch() -> None:
        loop.fit(model, sub, None, epochs=1, batch_size=BATCH_SIZE, verbose=0)

    ours = {
        "nnguru: batch gather (TensorData.batch: index_select of x and y)": lambda: train.batch(next_idx()),
        "nnguru: forward + loss + zero_grad + backward": nn_fwd_bwd,
        f"nnguru: optimizer step ({type(opt).__name__}, fused={opt.defaults.get('fused')})": opt.step,
        f"nnguru: the chosen step, {step.name} (all of the above but the gather)": lambda: step.run(nxb, nyb, None),
        f"nnguru: running loss + metrics (Tally.add, fold every {loop.FOLD_EVERY})": nn_tally,
        "reference: index_select gather + the chosen step, nothing else": reference_step,
    }

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); thread CPU time, "
        f"min of {args.repeats} blocks of {args.calls} steps"
    )
    results = min_per_call({**plain, **ours}, args.calls, args.repeats)
    fit_best = min(
        min_per_call({"fit": nn_fit_epoch}, 1, 1)["fit"] / steps_per_fit for _ in range(max(3, args.repeats // 3))
    )
    results[f"nnguru: whole step inside loop.fit (epoch of {steps_per_fit} steps)"] = fit_best
    whole_plain = results["plain: whole step"]
    width = max(map(len, results))
    print(f"{'piece':<{width}}  {'us/step':>8}  {'/ plain step':>12}")
    for name, sec in results.items():
        print(f"{name:<{width}}  {1e6 * sec:8.1f}  {sec / whole_plain:12.2f}")
    floor = results["reference: index_select gather + the chosen step, nothing else"]
    print(
        f"\nnnguru loop / plain loop: {fit_best / whole_plain:.3f} (target <= 0.7); "
        f"reference / plain loop: {floor / whole_plain:.3f}"
    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
