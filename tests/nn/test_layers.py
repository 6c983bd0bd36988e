"""Layers against PyTorch references: outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError
from nnguru.layers import (
    GRU,
    LSTM,
    Activation,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)
from nnguru.nn.layers import deserialize, serialize


def _grad_check(layer, x, reference):
    """Same output and same input/weight gradients as a torch reference computation."""
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    out, ref = layer(x1), reference(x2)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_dense_matches_linear_and_uses_glorot():
    layer = Dense(7, activation="tanh")
    layer.ensure_built((5,))
    assert layer.output_shape == (7,)
    limit = np.sqrt(6 / (5 + 7))
    assert layer.weight.abs().max() <= limit and torch.all(layer.bias == 0)
    x = torch.randn(4, 5)
    _grad_check(layer, x, lambda t: torch.tanh(t @ layer.weight.T + layer.bias))


@pytest.mark.parametrize("act,ref", [
    ("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("gelu", F.gelu),
    ("softmax", lambda t: F.softmax(t, -1)), ("leaky_relu", lambda t: F.leaky_relu(t, 0.2)),
    ("linear", lambda t: t),
])
def test_activations(act, ref):
    _grad_check(Activation(act), torch.randn(3, 6), ref)


def test_conv2d_channels_last_matches_torch_and_keras_shapes():
    layer = Conv2D(4, 3, activation="relu", padding="same")
    layer.ensure_built((8, 8, 2))
    assert layer.output_shape == (8, 8, 4)
    x = torch.randn(2, 8, 8, 2)

    def ref(t):
        y = F.conv2d(t.permute(0, 3, 1, 2), layer.weight, layer.bias, padding=1)
        return F.relu(y).permute(0, 2, 3, 1)

    _grad_check(layer, x, ref)
    strided = Conv2D(3, 3, strides=2, padding="same")
    assert strided.ensure_built((7, 7, 1)) == (4, 4, 3)  # TF's ceil(7/2)
    assert strided(torch.randn(1, 7, 7, 1)).shape == (1, 4, 4, 3)
    assert Conv2D(3, 3).ensure_built((7, 7, 1)) == (5, 5, 3)


def test_pooling_flatten_gap():
    x = torch.randn(2, 6, 6, 3)
    pool = MaxPooling2D(2)
    assert pool.ensure_built((6, 6, 3)) == (3, 3, 3)
    _grad_check(pool, x, lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1))
    _grad_check(GlobalAveragePooling2D(), x, lambda t: t.mean(dim=(1, 2)))
    flat = Flatten()
    assert flat.ensure_built((6, 6, 3)) == (108,)
    _grad_check(flat, x, lambda t: t.reshape(2, -1))


def test_batchnorm_matches_torch_in_train_and_eval():
    bn = BatchNormalization()
    bn.ensure_built((5,))
    ref = torch.nn.BatchNorm1d(5, eps=1e-3, momentum=0.01)
    x = torch.randn(16, 5) * 3 + 1
    torch.testing.assert_close(bn(x), ref(x))
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    bn.eval()
    ref.eval()
    torch.testing.assert_close(bn(x), ref(x))


def test_dropout_scales_in_training_and_is_identity_in_eval():
    d = Dropout(0.5)
    x = torch.ones(1000, 10)
    out = d(x)
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert 0.4 < (out == 0).float().mean() < 0.6
    d.eval()
    assert torch.equal(d(x), x)


def test_sequence_layers_shapes():
    assert Conv1D(4, 3, padding="causal").ensure_built((10, 2)) == (10, 4)
    lstm = LSTM(8)
    assert lstm.ensure_built((5, 3)) == (8,)
    assert lstm(torch.randn(2, 5, 3)).shape == (2, 8)
    assert GRU(6, return_sequences=True).ensure_built((5, 3)) == (5, 6)
    emb = Embedding(50, 4)
    assert emb.ensure_built((7,)) == (7, 4)
    assert emb(torch.randint(0, 50, (2, 7))).shape == (2, 7, 4)


def test_layer_config_round_trip():
    for layer in [Dense(3, activation="relu", input_shape=(4,)), Conv2D(2, (3, 3), padding="same"),
                  Dropout(0.3), Input(shape=(28, 28)), MaxPooling2D((2, 2)), LSTM(4)]:
        again = deserialize(serialize(layer))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_bad_layer_arguments():
    with pytest.raises(NNGuruError, match="positive int"):
        Dense(0)
    with pytest.raises(NNGuruError, match="Unknown activation 'relux'"):
        Dense(3, activation="relux")
    with pytest.raises(NNGuruError, match="Dropout rate"):
        Dropout(1.5)
    with pytest.raises(NNGuruError, match="height, width, channels"):
        Conv2D(2, 3).ensure_built((28, 28))
    with pytest.raises(NNGuruError, match="Unknown layer"):
        deserialize({"class_name": "os.system", "config": {}})


def test_dense_kernel_initializer_zeros_and_unknown_names():
    layer = Dense(3, kernel_initializer="zeros")
    layer.build((4,))
    assert float(layer.weight.detach().abs().sum()) == 0.0
    assert Dense.from_config(layer.get_config()).kernel_initializer == "zeros"
    with pytest.raises(NNGuruError, match="Unknown kernel_initializer 'onez'.*glorot_uniform"):
        Dense(3, kernel_initializer="onez")


def test_frozen_batchnorm_runs_in_inference_mode_like_keras():
    """Keras: BatchNormalization with trainable=False uses (and keeps) its moving statistics."""
    bn = BatchNormalization()
    bn.ensure_built((5,))
    ref = torch.nn.BatchNorm1d(5, eps=1e-3, momentum=0.01)
    x = torch.randn(16, 5) * 3 + 1
    bn(x), ref(x)  # moving statistics move once
    bn.trainable = False
    before = bn.running_mean.clone()
    ref.eval()
    torch.testing.assert_close(bn(x * 2), ref(x * 2))  # bn is still in training mode
    torch.testing.assert_close(bn.running_mean, before)
    bn.trainable = True
    ref.train()
    torch.testing.assert_close(bn(x), ref(x))
