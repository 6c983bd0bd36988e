"""The contract between the training loop and optimizers that need more than a gradient.

A :class:`ModelOptimizer` owns a whole update: it evaluates the loss itself (several times for a
line search, a population for random search, curvature products for Hessian-free), so the loop
hands it the batch and the compiled loss instead of calling ``backward`` and ``step``.

Non-finite values: a ModelOptimizer never returns a non-finite loss. When the loss at the current
weights, the gradient or the curvature is non-finite it raises :class:`NonFiniteError` *before*
touching the weights; the loop catches it, stops the epoch, restores the last good weights and
reports ``error.code`` (``"lr_too_high"`` or ``"damping"``) as the diagnosis.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from nnguru.errors import NNGuruError

LossFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]
"""``loss_fn(outputs, y, w) -> scalar``: the compiled loss on logits, mean over the batch."""

Batch = Any
"""A tensor, or a tuple/list/dict of tensors that share the batch dimension 0."""


class NonFiniteError(NNGuruError):
    """The loss, gradient or curvature became NaN/inf; the weights were left as they were.

    ``code`` is the diagnosis for the guru: ``"lr_too_high"`` (the step size drove the loss to
    inf/NaN) or ``"damping"`` (Hessian-free could not find a finite step even with very large
    damping: the curvature itself is non-finite, typically from exploding activations).
    """

    def __init__(self, message: str, *, code: str = "lr_too_high") -> None:
        super().__init__(message)
        self.code = code


class ModelOptimizer(abc.ABC):
    """Base class for optimizers that run the whole update themselves (see module docstring).

    Subclasses set ``name``, ``full_batch`` and ``preferred_batch_size`` and implement
    :meth:`step_batch`, :meth:`_state` and :meth:`_load_state`. ``param_groups`` mirrors torch's:
    one group with the parameters and the hyper-parameters, and LR callbacks may edit
    ``group["lr"]`` between steps exactly as with a ``torch.optim.Optimizer``.
    """

    name: str = "model-optimizer"
    full_batch: bool = False
    """True: the loop passes the whole training split as one batch each step."""
    preferred_batch_size: int | None = None
    """Batch size the loop uses when the user did not choose one (None: the loop's default)."""
    default_steps: int | None = None
    """Whole-batch methods: the step budget ``nnguru train`` uses when no --epochs is given (one
    epoch is one step there, so the epoch count chosen from the data size would be too few)."""
    command_seconds: float | None = None
    """The whole-command deadline of ``time_budget: auto`` with this optimizer (None:
    ``nnguru.clock.AUTO_COMMAND_SECONDS``): a method that needs many more evaluations per unit of
    progress than a gradient step (random search) gets a longer default run, as whole-batch methods
    get a step budget."""

    def __init__(self, model: torch.nn.Module, lr: float, **hyper: Any) -> None:
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise NNGuruError(
                f"optimizer {self.name!r}: the model has no trainable parameters; "
                "build the model (call it once on a batch) or unfreeze some layers first."
            )
        check_lr(lr, self.name)
        self.param_groups: list[dict[str, Any]] = [{"params": params, "lr": float(lr), **hyper}]
        self.steps = 0

    @property
    def lr(self) -> float:
        return float(self.param_groups[0]["lr"])

    @abc.abstractmethod
    def step_batch(
        self, model: torch.nn.Module, loss_fn: LossFn, x: Batch, y: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """One update from one batch; returns (loss before the update, outputs before it),
        both detached. ``loss_fn(outputs, y, w)`` is the compiled mean loss on logits; the
        model is called in its current train/eval mode."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear ``.grad`` like torch optimizers do, so generic loop code may call it."""
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """Tensors and JSON-able scalars only, enough to resume the run exactly."""
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        return {"name": self.name, "steps": self.steps, "param_groups": groups,
                "state": self._state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise NNGuruError(
                f"checkpoint holds the state of optimizer {state.get('name')!r}, but this run "
                f"uses {self.name!r}; resume with the same optimizer or start a new run."
            )
        for group, saved in zip(self.param_groups, state["param_groups"], strict=True):
            group.update(saved)
        self.steps = int(state["steps"])
        self._load_state(state["state"])

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        del state

    def __repr__(self) -> str:
        hyper = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in hyper.items())})"


# ---------------------------------------------------------------------------------------------
# Helpers shared by the ModelOptimizers: flat parameter vectors and functional model calls.


