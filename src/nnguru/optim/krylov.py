"""Krylov-subspace solvers for ``A x = b`` with ``A`` symmetric, given only ``v -> A v``.

Both solvers minimise, or track, the quadratic model ``phi(x) = 1/2 x^T A x - b^T x`` that
Hessian-free optimisation cares about, and implement the two devices of Martens (2010):

* the *relative-progress* stopping rule (section 4.4): stop at iteration ``i`` when
  ``phi_i < 0`` and ``(phi_i - phi_{i-k}) / phi_i < k * eps`` with ``k = max(10, 0.1 i)``, because
  the quadratic is only a local model and solving it to high accuracy wastes products;
* *CG backtracking* (section 4.6): iterates are kept at geometrically spaced iterations
  (``ceil(1.3^j)``) so the caller can pick the best one on the true objective.

:func:`cg` is preconditioned conjugate gradient (for positive definite ``A``). :func:`minres`
(Paige & Saunders 1975) minimises the residual instead and also accepts indefinite ``A``; it
keeps ``A x`` up to date through the same recurrence as ``x`` so ``phi`` costs no extra product.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

MatVec = Callable[[Tensor], Tensor]


@dataclass
class KrylovResult:
    x: Tensor
    """The last iterate (what Martens warm-starts the next solve from)."""
    phi: float
    """``1/2 x^T A x - b^T x`` at ``x``."""
    iterations: int
    status: str
    """``converged`` | ``progress`` (relative-progress rule) | ``max_iters`` |
    ``negative_curvature`` | ``nonfinite``."""
    iterates: list[tuple[int, Tensor, float]] = field(default_factory=list)
    """(iteration, x_i, phi_i) at iterations ceil(1.3^j), the last iterate included."""


def _checkpoints(max_iters: int, ratio: float) -> set[int]:
    """Iterations ceil(ratio^j) <= max_iters (Martens 2010, section 4.6)."""
    marks, j = set(), 0
    while (i := math.ceil(ratio**j)) <= max_iters:
        marks.add(i)
        j += 1
    return marks


def _progress_stop(phis: list[float], i: int, eps: float, min_iters: int) -> bool:
    """Martens' relative-progress test on the history ``phis[0..i]``."""
    k = max(10, math.ceil(0.1 * i))
    if i < max(k, min_iters):
        return False
    phi_i = phis[i]
    return phi_i < 0 and (phi_i - phis[i - k]) / phi_i < k * eps


def cg(
    matvec: MatVec,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    precond: Tensor | None = None,
    max_iters: int = 250,
    min_iters: int = 1,
    eps: float = 5e-4,
    tol: float = 1e-10,
    store_ratio: float = 1.3,
) -> KrylovResult:
    """Preconditioned CG on ``A x = b``; ``precond`` is the diagonal of ``M`` (applies ``M^-1``).

    ``tol`` stops when ``|r| <= tol * |b|``; ``eps`` is the relative-progress threshold.
    """
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - matvec(x) if x0 is not None else b.clone()
    phi = -0.5 * float(x.dot(b + r))
    phis, marks = [phi], _checkpoints(max_iters, store_ratio)
    iterates: list[tuple[int, Tensor, float]] = []
    bnorm = float(b.norm())
    z = r / precond if precond is not None else r
    p, rz = z.clone(), float(r.dot(z))
    if rz == 0.0:  # x0 (or 0) already solves the system, e.g. a zero gradient
        return KrylovResult(x=x, phi=phi, iterations=0, status="converged",
                            iterates=[(0, x.clone(), phi)])
    status, i = "max_iters", 0
    for i in range(1, max_iters + 1):  # noqa: B007 - i is read after the loop
        ap = matvec(p)
        pap = float(p.dot(ap))
        if not math.isfinite(pap):
            status, i = "nonfinite", i - 1
            break
        if pap <= 0:
            status, i = "negative_curvature", i - 1
            break
        alpha = rz / pap
        x.add_(p, alpha=alpha)
        r.sub_(ap, alpha=alpha)
        phi = -0.5 * float(x.dot(b + r))
        phis.append(phi)
        if i in marks:
            iterates.append((i, x.clone(), phi))
        if float(r.norm()) <= tol * bnorm:
            status = "converged"
            break
        if _progress_stop(phis, i, eps, min_iters):
            status = "progress"
            break
        z = r / precond if precond is not None else r
        rz_new = float(r.dot(z))
        p.mul_(rz_new / rz).add_(z)
        rz = rz_new
    if not iterates or iterates[-1][0] != i:
        iterates.append((i, x.clone(), phis[i]))
    return KrylovResult(x=x, phi=phis[i], iterations=i, status=status, iterates=iterates)


