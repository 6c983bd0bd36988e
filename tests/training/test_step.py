"""Which training step runs, chosen once per fit (training/step.py), and that lr-find runs the same one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Model, Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import Conv2D, Dense, Flatten
from nnguru.training.step import choose_step


def _mlp(optimizer="adam"):
    m = Sequential([Flatten(input_shape=(2, 3)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return m


def _cnn(optimizer="adam"):
    m = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)), Flatten(),
                    Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return m


def _data(shape, n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    return x, (x.reshape(n, -1)[:, 0] > 0).astype(np.int64) + (x.reshape(n, -1)[:, 1] > 1)


def _fit_step(model, x, y, **kwargs) -> str:
    return model.fit(x, y, epochs=1, batch_size=16, verbose=0, **kwargs).params["train_step"]


@pytest.mark.parametrize(("build", "shape", "optimizer", "expected"), [
    (_mlp, (2, 3), "adam", "fast-dense+fused-adam"),      # the tutorial MLP: hand-derived backward
    (_mlp, (2, 3), "sgd", "fast-dense+optimizer.step"),
    (_cnn, (6, 6, 1), "adam", "autograd+fused-adam"),     # any other layer: autograd
    (_mlp, (2, 3), "lbfgs", "whole-batch"),               # ModelOptimizers own the update
    (_cnn, (6, 6, 1), "gd", "whole-batch"),
])
def test_fit_chooses_the_step_once(build, shape, optimizer, expected):
    x, y = _data(shape)
    model = build(optimizer)
    assert _fit_step(model, x, y) == expected
    train = model._tensors(x, y, None, "")
    assert choose_step(model, model.optimizer, model.loss, train.x, train.w).name == expected


def test_what_the_fast_dense_step_does_not_cover_takes_autograd():
    x, y = _data((2, 3))
    assert _fit_step(_mlp(), x, y, sample_weight=np.ones(len(x))) == "autograd+fused-adam"
    off = _mlp()
    off.use_fast_dense = False
    assert _fit_step(off, x, y) == "autograd+fused-adam"

    class Stack(Sequential):  # a subclass may change forward, which the hand-derived step would not follow
        pass

    sub = Stack([Flatten(input_shape=(2, 3)), Dense(3, activation="softmax")])
    sub.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert _fit_step(sub, x, y) == "autograd+fused-adam"
    wrapped = Model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3)))
    wrapped.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert _fit_step(wrapped, x, y) == "autograd+fused-adam"


@pytest.mark.parametrize(("build", "shape"), [(_mlp, (2, 3)), (_cnn, (6, 6, 1))])
def test_lr_find_runs_the_step_fit_runs(build, shape):
    x, y = _data(shape, n=128)
    model = build()
    result = model.find_lr(x, y, steps=10, batch_size=16)
    assert len(result.lrs) == 10
    assert result.train_step == _fit_step(model, x, y)


def test_an_overridden_train_step_runs_as_written_and_its_default_is_the_plain_update():
    """A subclass's train_step that calls the default trains bit for bit like the chosen autograd step."""
    calls = []

    class Counted(Sequential):
        def train_step(self, x, y, w):
            calls.append(len(x))
            return super().train_step(x, y, w)

    x, y = _data((6, 6, 1))
    weights = []
    for cls in (Counted, Sequential):
        nnguru.set_seed(0)
        m = cls([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)), Flatten(), Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        step = _fit_step(m, x, y)
        assert step == ("custom" if cls is Counted else "autograd+fused-adam")
        weights.append([p.detach().clone() for p in m.parameters()])
    assert calls == [16] * 4
    for a, b in zip(*weights, strict=True):
        assert torch.equal(a, b)


def test_torchrun_refuses_steps_that_cannot_average_gradients():
    x = torch.zeros(4, 6)

    class Custom(Sequential):
        def train_step(self, x, y, w):
            return super().train_step(x, y, w)

    custom = Custom([Dense(3, activation="softmax", input_shape=(6,))])
    custom.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    custom.build((6,))
    custom._finish_compile()
    with pytest.raises(NNGuruError, match="overrides train_step"):
        choose_step(custom, custom.optimizer, custom.loss, x, world=2)
    whole = Sequential([Dense(3, activation="softmax", input_shape=(6,))])
    whole.compile(optimizer="lbfgs", loss="sparse_categorical_crossentropy")
    whole._finish_compile()
    with pytest.raises(NNGuruError, match="does not average across torchrun ranks"):
        choose_step(whole, whole.optimizer, whole.loss, x, world=2)
