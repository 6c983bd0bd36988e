"""How long a training run will take, how much memory it needs and what it costs, before it starts.

The guides answer "how long will training take?" with rough ranges; here it is measured. The
estimate counts the model's parameters and FLOPs, then times a few real training steps *on this
device* (after warm-up, through the same ``Model.fit`` and the same step choice the run will use)
on a copy of the model, so the run itself is untouched, and times validation the same way:

    seconds_per_epoch = steps_per_epoch * seconds_per_step + validation seconds
    epochs            = the cap (``--epochs``, else from the data size), or where early stopping
                        ends: seen in a replay of the run's start (probe_run, at most PROBE_SECONDS),
                        else typically (TYPICAL_STOP_PATIENCES patiences in, at least the patience past
                        the replay's best epoch; STOP_PATIENCES_RANGE gives the usual range)
    seconds           = epochs * seconds_per_epoch, or where the time budget stops it (budget_stop)

The whole command is predicted too (what a user waits for): the seconds already spent before
training (loading, preparing, this estimate) plus training plus what follows it:

    after_seconds = AFTER_PASSES_ROWS forward passes (evaluation of val and test, the training
                    items' embeddings, the similarity queries) at the timed seconds per row
                    + AFTER_FIXED_SECONDS (label-error check, plots, report, bundle)

The automatic time budget (``time_budget: auto``) is what is left of the command's deadline once
``before`` and ``after`` are taken off (``TimeBudget.auto_budget``).

Every ``nnguru train`` prints it up front and records it next to the actual time in metrics.json
(``estimate``), which is how the rule for early stopping's typical stop is checked
(benchmarks/RESULTS.md, "Estimates against actual runs"; ``benchmarks/estimate_accuracy.py``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnguru import clock
from nnguru.errors import NNGuruError

# The timing fit: the first epoch pays for allocation, kernel selection and caches; the other two
# are measured. 3 x 20 steps cost about a second for the shared datasets' models.
TIMED_EPOCHS = 3
STEPS_PER_TIMED_EPOCH = 20
VAL_ROWS_TIMED = 64
# Early stopping with patience P ends P epochs after the best epoch, and where the best epoch comes is
# the data's doing: in nnguru's default runs on 12 tables and SMS (benchmarks/stop_epochs.py, 3 seeds;
# RESULTS "Where early stopping ends") runs ended 1.2-15 patiences in. Noisy real tables (titanic, pima,
# diabetes) and SMS stopped within 1-3 patiences, clean or generated ones (breast cancer, friedman) after
# 5-15. 4 patiences minimizes the median log error over those 36 runs (a factor ~1.6 either way; the
# earlier 2, read off the shared datasets alone, was off by a factor 2.3 out of sample); the range
# printed with it is their quartiles. The ETA corrects the prediction as epochs finish.
TYPICAL_STOP_PATIENCES = 4.0
STOP_PATIENCES_RANGE = (2.5, 7.3)
# Where early stopping ends is the data's doing (1.2-15 patiences on 12 tables, RESULTS "Where early
# stopping ends"): no rule read off the first steps predicts it to 25%. So the estimate replays the
# run's start on a copy of the model (probe_run): the same weights, random state, schedule, class
# weights and early stopping, for at most PROBE_SECONDS. A run that ends within it (the shared tables
# and SMS: 0.2-5 s of training) is then known; a longer one runs at least its patience past the
# replay's best epoch, and the typical rule covers the rest.
PROBE_SECONDS = 5.0
# Copies of the weights a run holds besides the weights themselves (the last good epoch, the best
# epoch, the backup being written): counted in the peak memory.
EPOCH_STATE_COPIES = 3


@dataclass
class Estimate:
    """What ``nnguru estimate`` prints and writes to estimate.json (keys in DESIGN.md)."""

    seconds: float  # predicted training time
    seconds_per_epoch: float
    epochs: int  # predicted epochs run
    epochs_cap: int  # the most the run may take
    stop: str  # what is predicted to end training: "epochs", "early stopping" or "time budget"
    seconds_per_step: float
    steps_per_epoch: int
    validation_seconds: float  # per epoch
    epoch_overhead_seconds: float  # per epoch, outside the steps and validation (bookkeeping, backup)
    params: int
    flops_per_sample: float  # one forward pass
    train_flops_per_sample: float  # forward + backward, ~3 forward passes
    peak_memory_mb: float
    device: str
    batch_size: int
    n_train: int
    time_budget: float | None = None
    price_per_hour: float | None = None
    cost: float | None = None
    train_step: str = ""
    seconds_per_row: float = 0.0  # one sample's forward pass, from the validation timing
    before_seconds: float = 0.0  # the command's time before training (loading, preparing, the estimate)
    after_seconds: float = 0.0  # predicted: evaluation, embeddings, data checks, report, bundle
    command_seconds: float = 0.0  # before + training + after: the whole command (0: not predicted)
    seconds_max: float = 0.0  # the most training can take: the epoch cap, or the time budget
    whole_command: bool = False  # before_seconds and after_seconds were given: command_seconds holds
    epochs_nominal: int = 0  # the epochs predicted without a time budget (what plan() starts from)
    stop_nominal: str = "epochs"
    # where early stopping usually ends (STOP_PATIENCES_RANGE), as training seconds; equal to
    # ``seconds`` when the cap or the budget decides
    seconds_low: float = 0.0
    seconds_high: float = 0.0
    patience: int | None = None  # early stopping's (None: none)
    probe_epochs: int = 0  # epochs the replay of the run's start ran (0: no replay)
    probe_best_epoch: int = 0  # its best epoch, from 1
    probe_ended: str = ""  # how the replay ended as the run will ("early stopping", "epochs"); "": its time ran out
    probe_seconds: float = 0.0  # the replay's wall time (part of before_seconds)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}

    def summary(self) -> str:
        """One line for the console: the total first, then where it comes from."""
        from nnguru.training.callbacks.time_budget import format_duration

        spread = (f", usually {format_duration(self.seconds_low)}-{format_duration(self.seconds_high)}"
                  if self.seconds_high > self.seconds_low * 1.05 else "")
        stopping = (f"early stopping at epoch {self.epochs} of at most {self.epochs_cap}, replayed"
                    if self.probe_ended == "early stopping" and self.stop == "early stopping" else
                    f"early stopping typically near epoch {self.epochs} of at most {self.epochs_cap}{spread}")
        why = {"epochs": f"{self.epochs} epochs", "early stopping": stopping,
               "time budget": f"the time budget of {format_duration(self.time_budget or 0)}"}[self.stop]
        cost = f", cost {self.cost:.4f}" if self.cost is not None else ""
        whole = (f"~{format_duration(self.command_seconds)} in all ({format_duration(self.before_seconds)} so far, "
                 f"evaluation and report ~{format_duration(self.after_seconds)}); " if self.command_seconds else "")
        most = f", at most {format_duration(self.seconds_max)}" if self.seconds_max > self.seconds * 1.05 else ""
        timed = (f"{self.steps_per_epoch} steps x {self.seconds_per_step * 1e3:.2f} ms + validation "
                 f"{format_duration(self.validation_seconds)}")
        per_epoch = (f"{format_duration(self.seconds_per_epoch)} per epoch"
                     + (f" as replayed ({timed} timed)" if self.probe_epochs >= 2 else f" = {timed}"))
        return (f"{whole}~{format_duration(self.seconds)} of training{most} ({why}; {per_epoch}), "
                f"{self.params:,} parameters, "
                f"{self.flops_per_sample / 1e6:.3g} MFLOPs per sample, peak memory ~{self.peak_memory_mb:.0f} MB "
                f"on {self.device}{cost}")


# ---- counting ----------------------------------------------------------------------------------
def count_flops(model, example: torch.Tensor) -> float:
    """FLOPs of one forward pass per sample (PyTorch's FlopCounterMode: a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example[:1])
    model.train(was_training)
    return float(counter.get_total_flops())


def activation_elements(model, example: torch.Tensor) -> int:
    """Elements of every leaf module's output for one sample: what the backward pass keeps."""
    total = [0]

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output[:1].numel()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(example[:1])
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total[0]


# ---- timing ------------------------------------------------------------------------------------
class _Timing:
    """What one timing fit measured: seconds per step, and per epoch outside the steps."""

    def __init__(self, step: float, epoch_overhead: float, name: str) -> None:
        self.step, self.epoch_overhead, self.name = step, epoch_overhead, name


def _step_timer(device: torch.device):
    """A callback that clocks each step's start and each epoch's end (a Callback subclass made
    here: ``nnguru.training`` imports stay out of ``import nnguru.estimate``)."""
    from nnguru.training.callbacks.base import Callback

    class StepTimer(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.steps: list[list[float]] = []  # per epoch, each step's start
            self.ends: list[float] = []  # per epoch, when the next epoch could begin

        def _now(self) -> float:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            if self.steps and len(self.ends) < len(self.steps):
                self.ends.append(self._now())
            self.steps.append([])

        def on_train_batch_begin(self, batch, logs=None):
            self.steps[-1].append(self._now())

        def on_train_end(self, logs=None):
            self.ends.append(self._now())

    return StepTimer()


@contextlib.contextmanager
def _scratch(model):
    """A deep copy of ``model`` to time, with the random state put back afterwards: the run that
    follows draws the same shuffles and dropout masks as without the estimate."""
    cuda = [model.device] if getattr(model, "device", torch.device("cpu")).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        np_state = np.random.get_state()
        try:
            yield copy.deepcopy(model)
        finally:
            np.random.set_state(np_state)


def time_training(model, x: np.ndarray, y: np.ndarray, batch_size: int, x_val: np.ndarray | None = None,
                  y_val: np.ndarray | None = None, scratch_dir: str | Path | None = None) -> _Timing:
    """Time a short fit of a copy of ``model`` made like the run's: TIMED_EPOCHS epochs of at most
    STEPS_PER_TIMED_EPOCH steps, a small validation set, early stopping keeping the best weights and
    a backup each epoch. The first epoch is warm-up; from the others come the seconds per step
    (within an epoch) and per epoch outside the steps (end-of-epoch bookkeeping, the backup)."""
    from nnguru.callbacks import BackupAndRestore, EarlyStopping

    steps = min(math.ceil(len(x) / batch_size), STEPS_PER_TIMED_EPOCH)
    val = None if x_val is None or not len(x_val) else (x_val[:VAL_ROWS_TIMED], y_val[:VAL_ROWS_TIMED])
    with _scratch(model) as twin, tempfile.TemporaryDirectory(dir=scratch_dir, prefix=".estimate-") as tmp:
        device = getattr(twin, "device", torch.device("cpu"))
        timer = _step_timer(device)
        callbacks = [timer, BackupAndRestore(Path(tmp) / "backup")]
        if val is not None:
            callbacks.insert(1, EarlyStopping(patience=TIMED_EPOCHS + 1, restore_best_weights=True))
        # all the rows, few steps: gathering batches from the whole array costs what the run's do
        # (timed on a small slice that stays in cache, the tutorial MLP's steps looked 2x faster)
        history = twin.fit(x, y, batch_size=batch_size, epochs=TIMED_EPOCHS, verbose=0, steps_per_epoch=steps,
                           validation_data=val, callbacks=callbacks, shuffle=True)
    epochs = list(zip(timer.steps, timer.ends, strict=True))[1:]  # epoch 1: warm-up
    if steps == 1:  # one step per epoch: a step is the time from one epoch's start to the next
        step_s = min(end - st[0] for st, end in epochs)
    else:
        step_s = sum(st[-1] - st[0] for st, _ in epochs) / max(sum(len(st) - 1 for st, _ in epochs), 1)
    overhead = sum(max(end - st[-1] - step_s, 0.0) for st, end in epochs) / len(epochs)
    if val is not None:  # its validation pass is counted separately (time_validation)
        overhead = max(overhead - time_validation(model, *val, batch_size=batch_size, repeats=1), 0.0)
    return _Timing(step_s, overhead, str(history.params.get("train_step", "")))


def time_validation(model, x: np.ndarray, y: np.ndarray, batch_size: int = 32, sample: int = 2048,
                    repeats: int = 3) -> float:
    """Seconds to evaluate all of ``x`` (median of ``repeats`` passes over up to ``sample`` rows, 64
    batches of 32: enough for a steady per-row time, half the cost of 4,096 on MNIST,
    after a warm-up pass), on as many threads as ``fit`` gives a step of ``batch_size`` (one for
    small models: timed on two threads of a busy machine, a tiny model's validation was 100x slower)."""
    from nnguru.training.denormals import flush_denormals
    from nnguru.training.loop import intra_op_threads, step_threads

    if len(x) == 0:
        return 0.0
    n = min(len(x), sample)
    with _scratch(model) as twin, contextlib.ExitStack() as stack:
        twin.evaluate(x[:1], y[:1], verbose=0)  # builds the model and its metrics
        example = torch.as_tensor(np.asarray(x[:1], dtype=np.float32), device=twin.device)
        threads = step_threads(twin, example, batch_size)
        stack.enter_context(intra_op_threads(threads))
        stack.enter_context(flush_denormals(threads if twin.device.type == "cpu" else 0))
        twin.evaluate(x[:n], y[:n], verbose=0)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            twin.evaluate(x[:n], y[:n], verbose=0)
            if twin.device.type == "cuda":
                torch.cuda.synchronize(twin.device)
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * len(x) / n


# ---- the estimate ------------------------------------------------------------------------------
def expected_epochs(cap: int, patience: int | None, patiences: float = TYPICAL_STOP_PATIENCES,
                    probe: Probe | None = None) -> tuple[int, str]:
    """Epochs a run is expected to take: the cap, or early stopping's stop ``patiences`` patiences in
    (``patience`` None: no early stopping). A ``probe`` (a replay of the run's start) that ended says
    where the run ends; one whose time ran out says it runs past the replay and at least ``patience``
    past the replay's best epoch."""
    if patience is None:
        return cap, "epochs"
    if probe is not None and probe.ended:
        return min(probe.epochs, cap), probe.ended
    typical = math.ceil(patiences * patience)
    if probe is not None:
        typical = max(typical, probe.epochs + 1, probe.best_epoch + patience)
    return (typical, "early stopping") if typical < cap else (cap, "epochs")


@dataclass
class Probe:
    """What a replay of a run's start saw (:func:`probe_run`)."""

    epochs: int  # epochs run
    best_epoch: int  # the best validation loss's epoch, from 1 (0: none finite)
    # "early stopping" or "epochs" (the cap, or a stop on a non-finite loss): as the run will end; "": out of time
    ended: str
    epoch_seconds: list[float]  # each epoch's wall time, callbacks and backup included
    seconds: float  # the whole replay's


def probe_run(model, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *, batch_size: int | None,
              epochs: int, patience: int, class_weight: Any = None, callbacks: list | tuple = (),
              seconds: float | None = None, scratch_dir: str | Path | None = None) -> Probe:
    """Replay the start of a run with early stopping on a copy of ``model``, for at most ``seconds``.

    The copy starts from the run's weights and random state (the same shuffles and dropout masks), with
    the run's ``batch_size``, ``class_weight`` and ``callbacks`` (fresh ones: its learning-rate
    schedule, the network monitor), early stopping of the run's ``patience`` and a backup each epoch
    as the run has: on one device it takes the run's path to the epoch where the run stops (non-
    deterministic GPU kernels aside). The model and the random state are left as they were.
    ``seconds``: the replay's limit (None: PROBE_SECONDS)."""
    from nnguru.callbacks import BackupAndRestore, EarlyStopping, TimeBudget

    t0 = time.perf_counter()
    with _scratch(model) as twin, tempfile.TemporaryDirectory(dir=scratch_dir, prefix=".estimate-") as tmp:
        timer = _step_timer(getattr(twin, "device", torch.device("cpu")))
        early = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=False)
        limit = TimeBudget(PROBE_SECONDS if seconds is None else seconds, monitor="val_loss",
                           restore_best_weights=False)
        history = twin.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, validation_data=(x_val, y_val),
                           callbacks=[*callbacks, early, limit, BackupAndRestore(Path(tmp) / "backup"), timer],
                           class_weight=class_weight)
    run = len(history.logs.get("loss", []))
    ended = "early stopping" if early.stopped_epoch is not None else ("" if limit.reached else "epochs")
    starts = [st[0] for st in timer.steps if st]
    return Probe(epochs=run, best_epoch=0 if early.best_epoch is None else early.best_epoch + 1, ended=ended,
                 epoch_seconds=[end - start for start, end in zip(starts, timer.ends, strict=False)],
                 seconds=time.perf_counter() - t0)


