"""The small digits MLP the network-fault tests plant faults into (tests/guru, tests/nn)."""

from __future__ import annotations

import warnings

import nnguru
from nnguru import Sequential
from nnguru.layers import Dense


def digits_mlp(act: str = "relu", depth: int = 2, init="glorot_uniform", bias="zeros", opt="adam",
               loss="sparse_categorical_crossentropy", last: str = "softmax") -> Sequential:
    """A compiled, seeded 64 -> 32 x depth -> 10 MLP with the given activation, initializers,
    optimizer, loss and output activation (a mismatch warning, if any, is the point: silenced)."""
    nnguru.set_seed(0)
    layers = [Dense(32, activation=act, input_shape=(64,), kernel_initializer=init, bias_initializer=bias)]
    layers += [Dense(32, activation=act, kernel_initializer=init, bias_initializer=bias) for _ in range(depth - 1)]
    model = Sequential([*layers, Dense(10, activation=last)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.compile(optimizer=opt, loss=loss)
    return model
