"""Silent differences from Keras: each test here failed before its fix (no error, wrong behaviour)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import GRU, LSTM, Dense, SimpleRNN
from nnguru.nn.layers import deserialize, serialize


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


# Keras's documented parameter counts (GRU: reset_after=True, Keras's default).
KERAS_PARAMS = {
    "LSTM": lambda units, inputs: 4 * (units * (inputs + units) + units),
    "GRU": lambda units, inputs: 3 * (units * (inputs + units) + 2 * units),
    "SimpleRNN": lambda units, inputs: units * (inputs + units) + units,
}


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_recurrent_parameter_counts_match_keras(cls):
    """torch's second bias b_hh made LSTM and SimpleRNN count more parameters than Keras."""
    units, inputs = 7, 3
    model = Sequential([cls(units, input_shape=(5, inputs)), Dense(1)])
    expected = KERAS_PARAMS[cls.__name__](units, inputs)
    assert sum(p.numel() for p in model.layers[0].parameters()) == expected
    assert model.count_params() == expected + units + 1
    text = model.summary(print_fn=None)
    assert f"Total params: {expected + units + 1:,}" in text
    assert f"Trainable params: {expected + units + 1:,}" in text


def test_single_bias_recurrent_layers_train_save_and_load_older_weights(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 5, 3)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None]
    model = Sequential([LSTM(6, input_shape=(5, 3)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert torch.count_nonzero(model.layers[0].rnn.bias_hh_l0) == 0  # the constant stays zero
    model.save(tmp_path / "m")
    np.testing.assert_allclose(nnguru.load_model(tmp_path / "m").predict(x), model.predict(x), rtol=1e-5)
    # Weights written with torch's two biases (older nnguru) load with b_hh folded into b_ih.
    old = dict(model.state_dict())
    extra = torch.full_like(old["layers.0.rnn.bias_ih_l0"], 0.25)
    old["layers.0.rnn.bias_ih_l0"] = old["layers.0.rnn.bias_ih_l0"] - extra
    old["layers.0.rnn.bias_hh_l0"] = extra
    again = Sequential([LSTM(6, input_shape=(5, 3)), Dense(1)])
    again.load_state_dict(old)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_unsupported_recurrent_activations_are_refused(cls):
    """activation= used to be dropped silently (tanh ran whatever was asked); 'relu' now runs in the
    step loop (tests/nn/test_sequence_layers_keras.py), anything else is still refused."""
    with pytest.raises(NNGuruError, match=rf"{cls.__name__}\(activation='softplus'\) is not supported"):
        cls(4, activation="softplus")
    with pytest.raises(NNGuruError, match="recurrent_activation='hard_sigmoid'"):
        cls(4, recurrent_activation="hard_sigmoid")
    layer = cls(4, activation="tanh", recurrent_activation="sigmoid")  # Keras's defaults, spelled out
    assert layer.get_config()["activation"] == "tanh"
    assert deserialize(serialize(layer)).get_config() == layer.get_config()
    with pytest.raises(NNGuruError, match="SimpleRNN\\(activation='gelu'\\)"):
        SimpleRNN(4, activation="gelu")


def test_simple_rnn_relu_activation_is_applied():
    layer = SimpleRNN(5, activation="relu")
    layer.ensure_built((4, 3))
    x = torch.randn(2, 4, 3)
    rnn = layer.rnn
    h = torch.zeros(2, 5)
    for t in range(4):
        h = torch.relu(x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T)
    torch.testing.assert_close(layer(x), h)
    assert deserialize(serialize(layer)).activation == "relu"


def _two_layer_model(loss: str, optimizer: str = "adam") -> Sequential:
    model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dense(1)])
    model.compile(optimizer=optimizer, loss=loss)
    return model


def _weights(layer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in layer.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


# mse + adam: the fast Dense path with fused Adam; mae: plain autograd; lbfgs/gd: whole-batch optimizers.
@pytest.mark.parametrize(("loss", "optimizer"), [("mse", "adam"), ("mae", "adam"), ("mse", "sgd"),
                                                 ("mse", "lbfgs"), ("mse", "gd")])
def test_frozen_layer_weights_do_not_change_in_fit(loss, optimizer):
    """layer.trainable = False used to be ignored: the weights kept training."""
    x, y = _regression_data()
    model = _two_layer_model(loss, optimizer)
    model.layers[0].trainable = False
    frozen, free = _weights(model.layers[0]), _weights(model.layers[1])
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert _same(_weights(model.layers[0]), frozen)
    assert not _same(_weights(model.layers[1]), free)
    text = model.summary(print_fn=None)
    assert "Total params: 57" in text and "Trainable params: 9" in text and "Non-trainable params: 48" in text
    assert model.count_params() == 57  # Keras counts every weight


def test_trainable_changed_after_compile_and_fit_takes_effect_at_the_next_fit():
    x, y = _regression_data()
    model = _two_layer_model("mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[1].trainable = False
    frozen = _weights(model.layers[1])
    model.fit(x, y, epochs=1, verbose=0)
    assert _same(_weights(model.layers[1]), frozen)
    model.layers[1].trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not _same(_weights(model.layers[1]), frozen)


def test_trainable_argument_freezes_before_build_and_round_trips():
    x, y = _regression_data()
    model = Sequential([Dense(8, activation="relu", trainable=False), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x[:8], y[:8], epochs=1, verbose=0)  # builds the frozen layer here
    frozen = _weights(model.layers[0])
    model.fit(x, y, epochs=2, verbose=0)
    assert _same(_weights(model.layers[0]), frozen)
    assert not any(p.requires_grad for p in model.layers[0].parameters())
    again = deserialize(serialize(model.layers[0]))
    assert again.trainable is False and again.get_config() == model.layers[0].get_config()


def test_model_trainable_false_freezes_every_layer_and_fit_says_so():
    x, y = _regression_data()
    model = _two_layer_model("mse")
    model.trainable = False
    assert all(not layer.trainable for layer in model.layers)
    assert "Trainable params: 0" in model.summary(print_fn=None)
    model.evaluate(x, y)  # still fine without an optimizer
    with pytest.raises(NNGuruError, match="no trainable weights"):
        model.fit(x, y, epochs=1, verbose=0)