def trainable(model: torch.nn.Module) -> dict[str, Tensor]:
    """Named trainable parameters in registration order (the order of every flat vector)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def flatten(tensors: Iterator[Tensor] | list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vec: Tensor, like: dict[str, Tensor]) -> dict[str, Tensor]:
    """Views of ``vec`` shaped like the tensors of ``like`` (no copy)."""
    out, i = {}, 0
    for name, t in like.items():
        n = t.numel()
        out[name] = vec[i : i + n].view_as(t)
        i += n
    return out


@torch.no_grad()
def assign(params: dict[str, Tensor], vec: Tensor) -> None:
    """Copy a flat vector into the parameters in place (optimizer state stays attached)."""
    for p, v in zip(params.values(), unflatten(vec, params).values(), strict=True):
        p.copy_(v)


def call(model: torch.nn.Module, params: dict[str, Tensor], x: Batch, seed: int | None = None) -> Tensor:
    """``model(x)`` with ``params`` substituted and the buffers copied, so that BatchNorm's
    running statistics are not updated by the extra evaluations a line search, a population or
    a curvature product makes. The model runs in its current train/eval mode.

    ``seed``: torch's RNG is seeded to it for this one call (see :func:`same_randomness`), so
    every evaluation of a step given the step's seed draws the same Dropout masks.
    """
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    args = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    rng = contextlib.nullcontext() if seed is None else same_randomness(seed, next(iter(params.values())).device)
    with rng:
        return functional_call(model, {**params, **buffers}, args)


def take(batch: Batch, idx: Tensor) -> Batch:
    """Rows ``idx`` of a tensor or of each tensor in a tuple/list/dict (None stays None)."""
    if batch is None:
        return None
    if isinstance(batch, Tensor):
        return batch[idx]
    if isinstance(batch, dict):
        return {k: take(v, idx) for k, v in batch.items()}
    return type(batch)(take(v, idx) for v in batch)


def batch_len(batch: Batch) -> int:
    if isinstance(batch, Tensor):
        return int(batch.shape[0])
    if isinstance(batch, dict):
        return batch_len(next(iter(batch.values())))
    return batch_len(batch[0])


def generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """A generator that depends only on (seed, step): random choices replay exactly on resume."""
    gen = torch.Generator(device=device)
    gen.manual_seed((seed * 1_000_003 + step) % (2**63 - 1))
    return gen


@contextlib.contextmanager
def same_randomness(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's RNG seeded to ``seed``, restoring the global RNG afterwards.

    Every evaluation of one step (gradient pass, line-search trials, curvature products,
    population members) runs under the same seed, so Dropout draws the same masks in all of
    them and the step compares like with like.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def loss_and_gradient(model: torch.nn.Module, loss_fn: LossFn, params: dict[str, Tensor], x: Batch,
                      y: Tensor, w: Tensor | None, seed: int, name: str) -> tuple[Tensor, Tensor, Tensor]:
    """One ordinary (seeded) forward and backward: ``(loss, outputs, flat gradient)``.

    Raises :class:`NonFiniteError` before any update when the loss or the gradient is not
    finite; a parameter the loss does not use gets a zero gradient.
    """
    device = next(iter(params.values())).device
    with torch.enable_grad(), same_randomness(seed, device):
        outputs = model(*x) if isinstance(x, (tuple, list)) else model(x)
        loss = loss_fn(outputs, y, w)
        check_finite_loss(loss, name)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    g = flatten([torch.zeros_like(p) if gp is None else gp for p, gp in zip(params.values(), grads, strict=True)])
    if not is_finite(g):
        raise NonFiniteError(
            f"optimizer {name!r}: the gradient is not finite at the current weights; the loss surface "
            "is too steep here (exploding activations). Lower the learning rate or normalise the inputs.",
            code="lr_too_high")
    return loss.detach(), outputs.detach(), g


def new_seed(gen: torch.Generator | None = None) -> int:
    """A seed drawn from ``gen``, else from torch's global RNG (so ``torch.manual_seed`` /
    ``--seed`` fixes it, as it fixes an ordinary Dropout forward)."""
    device = gen.device if gen is not None else None
    return int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=device))


def is_finite(t: Tensor | float) -> bool:
    if isinstance(t, Tensor):
        return bool(torch.isfinite(t).all())
    return math.isfinite(t)


def check_finite_loss(loss: Tensor, name: str) -> None:
    if not is_finite(loss):
        raise NonFiniteError(
            f"optimizer {name!r}: the training loss is {float(loss.detach())} at the current weights; "
            "the previous updates were too large. Lower the learning rate (or use a line "
            "search / an adaptive optimizer such as adam).",
            code="lr_too_high",
        )


def check_lr(value: Any, name: str) -> None:
    """A learning rate: positive, or 0.0, which Keras takes when a LearningRateScheduler sets the
    rate each epoch (``SGD(learning_rate=0.0, momentum=0.9)`` in the drop-based schedule tutorial)."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0):
        check_positive("lr", value, name)


def check_positive(option: str, value: Any, name: str, *, integer: bool = False) -> None:
    """Reject non-positive or non-finite numeric options with a message naming the fix."""
    kind = int if integer else (int, float)
    ok = (isinstance(value, kind) and not isinstance(value, bool)
          and math.isfinite(value) and value > 0)
    if not ok:
        what = "a positive integer" if integer else "a positive finite number"
        raise NNGuruError(f"optimizer {name!r}: option {option!r} must be {what}; "
                          f"received {value!r} (of type {type(value).__name__}).")


def check_choice(option: str, value: Any, choices: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value.lower().replace("_", "-") not in choices:
        raise NNGuruError(f"optimizer {name!r}: option {option!r} must be one of "
                          f"{', '.join(choices)}; received {value!r}.")
    return value.lower().replace("_", "-")
