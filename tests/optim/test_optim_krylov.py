"""Krylov solvers and Gauss-Newton products against a direct solve of the explicit matrix."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import cross_entropy, mlp
from torch.autograd.functional import hessian, jacobian

from nnguru.optim import cg, minres
from nnguru.optim.base import flatten, trainable, unflatten
from nnguru.optim.curvature import GaussNewton


def _tiny_problem():
    """A 3-4-3 tanh network (31 weights) on 6 samples, float64."""
    model = mlp((3, 4, 3), seed=1, dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return model, x, y


def _explicit_gauss_newton(model, x, y):
    """G = J^T H_L J built from the full Jacobian and the loss Hessian (the oracle)."""
    params = trainable(model)
    theta = flatten([p.detach() for p in params.values()])

    def outputs_of(flat):
        return torch.func.functional_call(model, unflatten(flat, params), (x,)).reshape(-1)

    out = outputs_of(theta).detach()
    jac = jacobian(outputs_of, theta)                                   # (N*C, P)
    h = hessian(lambda o: cross_entropy(o.reshape(len(x), -1), y, None), out)  # (N*C, N*C)
    g = torch.autograd.grad(cross_entropy(model(x), y, None), list(params.values()))
    return jac.T @ h @ jac, flatten(g), params


def test_gauss_newton_product_matches_explicit_matrix():
    model, x, y = _tiny_problem()
    G, _, params = _explicit_gauss_newton(model, x, y)
    gn = GaussNewton(model, cross_entropy, params, x, y, None, seed=0)
    v = torch.randn(G.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(gn(v), G @ v, rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvalsh(G).min() > -1e-12  # positive semi-definite


@pytest.mark.parametrize("solver", [cg, minres])
@pytest.mark.parametrize("preconditioned", [False, True])
def test_krylov_solution_of_damped_gauss_newton_system_equals_direct_solve(solver, preconditioned):
    model, x, y = _tiny_problem()
    G, g, params = _explicit_gauss_newton(model, x, y)
    gn = GaussNewton(model, cross_entropy, params, x, y, None, seed=0)
    lam = 1e-3
    A = G + lam * torch.eye(G.shape[0], dtype=G.dtype)
    direct = torch.linalg.solve(A, -g)
    precond = (G.diagonal().abs() + lam) ** 0.75 if preconditioned else None
    result = solver(lambda v: gn(v) + lam * v, -g, precond=precond, max_iters=500, eps=1e-14,
                    tol=1e-12)
    torch.testing.assert_close(result.x, direct, rtol=1e-6, atol=1e-8)
    assert result.phi == pytest.approx(float(0.5 * direct @ A @ direct + g @ direct), rel=1e-8)


@pytest.mark.parametrize("solver", [cg, minres])
def test_warm_start_and_stored_iterates(solver):
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(40, 40, dtype=torch.float64, generator=gen)
    A = m @ m.T / 40 + 0.1 * torch.eye(40, dtype=torch.float64)
    b = torch.randn(40, dtype=torch.float64, generator=gen)
    exact = torch.linalg.solve(A, b)
    result = solver(lambda v: A @ v, b, x0=0.9 * exact, max_iters=200, eps=1e-14, tol=1e-12)
    torch.testing.assert_close(result.x, exact, rtol=1e-6, atol=1e-8)
    iters = [i for i, _, _ in result.iterates]
    assert iters == sorted(iters) and iters[-1] == result.iterations
    for _, xi, phi in result.iterates:  # stored phi values are the quadratic at the iterate
        assert phi == pytest.approx(float(0.5 * xi @ A @ xi - b @ xi), rel=1e-8, abs=1e-10)


def test_relative_progress_rule_stops_cg_early_on_an_ill_conditioned_system():
    """Martens' rule stops once the quadratic barely improves, long before max_iters: here
    the directions with tiny eigenvalues hold almost none of the achievable decrease."""
    d = torch.logspace(0, -8, 400, dtype=torch.float64)
    result = cg(lambda v: d * v, d.clone(), max_iters=400)
    assert result.status == "progress" and result.iterations < 100
    best = -0.5 * float(d.sum())  # phi at the exact solution x = 1
    assert result.phi < 0.99 * best


def test_cg_reports_nonfinite_curvature():
    result = cg(lambda v: v * float("nan"), torch.ones(5))
    assert result.status == "nonfinite"


@pytest.mark.parametrize("layers", [
    lambda: [torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.3), torch.nn.Linear(8, 3)],
    lambda: [torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)],
])
def test_gauss_newton_is_one_symmetric_psd_matrix_with_dropout_and_batchnorm(layers):
    """All products of one operator must see the same Dropout masks / batch statistics,
    otherwise CG would run on a different matrix at every iteration."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(*layers()).double().train()
    x = torch.randn(16, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (16,))
    gn = GaussNewton(model, cross_entropy, trainable(model), x, y, None, seed=7)
    n = sum(p.numel() for p in model.parameters())
    u, v = torch.randn(n, dtype=torch.float64), torch.randn(n, dtype=torch.float64)
    assert float(u @ gn(v)) == pytest.approx(float(v @ gn(u)), rel=1e-9)
    assert float(v @ gn(v)) >= -1e-12
    torch.testing.assert_close(gn(v), gn(v))  # the same matrix on every call
