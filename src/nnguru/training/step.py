"""The training step: which code runs forward, backward and the update, decided once in one place.

    step = choose_step(model, optimizer, loss, x, w, world)   # once per fit, and once per lr-find
    loss, outputs = step.run(xb, yb, wb)                       # every batch

The first that applies wins; ``step.name`` says which (e.g. ``"fast-dense+fused-adam"``):

- ``custom``: the model overrides ``train_step`` (the one escape hatch); it runs as written.
- ``whole-batch``: a ModelOptimizer (gd, L-BFGS, Hessian-free, random search) evaluates the loss
  itself, so it is handed the batch and the loss (``step_batch``).
- ``ddp``: under torchrun, the forward pass goes through DistributedDataParallel, which averages
  the gradients across ranks during backward.
- ``fast-dense``: a plain Dense stack on a CPU trains with the hand-derived backward pass of
  ``nn/fast_dense.py`` (for these tiny models autograd's bookkeeping costs as much as the maths).
- ``autograd``: everything else.

Layers' regularization penalties (``kernel_regularizer=l2(...)``) join the loss in every step but
``custom`` (:func:`with_penalties`), so the reported training loss includes them, as in Keras.

The last three end with the optimizer's update: Adam's fused kernel called directly
(``+fused-adam``, ``training/fused_step.py``) where it applies, else ``+optimizer.step``. Every
choice computes what :func:`plain_train_step` (``Model.train_step``'s default) computes, up to
float rounding for fast-dense: ``tests/nn/test_fast_dense.py`` and
``tests/training/test_fused_step.py`` check the fast paths against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from nnguru.errors import NNGuruError
from nnguru.nn import fast_dense
from nnguru.nn.layers import has_regularizers, regularization_loss
from nnguru.nn.losses import Loss
from nnguru.optim.base import LossFn
from nnguru.training.fused_step import AdamKernel

StepFn = Callable[[Tensor, Tensor, "Tensor | None"], tuple[Tensor, Tensor]]
"""``run(x, y, w) -> (loss, outputs)``: one update from one batch, both results detached."""


@dataclass(frozen=True)
class Step:
    """The step chosen for one fit: the loop calls ``run`` every batch; ``name`` says which path runs."""

    name: str
    run: StepFn


def plain_train_step(model: Any, x: Tensor, y: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor]:
    """One update from one batch; returns (loss, outputs). Override it for custom training (the one
    escape hatch): ``fit`` then calls yours instead of choosing a step.

    The default is the plain update: autograd's backward and ``optimizer.step()``, or a
    ModelOptimizer's ``step_batch``. It is the reference every step :func:`choose_step` picks equals.
    """
    opt, loss = model.optimizer, with_penalties(model, model.loss.compute)
    if not isinstance(opt, torch.optim.Optimizer):
        return opt.step_batch(model, loss, x, y, w)
    return _autograd(model, loss, opt, opt.step, model.autocast)(x, y, w)


def with_penalties(model: nn.Module, loss: LossFn) -> LossFn:
    """``loss`` plus the layers' regularization penalties (``kernel_regularizer=`` ...), computed
    after each forward pass, as Keras adds ``model.losses``; ``loss`` itself when there are none."""
    if isinstance(loss, Loss):  # a loss object's own __call__ is Keras's (y_true, y_pred)
        loss = loss.compute
    if not has_regularizers(model):
        return loss

    def penalized(outputs: Tensor, y: Tensor, w: Tensor | None) -> Tensor:
        value, penalty = loss(outputs, y, w), regularization_loss(model)
        return value if penalty is None else value + penalty.float()

    return penalized


def choose_step(model: nn.Module, optimizer: Any, loss: LossFn, x: Tensor, w: Tensor | None = None,
                world: int = 1) -> Step:
    """The step that trains ``model`` on batches of ``x`` (and weights ``w``) with ``optimizer`` and
    ``loss``, among ``world`` torchrun ranks; see the module docstring for the order.

    ``model`` is an ``nnguru.Model`` or, for the learning-rate finder, any ``torch.nn.Module``.
    Built after a resume, so the fused Adam call reads the restored optimizer state.
    """
    own = getattr(model, "train_step", None)
    if own is not None and getattr(own, "__func__", None) is not plain_train_step:
        if world > 1:
            raise NNGuruError(
                f"{type(model).__name__} overrides train_step, which runs as written, without "
                "DistributedDataParallel's gradient averaging. Train it without torchrun, or drop the override."
            )
        return Step("custom", own)
    compiled = loss is getattr(model, "loss", None) and not has_regularizers(model)  # fast-dense's own loss
    loss = with_penalties(model, loss.compute if isinstance(loss, Loss) else loss)
    if not isinstance(optimizer, torch.optim.Optimizer):
        if world > 1:
            raise NNGuruError(
                f"The {type(optimizer).__name__} optimizer works on whole batches in one process and does not "
                "average across torchrun ranks. Run it without torchrun, or choose adam/sgd/... for DDP."
            )
        return Step("whole-batch", partial(optimizer.step_batch, model, loss))
    kernel = AdamKernel(optimizer)
    update, suffix = (kernel.step, "+fused-adam") if kernel.enabled else (optimizer.step, "+optimizer.step")
    autocast = model.autocast if getattr(model, "amp", False) else contextlib.nullcontext
    if world > 1:
        # The wrapper lives in the step, outside the module tree, so state_dict keys stay unchanged.
        ddp = DistributedDataParallel(model, device_ids=[x.device.index] if x.device.type == "cuda" else None)
        return Step("ddp" + suffix, _autograd(ddp, loss, optimizer, update, autocast))
    plan = getattr(model, "fast_dense_plan", None)  # only Sequential has one
    if plan is not None and compiled and fast_dense.applicable(model, x, w):
        ops = plan()
        if ops is not None:
            return Step("fast-dense" + suffix, _dense(fast_dense.DenseStep(model, ops), update))
    return Step("autograd" + suffix, _autograd(model, loss, optimizer, update, autocast))


def _autograd(forward: Callable[[Tensor], Tensor], loss: LossFn, optimizer: torch.optim.Optimizer,
              update: Callable[[], Any], autocast: Callable[[], Any]) -> StepFn:
    """Forward (logits in float32), loss, backward, then ``update()``."""

    def run(x: Tensor, y: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor]:
        with autocast():
            out = forward(x)
        out = out.float()
        value = loss(out, y, w)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        update()
        return value.detach(), out.detach()

    return run


def _dense(dense: fast_dense.DenseStep, update: Callable[[], Any]) -> StepFn:
    """The hand-derived gradients into the parameters' persistent ``.grad`` buffers, then ``update()``."""
    dense.attach()
    model = dense.model

    def run(x: Tensor, y: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor]:  # w is None: see applicable()
        with torch.no_grad():
            value, logits = dense.loss_and_grads(x, y, model.training)
            update()
        return value, logits

    return run
