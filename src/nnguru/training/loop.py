"""The training loop: one file, read it top to bottom.

    train_step = choose_step(...)                          # once: which code trains a batch
    for each epoch:                                        # inside model.loss_outputs(): see below
        callbacks.on_epoch_begin
        for each batch (a slice of this epoch's permutation; under torchrun, this rank's part of it):
            loss, outputs = train_step.run(x, y, w)        # model.train_step if overridden
            tally.add(loss, outputs, y)                    # queued; folded every 50 steps (one sync)
        guard: a non-finite loss restores the last good weights and stops, saying why
        evaluate on validation (large batches, inference mode)
        callbacks.on_epoch_end(logs)                       # History, EarlyStopping, ...
        backup (BackupAndRestore): the whole state, also every N steps; a new fit resumes from it

Data already lives on the training device as tensors, so a batch is an index gather: no
DataLoader, no collation, no worker processes. A batch stream (``training/batches.py``: Keras's
generators and datasets; ``data/stream.py``: tables larger than memory, read in chunks, each
torchrun rank its own) is the other kind of data: it hands over ready batches instead.
Under ``torchrun`` ``batch_size`` is the global batch: every step takes the same slice of one
shared permutation as a single process would, each rank trains on its part of it (weighted so
that DDP's gradient average is the mean over the whole batch), so N processes train the model one
process would. Logs are all-reduced, stops (a non-finite loss, a callback's ``stop_training``)
are agreed by all ranks, and only rank 0 prints or writes files.

While the loop computes losses it runs inside ``model.loss_outputs()``: a final softmax/sigmoid
that compile fused into the loss is skipped, so the loss and metrics read logits. Callbacks run
outside it (``CallbackList``), so ``model.predict`` there returns what the last layer computes.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nnguru.errors import NNGuruError
from nnguru.optim.base import NonFiniteError
from nnguru.training.batches import BatchStream
from nnguru.training.callbacks import CallbackList, History
from nnguru.training.checkpoint import restore_snapshot, training_snapshot
from nnguru.training.denormals import flush_denormals
from nnguru.training.progress import ProgressDisplay
from nnguru.training.step import choose_step

FOLD_EVERY = 50  # steps between folds of the running loss and metrics (and finiteness checks, one host sync)
EVAL_BATCH = 4096  # evaluation needs no gradients, so big batches are fast and cheap
# Below this many FLOPs per training step (~0.5 ms of one core), a step runs on one CPU thread.
# Its ~20 kernels are too small to split well, and each split kernel waits for its slowest
# thread: the tutorial MLP at batch 32 (2e7 FLOPs) was ~10% faster on two threads of a quiet
# 2-core machine but up to 2x slower whenever a neighbour loaded a core, while one thread stayed
# steady (benchmarks/RESULTS.md). Decided from the model's FLOPs, never from timings, so seeded
# runs stay reproducible.
SMALL_STEP_FLOPS = 5e7


@dataclass
class TensorData:
    """Inputs, targets and optional per-sample weights, already on the training device."""

    x: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        # index_select: faster than t[idx] for a 1-D index
        return (self.x.index_select(0, idx), self.y.index_select(0, idx),
                None if self.w is None else self.w.index_select(0, idx))


class Tally:
    """An epoch's running loss and metrics, folded in every ``FOLD_EVERY`` steps.

    A step only queues its loss, outputs and targets; a fold adds them with one ``stack``/``cat``
    and one update per metric. Doing it per step costs ~30 µs of small ops, as much as the whole
    backward pass of the tutorials' MLP. Metric states are sums over samples, so folding changes
    no result.
    """

    def __init__(self, metrics: list, device: torch.device) -> None:
        self.metrics, self.device = metrics, device
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.seen = 0
        self.losses: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.outputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        for m in metrics:
            m.reset()

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(targets)
        self.losses.append(loss)
        self.sizes.append(n)
        self.seen += n
        if self.metrics:
            self.outputs.append(outputs)
            self.targets.append(targets)

    def fold(self) -> None:
        if not self.losses:
            return
        sizes = torch.tensor(self.sizes, dtype=torch.float64, device=self.device)
        self.loss_sum.add_(torch.stack(self.losses).double() @ sizes)
        if self.metrics:
            outputs, targets = torch.cat(self.outputs), torch.cat(self.targets)
            for m in self.metrics:
                m.update(outputs, targets)
        self.losses, self.sizes, self.outputs, self.targets = [], [], [], []

    def finite(self) -> bool:
        self.fold()
        return bool(torch.isfinite(self.loss_sum))

    def mean_loss(self) -> float:
        self.fold()
        return float(self.loss_sum) / max(self.seen, 1)

    def state_dict(self) -> dict:
        """The folded sums, for a checkpoint taken inside an epoch."""
        self.fold()
        return {"loss_sum": self.loss_sum, "seen": self.seen,
                "metrics": [[m.state, m.count] for m in self.metrics]}

    def load_state_dict(self, state: dict) -> None:
        self.loss_sum = state["loss_sum"].to(self.device)
        self.seen = int(state["seen"])
        for m, (value, count) in zip(self.metrics, state["metrics"], strict=True):
            m.state, m.count = None if value is None else value.to(self.device), int(count)


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if rank_and_world()[1] > 1:
        dist.all_reduce(t)
    return t


def _any_rank(*flags: bool, device: torch.device) -> list[bool]:
    """Each flag OR-ed over torchrun ranks: a rank that leaves the step loop alone would leave the
    others waiting in their next gradient all-reduce."""
    if rank_and_world()[1] == 1:
        return list(flags)
    return [v > 0 for v in _all_reduce_sum(torch.tensor(flags, dtype=torch.float32, device=device)).tolist()]


def rank_part(order: torch.Tensor, start: int, stop: int, rank: int, world: int) -> tuple[torch.Tensor, float]:
    """This rank's part of the global batch ``order[start:stop]`` and the weight of its loss.

    DDP averages the ranks' gradients with equal weights, and each rank's loss is a mean over its
    part; weighting it by ``part * world / batch`` makes that average the mean over the whole
    batch when the parts differ in size (the last batch of an epoch). A rank left without a
    sample repeats one at weight 0: it must still join the gradient all-reduce.
    """
    if world == 1:
        return order[start:stop], 1.0
    size = stop - start
    lo, hi = start + rank * size // world, start + (rank + 1) * size // world
    if hi == lo:
        return order[start:start + 1], 0.0
    return order[lo:hi], (hi - lo) * world / size


@contextlib.contextmanager
def rank_rng(seed: int, rank: int, world: int, device: torch.device):
    """Each rank draws its own dropout masks: the same seed on every rank would give each rank's
    k-th sample the same mask. The global RNG is put back afterwards, equal on all ranks again."""
    if world == 1:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed + 1 + rank)
        yield


def step_threads(model, x: torch.Tensor, batch_size: int) -> int:
    """Intra-op threads for the training steps: 1 for tiny steps on a CPU, else torch's setting."""
    threads = torch.get_num_threads()
    if x.device.type != "cpu" or threads == 1:
        return threads
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:1])
    model.train(was_training)
    step_flops = 3 * counter.get_total_flops() * batch_size  # forward + backward ~ 3 forwards
    return 1 if 0 < step_flops < SMALL_STEP_FLOPS else threads


