"""FeatureScale (a learned per-feature scale) and sparse cross-entropy's label smoothing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import nnguru
from nnguru import Sequential
from nnguru.layers import Dense, FeatureScale, Input
from nnguru.nn.losses import SparseCategoricalCrossentropy


def test_feature_scale_starts_as_identity_and_learns_per_feature():
    layer = FeatureScale()
    x = torch.randn(8, 5)
    assert torch.equal(layer(x), x)
    with torch.no_grad():
        layer.scale.copy_(torch.arange(5.0))
    y = layer(x)
    torch.testing.assert_close(y, x * torch.arange(5.0))
    y.sum().backward()
    torch.testing.assert_close(layer.scale.grad, x.sum(dim=0))  # d/ds sum(x * s) = sum over rows of x


def test_feature_scale_saves_and_loads(tmp_path):
    nnguru.set_seed(0)
    model = Sequential([Input(shape=(4,)), FeatureScale(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    model.fit(x, np.arange(32) % 3, epochs=2, verbose=0)
    model.save(tmp_path / "m")
    back = nnguru.load_model(tmp_path / "m")
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=1e-6)


def test_label_smoothing_matches_torch_on_logits_and_probabilities():
    torch.manual_seed(0)
    logits, y = torch.randn(16, 3), torch.randint(0, 3, (16,))
    expected = F.cross_entropy(logits, y, label_smoothing=0.1)
    on_logits = SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    torch.testing.assert_close(on_logits.compute(logits, y), expected)
    torch.testing.assert_close(on_logits.elementwise(logits, y).mean(), expected)
    on_probs = SparseCategoricalCrossentropy(label_smoothing=0.1)
    torch.testing.assert_close(on_probs.elementwise(logits.softmax(-1), y).mean(), expected, rtol=1e-5, atol=1e-6)
    assert on_logits.get_config()["label_smoothing"] == 0.1
