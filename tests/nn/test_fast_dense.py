"""The hand-derived Dense-stack step against PyTorch autograd (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Sequential
from nnguru.layers import Activation, BatchNormalization, Dense, Dropout, Flatten
from nnguru.nn import fast_dense


def _model(layers, loss="sparse_categorical_crossentropy"):
    m = Sequential(layers)
    m.compile(optimizer="sgd", loss=loss)
    return m


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "mse"])
def test_gradients_match_autograd(act, loss):
    torch.manual_seed(0)
    out = 3 if loss != "mse" else 2
    last = Dense(out, activation="softmax" if loss != "mse" else None)
    m = _model([Flatten(input_shape=(3, 4)), Dense(16, activation=act), Dense(8), Activation(act), last], loss)
    ops = fast_dense.plan(m)
    assert ops is not None
    x = torch.randn(10, 3, 4)
    y = torch.randint(0, 3, (10,)) if loss != "mse" else torch.randn(10, 2)
    step = fast_dense.DenseStep(m, ops)
    with torch.no_grad():
        value, logits = step.loss_and_grads(x, y, training=True)
    grads = step.grads
    with m.loss_outputs():  # what the loop does: the fused softmax is skipped, the loss reads logits
        ref = m.loss.compute(m(x), y)
        full = m(x)
    ref.backward()
    torch.testing.assert_close(value, ref)
    torch.testing.assert_close(logits, full)
    assert len(grads) == sum(1 for _ in m.parameters())
    for p in m.parameters():
        torch.testing.assert_close(grads[p], p.grad, rtol=1e-5, atol=1e-6)


def test_dropout_mask_is_applied_in_both_directions():
    torch.manual_seed(0)
    m = _model([Dense(32, activation="relu", input_shape=(5,)), Dropout(0.5), Dense(3, activation="softmax")])
    ops = fast_dense.plan(m)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    torch.manual_seed(1)
    step = fast_dense.DenseStep(m, ops)
    with torch.no_grad():
        value, _ = step.loss_and_grads(x, y, training=True)
    grads = step.grads
    torch.manual_seed(1)  # F.dropout draws the same Bernoulli mask from the same seed
    h = torch.relu(x @ m.layers[0].weight.t() + m.layers[0].bias)
    mask = torch.empty_like(h).bernoulli_(0.5).div_(0.5)
    ref = m.loss.compute((h * mask) @ m.layers[2].weight.t() + m.layers[2].bias, y)
    ref.backward()
    torch.testing.assert_close(value, ref)
    for p in m.parameters():
        torch.testing.assert_close(grads[p], p.grad, rtol=1e-5, atol=1e-6)


def test_other_models_take_the_autograd_step():
    head = Dense(2, activation="softmax")
    assert fast_dense.plan(_model([Dense(4, input_shape=(3,)), BatchNormalization(), head])) is None
    gelu = [Dense(4, activation="gelu", input_shape=(3,)), Dense(2, activation="softmax")]
    assert fast_dense.plan(_model(gelu)) is None
    assert fast_dense.plan(_model([Dense(2, activation="sigmoid", input_shape=(3,))], "binary_crossentropy")) is None


def test_training_matches_the_autograd_path():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
    histories = []
    for fast in (True, False):
        nnguru.set_seed(3)
        m = Sequential([Dense(16, activation="relu", input_shape=(6,)), Dense(2, activation="softmax")])
        m.use_fast_dense = fast
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        histories.append(m.fit(x, y, epochs=3, batch_size=32, verbose=0).history)
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-4)
    assert histories[0]["accuracy"] == histories[1]["accuracy"]