def budget_stop(per_epoch: float, budget: float, tail: float) -> tuple[int, float]:
    """``(epochs, seconds)`` of a run that TimeBudget stops: after each epoch it stops when one more
    would not fit, so ``floor(budget / per_epoch)`` whole epochs run; when not even one fits, the
    first epoch is cut at the budget and ``tail`` (the step under way and the validation) follows."""
    whole = math.floor(budget / per_epoch) if per_epoch > 0 else 0
    return (whole, whole * per_epoch) if whole >= 1 else (1, budget + tail)


# What follows training, per sample: a forward pass over the validation and test splits (metrics),
# over the training items (their embeddings, stored for `nnguru similar`) and over up to
# similarity.MAX_EVAL_QUERIES test items (the search's score); so about n_train + n_val + 2 n_test
# rows, at the seconds per row timed on validation. Two data checks (guru/data_checks.py) cost what
# their sizes say, at rates measured single-threaded on MNIST (CPU seconds, which a busy machine
# does not inflate; RESULTS "Where a default MNIST command's time goes"):
# - label errors (class targets): LABEL_FOLDS warm-started paths over LABEL_C of logistic regressions
#   on at most LABEL_MAX_SAMPLES rows of at most LABEL_MAX_FEATURES features, one BLAS thread,
#   ~rows x features x classes (MNIST's 5,000 x 256 x 10: 6.9 s; FSDD's 1,912 x 256 x 10: 3.3 s);
# - near-duplicates: distances between at most NEAR_DUP_MAX_TRAIN training and NEAR_DUP_MAX_TEST
#   test items, ~train x test x features (20,000 x 5,000 x 784: 5.8 s).
# The rest barely depends on the data: plots, the HTML report, the bundle (AFTER_FIXED_SECONDS).
AFTER_FIXED_SECONDS = 3.0
LABEL_SECONDS_PER_UNIT = 0.55e-6
NEAR_DUP_SECONDS_PER_UNIT = 7.5e-11


