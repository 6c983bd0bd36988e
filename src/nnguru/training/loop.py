"""The training loop: one file, read it top to bottom.

    train_step = choose_step(...)                          # once: which code trains a batch
    for each epoch:
        callbacks.on_epoch_begin
        for each batch (a slice of this epoch's permutation, this rank's shard):
            loss, outputs = train_step.run(x, y, w)        # model.train_step if overridden
            tally.add(loss, outputs, y)                    # queued; folded every 50 steps (one sync)
        guard: a non-finite loss restores the last good weights and stops, saying why
        evaluate on validation (large batches, inference mode)
        callbacks.on_epoch_end(logs)                       # History, EarlyStopping, ...

Data already lives on the training device as tensors, so a batch is an index gather: no
DataLoader, no collation, no worker processes. Data larger than memory comes instead as a batch
stream (``nnguru.data.stream.StreamBatches``: ``steps``, ``rows``, ``batch_size``, ``example``
and ``epoch(e)`` yielding ``(x, y, w)`` device tensors, this rank's shard already).
Under ``torchrun`` every rank takes an equal shard of one shared permutation; logs are
all-reduced, stops (a non-finite loss, a callback's ``stop_training``) are agreed by all ranks,
and only rank 0 prints or writes files.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nnguru.optim.base import NonFiniteError
from nnguru.training.callbacks import CallbackList, History
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


def _slices(data: TensorData, batch_size: int):
    for start in range(0, len(data), batch_size):
        end = start + batch_size
        yield data.x[start:end], data.y[start:end], None if data.w is None else data.w[start:end]


@torch.inference_mode()
def evaluate(model, data, batch_size: int = EVAL_BATCH, prefix: str = "") -> dict[str, float]:
    """Loss and compiled metrics over ``data`` (TensorData or a batch stream; eval mode)."""
    was_training = model.training
    model.eval()
    for m in model.compiled_metrics:
        m.reset()
    tensors = isinstance(data, TensorData)
    device = data.x.device if tensors else data.example.device
    loss_sum, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    for xb, yb, wb in (_slices(data, batch_size) if tensors else data.epoch(0)):
        with model.autocast():
            out = model(xb)
        out = out.float()
        loss_sum += model.loss(out, yb, wb).double() * len(xb)
        seen += len(xb)
        for m in model.compiled_metrics:
            m.update(out, yb)
    model.train(was_training)
    logs = {prefix + "loss": float(loss_sum) / max(seen, 1)}
    logs.update(_metric_logs(model.compiled_metrics, prefix))
    return logs


def _epoch_batches(train: TensorData, seed: int | None, rank: int, n: int, batch_size: int, steps: int):
    """This rank's batches of one epoch: slices of a permutation shared by all ranks (seeded)."""
    if seed is not None:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        order = torch.randperm(len(train), generator=gen).to(train.x.device)
    else:
        order = torch.arange(len(train), device=train.x.device)
    order = order[rank * n:(rank + 1) * n]
    for step in range(steps):
        yield train.batch(order[step * batch_size:(step + 1) * batch_size])


def fit(model, train, val, *, epochs: int, batch_size: int,
        shuffle: bool = True, callbacks: list | None = None, verbose: int = 1,
        initial_epoch: int = 0, seed: int | None = None) -> History:
    """Train ``model`` (an ``nnguru.Model``, compiled) on TensorData or a batch stream."""
    rank, world = rank_and_world()
    tensors = isinstance(train, TensorData)
    if tensors:
        n = len(train) // world  # every rank runs the same number of steps
        batch_size = n if getattr(model.optimizer, "full_batch", False) else min(batch_size, n)
        steps = math.ceil(n / batch_size)
        x_example, w_example = train.x, train.w
    else:  # a stream sets its own batches; the same number of steps on every rank
        n, batch_size, steps = train.rows, train.batch_size, train.steps
        x_example, w_example = train.example, train.example[:, 0] if train.weights is not None else None
    train_step = choose_step(model, model.optimizer, model.loss, x_example, w_example, world)
    history = History()
    params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "samples": n * world,
              "train_step": train_step.name}
    cbs = CallbackList([history, *(callbacks or [])], model, params, is_main=rank == 0)
    display = ProgressDisplay(verbose if rank == 0 else 0, epochs, steps)
    # One seed for all ranks (they must agree on the permutation), drawn from the global RNG so
    # that nnguru.set_seed / torch.manual_seed make runs reproducible.
    base_seed = int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed
    model.shuffle_seed = base_seed  # checkpoints store it, so a resumed run shuffles identically
    device = x_example.device
    threads = step_threads(model, x_example, batch_size)
    model.stop_training = False
    good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    logs: dict[str, float] = {}

    with intra_op_threads(threads), flush_denormals(threads if device.type == "cpu" else 0):
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            display.epoch_begin(epoch)
            t0 = time.perf_counter()
            model.train()
            tally = Tally(model.compiled_metrics, device)
            if tensors:
                batches = _epoch_batches(train, base_seed + epoch if shuffle else None, rank, n, batch_size, steps)
            else:
                batches = train.epoch(epoch)
            finite, reason = True, None

            for step, (xb, yb, wb) in enumerate(batches):
                if cbs.batch_begin:
                    cbs.on_train_batch_begin(step)
                try:
                    loss, out = train_step.run(xb, yb, wb)
                except NonFiniteError as err:  # Hessian-free, L-BFGS, ...: stopped before any change
                    finite, reason = False, str(err)
                    break
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

            tally.fold()
            _all_reduce_sum(tally.loss_sum)
            logs = {"loss": float(tally.loss_sum) / max(tally.seen * world, 1)}
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
                if val is not None and len(val):
                    logs.update(evaluate(model, val, prefix="val_"))
            logs["lr"] = float(model.optimizer.param_groups[0]["lr"])
            logs["seconds"] = time.perf_counter() - t0
            display.epoch_end(epoch, logs)
            cbs.on_epoch_end(epoch, logs)
            model.stop_training = _any_rank(model.stop_training, device=device)[0]  # rank 0's callbacks may stop
            if model.stop_training:
                break
    cbs.on_train_end(logs)
    return history
