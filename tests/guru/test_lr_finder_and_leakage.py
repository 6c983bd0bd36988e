"""The learning-rate range test (the leakage counter is tested in tests/data/test_clean.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nnguru.errors import NNGuruError
from nnguru.guru import find_lr, suggest_lr


def blob_problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (300,), generator=g)
    x = torch.randn(300, 4, generator=g) * 0.5 + torch.eye(3, 4)[y] * 3
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, x, y


def nnguru_style_loss(out, y, w):
    loss = nn.functional.cross_entropy(out, y, reduction="none")
    return loss.mean() if w is None else (loss * w).mean()


def test_range_test_ramps_stops_and_restores_weights():
    model, x, y = blob_problem()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = find_lr(model, nnguru_style_loss, x, y, start=1e-6, end=100.0, steps=80, batch_size=32)
    lrs = np.array(r.lrs)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, (100.0 / 1e-6) ** (1 / 79))  # exponential ramp
    assert r.diverged and len(r.lrs) < 80  # a rate of 100 blows up: stopped early
    assert len(r.losses) == len(r.lrs) == len(r.raw_losses)
    assert 1e-4 <= r.suggestion <= 1.0
    assert r.suggestion <= r.min_loss_lr
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert not model.training  # mode restored
    assert set(r.to_dict()) >= {"lrs", "losses", "suggestion"}


def test_suggested_rate_trains_well():
    model, x, y = blob_problem(1)
    r = find_lr(model, nn.CrossEntropyLoss(), x, y, steps=60)  # two-argument torch loss works
    opt = torch.optim.Adam(model.parameters(), lr=r.suggestion)
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.3


def test_nonfinite_loss_ends_the_test_and_optimizer_choices():
    model, x, y = blob_problem()

    def exploding(out, y, w):
        return nn.functional.cross_entropy(out, y) * (math.inf if exploding.calls > 5 else 1.0)

    exploding.calls = 0

    def counting(out, y, w):
        exploding.calls += 1
        return exploding(out, y, w)

    r = find_lr(model, counting, x, y, steps=50, optimizer="sgd")
    assert r.diverged and len(r.lrs) == 5
    r = find_lr(model, nnguru_style_loss, x, y, steps=10,
                optimizer=lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
    assert len(r.lrs) == 10
    r = find_lr(model, nnguru_style_loss, x, y, steps=10, optimizer="adagrad")  # nnguru.optim
    assert len(r.lrs) == 10


def test_bad_arguments_are_user_errors():
    model, x, y = blob_problem()
    with pytest.raises(NNGuruError, match="start < end"):
        find_lr(model, nnguru_style_loss, x, y, start=1.0, end=0.1)
    with pytest.raises(NNGuruError, match="newton"):
        find_lr(model, nnguru_style_loss, x, y, optimizer="newton")
    with pytest.raises(NNGuruError, match="range test does not apply"):
        find_lr(model, nnguru_style_loss, x, y, optimizer="random-search")
    with pytest.raises(NNGuruError, match="matching"):
        find_lr(model, nnguru_style_loss, x, y[:10])
    with pytest.raises(NNGuruError, match="trainable"):
        find_lr(nn.ReLU(), nnguru_style_loss, x, y)


def test_suggest_lr_picks_the_steepest_descent():
    lrs = np.logspace(-6, 0, 61)
    # Flat, then a drop centred at 1e-3, minimum near 1e-1, then a rise.
    log = np.log10(lrs)
    losses = 1.0 - 0.8 / (1 + np.exp(-(log + 3) * 4)) + np.where(log > -1, (log + 1) ** 2, 0)
    steep, at_min = suggest_lr(lrs.tolist(), losses.tolist())
    assert steep == pytest.approx(1e-3, rel=0.3)
    assert at_min == pytest.approx(0.1, rel=0.5)
    assert suggest_lr([1e-3, 1e-2], [1.0, 0.5]) == (pytest.approx(1e-3), 1e-2)  # too short
    assert suggest_lr([], []) == (None, None)
    flat = np.full(50, 0.29) + np.linspace(0, 1e-3, 50)  # never falls: nothing to suggest
    assert suggest_lr(np.logspace(-7, 1, 50).tolist(), flat.tolist()) == (None, pytest.approx(1e-7))


def test_lr_find_uses_the_optimizer_training_would_build():
    from nnguru import optim
    from nnguru.guru.lr_finder import _make_optimizer

    model = nn.Linear(4, 3)
    built = _make_optimizer("rmsprop", model, list(model.parameters()), 1e-3)
    assert built.defaults["alpha"] == optim.get("rmsprop", model).defaults["alpha"] == 0.9  # Keras's rho
    assert built.param_groups[0]["lr"] == 1e-3
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    with pytest.raises(NNGuruError, match="does not take mini-batch gradient steps.*adam"):
        find_lr(model, nn.CrossEntropyLoss(), x, y, optimizer="hessian-free")


def test_early_nan_and_spike_do_not_end_the_test_or_move_the_suggestion():
    model, x, y = blob_problem()
    clean = find_lr(model, nnguru_style_loss, x, y, steps=60, seed=3)
    calls = {"n": 0}

    def flaky(out, y, w):  # a NaN at step 2 and a spike at step 4, at tiny rates
        calls["n"] += 1
        loss = nnguru_style_loss(out, y, w)
        return loss * (math.nan if calls["n"] == 2 else 20.0 if calls["n"] == 4 else 1.0)

    r = find_lr(model, flaky, x, y, steps=60, seed=3)
    assert len(r.lrs) >= len(clean.lrs) - 1  # not stopped at the NaN or the spike
    assert r.suggestion is not None and clean.suggestion is not None
    assert 0.3 <= r.suggestion / clean.suggestion <= 3


def test_lr_find_is_seeded_and_uses_the_requested_optimizer():
    from nnguru import api

    a = api.lr_find("builtin:iris", optimizer="sgd", seed=1)
    b = api.lr_find("builtin:iris", optimizer="sgd", seed=1)
    assert a.optimizer == "SGD"
    assert a.lrs == b.lrs and a.losses == b.losses and a.suggestion == b.suggestion
    model, x, y = blob_problem()
    assert find_lr(model, nnguru_style_loss, x, y, steps=5, optimizer="rmsprop").optimizer == "RMSprop"
