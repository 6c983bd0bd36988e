"""Full-batch gradient descent against a hand-written update."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import cross_entropy, iris, mlp, run

from nnguru import optim
from nnguru.optim import GradientDescent, NonFiniteError


def test_gd_equals_a_hand_written_full_batch_update():
    x, y = iris()
    model, reference = mlp((4, 8, 3), seed=0), mlp((4, 8, 3), seed=0)
    opt = optim.get("gd", model, lr=0.3)
    assert isinstance(opt, GradientDescent) and opt.full_batch
    for _ in range(5):
        loss = cross_entropy(reference(x), y, None)
        grads = torch.autograd.grad(loss, list(reference.parameters()))
        with torch.no_grad():
            for p, g in zip(reference.parameters(), grads, strict=True):
                p -= 0.3 * g  # w <- w - lr * g
        returned, outputs = opt.step_batch(model, cross_entropy, x, y, None)
        torch.testing.assert_close(returned, loss.detach())
        assert outputs.shape == (150, 3) and not outputs.requires_grad
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_default_lr_is_documented_value():
    model = mlp((4, 8, 3))
    assert optim.get("gd", model).lr == 0.1
    assert optim.get("gd", model, line_search=True).lr == 1.0


def test_line_search_decreases_the_loss_at_every_step_even_from_a_huge_first_step():
    x, y = iris()
    model = mlp((4, 8, 3))
    opt = optim.get("gd", model, lr=100.0, line_search=True)
    losses = run(opt, model, cross_entropy, x, y, steps=15)
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.5 * losses[0]
    assert 0 < opt.info["step"] < 100.0


def test_divergence_stops_with_lr_too_high_and_leaves_the_weights():
    x, y = iris()
    x = x * 1e3  # badly scaled inputs: lr=10 blows up
    model = mlp((4, 8, 3), act=torch.nn.Identity)
    opt = optim.get("gd", model, lr=10.0)
    with pytest.raises(NonFiniteError) as info:
        for _ in range(200):
            saved = {k: v.clone() for k, v in model.state_dict().items()}
            opt.step_batch(model, cross_entropy, x, y, None)
    assert info.value.code == "lr_too_high"
    assert "learning rate" in str(info.value)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, saved[k], equal_nan=True)


def test_every_line_search_trial_sees_the_gradient_passs_dropout_masks():
    x, y = iris()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(32, 3))
    opt = optim.get("gd", model, line_search=True, max_backtracks=4)
    params = optim.base.trainable(model)
    theta = optim.base.flatten([p.detach() for p in params.values()])
    seen = []

    def loss_fn(out, y, w):
        seen.append(out)
        return cross_entropy(out, y, w)

    # A zero gradient makes every trial the same point; an f0 just below its loss rejects them all.
    with torch.no_grad():
        f0 = float(cross_entropy(optim.base.call(model, params, x, seed=7), y, None)) - 1e-3
    assert opt._armijo(model, loss_fn, params, x, y, None, theta, torch.zeros_like(theta), f0, seed=7) == 0.0
    assert len(seen) == 4
    for out in seen[1:]:
        torch.testing.assert_close(out, seen[0], rtol=0, atol=0)
