"""The loop's folded bookkeeping reports exactly what per-step bookkeeping would."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Sequential
from nnguru.layers import Dense
from nnguru.training import loop


@pytest.mark.parametrize("fast", [True, False])
def test_frozen_weights_train_logs_equal_evaluate(fast):
    """With lr=0 an epoch's training loss and metrics are those of evaluate() on the same data.

    1000 samples at batch 7: 143 steps, so folds happen mid-epoch (every FOLD_EVERY steps) and
    the last batch is short (6 samples) and must be weighted by its size.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 5)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=1000) > 0).astype(np.int64) + (x[:, 1] > 1)
    nnguru.set_seed(0)
    m = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dense(3, activation="softmax")])
    m.use_fast_dense = fast
    m.compile(optimizer=torch.optim.SGD(m.parameters(), lr=0.0), loss="sparse_categorical_crossentropy",
              metrics=["accuracy", "precision", "recall"])
    assert 2 * loop.FOLD_EVERY < 1000 // 7
    hist = m.fit(x, y, epochs=1, batch_size=7, verbose=0).history
    loss, acc, precision, recall = m.evaluate(x, y, verbose=0)
    assert hist["loss"][0] == pytest.approx(loss, rel=1e-6)
    assert hist["accuracy"][0] == pytest.approx(acc, abs=1e-12)
    assert hist["precision"][0] == pytest.approx(precision, rel=1e-9)
    assert hist["recall"][0] == pytest.approx(recall, rel=1e-9)
    assert hist["accuracy"][0] == pytest.approx((m.predict(x).argmax(1) == y).mean(), abs=1e-12)


def test_tally_weights_losses_by_batch_size():
    t = loop.Tally([], torch.device("cpu"))
    for value, n in [(1.0, 32), (2.0, 32), (4.0, 8)]:
        t.add(torch.tensor(value), torch.zeros(n, 1), torch.zeros(n))
    assert t.mean_loss() == pytest.approx((32 * 1.0 + 32 * 2.0 + 8 * 4.0) / 72)
    t.add(torch.tensor(float("nan")), torch.zeros(1, 1), torch.zeros(1))
    assert not t.finite()
