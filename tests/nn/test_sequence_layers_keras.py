"""Keras behaviours the second tutorial corpus needed: LSTM(activation='relu'), Conv1DTranspose,
TimeDistributed, RepeatVector, Sequential.pop / build((None, ...)) / weights, Input.dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import (
    GRU,
    LSTM,
    Conv1D,
    Conv1DTranspose,
    Conv2DTranspose,
    Dense,
    Flatten,
    Input,
    MaxPooling1D,
    RepeatVector,
    TimeDistributed,
)


def _keras_lstm(x: torch.Tensor, layer: LSTM, act) -> torch.Tensor:
    """Keras's LSTM equations (gates i, f, c, o; activation on the candidate and the cell output)."""
    kernel, recurrent = layer.rnn.weight_ih_l0.T, layer.rnn.weight_hh_l0.T  # Keras's (in, 4u), (u, 4u)
    bias = layer.rnn.bias_ih_l0
    h = c = torch.zeros(x.shape[0], layer.units)
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
        h = torch.sigmoid(o) * act(c)
    return h


def test_lstm_relu_follows_keras_equations():
    torch.manual_seed(0)
    layer = LSTM(5, activation="relu")
    x = torch.randn(3, 4, 2)
    with torch.no_grad():
        out = layer(x)
        expected = _keras_lstm(x, layer, torch.relu)
    torch.testing.assert_close(out, expected)
    tanh = LSTM(5)  # the fused kernel still runs the default
    tanh(x)
    with torch.no_grad():
        torch.testing.assert_close(tanh(x), _keras_lstm(x, tanh, torch.tanh), rtol=1e-5, atol=1e-6)


def test_lstm_relu_trains_and_keeps_keras_parameter_count():
    model = Sequential([LSTM(50, activation="relu", return_sequences=True, input_shape=(3, 1)),
                        LSTM(50, activation="relu"), Dense(1)])
    assert model.count_params() == 30651  # Keras 3: 10400 + 20200 + 51
    model.compile(optimizer="adam", loss="mse")
    x = np.arange(18, dtype="float32").reshape(6, 3, 1) / 10
    model.fit(x, x[:, -1, 0] + 0.1, epochs=2, verbose=0)
    assert np.isfinite(model.predict(x)).all()


def test_gru_relu_and_unknown_activation():
    assert GRU(4, activation="relu").activation == "relu"
    with pytest.raises(NNGuruError, match=r"LSTM\(activation='softplus'\) is not supported"):
        LSTM(4, activation="softplus")


@pytest.mark.parametrize("padding,strides,kernel", [("same", 2, 7), ("valid", 2, 3), ("valid", 1, 4),
                                                    ("same", 3, 2)])
def test_conv1d_transpose_matches_conv2d_transpose(padding, strides, kernel):
    """Conv1DTranspose on (steps, ch) equals Conv2DTranspose on (steps, 1, ch) with the same kernel."""
    torch.manual_seed(0)
    x = torch.randn(2, 9, 3)
    one = Conv1DTranspose(4, kernel, strides=strides, padding=padding)
    two = Conv2DTranspose(4, (kernel, 1), strides=(strides, 1), padding=padding)
    one(x), two(x[:, :, None, :])
    with torch.no_grad():
        two.weight.copy_(one.weight[..., None])
        two.bias.copy_(one.bias)
        y1, y2 = one(x), two(x[:, :, None, :])[:, :, 0, :]
    torch.testing.assert_close(y1, y2)
    # Keras's output length: steps * stride ('same'), steps * stride + max(kernel - stride, 0) ('valid')
    expect = 9 * strides if padding == "same" else 9 * strides + max(kernel - strides, 0)
    assert tuple(y1.shape) == (2, expect, 4) == (2, *one.compute_output_shape((9, 3)))
    assert [tuple(w.shape) for w in one.weights] == [(kernel, 4, 3), (4,)]  # Keras's (k, filters, in)


def test_conv1d_transpose_autoencoder_shapes():
    model = Sequential([Input(shape=(288, 1)), Conv1D(32, 7, padding="same", strides=2),
                        Conv1D(16, 7, padding="same", strides=2),
                        Conv1DTranspose(16, 7, padding="same", strides=2),
                        Conv1DTranspose(32, 7, padding="same", strides=2), Conv1DTranspose(1, 7, padding="same")])
    assert model.output_shape == (288, 1) and model.count_params() == 9505  # Keras 3 summary


def test_time_distributed_dense_is_dense_per_step():
    torch.manual_seed(0)
    layer = TimeDistributed(Dense(3))
    x = torch.randn(2, 5, 4)
    with torch.no_grad():
        y = layer(x)
        torch.testing.assert_close(y[:, 2], layer.layer(x[:, 2]))
    assert tuple(y.shape) == (2, 5, 3) and sum(p.numel() for p in layer.parameters()) == 15


def test_time_distributed_cnn_lstm_with_a_free_step_axis():
    """The CNN-LSTM tutorial: input_shape=(None, steps, features), built from the data by fit."""
    model = Sequential([TimeDistributed(Conv1D(64, 1, activation="relu"), input_shape=(None, 2, 1)),
                        TimeDistributed(MaxPooling1D(pool_size=2)), TimeDistributed(Flatten()),
                        LSTM(50, activation="relu"), Dense(1)])
    assert not model.built
    model.compile(optimizer="adam", loss="mse")
    x = np.arange(20, dtype="float32").reshape(5, 2, 2, 1)
    model.fit(x, np.arange(5, dtype="float32"), epochs=1, verbose=0)
    assert model.count_params() == 23179  # Keras 3: 128 + 23000 + 51
    assert model.predict(x[:1]).shape == (1, 1)


def test_repeat_vector():
    x = torch.arange(6.0).reshape(2, 3)
    y = RepeatVector(4)(x)
    assert tuple(y.shape) == (2, 4, 3) and torch.equal(y[:, 3], x)
    with pytest.raises(NNGuruError, match="RepeatVector"):
        RepeatVector(0)


def test_sequential_pop_build_with_batch_axis_and_weights():
    model = Sequential([Dense(2, activation="relu"), Dense(3, activation="relu"), Dense(4)])
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 2
    model.build((None, 3))  # Keras's form: the batch axis first
    assert model.input_shape == (3,) and model.output_shape == (3,)
    assert [tuple(w.shape) for w in model.weights] == [(3, 2), (2,), (2, 3), (3,)]
    layer = Dense(3)
    assert layer.weights == []
    layer(torch.ones(1, 4))
    assert [tuple(w.shape) for w in layer.weights] == [(4, 3), (3,)]
    torch.testing.assert_close(layer.weights[0], layer.kernel)


def test_input_dtype_defaults_to_float32():
    assert Input(shape=(3,)).dtype == "float32"
    assert Input(shape=(None,), dtype="int32").dtype == "int32"
    assert "dtype" not in Input(shape=(3,)).get_config()
