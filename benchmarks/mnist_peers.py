"""Peer benchmark: the Keras tutorial's MNIST recipe, run by nnguru and by its peers.

Recipe (the seed tutorial): 784-128(relu)-10 MLP, Adam (lr 1e-3, default betas/eps), batch 32,
5 epochs, shuffled every epoch, no validation during fit, then predictions on the 10k test set.
Peers: nnguru (the tutorial program, import line changed), Keras 3 on TensorFlow, a plain
PyTorch ``DataLoader`` loop, PyTorch Lightning and scikit-learn's ``MLPClassifier``.

Why it is built this way:
- Every peer runs in its own fresh interpreter, one after the other, so no framework inherits
  another's thread pools, allocator state or warm caches (TensorFlow never shares a process with
  torch), and each uses its default thread count (all cores) unless ``--threads`` caps them all.
- All peers get the same arrays: the parent loads MNIST once and hands the uint8 arrays to the
  workers through ``.npy`` files; every worker converts them identically (float32 / 255).
- Only ``fit`` is timed: the model is built and compiled and the data is in memory before the
  clock starts; prediction happens after it stops. Start-up costs inside ``fit`` (graph tracing,
  data conversion) count, because a user pays them.
- Everything runs on the CPU (GPUs are hidden from the workers) so the ratios compare libraries,
  not devices.

Run ``python benchmarks/mnist_peers.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS_MD = Path(__file__).resolve().with_name("RESULTS.md")
SECTION_TITLE = "## Peers: MNIST tutorial recipe"
RESULT_TAG = "NNGURU_BENCH_RESULT "
THREADS_ENV = "NNGURU_BENCH_THREADS"

HIDDEN = 128
LR = 1e-3
BATCH_SIZE = 32
EPOCHS = 5

# Targets of GitHub issue 2, checked on every full-size run.
TARGET_ACCURACY = 0.973
TARGET_VS_KERAS = 1 / 5  # nnguru fit time <= 1/5 of Keras-on-TensorFlow's
TARGET_VS_PYTORCH = 0.7  # nnguru fit time <= 0.7 of the plain DataLoader loop's


class Stopwatch:
    """Wall and process-CPU seconds of one block.

    Wall time is what the targets use; CPU time (all threads of the process) stays honest on a
    shared machine when the peers are capped at one thread (``--threads 1``).
    """

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


@dataclass(frozen=True)
class Peer:
    """One library under test: its display name, the modules it needs and its run function."""

    key: str
    label: str
    modules: tuple[str, ...]
    run: Callable[[np.ndarray, np.ndarray, np.ndarray, int, int], tuple[Stopwatch, np.ndarray]]
    extra_env: dict[str, str] = field(default_factory=dict)


class NotInstalled(Exception):
    """A peer's package is missing: reported in the table, never a crash."""


# --------------------------------------------------------------------------------------------
# Peers. Each takes (x_train (N, 784) float32, y_train (N,) int64, x_test, epochs, seed),
# builds its model before the clock, times fit only, and returns (fit Stopwatch, test labels).
# --------------------------------------------------------------------------------------------


