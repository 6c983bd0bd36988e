"""Keras's output semantics: model(x) and predict return what the last layer computes; the loss
decides how it reads them (from_logits), and the fused softmax/sigmoid is an internal speed-up."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nnguru
from nnguru import Sequential, losses
from nnguru.callbacks import Callback
from nnguru.layers import Dense


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    return x, y


def _softmax_model():
    torch.manual_seed(0)
    return Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])


def _linear_model():
    torch.manual_seed(0)
    return Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(3)])


def test_softmax_model_returns_probabilities_after_compile_and_fit(data):
    x, y = data
    model = _softmax_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    out = model(torch.as_tensor(x[:10])).detach()
    torch.testing.assert_close(out.sum(1), torch.ones(10))
    model.fit(x, y, epochs=1, verbose=0)
    out = model(torch.as_tensor(x[:10])).detach()
    assert (out >= 0).all()
    torch.testing.assert_close(out.sum(1), torch.ones(10))
    np.testing.assert_allclose(model.predict(x[:10]), out.numpy(), rtol=1e-6, atol=1e-7)


def test_predict_of_a_linear_output_classifier_is_the_raw_outputs(data):
    x, y = data
    model = _linear_model()
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, verbose=0)
    raw = model(torch.as_tensor(x[:8])).detach().numpy()
    pred = model.predict(x[:8])
    np.testing.assert_allclose(pred, raw, rtol=1e-6, atol=1e-7)
    assert not np.allclose(pred.sum(1), 1.0)  # not probabilities: Keras returns logits here


def test_loss_reads_logits_of_a_fused_softmax(data):
    x, y = data
    model = _softmax_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with torch.no_grad():
        logits = F.linear(model.layers[0](torch.as_tensor(x)), model.layers[1].weight, model.layers[1].bias)
    expected = float(F.cross_entropy(logits, torch.as_tensor(y)))
    assert model.evaluate(x, y) == pytest.approx(expected, rel=1e-5)
    with model.loss_outputs(), torch.no_grad():  # what the loop computes the loss on
        torch.testing.assert_close(model(torch.as_tensor(x)), logits)


def test_from_logits_true_on_a_softmax_layer_warns_and_uses_the_pre_activation_logits(data):
    x, y = data
    model = _softmax_model()
    with pytest.warns(UserWarning, match="received `from_logits=True`, but the output was produced by a softmax"):
        model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    with torch.no_grad():
        logits = F.linear(model.layers[0](torch.as_tensor(x)), model.layers[1].weight, model.layers[1].bias)
    assert model.evaluate(x, y) == pytest.approx(float(F.cross_entropy(logits, torch.as_tensor(y))), rel=1e-5)


def test_from_logits_false_on_a_linear_layer_warns_and_treats_outputs_as_logits(data):
    x, y = data
    model = _linear_model()
    with pytest.warns(UserWarning, match="not probabilities"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    raw = model(torch.as_tensor(x)).detach()
    assert model.evaluate(x, y) == pytest.approx(float(F.cross_entropy(raw, torch.as_tensor(y))), rel=1e-5)


class _SoftmaxNet(torch.nn.Module):  # its own forward: nothing can be fused
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x).softmax(-1)


def test_losses_on_probabilities_follow_keras_clipping(data):
    x, y = data
    torch.manual_seed(0)
    model = nnguru.Model(_SoftmaxNet())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    p = model(torch.as_tensor(x)).detach()
    expected = float(-p[torch.arange(len(y)), torch.as_tensor(y)].clamp(1e-7, 1 - 1e-7).log().mean())
    loss, acc = model.evaluate(x, y)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx(float((p.argmax(1).numpy() == y).mean()))
    # Keras's documented values: a zero probability costs -log(1e-7); BCE clips the same way
    sce = losses.SparseCategoricalCrossentropy()
    assert float(sce(torch.tensor([1]), torch.tensor([[1.0, 0.0]])))  # Keras: (y_true, y_pred)
    assert float(sce.compute(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))) == pytest.approx(-np.log(1e-7), rel=1e-4)
    bce = losses.BinaryCrossentropy()
    probs, targets = torch.tensor([[0.9], [0.2], [1.0]]), torch.tensor([[1.0], [0.0], [0.0]])
    clipped_one = np.float32(1) - np.float32(1 - 1e-7)  # 1 - (1 - eps) in float32, as Keras computes it
    want = -np.mean([np.log(0.9), np.log(0.8), np.log(clipped_one)])
    assert float(bce(targets, probs)) == pytest.approx(want, rel=1e-4)
    cce = losses.CategoricalCrossentropy()
    assert float(cce(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))) == pytest.approx(-np.log(0.8), rel=1e-5)


def test_binary_metrics_threshold_probabilities_at_half(data):
    x, _ = data
    yb = (x[:, 0] + 0.3 * x[:, 2] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = Sequential([Dense(4, activation="tanh", input_shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", nnguru.metrics.BinaryAccuracy(threshold=0.7)])
    model.fit(x, yb, epochs=3, verbose=0)
    p = model.predict(x)[:, 0]
    _, acc, acc70 = model.evaluate(x, yb)
    assert acc == pytest.approx(float(((p > 0.5) == yb).mean()))
    assert acc70 == pytest.approx(float(((p > 0.7) == yb).mean()))


def test_callbacks_inside_fit_see_the_full_outputs(data):
    x, y = data
    sums = []

    class Probe(Callback):
        def on_epoch_end(self, epoch, logs=None):
            sums.append(self.model.predict(x[:5]).sum(1))
            sums.append(self.model(torch.as_tensor(x[:5])).detach().numpy().sum(1))

    model = _softmax_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[Probe()], validation_data=(x, y))
    assert len(sums) == 4
    for s in sums:
        np.testing.assert_allclose(s, 1.0, rtol=1e-5)


def _as_old_bundle(path, output_activation):
    meta = json.loads((path / "model.json").read_text())
    meta["output_activation"] = output_activation  # what nnguru wrote before Keras's semantics
    (path / "model.json").write_text(json.dumps(meta))


def test_old_bundles_predict_as_before(data, tmp_path):
    x, y = data
    fused = _softmax_model()
    fused.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    fused.save(tmp_path / "fused")
    _as_old_bundle(tmp_path / "fused", "softmax")  # the head's own softmax, fused into the loss
    np.testing.assert_allclose(nnguru.load_model(tmp_path / "fused").predict(x), fused.predict(x), rtol=1e-6)

    linear = _linear_model()
    linear.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    linear.save(tmp_path / "linear")
    _as_old_bundle(tmp_path / "linear", "softmax")  # old predict put a softmax on a linear head
    loaded = nnguru.load_model(tmp_path / "linear")
    expected = torch.as_tensor(linear.predict(x)).softmax(-1).numpy()
    np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-5)
