"""Keras's gradient clipping (``clipnorm``, ``global_clipnorm``, ``clipvalue``) for any mini-batch optimizer.

    opt = optim.get("adam", model, clipnorm=1.0)      # or compile(optimizer=Adam(clipnorm=1.0))

Keras's meanings: ``clipnorm`` clips the gradient of *each* weight to that norm, ``global_clipnorm``
clips all gradients together (``torch.nn.utils.clip_grad_norm_``), ``clipvalue`` clips each entry to
``[-v, v]``. Only one may be set, as in Keras. The clipping is a step pre-hook on the torch
optimizer, so every training step that ends in ``optimizer.step()`` clips: autograd, fast-dense,
DDP (after the gradients are averaged). Adam's direct fused call (``training/fused_step.py``)
steps aside for an optimizer with hooks. Whole-batch optimizers (gd, L-BFGS, Hessian-free, random
search) run their own update and are refused: their line searches and trust regions already bound
the step.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from nnguru.errors import NNGuruError, describe

CLIP_OPTIONS = ("clipnorm", "global_clipnorm", "clipvalue")


def pop_clipping(options: dict[str, Any], where: str) -> dict[str, float]:
    """Remove the clipping options from ``options``; return the one that is set (checked), if any."""
    given = {k: options.pop(k) for k in CLIP_OPTIONS if k in options}
    given = {k: v for k, v in given.items() if v is not None}
    if len(given) > 1:
        raise NNGuruError(f"{where}: only one of clipnorm, global_clipnorm and clipvalue can be set (as in "
                          f"Keras); received {', '.join(f'{k}={v!r}' for k, v in given.items())}. Keep one.")
    for key, value in given.items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        if not ok:
            raise NNGuruError(f"{where}: {key} must be a positive number; received {describe(value)}. "
                              f"Use e.g. {key}=1.0.")
        given[key] = float(value)
    return given


def attach(optimizer: Any, clip: dict[str, float], name: str) -> Any:
    """Make ``optimizer`` clip its gradients before every step; returns it."""
    if not clip:
        return optimizer
    if not isinstance(optimizer, torch.optim.Optimizer):
        (key, value), = clip.items()
        raise NNGuruError(f"optimizer {name!r} runs whole-batch updates of its own; gradient clipping "
                          f"({key}={value:g}) applies to mini-batch optimizers (adam, sgd, rmsprop, ...). "
                          "Drop the clipping option, or choose a mini-batch optimizer.")
    (key, value), = clip.items()
    clip_fn = {"clipnorm": _per_weight, "global_clipnorm": _global, "clipvalue": _by_value}[key]

    def clip_before_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
        if grads:
            with torch.no_grad():
                clip_fn(grads, value)

    optimizer.register_step_pre_hook(clip_before_step)
    optimizer.nnguru_clipping = dict(clip)  # what was attached, for describing the run
    return optimizer


def _per_weight(grads: list[torch.Tensor], limit: float) -> None:
    """Keras's clipnorm: ``g * limit / max(||g||, limit)`` for each weight's gradient."""
    norms = torch._foreach_norm(grads)
    torch._foreach_mul_(grads, [limit / n.clamp_min(limit) for n in norms])


def _global(grads: list[torch.Tensor], limit: float) -> None:
    """Keras's global_clipnorm: every gradient times ``limit / max(||all gradients||, limit)``."""
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, limit / total.clamp_min(limit))


def _by_value(grads: list[torch.Tensor], limit: float) -> None:
    torch._foreach_clamp_min_(grads, -limit)
    torch._foreach_clamp_max_(grads, limit)
