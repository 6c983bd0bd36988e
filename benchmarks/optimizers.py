"""Every registered optimizer on the same three tasks, with the same wall-clock budget each.

Tasks (issue 5):
  mnist        the seed tutorial's MLP: Flatten(28x28) -> Dense(128, relu) -> Dense(10, softmax),
               sparse categorical cross-entropy; 60,000 training / 10,000 test images.
  autoencoder  a deep autoencoder 784-400-200-100-30-100-200-400-784 (relu, linear code, sigmoid
               output, binary cross-entropy) on the first 10,000 MNIST training images; test
               metric: reconstruction error on the 10,000 test images.
  pima         Pima Indians diabetes (768 rows, 8 features, 0/1): Dense(16, relu) -> Dense(1,
               sigmoid); stratified 80/20 split, standardised on the training part.

Every run goes through the product path -- ``Sequential.compile(optimizer=NAME)`` and ``fit`` with
``batch_size=None`` -- so each optimizer uses its documented defaults: batch 32 for the torch
optimizers (Keras' default), the whole split for ``gd``/``lbfgs``, the preferred batch of
``hessian-free`` (6000) and ``random-search`` (1024). Nothing is tuned for the benchmark.

Clock: training time only. A callback stops ``fit`` before a step predicted (from the previous
one) to end past the budget (the first step always runs, so one full-batch step can overrun it:
the table reports the real time), and evaluates the
training loss for the loss-vs-time plot with its own time taken off the clock.

    .venv/bin/python benchmarks/optimizers.py            # full run (~10 minutes on 2 cores)
    .venv/bin/python benchmarks/optimizers.py --quick    # a short smoke run, nothing written

Writes ``benchmarks/optimizers_loss_vs_time.png`` and the section "## Optimizers" of
``benchmarks/RESULTS.md`` (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

import nnguru  # noqa: E402
from nnguru import Sequential, optim  # noqa: E402
from nnguru.errors import NNGuruError  # noqa: E402
from nnguru.layers import Dense, Flatten  # noqa: E402
from nnguru.training.callbacks import Callback  # noqa: E402

DATASETS = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))
PLOT = HERE / "optimizers_loss_vs_time.png"
RESULTS = HERE / "RESULTS.md"
BUDGETS = {"mnist": 25.0, "autoencoder": 25.0, "pima": 3.0}  # seconds of training per run
QUICK_BUDGETS = {"mnist": 3.0, "autoencoder": 3.0, "pima": 0.5}
# The optimizers of issue 5 (momentum = sgd with momentum 0.9); nadam/adamax/adadelta exist for
# Keras programs and can be added with --optimizers.
ISSUE_OPTIMIZERS = ("gd", "sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad", "lbfgs", "random-search",
                    "hessian-free")
TARGET_CAP = 150.0  # seconds the hessian-free / adam time-to-0.97 runs may take at most


# ---------------------------------------------------------------------------------------------
# Data


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """nnguru.datasets.load_mnist, or a plain IDX reader if that module is unavailable."""
    folder = DATASETS / "mnist"
    try:
        from nnguru.datasets import load_mnist as nnguru_load

        return nnguru_load(folder)
    except ImportError:

        def idx(name: str) -> np.ndarray:
            with gzip.open(folder / f"{name}.gz", "rb") as f:
                data = f.read()
            dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
            return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)

        return (
            (idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")),
            (idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")),
        )


@dataclass
class Task:
    name: str
    title: str
    build: Callable[[], Sequential]
    loss: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    metric_name: str
    metric: Callable[[Sequential, np.ndarray, np.ndarray], float]
    higher_is_better: bool
    train_metric: Callable[[Sequential], float] | None = None
    train_metric_name: str = ""
    curve_rows: int = 10_000


def _accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    proba = model.predict(x, batch_size=4096)
    pred = proba.argmax(1) if proba.shape[1] > 1 else (proba[:, 0] > 0.5).astype(int)
    return float((pred == y).mean())


def _recon_error(model: Sequential, x: np.ndarray, _: np.ndarray | None = None) -> float:
    """Squared error per image (sum over the 784 pixels, mean over images), as in Hinton &
    Salakhutdinov (2006) and Martens (2010)."""
    return float(((model.predict(x, batch_size=4096) - x) ** 2).sum(1).mean())


def tasks(names: list[str]) -> list[Task]:
    out = []
    if {"mnist", "autoencoder"} & set(names):
        (xtr, ytr), (xte, yte) = load_mnist()
        images = xtr.astype(np.float32) / 255, xte.astype(np.float32) / 255
    if "mnist" in names:
        out.append(
            Task(
                "mnist",
                "(a) MNIST tutorial MLP 784-128-10",
                lambda: Sequential(
                    [Flatten(input_shape=(28, 28)), Dense(128, activation="relu"), Dense(10, activation="softmax")]
                ),
                "sparse_categorical_crossentropy",
                images[0],
                ytr.astype(np.int64),
                images[1],
                yte.astype(np.int64),
                "test accuracy",
                _accuracy,
                True,
            )
        )
    if "autoencoder" in names:
        flat_train = images[0][:10_000].reshape(-1, 784)
        flat_test = images[1].reshape(-1, 784)

        def autoencoder() -> Sequential:
            sizes = (400, 200, 100, 30, 100, 200, 400)
            layers = [Dense(sizes[0], activation="relu", input_shape=(784,))]
            layers += [Dense(s, activation=None if s == 30 else "relu") for s in sizes[1:]]
            return Sequential([*layers, Dense(784, activation="sigmoid")])

        out.append(
            Task(
                "autoencoder",
                "(b) deep autoencoder 784-400-200-100-30-...-784, 10k images",
                autoencoder,
                "binary_crossentropy",
                flat_train,
                flat_train,
                flat_test,
                flat_test,
                "test recon. error",
                _recon_error,
                False,
                train_metric=lambda m: _recon_error(m, flat_train),
                train_metric_name="train recon. error",
            )
        )
    if "pima" in names:
        from sklearn.model_selection import train_test_split

        table = np.loadtxt(
            DATASETS / "pima_indians_diabetes" / "pima-indians-diabetes.csv", delimiter=",", dtype=np.float32
        )
        x, y = table[:, :8], table[:, 8].astype(np.int64)
        xtr_, xte_, ytr_, yte_ = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
        mean, std = xtr_.mean(0), xtr_.std(0)
        out.append(
            Task(
                "pima",
                "(c) Pima Indians diabetes (tabular, 768 rows)",
                lambda: Sequential([Dense(16, activation="relu", input_shape=(8,)), Dense(1, activation="sigmoid")]),
                "binary_crossentropy",
                (xtr_ - mean) / std,
                ytr_.astype(np.float32),
                (xte_ - mean) / std,
                yte_,
                "test accuracy",
                _accuracy,
                True,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# One run


class Budget(Callback):
    """Stops fit before a step that would end past the budget (predicted from the last step's
    duration; the first step always runs), and records (seconds, training loss) on a fixed
    subset of the training set with its own evaluation time taken off the clock."""

    def __init__(self, budget: float, x: np.ndarray, y: np.ndarray, points: int = 40,
                 on_point: Callable[[Sequential], None] | None = None) -> None:
        super().__init__()
        self.budget, self.interval = budget, budget / points
        self.x, self.y = x, y
        self.curve: list[tuple[float, float]] = []
        self.on_point = on_point
        self.steps = 0
        self.excluded = 0.0
        self.start = self.cpu_start = 0.0
        self.last = self.previous_step_end = 0.0

    def clock(self) -> float:
        return time.perf_counter() - self.start - self.excluded

    def cpu(self) -> float:
        """CPU seconds of this process over the run (all threads), evaluations included."""
        return time.process_time() - self.cpu_start

    def record(self) -> None:
        t0 = time.perf_counter()
        now = self.clock()
        loss = self.model.evaluate(self.x, self.y, batch_size=4096, return_dict=True)["loss"]
        self.curve.append((now, float(loss)))
        if self.on_point is not None:
            self.on_point(self.model)
        self.last = now
        self.excluded += time.perf_counter() - t0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.record()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1
        now = self.clock()
        step, self.previous_step_end = now - self.previous_step_end, now
        if now - self.last >= self.interval:
            self.record()
        if now + step > self.budget:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.curve[-1][0] < self.clock():
            self.record()


@dataclass
class Result:
    task: str
    optimizer: str
    seconds: float
    steps: int
    train_loss: float
    metric: float
    train_metric: float | None
    curve: list[tuple[float, float]]
    note: str = ""
    extra: dict = field(default_factory=dict)


def run(
    task: Task, name: str, budget: float, seed: int = 0, on_point: Callable[[Sequential], None] | None = None
) -> Result:
    rows = np.random.default_rng(seed).permutation(len(task.x_train))[: task.curve_rows]
    budget_cb = Budget(budget, task.x_train[rows], task.y_train[rows], on_point=on_point)
    model, error = fit_within(task, name, budget_cb, seed)
    note = "" if error is None else f"stopped: {getattr(error, 'code', 'error')}"
    seconds, cpu = budget_cb.clock(), budget_cb.cpu()
    if getattr(model, "stop_reason", None) and "non-finite" in model.stop_reason:
        note = "stopped: non-finite loss"
    train_loss = float(model.evaluate(task.x_train, task.y_train, batch_size=4096,
                                      return_dict=True)["loss"])
    metric = task.metric(model, task.x_test, task.y_test)
    train_metric = task.train_metric(model) if task.train_metric else None
    return Result(
        task.name, name, seconds, budget_cb.steps, train_loss, metric, train_metric, budget_cb.curve, note, {"cpu": cpu}
    )


def fit_within(task: Task, name: str, budget_cb: Budget, seed: int = 0) -> tuple[Sequential, NNGuruError | None]:
    """Build and train ``task``'s model with optimizer ``name`` until ``budget_cb`` stops it.

    Returns the model and the error an optimizer stopped with (a NonFiniteError: a clean stop with
    a diagnosis), if any.
    """
    nnguru.set_seed(seed)
    model = task.build()
    model.compile(optimizer=name, loss=task.loss, metrics=[] if task.name == "autoencoder" else ["accuracy"])
    try:
        model.fit(task.x_train, task.y_train, epochs=1_000_000, batch_size=None, verbose=0, callbacks=[budget_cb])
    except NNGuruError as exc:
        return model, exc
    return model, None


def time_to_accuracy(task: Task, name: str, target: float, cap: float) -> dict:
    """Train until the test accuracy reaches ``target`` (checked at the curve points)."""
    x_test = task.x_test
    reached: dict = {}

    def check(model: Sequential) -> None:
        if reached.get("seconds") is not None:
            return
        accuracy = _accuracy(model, x_test, task.y_test)
        reached["best"] = max(reached.get("best", 0.0), accuracy)
        if accuracy >= target:
            reached["seconds"] = budget_cb.clock()
            model.stop_training = True

    budget_cb = Budget(cap, task.x_train[:10_000], task.y_train[:10_000], points=60, on_point=check)
    model, error = fit_within(task, name, budget_cb)
    if error is not None:
        reached["note"] = str(error)
    reached["final"] = _accuracy(model, x_test, task.y_test)
    reached["steps"] = budget_cb.steps
    reached["clock"] = budget_cb.clock()
    return reached


# ---------------------------------------------------------------------------------------------
# Reporting


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"Model name:\s*(.+)", text)
        model = found.group(1).strip() if found else model
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores visible, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def fmt(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "n/a" if value is None else str(value)
    return f"{value:.{digits}g}"


def tables(results: list[Result], task_list: list[Task]) -> str:
    lines = []
    for task in task_list:
        rows = [r for r in results if r.task == task.name]
        if not rows:
            continue
        extra = f" | {task.train_metric_name}" if task.train_metric else ""
        lines += [
            f"### {task.title}",
            "",
            f"| optimizer | final training loss{extra} | {task.metric_name} | train seconds | CPU seconds | steps "
            "| note |",
            "| --- | ---: |" + (" ---: |" if extra else "") + " ---: | ---: | ---: | ---: | --- |",
        ]
        for r in rows:
            tm = f" | {fmt(r.train_metric)}" if task.train_metric else ""
            lines.append(
                f"| {r.optimizer} | {fmt(r.train_loss)}{tm} | {fmt(r.metric)} | "
                f"{r.seconds:.1f} | {r.extra['cpu']:.1f} | {r.steps} | {r.note} |"
            )
        finite = [r for r in rows if math.isfinite(r.train_loss)]
        if finite:
            best_loss = min(finite, key=lambda r: r.train_loss)
            best_metric = (max if task.higher_is_better else min)(finite, key=lambda r: r.metric)
            by_loss = " < ".join(r.optimizer for r in sorted(finite, key=lambda r: r.train_loss))
            lines += [
                "",
                f"Lowest training loss: **{best_loss.optimizer}**; best "
                f"{task.metric_name}: **{best_metric.optimizer}** "
                f"({fmt(best_metric.metric)}). By final training loss: {by_loss}.",
            ]
        lines.append("")
    return "\n".join(lines)


def targets(results: list[Result], hf_target: dict | None, adam_target: dict | None) -> str:
    lines = ["### Targets of issue 5", ""]
    if hf_target is not None:
        ok = hf_target.get("seconds") is not None
        lines.append(
            f"- hessian-free on the MNIST tutorial model reaches test accuracy >= 0.97: "
            f"**{'PASS' if ok else 'FAIL'}** -- "
            + (
                f"after {hf_target['seconds']:.1f} s of training ({hf_target['steps']} steps)"
                if ok
                else f"best {fmt(hf_target.get('best'))} within {TARGET_CAP:.0f} s"
            )
            + (
                f"; adam (batch 32) for comparison: {adam_target['seconds']:.1f} s"
                if adam_target and adam_target.get("seconds") is not None
                else ""
            )
            + "."
        )
    by = {(r.task, r.optimizer): r for r in results}
    hf, sgd = by.get(("autoencoder", "hessian-free")), by.get(("autoencoder", "sgd"))
    if hf and sgd and hf.train_metric is not None and sgd.train_metric is not None:
        ok = hf.train_metric < sgd.train_metric
        lines.append(
            f"- deep autoencoder, same wall-clock budget: hessian-free training reconstruction "
            f"error {fmt(hf.train_metric)} vs plain SGD (no momentum) {fmt(sgd.train_metric)}: "
            f"**{'PASS' if ok else 'FAIL'}** ({hf.seconds:.0f} s vs {sgd.seconds:.0f} s)."
        )
    return "\n".join(lines + [""])


def defaults_table() -> str:
    lines = ["| optimizer | default lr | batches | choose it when |", "| --- | --- | --- | --- |"]
    for row in optim.table():
        lines.append(f"| {row['name']} | {row['lr']} | {row['batch']} | {row['when']} |")
    return "\n".join(lines)


def plot(results: list[Result], task_list: list[Task]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(task_list), figsize=(6 * len(task_list), 4.5))
    axes = np.atleast_1d(axes)
    colors = plt.get_cmap("tab10")
    for ax, task in zip(axes, task_list, strict=True):
        for i, r in enumerate(r for r in results if r.task == task.name):
            t, loss = zip(*r.curve, strict=True)
            ax.plot(
                t,
                loss,
                label=r.optimizer,
                color=colors(i % 10),
                linestyle="-" if i < 10 else "--",
                marker="." if len(t) < 8 else None,
            )
        ax.set_yscale("log")
        ax.set_xlabel("training wall-clock seconds")
        ax.set_ylabel("training loss")
        ax.set_title(task.title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def write_section(text: str) -> None:
    """Replace (or append) the '## Optimizers' section of RESULTS.md, nothing else."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = text.rstrip() + "\n"
    match = re.search(r"^## Optimizers[^\n]*\n.*?(?=^## |\Z)", old, flags=re.M | re.S)
    if match:
        new = old[: match.start()] + section + ("\n" if old[match.end() :] else "") + old[match.end() :]
    else:
        new = old.rstrip() + "\n\n" + section
    RESULTS.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, no target runs, nothing written")
    parser.add_argument("--tasks", default="mnist,autoencoder,pima")
    parser.add_argument("--optimizers", default=",".join(ISSUE_OPTIMIZERS))
    parser.add_argument("--no-targets", action="store_true", help="skip the time-to-0.97 runs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: steady timings on a shared machine)")
    parser.add_argument("--only-targets", action="store_true", help="run only the time-to-0.97 runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    budgets = QUICK_BUDGETS if args.quick else BUDGETS
    task_list = tasks(args.tasks.split(","))
    names = args.optimizers.split(",")
    started = time.perf_counter()
    results = []
    for task in task_list if not args.only_targets else []:
        for name in names:
            r = run(task, name, budgets[task.name])
            results.append(r)
            tm = f" {task.train_metric_name} {fmt(r.train_metric)}" if task.train_metric else ""
            print(
                f"{task.name:12s} {name:14s} loss {fmt(r.train_loss):>9s}{tm} "
                f"{task.metric_name} {fmt(r.metric)}  {r.seconds:5.1f}s {r.steps:6d} steps "
                f"{r.note}",
                flush=True,
            )
    hf_target = adam_target = None
    mnist = next((t for t in task_list if t.name == "mnist"), None)
    if mnist is not None and not (args.quick or args.no_targets):
        hf_target = time_to_accuracy(mnist, "hessian-free", 0.97, TARGET_CAP)
        adam_target = time_to_accuracy(mnist, "adam", 0.97, TARGET_CAP)
        print("time to 0.97 test accuracy:", {"hessian-free": hf_target, "adam": adam_target})
    body = tables(results, task_list)
    report = targets(results, hf_target, adam_target)
    print("\n" + body + "\n" + report)
    if args.quick or args.no_write or args.only_targets:
        return 0
    plot(results, task_list)
    budget_text = ", ".join(f"{t.name} {budgets[t.name]:g} s" for t in task_list)
    write_section(
        "\n".join(
            [
                "## Optimizers",
                "",
                f"`benchmarks/optimizers.py` ({datetime.date.today().isoformat()}; "
                f"{time.perf_counter() - started:.0f} s in all). Machine: {machine()}. "
                "Every optimizer of a task ran back to back under the same conditions; absolute times "
                f"depend on the machine and its load. torch ran with {args.threads} intra-op thread(s).",
                "",
                f"Each optimizer trains from the same initial weights for the same budget of training "
                f"wall-clock time ({budget_text}) with its documented defaults and `batch_size=None` "
                "(the batch sizes of the defaults table below). Final training loss is on the whole training "
                "split, in eval mode. The clock stops before a step that is predicted (from the previous "
                "step) to end past the budget, but the first step always runs and a step is never cut "
                "short, so an L-BFGS step (20 iterations) can overrun it: the seconds column is the real "
                "training time; CPU seconds include the curve evaluations.",
                "",
                "Disclosure: two hessian-free defaults were set while looking at tasks (a) and (b): the "
                "initial damping is scaled by the curvature along the first gradient (with an absolute "
                "lambda=1 it spent its first steps on tiny gradient-like moves on the autoencoder, whose "
                "mean-over-pixels loss has a tiny curvature scale), and curvature_batch_size=500 was "
                "picked over 1000 and 250 on both tasks. The torch optimizers use Keras' defaults; "
                "random-search's defaults were chosen on iris and three Gaussian blobs.",
                "",
                body,
                report,
                f"![training loss against wall-clock time]({PLOT.name})",
                "",
                "#### Defaults (from `nnguru.optim.table()`)",
                "",
                defaults_table(),
                "",
            ]
        )
    )
    print(f"wrote {PLOT} and the '## Optimizers' section of {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