def after_rows(n_train: int, n_val: int, n_test: int) -> int:
    """Rows the stages after training pass through the model (evaluation, embeddings, queries)."""
    from nnguru.similarity import MAX_EVAL_QUERIES

    return n_train + n_val + n_test + min(n_test, MAX_EVAL_QUERIES)


def check_seconds(n_train: int, n_test: int, features: int, classes: int | None) -> float:
    """Predicted seconds of the data checks after training: label errors (``classes`` None: no
    class labels, no check) and near-duplicate test items."""
    from nnguru.guru import data_checks as dc

    label = 0 if not classes else (min(n_train, dc.LABEL_MAX_SAMPLES) * min(features, dc.LABEL_MAX_FEATURES)
                                   * max(classes, 2))
    near = min(n_train, dc.NEAR_DUP_MAX_TRAIN) * min(n_test, dc.NEAR_DUP_MAX_TEST) * features
    return LABEL_SECONDS_PER_UNIT * label + NEAR_DUP_SECONDS_PER_UNIT * near


def after_seconds(seconds_per_row: float, rows: int, checks: float = 0.0) -> float:
    """Predicted seconds of the stages after training: ``rows`` forward passes, the data checks'
    ``checks`` seconds (:func:`check_seconds`) and the fixed rest."""
    return AFTER_FIXED_SECONDS + seconds_per_row * rows + checks