def minres(
    matvec: MatVec,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    precond: Tensor | None = None,
    max_iters: int = 250,
    min_iters: int = 1,
    eps: float = 5e-4,
    tol: float = 1e-10,
    store_ratio: float = 1.3,
) -> KrylovResult:
    """Preconditioned MINRES (Paige & Saunders 1975, after scipy.sparse.linalg.minres).

    ``precond`` is the diagonal of a positive definite ``M``. Besides ``x`` the recurrence keeps
    ``A x`` so that ``phi`` (for the stopping rule and backtracking) costs no extra product.
    """
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    ax = matvec(x) if x0 is not None else torch.zeros_like(b)
    r1 = b - ax
    phis, marks = [0.5 * float(x.dot(ax)) - float(b.dot(x))], _checkpoints(max_iters, store_ratio)
    iterates: list[tuple[int, Tensor, float]] = []
    y = r1 / precond if precond is not None else r1.clone()
    beta1 = float(r1.dot(y))
    status, i = "max_iters", 0
    if not math.isfinite(beta1):
        return KrylovResult(x=x, phi=phis[0], iterations=0, status="nonfinite",
                            iterates=[(0, x.clone(), phis[0])])
    beta1 = math.sqrt(max(beta1, 0.0))
    if beta1 == 0.0:
        return KrylovResult(x=x, phi=phis[0], iterations=0, status="converged",
                            iterates=[(0, x.clone(), phis[0])])
    bnorm = float(b.norm())
    oldb, beta, dbar, epsln, phibar = 0.0, beta1, 0.0, 0.0, beta1
    cs, sn = -1.0, 0.0
    r2 = r1.clone()
    w, w2 = torch.zeros_like(b), torch.zeros_like(b)
    aw, aw2 = torch.zeros_like(b), torch.zeros_like(b)
    for i in range(1, max_iters + 1):  # noqa: B007 - i is read after the loop
        v = y / beta
        av = matvec(v)
        if not is_finite_tensor(av):
            status, i = "nonfinite", i - 1
            break
        y = av.clone()
        if i >= 2:
            y.sub_(r1, alpha=beta / oldb)
        alfa = float(v.dot(y))
        y.sub_(r2, alpha=alfa / beta)
        r1, r2 = r2, y
        y = r2 / precond if precond is not None else r2.clone()
        oldb, beta = beta, float(r2.dot(y))
        if not math.isfinite(beta) or beta < 0:
            status, i = ("nonfinite" if not math.isfinite(beta) else "negative_curvature"), i - 1
            break
        beta = math.sqrt(beta)
        oldeps = epsln
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        gamma = max(math.hypot(gbar, beta), 1e-300)
        cs, sn = gbar / gamma, beta / gamma
        step = cs * phibar
        phibar = sn * phibar
        w1, w2 = w2, w
        aw1, aw2 = aw2, aw
        w = (v - oldeps * w1 - delta * w2) / gamma
        aw = (av - oldeps * aw1 - delta * aw2) / gamma
        x.add_(w, alpha=step)
        ax.add_(aw, alpha=step)
        phis.append(0.5 * float(x.dot(ax)) - float(b.dot(x)))
        if i in marks:
            iterates.append((i, x.clone(), phis[i]))
        if beta == 0.0 or float((b - ax).norm()) <= tol * bnorm:
            status = "converged"
            break
        if _progress_stop(phis, i, eps, min_iters):
            status = "progress"
            break
    if not iterates or iterates[-1][0] != i:
        iterates.append((i, x.clone(), phis[i]))
    return KrylovResult(x=x, phi=phis[i], iterations=i, status=status, iterates=iterates)


def is_finite_tensor(t: Tensor) -> bool:
    return bool(torch.isfinite(t).all())


SOLVERS: dict[str, Callable[..., KrylovResult]] = {"cg": cg, "minres": minres}
