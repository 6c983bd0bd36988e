"""Hessian-free optimisation (truncated Newton), after Martens (2010), "Deep learning via
Hessian-free optimization", ICML, and Martens & Sutskever (2012), "Training deep and recurrent
networks with Hessian-free optimization".

One step on a batch ``(x, y, w)``:

1. loss ``f(theta)``, gradient ``g`` and outputs on the whole (large) batch;
2. the Gauss-Newton operator ``G`` on a random curvature sub-batch (products only,
   :class:`~nnguru.optim.curvature.GaussNewton`): the gradient needs many examples to be
   accurate, the curvature only needs to be roughly right and is applied tens of times;
3. a Krylov solve of ``(G + lambda I) p = -g`` (CG, or MINRES), warm-started from
   ``warm_start * (previous solution)``, stopped by the relative-progress rule;
4. CG backtracking: the stored iterates are scored on ``f`` from the last one backwards and the
   best is kept, because late iterates over-fit the curvature sub-batch;
5. Levenberg-Marquardt damping from the reduction ratio ``rho = (f(theta+p) - f(theta)) / phi(p)``
   (``phi`` the damped quadratic CG minimised): ``lambda *= 3/2`` if ``rho < 1/4``,
   ``lambda *= 2/3`` if ``rho > 3/4``;
6. a backtracking (Armijo) line search on ``alpha``, then ``theta += lr * alpha * p``.

Non-finite curvature, loss at a trial point or solver breakdown raise the damping instead of
failing; only when damping passes ``max_damping`` with no acceptable step does the step raise
:class:`NonFiniteError` (code ``"damping"``). A non-finite loss or gradient at the current weights
raises it with code ``"lr_too_high"``. In both cases the weights are left untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from nnguru.errors import NNGuruError
from nnguru.optim.base import (
    Batch,
    LossFn,
    ModelOptimizer,
    NonFiniteError,
    assign,
    batch_len,
    call,
    check_choice,
    check_positive,
    flatten,
    generator,
    loss_and_gradient,
    new_seed,
    take,
    trainable,
    unflatten,
)
from nnguru.optim.curvature import GaussNewton
from nnguru.optim.krylov import SOLVERS, KrylovResult


class HessianFree(ModelOptimizer):
    """Truncated Newton with Gauss-Newton curvature, CG and Levenberg-Marquardt damping.

    Choose it for deep or badly conditioned networks trained on large batches (deep
    autoencoders, the problem Martens designed it for), and when you want few, expensive,
    scale-invariant steps without tuning a learning rate.

    Options (defaults in the signature): ``lr`` multiplies the final step (1.0: the Newton-CG
    step as found; LR callbacks scale it); ``damping`` is the initial Levenberg-Marquardt
    lambda *relative to* the curvature along the first gradient (see :meth:`_scale_damping`);
    ``solver`` "cg" or "minres"; ``max_cg_iters`` caps the Krylov iterations (Martens used
    250 on full data; 50 with warm starts is enough on mini-batches of thousands);
    ``cg_tol`` is epsilon of the relative-progress rule; ``warm_start`` the decay of the
    previous solution used as starting point (0 disables); ``backtrack``/``line_search``
    switch CG backtracking and the Armijo search; ``preconditioner`` Martens' diagonal
    ``(diag(sum g_i^2) + lambda)^0.75`` from per-example gradients (torch.func.vmap);
    ``curvature_batch_size`` rows of each batch used for curvature (None: all; 500 = 1/12
    of the gradient batch: on the MNIST MLP and the deep autoencoder of
    ``benchmarks/optimizers.py``, 500 beat 1000 on both per unit of time -- CG products are
    the bulk of a step and the curvature only has to be roughly right -- and 250 was noisier);
    ``weight_decay`` an L2 term ``wd/2 |theta|^2`` added to the objective; ``max_damping``
    where HF gives up (NonFiniteError, code "damping"); ``full_batch`` asks the loop for the
    whole split; ``seed`` fixes the sub-batch draws (default: from torch's global RNG).
    """

    name = "hessian-free"
    full_batch = False
    preferred_batch_size = 6000  # gradient batch; ~10 steps per MNIST epoch (Martens: large)

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float = 1.0,
        *,
        damping: float = 1.0,
        solver: str = "cg",
        max_cg_iters: int = 50,
        cg_tol: float = 5e-4,
        warm_start: float = 0.95,
        backtrack: bool = True,
        line_search: bool = True,
        preconditioner: bool = False,
        curvature_batch_size: int | None = 500,
        weight_decay: float = 0.0,
        max_damping: float = 1e8,
        full_batch: bool = False,
        seed: int | None = None,
    ) -> None:
        name = self.name
        solver = check_choice("solver", solver, tuple(SOLVERS), name)
        check_positive("damping", damping, name)
        check_positive("max_cg_iters", max_cg_iters, name, integer=True)
        check_positive("cg_tol", cg_tol, name)
        check_positive("max_damping", max_damping, name)
        if curvature_batch_size is not None:
            check_positive("curvature_batch_size", curvature_batch_size, name, integer=True)
        for option, value in (("warm_start", warm_start), ("weight_decay", weight_decay)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise NNGuruError(f"optimizer {name!r}: option {option!r} must be a finite "
                                  f"number >= 0; received {value!r}.")
        if warm_start >= 1:
            raise NNGuruError(f"optimizer {name!r}: option 'warm_start' is the decay of the "
                              f"previous CG solution and must be < 1; received {warm_start!r}.")
        super().__init__(model, lr, weight_decay=float(weight_decay))
        self.full_batch = bool(full_batch)
        self.damping = float(damping)
        self.solver = solver
        self.max_cg_iters = int(max_cg_iters)
        self.cg_tol = float(cg_tol)
        self.warm_start = float(warm_start)
        self.backtrack = bool(backtrack)
        self.line_search = bool(line_search)
        self.preconditioner = bool(preconditioner)
        self.curvature_batch_size = curvature_batch_size
        self.max_damping = float(max_damping)
        # Drawn at the first step, not here: building a throwaway instance (e.g. to validate
        # options at compile time) must not move the global RNG that initialises the weights.
        self.seed: int | None = None if seed is None else int(seed)
        self.previous: Tensor | None = None
        self.scaled = False  # the first step rescales damping (see _scale_damping)
        self.info: dict[str, Any] = {}
        """Diagnostics of the last step: cg_iters, cg_status, rho, alpha, damping, loss_after,
        products (Gauss-Newton products) and loss_evals (extra loss evaluations)."""

    # ------------------------------------------------------------------------------------------
    def step_batch(
        self, model: torch.nn.Module, loss_fn: LossFn, x: Batch, y: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        params = trainable(model)
        device = next(iter(params.values())).device
        wd = float(self.param_groups[0]["weight_decay"])
        if self.seed is None:
            self.seed = new_seed()
        gen = generator(self.seed, self.steps, device)
        mask_seed = new_seed(gen)
        loss, outputs, g = loss_and_gradient(model, loss_fn, params, x, y, w, mask_seed, self.name)
        theta = flatten([p.detach() for p in params.values()])
        if wd:
            g = g + wd * theta
        f0 = float(loss) + (0.5 * wd * float(theta.dot(theta)) if wd else 0.0)

        n = batch_len(x)
        m = self.curvature_batch_size
        if m is not None and m < n:
            idx = torch.randperm(n, generator=gen, device=theta.device)[:m]
            xs, ys, ws = take(x, idx), y[idx], None if w is None else w[idx]
        else:
            xs, ys, ws = x, y, w
        gn = GaussNewton(model, loss_fn, params, xs, ys, ws, seed=mask_seed)

        evals = [0]

        def f_at(vec: Tensor) -> float:
            evals[0] += 1
            with torch.no_grad():
                value = float(loss_fn(call(model, unflatten(vec, params), x, mask_seed), y, w))
            return value + (0.5 * wd * float(vec.dot(vec)) if wd else 0.0)

        if not self.scaled:
            self._scale_damping(gn, g)
        fisher = (self._fisher_diag(model, loss_fn, params, xs, ys, ws)
                  if self.preconditioner else None)
        result, p, phi, f_p = self._solve(gn, g, theta, f_at, fisher, wd)
        rho = (f_p - f0) / phi if (math.isfinite(f_p) and phi < 0) else -math.inf
        self._update_damping(rho)

        alpha = self._line_search(f_at, theta, p, f0, f_p, float(g.dot(p)))
        if alpha > 0:
            assign(params, theta + (self.lr * alpha) * p)
        elif self.damping > self.max_damping:
            raise self._damping_error()
        self.info = {"cg_iters": result.iterations, "cg_status": result.status, "rho": rho,
                     "alpha": alpha, "damping": self.damping, "loss_after": f_p,
                     "products": gn.products, "loss_evals": evals[0]}
        self.steps += 1
        return loss, outputs

    def _update_damping(self, rho: float) -> None:
        """Levenberg-Marquardt rule of Martens (2010, section 4.1)."""
        if rho < 0.25:
            self.damping *= 1.5
        elif rho > 0.75:
            self.damping *= 2.0 / 3.0

    def _scale_damping(self, gn: GaussNewton, g: Tensor) -> None:
        """Make the initial damping relative to the curvature along the gradient,
        ``lambda_0 = damping * g^T G g / g^T g``: the scale of ``G`` follows the scale of the
        loss (a mean over 784 pixels is tiny, a sum is large), and an absolute ``lambda_0``
        that is far too large costs many steps of 2/3 decay before HF takes real steps."""
        gg = float(g.dot(g))
        if gg > 0:
            rayleigh = float(g.dot(gn(g))) / gg
            if math.isfinite(rayleigh) and rayleigh > 0:
                self.damping *= rayleigh
        self.scaled = True

    def _solve(
        self, gn: GaussNewton, g: Tensor, theta: Tensor, f_at: Callable[[Tensor], float],
        fisher: Tensor | None, wd: float,
    ) -> tuple[KrylovResult, Tensor, float, float]:
        """Solve the damped system, raising damping on breakdown, then backtrack over the
        stored iterates; returns (result, p, phi(p), f(theta + p))."""
        solve = SOLVERS[self.solver]
        while True:
            lam = self.damping + wd

            def damped(v: Tensor, lam: float = lam) -> Tensor:
                return gn(v) + lam * v

            precond = (fisher + lam) ** 0.75 if fisher is not None else None
            x0 = None
            if self.previous is not None and self.warm_start > 0:
                x0 = self.warm_start * self.previous
            result = solve(damped, -g, x0, precond=precond, max_iters=self.max_cg_iters,
                           eps=self.cg_tol)
            if result.status != "nonfinite" or result.iterations > 0:
                break
            # Breakdown before a single useful iteration (non-finite curvature, or a warm
            # start that was already non-finite): forget the warm start, damp harder, retry.
            self.previous = None
            self.damping *= 10.0
            if self.damping > self.max_damping:
                raise self._damping_error()
        self.previous = result.x.clone()

        candidates = result.iterates[::-1]  # last iterate first (Martens 2010, section 4.6)
        _, best, phi_best = candidates[0]
        f_best = f_at(theta + best)
        if self.backtrack:
            for _, xi, phi_i in candidates[1:]:
                f_i = f_at(theta + xi)
                if not (f_i < f_best or not math.isfinite(f_best)):
                    break
                best, phi_best, f_best = xi, phi_i, f_i
        return result, best, phi_best, f_best

    def _line_search(self, f_at: Callable[[Tensor], float], theta: Tensor, p: Tensor,
                     f0: float, f_p: float, slope: float) -> float:
        """Backtracking Armijo search on alpha (Martens & Sutskever 2012, section 8.8)."""
        if not self.line_search:
            return 1.0 if math.isfinite(f_p) else 0.0
        c, alpha, f_a = 1e-2, 1.0, f_p
        for _ in range(60):  # 0.8**60 ~ 1.5e-6: no step that small is worth taking
            if math.isfinite(f_a) and f_a <= f0 + c * alpha * min(slope, 0.0):
                return alpha
            alpha *= 0.8
            f_a = f_at(theta + alpha * p)
        return 0.0

    @torch.no_grad()
    def _fisher_diag(self, model: torch.nn.Module, loss_fn: LossFn, params: dict[str, Tensor],
                     xs: Batch, ys: Tensor, ws: Tensor | None) -> Tensor:
        """Mean of squared per-example gradients: the diagonal that Martens' preconditioner
        ``M = (diag + lambda)^0.75`` is built from (2010, section 4.7)."""
        detached = {k: v.detach() for k, v in params.items()}
        buffers = {k: v.clone() for k, v in model.named_buffers()}

        def one(p: dict[str, Tensor], xi: Any, yi: Tensor, wi: Tensor | None) -> Tensor:
            batch = tuple(t.unsqueeze(0) for t in xi) if isinstance(xi, tuple) \
                else xi.unsqueeze(0)
            args = batch if isinstance(batch, tuple) else (batch,)
            out = functional_call(model, {**p, **buffers}, args)
            return loss_fn(out, yi.unsqueeze(0), None if wi is None else wi.unsqueeze(0))

        xs_ = tuple(xs) if isinstance(xs, (tuple, list)) else xs
        try:
            per_example = vmap(grad(one), in_dims=(None, 0, 0, 0 if ws is not None else None),
                               randomness="same")(detached, xs_, ys, ws)
        except (RuntimeError, ValueError) as exc:
            raise NNGuruError(
                f"optimizer {self.name!r}: preconditioner=True needs per-example gradients "
                f"(torch.func.vmap), which this model does not support ({exc}). Use "
                "preconditioner=False, or put BatchNorm layers in eval mode."
            ) from exc
        return flatten([t.pow(2).mean(0) for t in per_example.values()])

    def _damping_error(self) -> NonFiniteError:
        return NonFiniteError(
            f"optimizer {self.name!r}: damping grew past max_damping={self.max_damping:g} "
            "without finding a step that lowers the loss: the curvature or the loss is not "
            "finite near the current weights, or the model is far from its quadratic "
            "approximation. Normalise the inputs, lower lr, or raise the initial damping.",
            code="damping",
        )

    # ------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"damping": self.damping, "seed": self.seed,
                                 "scaled": self.scaled}
        if self.previous is not None:
            state["previous"] = self.previous.clone()
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.damping = float(state["damping"])
        self.seed = None if state["seed"] is None else int(state["seed"])
        self.scaled = bool(state["scaled"])
        prev = state.get("previous")
        self.previous = None if prev is None else prev.detach().clone()