def plan(est: Estimate, time_budget: float | None) -> Estimate:
    """``est`` with its epochs, training seconds and stop re-derived for ``time_budget`` (what the
    automatic budget settles once the estimate has said how long evaluation will take)."""
    seconds = est.seconds_per_epoch * est.epochs_nominal
    n_epochs, stop = est.epochs_nominal, est.stop_nominal
    if time_budget is not None and seconds > time_budget:
        tail = est.seconds_per_step + est.validation_seconds
        n_epochs, seconds = budget_stop(est.seconds_per_epoch, time_budget, tail)
        stop = "time budget"
    cost = None if est.price_per_hour is None else est.price_per_hour * seconds / 3600
    most = est.epochs_cap * est.seconds_per_epoch
    if time_budget is not None and most > time_budget:
        most = budget_stop(est.seconds_per_epoch, time_budget, est.seconds_per_step + est.validation_seconds)[1]
    low, high = seconds, seconds
    if stop == "early stopping" and not est.probe_ended:  # the quartiles of where it ends, capped like the typical stop
        probe = Probe(est.probe_epochs, est.probe_best_epoch, "", [], 0.0) if est.probe_epochs else None
        low, high = (min(expected_epochs(est.epochs_cap, est.patience, k, probe)[0] * est.seconds_per_epoch, most)
                     for k in STOP_PATIENCES_RANGE)
    return replace(est, seconds=seconds, epochs=n_epochs, stop=stop, time_budget=time_budget, cost=cost,
                   seconds_max=most, seconds_low=low, seconds_high=high,
                   command_seconds=(est.before_seconds + seconds + est.after_seconds) if est.whole_command else 0.0)


