"""L2-SP (nnguru.training.l2sp): a penalty towards the starting weights, checked against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential, load_model
from nnguru.errors import NNGuruError
from nnguru.layers import Dense
from nnguru.nn.layers import regularization_loss
from nnguru.regularizers import l2
from nnguru.training import l2sp


def _model(**dense_kwargs) -> Sequential:
    torch.manual_seed(0)
    return Sequential([Dense(4, activation="relu", input_shape=(3,), **dense_kwargs), Dense(2)])


def test_penalty_is_the_squared_distance_from_the_start():
    model = _model()
    first = model.layers[0]
    start = [w.detach().clone() for w in first.parameters()]
    assert l2sp.attach([first], 0.5) == sum(w.numel() for w in start)
    assert float(regularization_loss(model).detach()) == 0.0  # at the start: no distance
    with torch.no_grad():
        for w in first.parameters():
            w.add_(0.1 * torch.randn_like(w))
    expected = 0.5 * sum(float((w - w0).square().sum()) for w, w0 in zip(first.parameters(), start, strict=True))
    assert float(regularization_loss(model).detach()) == pytest.approx(expected, rel=1e-6)


def test_fit_reports_the_penalty_and_it_holds_weights_near_the_start():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 1.0]], dtype=np.float32)
    moved = {}
    for factor in (0.0, 100.0):
        model = _model()
        start = model.layers[0].get_weights()[0].copy()
        l2sp.attach([model.layers[0]], factor)
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=30, batch_size=16, verbose=0)
        moved[factor] = float(np.abs(model.layers[0].get_weights()[0] - start).sum())
    assert moved[100.0] < 0.5 * moved[0.0]


def test_detach_keeps_the_layers_own_regularizer_and_save_ignores_the_anchor(tmp_path):
    model = _model(kernel_regularizer=l2(0.01))
    first = model.layers[0]
    own = float(regularization_loss(model).detach())
    l2sp.attach([first], 1.0)
    with torch.no_grad():
        first.weight.add_(1.0)
    assert float(regularization_loss(model).detach()) > own + 1.0  # both penalties
    model.save(tmp_path / "m")  # the anchor is not part of the model: the saved one has its own l2 only
    loaded = load_model(tmp_path / "m")
    own_now = 0.01 * float(first.weight.detach().square().sum())
    assert float(regularization_loss(loaded).detach()) == pytest.approx(own_now, rel=1e-6)
    l2sp.detach([first])
    assert float(regularization_loss(model).detach()) == pytest.approx(own_now, rel=1e-6)


def test_factor_must_be_non_negative():
    with pytest.raises(NNGuruError, match="L2-SP factor"):
        l2sp.StartingPoint(torch.zeros(2), -1.0)
