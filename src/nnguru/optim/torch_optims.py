"""First-order optimizers: ``torch.optim`` underneath, Keras names and defaults on top.

Defaults follow Keras (the tutorials nnguru runs are written for it), not torch, where the two
differ: Adam/AdamW/RMSprop/Adagrad ``epsilon=1e-7``, RMSprop ``rho=0.9``, Adagrad ``lr=1e-3`` with
``initial_accumulator_value=0.1``, AdamW ``weight_decay=0.004``. Where torch has a fused kernel
for the optimizer and the parameters' device it is used (one kernel launch for all tensors);
otherwise the multi-tensor ``foreach`` path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def _build(cls: type[torch.optim.Optimizer], model: torch.nn.Module, fused: bool,
           **kwargs: Any) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if fused and params and all(p.is_floating_point() for p in params):
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass  # this device/dtype has no fused kernel for cls: use foreach
    return cls(params, foreach=True, **kwargs)


def sgd(model: torch.nn.Module, lr: float = 0.01, *, momentum: float = 0.0,
        nesterov: bool = False, dampening: float = 0.0,
        weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Mini-batch SGD (Keras default lr 0.01). The baseline; with momentum 0.9 it is still what
    many vision models are trained with, given a learning-rate schedule."""
    return _build(torch.optim.SGD, model, True, lr=lr, momentum=momentum, nesterov=nesterov,
                  dampening=dampening, weight_decay=weight_decay)


def momentum(model: torch.nn.Module, lr: float = 0.01, *, momentum: float = 0.9,
             nesterov: bool = False, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD with heavy-ball momentum 0.9: faster than plain SGD along consistent directions."""
    return sgd(model, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


def adam(model: torch.nn.Module, lr: float = 0.001, *, beta_1: float = 0.9,
         beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
         weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (Keras defaults). The safe default for almost any network and data size;
    ``weight_decay`` here is an L2 term added to the gradient (torch semantics)."""
    return _build(torch.optim.Adam, model, True, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                  amsgrad=amsgrad, weight_decay=weight_decay)


def adamw(model: torch.nn.Module, lr: float = 0.001, *, weight_decay: float = 0.004,
          beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
          amsgrad: bool = False) -> torch.optim.Optimizer:
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): prefer it over adam when
    you regularise with weight decay, e.g. for larger or over-fitting models."""
    return _build(torch.optim.AdamW, model, True, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                  amsgrad=amsgrad, weight_decay=weight_decay)


def rmsprop(model: torch.nn.Module, lr: float = 0.001, *, rho: float = 0.9,
            momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
            weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """RMSprop (Keras defaults, rho=0.9): per-weight step sizes from a running mean of squared
    gradients; a classic for recurrent networks and non-stationary objectives."""
    return _build(torch.optim.RMSprop, model, False, lr=lr, alpha=rho, momentum=momentum,
                  eps=epsilon, centered=centered, weight_decay=weight_decay)


def adagrad(model: torch.nn.Module, lr: float = 0.001, *,
            initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
            lr_decay: float = 0.0, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adagrad (Keras defaults): step sizes shrink with the accumulated squared gradient, so
    rare features keep large steps; good for sparse inputs, too cautious for long training."""
    return _build(torch.optim.Adagrad, model, True, lr=lr,
                  initial_accumulator_value=initial_accumulator_value, eps=epsilon,
                  lr_decay=lr_decay, weight_decay=weight_decay)


def nadam(model: torch.nn.Module, lr: float = 0.001, *, beta_1: float = 0.9,
          beta_2: float = 0.999, epsilon: float = 1e-7,
          weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with Nesterov momentum (Keras defaults), for Keras programs that name it."""
    return _build(torch.optim.NAdam, model, False, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                  weight_decay=weight_decay)


def adamax(model: torch.nn.Module, lr: float = 0.001, *, beta_1: float = 0.9,
           beta_2: float = 0.999, epsilon: float = 1e-7,
           weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with an infinity-norm second moment (Keras defaults); sometimes steadier for
    embeddings."""
    return _build(torch.optim.Adamax, model, False, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                  weight_decay=weight_decay)


def adadelta(model: torch.nn.Module, lr: float = 1.0, *, rho: float = 0.95,
             epsilon: float = 1e-7, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adadelta at its paper's rate 1.0 (Zeiler 2012; PyTorch and Keras 2): the method scales its
    own steps, and Keras 3's 0.001 leaves it crawling (digits: below 0.90 in a 90 s budget).
    ``optimizers.Adadelta()`` keeps Keras 3's 0.001 for Keras programs."""
    return _build(torch.optim.Adadelta, model, False, lr=lr, rho=rho, eps=epsilon,
                  weight_decay=weight_decay)


FACTORIES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": sgd, "momentum": momentum, "adam": adam, "adamw": adamw, "rmsprop": rmsprop,
    "adagrad": adagrad, "nadam": nadam, "adamax": adamax, "adadelta": adadelta,
}