def estimate_fit(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None = None,
                 y_val: np.ndarray | None = None, *, batch_size: int, epochs: int, patience: int | None = None,
                 time_budget: float | None = None, price_per_hour: float | None = None,
                 scratch_dir: str | Path | None = None, after: int | None = None,
                 before_seconds: float | None = None, checks: float = 0.0, probe: Probe | None = None) -> Estimate:
    """Time a few steps of ``model`` (compiled, not yet trained: a copy is timed) and predict the run.

    ``after``: rows the stages after training pass through the model (:func:`after_rows`) and
    ``before_seconds``: the command's time so far; with both, the whole command is predicted
    (``checks``: the data checks' predicted seconds, :func:`check_seconds`). ``probe``: a replay of
    the run's start (:func:`probe_run`): where early stopping ends, and whole epochs' seconds."""
    if not isinstance(x_train, np.ndarray) or len(x_train) == 0:
        raise NNGuruError("estimate needs the training inputs as a non-empty array; received "
                          f"{type(x_train).__name__}. Streamed tables are not estimated yet.")
    if price_per_hour is not None and (not math.isfinite(price_per_hour) or price_per_hour < 0):
        raise NNGuruError(f"price_per_hour (--price-per-hour) must be a number >= 0; received {price_per_hour!r}. "
                          "Pass the machine's price per hour, e.g. 2.5.")
    batch_size = min(int(batch_size), len(x_train))
    timing = time_training(model, x_train, y_train, batch_size, x_val, y_val, scratch_dir)  # builds the model
    example = torch.as_tensor(np.asarray(x_train[:1], dtype=np.float32), device=model.device)
    flops = count_flops(model, example)
    params = int(model.count_params())
    has_val = x_val is not None and len(x_val) > 0
    val_s = time_validation(model, x_val, y_val, batch_size) if has_val else 0.0
    row_s = (val_s / len(x_val) if has_val else
             time_validation(model, x_train, y_train, batch_size, sample=1024, repeats=1) / len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    per_epoch = steps * timing.step + val_s + timing.epoch_overhead
    if probe is not None and len(probe.epoch_seconds) >= 2:  # whole epochs of the run itself, measured
        # after its first: the replay runs first in the process and pays the warm-up the run will not
        per_epoch = sum(probe.epoch_seconds[1:]) / (len(probe.epoch_seconds) - 1)
    n_epochs, stop = expected_epochs(int(epochs), patience if has_val else None, probe=probe)
    activations = activation_elements(model, example)
    data_bytes = sum(a.nbytes for a in (x_train, y_train, x_val, y_val) if isinstance(a, np.ndarray))
    peak = data_bytes + (2 + EPOCH_STATE_COPIES) * 4 * params + 2 * 4 * activations * batch_size
    peak = max(peak, 4 * activations * min(4096, len(x_val) if x_val is not None else 0) + data_bytes)
    whole = after is not None and before_seconds is not None
    est = Estimate(
        seconds=n_epochs * per_epoch, seconds_per_epoch=per_epoch, epochs=n_epochs, epochs_cap=int(epochs),
        stop=stop, seconds_per_step=timing.step, steps_per_epoch=steps, validation_seconds=val_s,
        epoch_overhead_seconds=timing.epoch_overhead, params=params,
        flops_per_sample=flops, train_flops_per_sample=3 * flops, peak_memory_mb=peak / 2**20,
        device=str(model.device), batch_size=batch_size, n_train=len(x_train), time_budget=time_budget,
        price_per_hour=price_per_hour, train_step=timing.name, seconds_per_row=row_s,
        before_seconds=float(before_seconds or 0.0),
        after_seconds=after_seconds(row_s, after, checks) if whole else 0.0,
        whole_command=whole, epochs_nominal=n_epochs, stop_nominal=stop, patience=patience if has_val else None)
    if probe is not None:
        est = replace(est, probe_epochs=probe.epochs, probe_best_epoch=probe.best_epoch, probe_ended=probe.ended,
                      probe_seconds=probe.seconds)
    return plan(est, time_budget)


def compare(est: Estimate | None, actual_seconds: float, epochs_run: int) -> dict[str, Any] | None:
    """metrics.json's ``estimate``: the prediction next to what happened, and the relative error."""
    if est is None:
        return None
    return {**est.to_dict(), "actual_seconds": round(actual_seconds, 3), "actual_epochs": epochs_run,
            "error": round((est.seconds - actual_seconds) / actual_seconds, 4) if actual_seconds > 0 else None}


def write(est: Estimate, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"kind": "nnguru.estimate", **est.to_dict()}, indent=2) + "\n")
    return path


