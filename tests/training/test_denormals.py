"""Denormals are flushed on every intra-op thread during fit, and the mode is restored after."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.layers import Dense
from nnguru.training.callbacks import Callback
from nnguru.training.denormals import flush_denormals, flushing

if not torch.set_flush_denormal(False):
    pytest.skip("this CPU has no flush-to-zero mode", allow_module_level=True)


def _underflow() -> torch.Tensor:
    """1e-40 in float32 (a denormal) over 2**21 elements: an element-wise op big enough to be split
    across the OpenMP team, so every thread computes a share of it."""
    return torch.full((1 << 21,), 1e-30) * torch.tensor(1e-10)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_every_thread_of_the_team_flushes_and_the_mode_is_restored(two_threads):
    # scikit-learn's wheels load a second libgomp with threads of its own; torch's team must be reached
    from sklearn.cluster import KMeans

    KMeans(2, n_init=1, random_state=0).fit(np.random.default_rng(0).random((64, 2)))
    assert not flushing()
    assert (_underflow() != 0).all()  # the default: denormals are kept
    with flush_denormals(2):
        assert flushing()
        assert (_underflow() == 0).all()  # not just this thread's share
    assert not flushing()
    assert (_underflow() != 0).all()


def test_a_mode_chosen_by_the_caller_is_left_alone():
    torch.set_flush_denormal(True)
    try:
        with flush_denormals(1):
            assert flushing()
        assert flushing()
    finally:
        torch.set_flush_denormal(False)
    with flush_denormals(0):  # a GPU fit: nothing changes on the CPU
        assert not flushing()


def test_fit_flushes_while_training_only():
    seen = []

    class Probe(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(flushing())

    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    m = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, (x[:, 0] > 0).astype(np.int64), epochs=2, callbacks=[Probe()], verbose=0)
    assert seen == [True, True]
    assert not flushing()
