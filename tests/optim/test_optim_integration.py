"""The optimizers through the Keras-style API: compile(optimizer=NAME, **options) and fit."""

from __future__ import annotations

import numpy as np
import pytest

from nnguru import Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import Dense
from nnguru.optim import ModelOptimizer


def _model():
    return Sequential([Dense(16, activation="relu", input_shape=(4,)),
                       Dense(3, activation="softmax")])


@pytest.mark.parametrize("optimizer, options, epochs", [
    ("hessian-free", {}, 4), ("lbfgs", {}, 4), ("gd", {"line_search": True}, 4),
    ("random-search", {"objective": "accuracy"}, 30), ({"name": "sgd", "momentum": 0.9}, {}, 4),
])
def test_fit_with_every_kind_of_optimizer(blobs, optimizer, options, epochs):
    x, y = blobs
    model = _model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **options)
    history = model.fit(x, y, epochs=epochs, verbose=0)
    assert len(history.history["loss"]) == epochs
    assert np.isfinite(history.history["loss"]).all()
    assert model.evaluate(x, y, return_dict=True)["accuracy"] >= 0.9
    if optimizer in ("hessian-free", "lbfgs", "gd", "random-search"):
        assert isinstance(model.optimizer, ModelOptimizer)


def test_compile_rejects_unknown_names_and_options_that_do_not_apply():
    model = _model()
    with pytest.raises(NNGuruError, match="hessian-free"):
        model.compile(optimizer="hessian_fre", loss="sparse_categorical_crossentropy")
    with pytest.raises(NNGuruError, match="momentum"):
        model.compile(optimizer="lbfgs", loss="sparse_categorical_crossentropy", momentum=0.9)