def parse_price(value: Any) -> float | None:
    """``--price-per-hour``: a number >= 0 (the machine's price per hour, any currency), or None."""
    if value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        price = math.nan
    if not math.isfinite(price) or price < 0 or isinstance(value, bool):
        raise NNGuruError(f"price_per_hour (--price-per-hour) must be a number >= 0; received {value!r}. Pass "
                          "the machine's price per hour, e.g. --price-per-hour 2.5.")
    return price


@clock.command
def estimate(data: Any, target: str | int | None = None, *, price_per_hour: Any = None, console=None,
             **options: Any) -> Estimate:
    """``nnguru estimate``: load and prepare ``data`` as ``nnguru train`` would, build the same
    model, and predict its training time, memory and cost, and the whole command's time
    (options as ``nnguru.train``'s)."""
    from rich.console import Console

    import nnguru
    from nnguru import pipeline
    from nnguru.config import check_names, resolve_config

    price = parse_price(price_per_hour)
    cfg = resolve_config(None, data=data if isinstance(data, (str, Path)) else None, target=target, **options)
    check_names(cfg)
    nnguru.set_seed(int(cfg["seed"]))
    console = console or Console(quiet=True)
    ds = pipeline.load(data, cfg)
    task = pipeline.choose_task(ds, cfg, console)
    p = task.prepare(ds, console)
    model = pipeline.make_model(task, p)
    epochs, patience, early, budget = pipeline.training_plan(task.cfg, len(p.x["train"]), len(p.x["val"]))
    early = pipeline.stops_early(task.cfg, model, early, budget)  # a budget decay runs to the budget
    est, _ = pipeline.estimate_run(task, model, p, epochs, patience if early else None, budget)
    if price is None:
        return est
    return replace(est, price_per_hour=price, cost=price * est.seconds / 3600)
