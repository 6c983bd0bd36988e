"""Full-batch gradient descent: ``w <- w - lr * g`` with ``g`` the gradient of the mean loss over
the whole training split, optionally with a backtracking (Armijo) line search.

This is the textbook method the guides start from. It is deterministic (no sampling noise), so
it shows the pure effect of the learning rate; with ``line_search=True`` it needs no learning
rate tuning at all (``lr`` is then the largest step tried).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnguru.errors import NNGuruError
from nnguru.optim.base import (
    Batch,
    LossFn,
    ModelOptimizer,
    assign,
    call,
    check_positive,
    flatten,
    is_finite,
    loss_and_gradient,
    new_seed,
    trainable,
    unflatten,
)


class GradientDescent(ModelOptimizer):
    """Full-batch gradient descent. Choose it to study the optimisation itself on small data
    (deterministic curves); it is slow on large data, where ``sgd``/``adam`` win."""

    name = "gd"
    full_batch = True
    # 500 full-batch steps: a digits MLP reaches ~0.91 validation accuracy at 300 (lr 0.1).
    default_steps = 500

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float | None = None,
        *,
        line_search: bool = False,
        c1: float = 1e-4,
        shrink: float = 0.5,
        max_backtracks: int = 30,
    ) -> None:
        # Default step: 0.1 for the plain update (full-batch gradients are exact, so a larger
        # step than SGD's 0.01 is stable), 1.0 as the first trial step of the line search.
        lr = (1.0 if line_search else 0.1) if lr is None else lr
        check_positive("c1", c1, self.name)
        check_positive("max_backtracks", max_backtracks, self.name, integer=True)
        if not (isinstance(shrink, (int, float)) and 0 < shrink < 1):
            raise NNGuruError(f"optimizer {self.name!r}: option 'shrink' must be in (0, 1); "
                              f"received {shrink!r}.")
        super().__init__(model, lr)
        self.line_search = bool(line_search)
        self.c1, self.shrink, self.max_backtracks = float(c1), float(shrink), int(max_backtracks)
        self.info: dict[str, Any] = {}

    def step_batch(
        self, model: torch.nn.Module, loss_fn: LossFn, x: Batch, y: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        params = trainable(model)
        mask_seed = new_seed()  # Dropout: the same masks for the gradient and every trial
        loss, outputs, g = loss_and_gradient(model, loss_fn, params, x, y, w, mask_seed, self.name)
        theta = flatten([p.detach() for p in params.values()])
        step = self.lr
        if self.line_search:
            step = self._armijo(model, loss_fn, params, x, y, w, theta, g, float(loss), mask_seed)
        if step > 0:
            assign(params, theta - step * g)
        self.info = {"step": step}
        self.steps += 1
        return loss, outputs

    @torch.no_grad()
    def _armijo(self, model: torch.nn.Module, loss_fn: LossFn, params: dict[str, Tensor],
                x: Batch, y: Tensor, w: Tensor | None, theta: Tensor, g: Tensor,
                f0: float, seed: int) -> float:
        """Largest ``lr * shrink^k`` with ``f(theta - t g) <= f0 - c1 t |g|^2`` (0 if none)."""
        gg, t = float(g.dot(g)), self.lr
        for _ in range(self.max_backtracks):
            f_t = float(loss_fn(call(model, unflatten(theta - t * g, params), x, seed), y, w))
            if is_finite(f_t) and f_t <= f0 - self.c1 * t * gg:
                return t
            t *= self.shrink
        return 0.0

