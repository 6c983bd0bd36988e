"""Hessian-free: convergence on convex problems with known optima, robustness, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from optim_helpers import cross_entropy, iris, mlp, mse, run
from sklearn.linear_model import LogisticRegression

from nnguru import optim
from nnguru.optim import HessianFree, NonFiniteError


def _bce(outputs, y, w):
    return F.binary_cross_entropy_with_logits(outputs.reshape(-1), y)


def test_least_squares_reaches_the_normal_equations_solution_in_few_steps():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0], [0.0]], dtype=torch.float64) + 0.7
    y += 0.1 * torch.randn(64, 1, generator=gen, dtype=torch.float64)
    design = torch.cat([x, torch.ones(64, 1, dtype=torch.float64)], 1)
    solution = torch.linalg.lstsq(design, y).solution
    best = float(F.mse_loss(design @ solution, y))

    torch.manual_seed(0)
    model = torch.nn.Linear(5, 1).double()
    opt = optim.get("hessian-free", model, curvature_batch_size=None, seed=0)
    losses = run(opt, model, mse, x, y, steps=10)
    final = float(mse(model(x), y, None).detach())
    assert losses[0] > 10 * best
    assert final - best < 1e-6 * losses[0]
    torch.testing.assert_close(model.weight.detach().reshape(-1), solution[:5, 0], atol=1e-3,
                               rtol=0)


def test_logistic_regression_reaches_scikit_learns_optimum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x @ [1.5, -1.0, 0.5, 0.0] + 0.3 + rng.logistic(size=200) > 0).astype(float)
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x, y)
    xt, yt = torch.tensor(x), torch.tensor(y)
    best = float(_bce(torch.tensor(reference.decision_function(x)), yt, None))

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1).double()
    opt = optim.get("hf", model, curvature_batch_size=None, seed=0)
    losses = run(opt, model, _bce, xt, yt, steps=15)
    assert losses[0] - best > 0.1
    assert float(_bce(model(xt), yt, None)) - best < 1e-5
    np.testing.assert_allclose(model.weight.detach().numpy()[0], reference.coef_[0], atol=1e-2)


@pytest.mark.parametrize("options", [{}, {"solver": "minres"}, {"preconditioner": True},
                                     {"warm_start": 0.0, "backtrack": False,
                                      "line_search": False}])
def test_mlp_with_curvature_on_a_sub_batch_trains(options):
    x, y = iris()
    model = mlp((4, 16, 3))
    opt = optim.get("hessian-free", model, curvature_batch_size=50, seed=0, **options)
    losses = run(opt, model, cross_entropy, x, y, steps=12)
    assert float(cross_entropy(model(x), y, None)) < 0.25 * losses[0]
    assert opt.info["cg_iters"] >= 1 and opt.info["damping"] > 0


def test_dropout_and_batchnorm_models_train_and_curvature_passes_leave_buffers_alone():
    x, y = iris()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 3))
    model.train()
    opt = optim.get("hessian-free", model, curvature_batch_size=64, seed=0)
    with torch.no_grad():
        expected = 0.9 * model[1].running_mean + 0.1 * model[0](x).mean(0)
    opt.step_batch(model, cross_entropy, x, y, None)
    # exactly one ordinary forward pass (the gradient's) moved the running statistics
    assert model[1].num_batches_tracked.item() == 1
    torch.testing.assert_close(model[1].running_mean, expected)
    losses = run(opt, model, cross_entropy, x, y, steps=8)
    model.eval()
    assert float(cross_entropy(model(x), y, None)) < losses[0]


def test_nonfinite_loss_raises_lr_too_high_and_keeps_the_weights():
    x, y = iris()
    model = mlp((4, 8, 3))
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    opt = optim.get("hessian-free", model)
    with pytest.raises(NonFiniteError) as info:
        opt.step_batch(model, cross_entropy, x, y, None)
    assert info.value.code == "lr_too_high"
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, saved[k], equal_nan=True)


class _NanCurvature(torch.autograd.Function):
    """Identity whose forward-mode derivative is NaN: finite loss and gradient, NaN ``J v``."""

    @staticmethod
    def forward(x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        return None

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def jvp(ctx, tangent):
        return tangent * float("nan")


class _NanCurvatureModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x):
        return _NanCurvature.apply(self.linear(x))


def test_nonfinite_curvature_raises_damping_then_stops_with_a_damping_message():
    x, y = iris()
    torch.manual_seed(0)
    model = _NanCurvatureModel()
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    opt = optim.get("hessian-free", model, max_damping=1e4)
    with pytest.raises(NonFiniteError, match="damping") as info:
        opt.step_batch(model, cross_entropy, x, y, None)
    assert info.value.code == "damping"
    assert opt.damping > 1e4
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, saved[k])


def test_hessian_free_declares_large_batches_and_records_diagnostics():
    model = mlp((4, 8, 3))
    opt = optim.get("hessian_free", model)
    assert isinstance(opt, HessianFree) and not opt.full_batch
    assert opt.preferred_batch_size and opt.preferred_batch_size >= 1000
    assert optim.get("hf", model, full_batch=True).full_batch
    x, y = iris()
    opt.step_batch(model, cross_entropy, x, y, None)
    assert set(opt.info) >= {"cg_iters", "cg_status", "rho", "alpha", "damping"}


def test_a_zero_gradient_is_a_no_op_not_a_damping_failure():
    model = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0]]))
        model.bias.zero_()
    x = torch.eye(2, dtype=torch.float64)
    y = model(x).detach()  # the model fits exactly: loss 0, gradient 0
    opt = optim.get("hessian-free", model, curvature_batch_size=None)
    for _ in range(3):
        loss, _ = opt.step_batch(model, mse, x, y, None)
        assert float(loss) == 0.0
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.0, -1.0]],
                                                                   dtype=torch.float64))