@contextlib.contextmanager
def intra_op_threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _metric_logs(metrics, prefix: str = "") -> dict[str, float]:
    logs = {}
    for m in metrics:
        if m.state is not None and rank_and_world()[1] > 1:
            _all_reduce_sum(m.state)
            m.count = int(_all_reduce_sum(torch.tensor(m.count, device=m.state.device)))
        logs[prefix + m.name] = m.result()
    return logs


def _loss_outputs(model):
    """``model.loss_outputs()``: while the loop computes the loss, a softmax/sigmoid that compile
    fused into the loss is skipped (plain torch modules have nothing to skip)."""
    enter = getattr(model, "loss_outputs", None)
    return enter() if enter is not None else contextlib.nullcontext()


def _eval_batches(data, batch_size: int, steps: int | None = None):
    if isinstance(data, TensorData):
        n = len(data) if steps is None else min(len(data), steps * batch_size)
        for start in range(0, n, batch_size):
            yield (data.x[start:start + batch_size], data.y[start:start + batch_size],
                   None if data.w is None else data.w[start:start + batch_size])
    else:
        yield from data.epoch(0)


@torch.inference_mode()
def evaluate(model, data: TensorData | BatchStream, batch_size: int = EVAL_BATCH, prefix: str = "",
             steps: int | None = None) -> dict[str, float]:
    """Loss and compiled metrics over ``data`` (in eval mode, large batches; ``steps`` batches at most)."""
    was_training = model.training
    model.eval()
    for m in model.compiled_metrics:
        m.reset()
    loss_sum = torch.zeros((), dtype=torch.float64, device=model.device)
    seen = 0
    with _loss_outputs(model):
        for xb, yb, wb in _eval_batches(data, batch_size, steps):
            with model.autocast():
                out = model(xb)
            out = out.float()
            loss_sum += model.loss.compute(out, yb, wb).double() * len(xb)
            seen += len(xb)
            for m in model.compiled_metrics:
                m.update(out, yb)
    model.train(was_training)
    logs = {prefix + "loss": float(loss_sum) / max(seen, 1)}
    logs.update(_metric_logs(model.compiled_metrics, prefix))
    return logs


