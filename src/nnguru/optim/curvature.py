"""Matrix-free Gauss-Newton products ``G v = J^T H_L J v`` for any model and any loss.

``J`` is the Jacobian of the model outputs with respect to the parameters and ``H_L`` the Hessian
of the loss with respect to the *outputs* (logits). ``G`` is positive semi-definite whenever the
loss is convex in the outputs (cross-entropy, BCE and MSE on logits are), which is why Martens
(2010, section 4.2, after Schraudolph 2002) uses it instead of the Hessian inside CG.

Each product is one forward-mode pass (``torch.func.jvp``: ``J v``), one
Hessian-vector product of the loss on the outputs (double backward through ``loss_fn``, so any
differentiable loss works) and one reverse pass through a cached ``torch.func.vjp``
(``J^T u``). No matrix is built.

Randomness: Dropout layers in train mode would draw a new mask on every pass, making ``G`` a
different matrix at each CG iteration. Every pass here therefore runs under the same forked RNG
seed, so all products of one operator see the same masks. BatchNorm buffers are copied per pass
(see :func:`nnguru.optim.base.call`), so curvature passes do not move the running statistics.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.func import jvp, vjp

from nnguru.optim.base import Batch, LossFn, call, flatten, same_randomness, unflatten


class GaussNewton:
    """The operator ``v -> G v`` (flat vectors) on one fixed batch at fixed parameters."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: LossFn,
        params: dict[str, Tensor],
        x: Batch,
        y: Tensor,
        w: Tensor | None,
        *,
        seed: int,
    ) -> None:
        self._params = {n: p.detach() for n, p in params.items()}
        self.products = 0
        self._seed = seed
        self._device = next(iter(self._params.values())).device
        self._f = lambda p: call(model, p, x)
        with self._rng():
            out, self._vjp = vjp(self._f, self._params)
        self.outputs = out.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = loss_fn(self.outputs, y, w)
            (self._dloss,) = torch.autograd.grad(loss, self.outputs, create_graph=True)
        self._linear_loss = not self._dloss.requires_grad  # e.g. a loss linear in the outputs
        self.loss = loss.detach()

    def _rng(self) -> contextlib.AbstractContextManager[None]:
        """Same seed for every pass: Dropout draws identical masks in all products."""
        return same_randomness(self._seed, self._device)

    def jvp(self, v: Tensor) -> Tensor:
        """``J v``: directional derivative of the outputs.

        (``torch.func.linearize`` traced once per operator made later products ~2x cheaper, but
        the trace cost as much as ~20 products, about what one Hessian-free step uses: measured
        no faster on MNIST, so not used.)
        """
        with self._rng():
            _, jv = jvp(self._f, (self._params,), (unflatten(v, self._params),))
        return jv

    def loss_hvp(self, u: Tensor) -> Tensor:
        """``H_L u``: Hessian of the loss with respect to the outputs, times ``u``."""
        if self._linear_loss:
            return torch.zeros_like(u)
        with torch.enable_grad():
            (hu,) = torch.autograd.grad(self._dloss, self.outputs, grad_outputs=u,
                                        retain_graph=True)
        return hu

    def jtvp(self, u: Tensor) -> Tensor:
        """``J^T u``: pull an output-space vector back to parameter space."""
        (g,) = self._vjp(u)
        return flatten(g.values())

    def __call__(self, v: Tensor) -> Tensor:
        self.products += 1
        return self.jtvp(self.loss_hvp(self.jvp(v)))

