"""Silent differences from Keras: each test here failed before its fix (no error, wrong behaviour)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.layers import Dense


def _regression_data(n: int = 256, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (x @ rng.normal(size=(d, 1))).astype(np.float32)


@pytest.mark.parametrize("loss", ["mse", "mae"])  # the fast Dense path and plain autograd
def test_predict_before_fit_builds_trainable_weights(loss):
    """predict() on an unbuilt model used to build it inside inference mode: fit then could not train it."""
    x, y = _regression_data()
    model = Sequential([Dense(16, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    before = model.predict(x[:4])
    assert before.shape == (4, 1)
    assert not any(p.is_inference() for p in model.parameters())
    w0 = model.layers[0].weight.detach().clone()
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert not torch.equal(model.layers[0].weight.detach(), w0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_calling_an_unbuilt_model_builds_it_with_trainable_weights():
    x, y = _regression_data()
    model = Sequential([Dense(8, activation="relu"), Dense(1)])
    with torch.inference_mode():
        assert model(torch.as_tensor(x[:3])).shape == (3, 1)
    assert model.built and model.input_shape == (5,)
    assert not any(p.is_inference() for p in model.parameters())
    model.compile(optimizer="adam", loss="mse")
    w0 = model.layers[1].weight.detach().clone()
    model.fit(x, y, epochs=2, verbose=0)
    assert not torch.equal(model.layers[1].weight.detach(), w0)


def test_summary_of_an_unbuilt_model_says_it_is_not_built():
    """It used to print a table with "Total params: 0"."""
    model = Sequential([Dense(4, activation="relu"), Dense(1)])
    printed: list[str] = []
    text = model.summary(print_fn=printed.append)
    assert printed == [text]
    assert "not been built" in text and "build(input_shape)" in text
    assert "Total params" not in text
    model.build((3,))
    assert "Total params: 21" in model.summary(print_fn=None)