def run_nnguru(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int, seed: int
) -> tuple[Stopwatch, np.ndarray]:
    """The tutorial program verbatim, with only the import lines changed to nnguru."""
    # The tutorial's two import lines, in its order (ruff may not see nnguru.layers as ours).
    from nnguru import Sequential  # noqa: I001
    from nnguru.layers import Dense, Flatten

    _seed_torch(seed)
    model = Sequential(
        [
            Flatten(input_shape=(28, 28)),
            Dense(HIDDEN, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_img = x.reshape(-1, 28, 28)  # the tutorial feeds images; a view, no copy
    with Stopwatch() as fit_time:
        model.fit(x_img, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    proba = np.asarray(model.predict(x_test.reshape(-1, 28, 28)))
    return fit_time, proba.argmax(axis=1)


def run_keras(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int, seed: int) -> tuple[Stopwatch, np.ndarray]:
    """The same tutorial program on Keras 3 with the TensorFlow backend (CPU)."""
    import keras

    threads = int(os.environ.get(THREADS_ENV, "0"))
    if threads:  # TensorFlow ignores OMP_NUM_THREADS for its own pools
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(seed)
    with warnings.catch_warnings():  # Keras 3 nags about input_shape=; the tutorial uses it
        warnings.simplefilter("ignore", UserWarning)
        model = keras.Sequential(
            [
                keras.layers.Flatten(input_shape=(28, 28)),
                keras.layers.Dense(HIDDEN, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_img = x.reshape(-1, 28, 28)
    with Stopwatch() as fit_time:
        model.fit(x_img, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    proba = model.predict(x_test.reshape(-1, 28, 28), batch_size=1024, verbose=0)
    return fit_time, np.asarray(proba).argmax(axis=1)


def _seed_torch(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _torch_net():  # -> torch.nn.Sequential (torch is imported lazily, per worker)
    from torch import nn

    return nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def _torch_predict(net, x_test: np.ndarray) -> np.ndarray:
    import torch

    net.eval()
    with torch.inference_mode():
        return net(torch.from_numpy(x_test)).argmax(dim=1).numpy()


def run_pytorch(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int, seed: int
) -> tuple[Stopwatch, np.ndarray]:
    """The idiomatic PyTorch tutorial loop: TensorDataset + DataLoader, no tricks."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=BATCH_SIZE,
        shuffle=True,
    )
    net = _torch_net()
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    with Stopwatch() as fit_time:
        net.train()
        for _ in range(epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = loss_fn(net(xb), yb)
                loss.backward()
                optimizer.step()
    return fit_time, _torch_predict(net, x_test)


def run_lightning(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int, seed: int
) -> tuple[Stopwatch, np.ndarray]:
    """The same net and DataLoader in a LightningModule, trained by a bare CPU Trainer."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "GPU available: ..." banners
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")

    class MLP(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = _torch_net()
            self.loss_fn = torch.nn.CrossEntropyLoss()

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return self.loss_fn(self.net(xb), yb)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=LR)

    L.seed_everything(seed, verbose=False)
    module = MLP()
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=BATCH_SIZE,
        shuffle=True,
    )
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with Stopwatch() as fit_time:
        trainer.fit(module, train_dataloaders=loader)
    return fit_time, _torch_predict(module.net, x_test)


def run_sklearn(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int, seed: int
) -> tuple[Stopwatch, np.ndarray]:
    """scikit-learn's MLPClassifier with the recipe's solver settings.

    ``alpha=0`` because the recipe has no L2 penalty (scikit-learn's default adds 1e-4).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        learning_rate_init=LR,
        alpha=0.0,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        shuffle=True,
        random_state=seed,
    )
    with warnings.catch_warnings():  # max_iter=5 always "fails to converge"; that is the recipe
        warnings.simplefilter("ignore", ConvergenceWarning)
        with Stopwatch() as fit_time:
            clf.fit(x, y)
    return fit_time, clf.predict(x_test)


PEERS: dict[str, Peer] = {
    p.key: p
    for p in (
        Peer("nnguru", "nnguru", ("nnguru", "torch"), run_nnguru),
        Peer(
            "keras",
            "Keras 3 on TensorFlow",
            ("keras", "tensorflow"),
            run_keras,
            {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"},
        ),
        Peer("pytorch", "PyTorch DataLoader loop", ("torch",), run_pytorch),
        Peer("lightning", "PyTorch Lightning", ("lightning", "torch"), run_lightning),
        Peer("sklearn", "scikit-learn MLPClassifier", ("sklearn",), run_sklearn),
    )
}

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def default_data_path() -> Path:
    """``$NNGURU_DATASETS/mnist``, else the shared folder next to the repository."""
    root = os.environ.get("NNGURU_DATASETS")
    return Path(root) / "mnist" if root else REPO.parent / "shared" / "datasets" / "mnist"


def _read_idx_gz(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_mnist_uint8(path: Path) -> dict[str, np.ndarray]:
    """MNIST as uint8 arrays, read by nnguru's own loader when it imports.

    The fallback reader keeps the peers measurable while nnguru is mid-edit.
    """
    try:
        from nnguru.datasets import load_mnist
    except Exception:  # noqa: BLE001 - any import failure: nnguru is being edited
        load_mnist = None
    if load_mnist is not None:
        (x, y), (xt, yt) = load_mnist(path)
    else:
        x = _read_idx_gz(path / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        y = _read_idx_gz(path / "train-labels-idx1-ubyte.gz", 8)
        xt = _read_idx_gz(path / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        yt = _read_idx_gz(path / "t10k-labels-idx1-ubyte.gz", 8)
    return {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}


def as_recipe_arrays(raw: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The one conversion every peer sees: float32 / 255, flattened to (N, 784); int64 labels."""

    def flat(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32) / np.float32(255)

    return (
        flat(raw["x_train"]),
        raw["y_train"].astype(np.int64),
        flat(raw["x_test"]),
        raw["y_test"].astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# Worker (one peer, one fresh process)
# --------------------------------------------------------------------------------------------


def worker(key: str, arrays_dir: Path, epochs: int, seed: int) -> dict:
    """Run one peer in this (fresh) process and return its result record."""
    peer = PEERS[key]
    record: dict = {"peer": key, "status": "ok"}
    try:
        for module in peer.modules:
            if importlib.util.find_spec(module) is None:
                raise NotInstalled(module)
        raw = {k: np.load(arrays_dir / f"{k}.npy") for k in ("x_train", "y_train", "x_test", "y_test")}
        x, y, x_test, y_test = as_recipe_arrays(raw)
        fit_time, pred = peer.run(x, y, x_test, epochs, seed)
        record.update(
            fit_s=fit_time.wall,
            cpu_s=fit_time.cpu,
            accuracy=float(np.mean(np.asarray(pred).astype(np.int64) == y_test)),
            steps=epochs * -(-len(x) // BATCH_SIZE),
        )
        if "torch" in sys.modules:
            record["threads"] = sys.modules["torch"].get_num_threads()
    except NotInstalled as exc:
        record.update(status="not installed", message=f"module {exc} not found")
    except ImportError as exc:  # installed but unusable (e.g. nnguru's API not there yet)
        record.update(status="not available", message=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken peer must not sink the table
        record.update(status="error", message=f"{type(exc).__name__}: {exc}")
    return record


def run_peer_subprocess(key: str, arrays_dir: Path, args: argparse.Namespace) -> dict:
    """Start a fresh interpreter for one peer and parse its result line."""
    env = {**os.environ, **PEERS[key].extra_env}
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU for everyone: compare libraries, not devices
    if args.threads:  # same cap for every peer; read at start-up by OpenMP, MKL, OpenBLAS, torch
        n = str(args.threads)
        env.update({THREADS_ENV: n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        key,
        "--arrays",
        str(arrays_dir),
        "--epochs",
        str(args.epochs),
        "--seed",
        str(args.seed),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"peer": key, "status": "error", "message": f"timed out after {args.timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {
        "peer": key,
        "status": "error",
        "message": f"exit {proc.returncode}: {' | '.join(tail)}",
    }


# --------------------------------------------------------------------------------------------
# Parent: run, tabulate, check targets, write RESULTS.md
# --------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """One peer's results over all repeats (medians drive the table and the targets)."""

    key: str
    status: str = "ok"
    message: str = ""
    fit_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    steps: int = 0
    threads: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.fit_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.fit_s)

    @property
    def median_acc(self) -> float:
        return statistics.median(self.accuracy)


def run_all(args: argparse.Namespace, keys: list[str]) -> dict[str, Summary]:
    """Load the data once, then run every peer ``--repeat`` times, interleaved, one at a time.

    Interleaving (round-robin over peers per repeat) spreads slow drifts of a shared machine
    across peers instead of charging them to whichever peer ran last.
    """
    raw = load_mnist_uint8(args.data)
    if args.train_limit:
        raw["x_train"], raw["y_train"] = (
            raw["x_train"][: args.train_limit],
            raw["y_train"][: args.train_limit],
        )
    summaries = {k: Summary(k) for k in keys}
    with tempfile.TemporaryDirectory(prefix="nnguru-bench-") as tmp:
        for name, arr in raw.items():
            np.save(Path(tmp) / f"{name}.npy", np.ascontiguousarray(arr))
        for rep in range(args.repeat):
            for key in keys:
                s = summaries[key]
                if not s.ok and rep > 0:
                    continue  # not installed / broken: don't retry it every repeat
                rec = run_peer_subprocess(key, Path(tmp), args)
                if rec["status"] == "ok":
                    s.fit_s.append(rec["fit_s"])
                    s.cpu_s.append(rec["cpu_s"])
                    s.accuracy.append(rec["accuracy"])
                    s.steps, s.threads = rec["steps"], rec.get("threads")
                    msg = f"{rec['fit_s']:.2f} s (cpu {rec['cpu_s']:.2f} s), acc {rec['accuracy']:.4f}"
                else:
                    s.status, s.message = rec["status"], rec.get("message", "")
                    msg = f"{s.status}: {s.message}"
                print(f"[{rep + 1}/{args.repeat}] {PEERS[key].label}: {msg}", file=sys.stderr)
    return summaries


def table_rows(summaries: dict[str, Summary]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: peer, fit seconds, ms per step, CPU seconds, test accuracy, time / nnguru.

    Medians over the repeats; the wall-time range follows in brackets when there are several.
    """
    base = summaries.get("nnguru")
    base_s = base.median_s if base is not None and base.ok else None
    header = ["peer", "fit s", "ms / step", "cpu s", "test acc", "time / nnguru"]
    rows = []
    for key, s in summaries.items():
        label = PEERS[key].label
        if not s.ok:
            rows.append([label, s.status, "", "", "", ""])
            continue
        fit = f"{s.median_s:.2f}"
        if len(s.fit_s) > 1:
            fit += f" ({min(s.fit_s):.2f}-{max(s.fit_s):.2f})"
        ratio = f"{s.median_s / base_s:.2f}x" if base_s else "n/a"
        rows.append(
            [
                label,
                fit,
                f"{1e3 * s.median_s / s.steps:.3f}",
                f"{statistics.median(s.cpu_s):.2f}",
                f"{s.median_acc:.4f}",
                ratio,
            ]
        )
    return header, rows


def check_targets(summaries: dict[str, Summary]) -> list[tuple[str, str, str]]:
    """(target, measured, PASS/FAIL/n/a) for issue 2's three targets."""
    nn = summaries.get("nnguru")
    if nn is None or not nn.ok:
        why = "nnguru not run" if nn is None else f"nnguru {nn.status}"
        return [(t, why, "n/a") for t in ("test accuracy", "vs Keras", "vs PyTorch")]
    out = [
        (
            f"nnguru test accuracy >= {TARGET_ACCURACY}",
            f"{nn.median_acc:.4f}",
            "PASS" if nn.median_acc >= TARGET_ACCURACY else "FAIL",
        )
    ]
    for key, limit, text in (
        ("keras", TARGET_VS_KERAS, "nnguru fit <= 1/5 of Keras-on-TensorFlow's"),
        ("pytorch", TARGET_VS_PYTORCH, "nnguru fit <= 0.7 of the PyTorch DataLoader loop's"),
    ):
        peer = summaries.get(key)
        if peer is None or not peer.ok:
            out.append((text, f"{key} {'not run' if peer is None else peer.status}", "n/a"))
            continue
        ratio = nn.median_s / peer.median_s
        out.append((text, f"{ratio:.3f} (limit {limit:.3f})", "PASS" if ratio <= limit else "FAIL"))
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def machine_description() -> str:
    """CPU model (from lscpu) and core count: enough to tell whether two tables are comparable."""
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"^Model name:\s*(.+)$", out, re.MULTILINE)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def library_versions() -> str:
    names = (
        "nnguru",
        "torch",
        "tensorflow-cpu",
        "tensorflow",
        "keras",
        "lightning",
        "scikit-learn",
        "numpy",
    )
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}; " + ", ".join(found)


def _shown_args(argv: list[str]) -> list[str]:
    """The command line for the record, without the free-text note (it is printed above it)."""
    shown, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            shown.append(arg)
    return shown


def results_section(summaries: dict[str, Summary], args: argparse.Namespace, argv: list[str]) -> str:
    """The Markdown that replaces the peers section of RESULTS.md."""
    header, rows = table_rows(summaries)
    targets = check_targets(summaries)
    threads = sorted({s.threads for s in summaries.values() if s.ok and s.threads})
    size = f"first {args.train_limit} training images" if args.train_limit else "all 60,000 training images"
    lines = [
        SECTION_TITLE,
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine_description()}.",
    ]
    if args.note:
        lines.append(f"Note: {args.note}")
    lines += [
        "",
        f"Command: `python benchmarks/mnist_peers.py {shlex.join(_shown_args(argv))}`",
        "",
        f"Recipe: 784-128(relu)-10 MLP, Adam lr 1e-3, batch {BATCH_SIZE}, {args.epochs} epochs, "
        f"{size}, shuffled each epoch, no validation; test accuracy on the 10,000 test images. "
        f"`fit s` is the median fit time over {args.repeat} run(s) (range in brackets), "
        f"each peer in its own fresh process on the CPU with default threads"
        + (f" (torch: {', '.join(map(str, threads))}; nnguru's loop runs steps this small on one)" if threads else "")
        + (f", capped at {args.threads} thread(s) by --threads" if args.threads else "")
        + ". `cpu s` is the process CPU time of fit (all threads, spin-waits included). "
        "`time / nnguru` above 1 means nnguru is faster.",
        "",
        markdown_table(header, rows),
        "",
        "Targets (issue 2):",
        "",
    ]
    lines += [f"- {status}: {text} — measured {value}" for text, value, status in targets]
    notes = [f"- {PEERS[k].label}: {s.status} ({s.message})" for k, s in summaries.items() if not s.ok]
    if notes:
        lines += ["", "Peers not measured:", "", *notes]
    lines += ["", f"Versions: {library_versions()}.", ""]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS_MD) -> None:
    """Replace only our section of RESULTS.md; other sections (e.g. Optimizers) stay as they are."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text.rstrip("\n") + "\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time the Keras tutorial's MNIST recipe on nnguru and its peers (fit only).",
    )
    p.add_argument("--data", type=Path, default=default_data_path(), help="MNIST IDX folder")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma list of {', '.join(PEERS)}")
    p.add_argument("--repeat", type=int, default=1, help="runs per peer; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (dev runs)")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="cap every peer's CPU threads (default: each library's default, all cores)",
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds per peer run")
    p.add_argument("--write-results", action="store_true", help=f"rewrite '{SECTION_TITLE}' in RESULTS.md")
    p.add_argument("--note", default="", help="a line recorded with --write-results (e.g. 'shared machine')")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--arrays", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat < 1 or args.epochs < 1:
        p.error("--repeat and --epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(
            RESULT_TAG + json.dumps(worker(args.worker, args.arrays, args.epochs, args.seed)),
            flush=True,
        )
        return 0
    keys = [k.strip() for k in args.peers.split(",") if k.strip()]
    unknown = [k for k in keys if k not in PEERS]
    if unknown:
        print(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(
            f"MNIST folder {str(args.data)!r} not found; pass --data or set NNGURU_DATASETS",
            file=sys.stderr,
        )
        return 2
    summaries = run_all(args, keys)
    header, rows = table_rows(summaries)
    print()
    print(text_table(header, rows))
    for key, s in summaries.items():
        if not s.ok:
            print(f"  {PEERS[key].label}: {s.status} ({s.message})")
    print()
    targets = check_targets(summaries)
    full_size = not args.train_limit and args.epochs == EPOCHS
    for text, value, status in targets:
        print(f"{status:4}  {text}: {value}")
    if not full_size:
        print("(reduced run: --train-limit/--epochs differ from the recipe; targets are indicative only)")
    if args.write_results:
        write_results(results_section(summaries, args, argv))
        print(f"wrote '{SECTION_TITLE}' in {RESULTS_MD}")
    return 1 if args.strict and any(s == "FAIL" for _, _, s in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
