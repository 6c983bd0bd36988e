"""LearningRateScheduler as in Keras: a one-argument schedule(epoch), learning_rate=0.0 to start,
and the rate logged as ``learning_rate``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnguru.callbacks import LearningRateScheduler, ReduceLROnPlateau
from nnguru.layers import Dense
from nnguru.models import Sequential
from nnguru.optimizers import SGD


def _model():
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(learning_rate=0.0, momentum=0.9), metrics=["accuracy"])
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32")


def test_one_argument_schedule_and_logged_rate():
    def step_decay(epoch):
        return 0.1 * math.pow(0.5, math.floor((1 + epoch) / 2.0))

    history = _model().fit(*_data(), epochs=4, batch_size=8, verbose=0,
                           callbacks=[LearningRateScheduler(step_decay)])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.05, 0.025])


def test_two_argument_schedule_gets_the_current_rate():
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return 0.01 if epoch == 0 else lr / 2

    _model().fit(*_data(), epochs=3, batch_size=8, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert seen == pytest.approx([0.0, 0.01, 0.005])  # starts at SGD(learning_rate=0.0)


def test_reduce_lr_on_plateau_logs_learning_rate():
    x, y = _data()
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(loss="binary_crossentropy", optimizer=SGD(learning_rate=0.05))
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[ReduceLROnPlateau(monitor="val_loss", patience=5)])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05])


def test_negative_learning_rate_is_refused():
    from nnguru.errors import NNGuruError

    with pytest.raises(NNGuruError, match="learning_rate must be a number >= 0"):
        SGD(learning_rate=-0.1)