def _epoch_batches(train, epoch: int, order_for, batch_size: int, steps: int | None, first: int = 0):
    """This epoch's ``(step, (x, y, w), weight)`` from step ``first`` on (a resumed epoch skips the
    steps done): index gathers from a permutation (under torchrun, this rank's part of each global
    batch, whose loss weight is ``weight``: see :func:`rank_part`), or a stream's batches."""
    if isinstance(train, TensorData):
        order, n = order_for(), len(train)
        rank, world = rank_and_world()
        for step in range(first, steps):
            idx, weight = rank_part(order, step * batch_size, min((step + 1) * batch_size, n), rank, world)
            xb, yb, wb = train.batch(idx)
            if weight != 1.0:
                wb = (torch.ones(len(yb), device=xb.device) if wb is None else wb) * weight
            yield step, (xb, yb, wb), weight
    else:
        for step, batch in enumerate(train.epoch(epoch)):
            if steps is not None and step >= steps:
                return
            if step >= first:
                yield step, batch, 1.0


def fit(model, train: TensorData | BatchStream, val: TensorData | BatchStream | None, *, epochs: int,
        batch_size: int, shuffle: bool = True, callbacks: list | None = None, verbose: int = 1,
        initial_epoch: int = 0, seed: int | None = None, steps_per_epoch: int | None = None,
        validation_steps: int | None = None) -> History:
    """Train ``model`` (an ``nnguru.Model``, compiled) and return its ``History``.

    ``steps_per_epoch`` caps the batches of an epoch; a stream without it runs until exhausted.
    """
    rank, world = rank_and_world()
    if isinstance(train, TensorData):
        n = len(train)  # batch_size is the global batch: ranks split each batch, not the data set
        batch_size = n if getattr(model.optimizer, "full_batch", False) else min(batch_size, n)
        steps: int | None = math.ceil(n / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, steps_per_epoch)
        x0, w0 = train.x, train.w
    else:
        if world > 1 and not getattr(train, "sharded", False):  # a streamed table reads this rank's chunks
            raise NNGuruError("Training on a generator or iterator is not supported under torchrun (each rank "
                              "would need its own shard); pass arrays, or run it in one process.")
        n, steps = None, train.steps
        x0, _, w0 = train.first()
        batch_size = len(x0)
    train_step = choose_step(model, model.optimizer, model.loss, x0, w0, world)
    history = History()
    params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "samples": n,
              "train_step": train_step.name}
    # History last, as in Keras: it records what the other callbacks added (``learning_rate``).
    cbs = CallbackList([*(callbacks or []), history], model, params, is_main=rank == 0)
    for cb in cbs:  # a callback may wrap the step: the network monitor (training/monitor.py) samples it
        if hasattr(cb, "wrap_step"):
            train_step = cb.wrap_step(train_step)
    display = ProgressDisplay(verbose if rank == 0 else 0, epochs, steps or 0)
    display.watch(cbs)  # a time budget and early stopping bound the whole run's ETA
    # One seed for all ranks (they must agree on the permutation), drawn from the global RNG so
    # that nnguru.set_seed / torch.manual_seed make runs reproducible.
    base_seed = int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed
    model.shuffle_seed = base_seed  # checkpoints store it, so a resumed run shuffles identically
    device = x0.device
    threads = step_threads(model, x0, batch_size)
    model.stop_training = False
    good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    logs: dict[str, float] = {}
    backups = [cb for cb in cbs if getattr(cb, "is_backup", False)]  # BackupAndRestore
    for b in backups:
        b.is_main = rank == 0
    resumed = None

    def backup(epoch: int, step: int, tally_state: dict | None = None, finished: bool = False) -> None:
        state = training_snapshot(model, cbs, epoch=epoch, step=step, base_seed=base_seed, tally=tally_state,
                                  good_state=good_state, finished=finished, logs=logs)
        for b in backups:
            b.save(state)

    with intra_op_threads(threads), flush_denormals(threads if device.type == "cpu" else 0), \
            _loss_outputs(model), rank_rng(base_seed, rank, world, device):
        cbs.on_train_begin()
        for b in backups:  # an interrupted fit's backup: continue exactly where it stopped
            resumed = resumed or b.load()
        if resumed is not None:
            restore_snapshot(resumed, model, cbs)
            base_seed, good_state, logs = int(resumed["base_seed"]), resumed["good_state"], resumed["logs"]
            model.shuffle_seed = base_seed
            initial_epoch = epochs if resumed["finished"] else int(resumed["epoch"])
        for epoch in range(initial_epoch, epochs):
            mid_epoch = resumed is not None and epoch == initial_epoch and int(resumed["step"]) > 0
            if not mid_epoch:  # a resumed epoch has begun already (a scheduler must not step twice)
                cbs.on_epoch_begin(epoch)
            display.epoch_begin(epoch)
            t0 = time.perf_counter()
            model.train()
            tally = Tally(model.compiled_metrics, device)
            if mid_epoch:
                tally.load_state_dict(resumed["tally"])

            def order_for(epoch=epoch):
                if shuffle:
                    gen = torch.Generator(device="cpu").manual_seed(base_seed + epoch)
                    return torch.randperm(len(train), generator=gen).to(device)
                return torch.arange(len(train), device=device)

            first = int(resumed["step"]) if mid_epoch else 0
            finite, reason, step = True, None, first - 1
            for step, (xb, yb, wb), weight in _epoch_batches(train, epoch, order_for, batch_size, steps, first):
                if cbs.batch_begin:
                    cbs.on_train_batch_begin(step)
                try:
                    loss, out = train_step.run(xb, yb, wb)
                except NonFiniteError as err:  # Hessian-free, L-BFGS, ...: stopped before any change
                    finite, reason = False, str(err)
                    break
                if weight not in (0.0, 1.0):
                    loss = loss / weight  # this part's mean again, for the logs
                if weight > 0.0:  # 0: a stand-in sample that only kept this rank in the all-reduce
                    tally.add(loss, out, yb)
                if cbs.batch_end:
                    cbs.on_train_batch_end(step, {"loss": float(loss), "size": len(yb)})
                if display.bar is not None:
                    display.step(step, lambda t=tally: {"loss": t.mean_loss()})
                # Every FOLD_EVERY steps and at the epoch's last step, all ranks decide together
                # (one process: also as soon as a callback asks to stop).
                if (step + 1) % FOLD_EVERY == 0 or step + 1 == steps or (world == 1 and model.stop_training):
                    diverged, model.stop_training = _any_rank(not tally.finite(), model.stop_training,
                                                              device=device)
                    if diverged:
                        finite = False
                        break
                    if model.stop_training:
                        break
                if (steps is None or step + 1 < steps) and any(b.due(epoch, step, steps or 0) for b in backups):
                    backup(epoch, step + 1, tally.state_dict())
            if step < first and finite:  # a stream gave no batch: Keras's "your input ran out of data"
                model.stop_reason = (f"the training data ran out in epoch {epoch + 1}: the generator yielded no "
                                     "batches. Pass steps_per_epoch (batches per epoch) or a source that "
                                     "can be iterated again each epoch.")
                warnings.warn(f"Training stopped: {model.stop_reason}", stacklevel=3)
                if display.bar is not None:
                    display.bar.stop()
                    display.bar = None
                break
            display.steps = steps or step + 1

            tally.fold()
            loss_sum, seen = _all_reduce_sum(torch.stack([
                tally.loss_sum, torch.tensor(float(tally.seen), dtype=torch.float64, device=device)])).tolist()
            logs = {"loss": loss_sum / max(seen, 1)}
            if not finite or not math.isfinite(logs["loss"]):
                # Diverged: put back the weights of the last finite epoch and say why.
                model.load_state_dict(good_state)
                model.stop_training = True
                model.stop_reason = (
                    f"the training loss became non-finite in epoch {epoch + 1}; weights were restored "
                    "to those of the last finite epoch. " + (reason or "The learning rate is probably too high.")
                )
                logs["loss"] = float("nan")
            else:
                logs.update(_metric_logs(model.compiled_metrics))
                good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if val is not None and (not isinstance(val, TensorData) or len(val)):
                    eval_batch = EVAL_BATCH if validation_steps is None else batch_size
                    logs.update(evaluate(model, val, eval_batch, prefix="val_", steps=validation_steps))
            logs["lr"] = float(model.optimizer.param_groups[0]["lr"])
            logs["seconds"] = time.perf_counter() - t0
            display.epoch_end(epoch, logs)
            cbs.on_epoch_end(epoch, logs)
            model.stop_training = _any_rank(model.stop_training, device=device)[0]  # rank 0's callbacks may stop
            if backups:
                backup(epoch + 1, 0, finished=model.stop_training or epoch + 1 == epochs)
            if model.stop_training:
                break
    cbs.on_train_end(logs)
    model.eval()  # as Keras: model(x) after fit is inference (no dropout, BatchNorm's moving statistics)
    return history
