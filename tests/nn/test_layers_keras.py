"""Keras's layers, initializers and regularizers against torch references and Keras's documented rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nnguru
from nnguru import Sequential, initializers, regularizers
from nnguru.errors import NNGuruError
from nnguru.layers import (
    ELU,
    GRU,
    LSTM,
    AveragePooling2D,
    Bidirectional,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LeakyReLU,
    MaxPooling2D,
    Normalization,
    PReLU,
    ReLU,
    Rescaling,
    SimpleRNN,
    Softmax,
    SpatialDropout1D,
    TextVectorization,
    UpSampling2D,
    ZeroPadding2D,
)
from nnguru.nn.layers import deserialize, serialize
from nnguru.training.step import choose_step, with_penalties


def _built(layer, shape):
    layer.ensure_built(shape)
    return layer


# ---- initializers, weight views ------------------------------------------------------------
def test_initializers_use_keras_fans_and_seeds():
    fan_in, fan_out = 300, 200
    w = initializers.GlorotUniform(seed=1)((fan_in, fan_out))
    assert w.abs().max() <= math.sqrt(6 / (fan_in + fan_out)) and w.shape == (fan_in, fan_out)
    assert torch.equal(w, initializers.GlorotUniform(seed=1)((fan_in, fan_out)))  # seeded: the same draw
    he = initializers.get("he_normal")((fan_in, fan_out))
    assert abs(float(he.std()) - math.sqrt(2 / fan_in)) < 0.01 and he.abs().max() <= 2 * math.sqrt(2 / fan_in) / 0.8796
    conv = initializers.HeUniform()((3, 3, 4, 8))  # Keras's fans: receptive field * channels
    assert conv.abs().max() <= math.sqrt(6 / (3 * 3 * 4))
    q = initializers.Orthogonal()((6, 4))
    torch.testing.assert_close(q.T @ q, torch.eye(4), atol=1e-5, rtol=0)
    assert initializers.serialize(initializers.RandomNormal(stddev=0.1)) == {
        "class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.1}}
    assert initializers.serialize(initializers.get("orthogonal")) == "orthogonal"
    with pytest.raises(NNGuruError, match="Unknown kernel_initializer 'he_norm'.*he_normal"):
        Dense(2, kernel_initializer="he_norm")


def test_dense_and_conv_kernels_in_keras_layout_and_initializer_objects_round_trip():
    d = _built(Dense(3, kernel_initializer=initializers.Constant(0.5), bias_initializer="ones"), (4,))
    assert d.kernel.shape == (4, 3) and d.kernel.numpy().tolist() == [[0.5] * 3] * 4
    assert d.bias.numpy().tolist() == [1.0, 1.0, 1.0]  # Keras's layer.bias.numpy()
    d.set_weights([np.arange(12, dtype=np.float32).reshape(4, 3), np.zeros(3, np.float32)])
    torch.testing.assert_close(d.weight.detach(), torch.arange(12.0).reshape(4, 3).T)  # torch (out, in)
    assert np.array_equal(d.get_weights()[0], np.arange(12).reshape(4, 3))
    c = _built(Conv2D(5, (3, 2)), (8, 8, 4))
    assert c.kernel.shape == (3, 2, 4, 5) and torch.equal(c.kernel.permute(3, 2, 0, 1), c.weight.detach())
    assert _built(Conv1D(5, 3), (8, 4)).kernel.shape == (3, 4, 5)
    assert _built(Embedding(10, 4, embeddings_initializer="zeros"), (5,)).embeddings.abs().sum() == 0
    copy = deserialize(serialize(Dense(3, kernel_initializer=initializers.RandomUniform(-1, 1, seed=3))))
    assert copy.kernel_initializer == initializers.RandomUniform(-1, 1, seed=3)


# ---- regularizers ----------------------------------------------------------------------------
def test_regularizers_use_keras_factors():
    w = torch.tensor([1.0, -2.0, 3.0])
    assert float(regularizers.l2()(w)) == pytest.approx(0.01 * 14)  # no 1/2
    assert float(regularizers.L1(0.5)(w)) == pytest.approx(3.0)
    assert float(regularizers.l1_l2()(w)) == pytest.approx(0.01 * 6 + 0.01 * 14)
    assert float(regularizers.L1L2()(w)) == 0.0  # the class's defaults are 0, as in Keras
    with pytest.raises(NNGuruError, match="kernel_regularizer must be None"):
        Dense(2, kernel_regularizer=0.1)


def test_penalties_join_the_training_loss_and_its_gradient():
    torch.manual_seed(0)
    model = Sequential([Dense(4, activation="relu", kernel_regularizer=regularizers.l2(0.1),
                              bias_regularizer=regularizers.l1(0.05), input_shape=(3,)),
                        Dense(2, activity_regularizer=regularizers.l1(0.01))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    model._finish_compile()
    step = choose_step(model, model.optimizer, model.loss, x)
    assert step.name.startswith("autograd")  # never the hand-derived Dense step, which has no penalty

    first, second = model.layers
    w1, b1, w2, b2 = (p.detach().clone().requires_grad_(True) for p in
                      (first.weight, first.bias, second.weight, second.bias))
    out = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
    reference = F.mse_loss(out, y) + 0.1 * w1.square().sum() + 0.05 * b1.abs().sum() + 0.01 * out.abs().sum()
    reference.backward()

    penalized = with_penalties(model, model.loss)
    value = penalized(model(x), y, None)
    value.backward()
    torch.testing.assert_close(value, reference)
    for p, ref in zip((first.weight, first.bias, second.weight, second.bias), (w1, b1, w2, b2), strict=True):
        torch.testing.assert_close(p.grad, ref.grad)
    model.zero_grad()
    loss, _ = step.run(x, y, None)  # the reported loss includes the penalty (before the update)
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-5)


# ---- argument checking ---------------------------------------------------------------------
def test_unknown_and_unsupported_arguments_name_the_layer():
    with pytest.raises(NNGuruError, match=r"Dense\(\) got an unknown argument 'foo'.*Valid arguments: units"):
        Dense(3, foo=1)
    with pytest.raises(NNGuruError, match=r"MaxPooling2D\(\) got an unknown argument 'pool'.*pool_size"):
        MaxPooling2D(pool=2)
    with pytest.raises(NNGuruError, match=r"LSTM\(stateful=True\) is not supported by nnguru"):
        LSTM(4, stateful=True)
    with pytest.raises(NNGuruError, match=r"GRU\(unroll=True\) is not supported by nnguru; leave it out"):
        GRU(4, unroll=True)
    with pytest.raises(NNGuruError, match=r"Conv2D\(data_format='channels_first'\) is not supported by nnguru"):
        Conv2D(4, 3, data_format="channels_first")
    LSTM(4, stateful=False, unroll=False, time_major=False, dtype="float32")  # the "off" values are fine
    Embedding(10, 4, input_length=7)  # Keras 2's argument: ignored


# ---- activation layers ---------------------------------------------------------------------
def test_activation_layers_match_keras_formulas():
    x = torch.linspace(-3, 8, 23)
    relu = ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)
    ref = torch.where(x >= 0.5, x, 0.1 * (x - 0.5)).clamp(max=6.0)
    torch.testing.assert_close(relu(x), ref)
    torch.testing.assert_close(ReLU()(x), F.relu(x))
    torch.testing.assert_close(LeakyReLU()(x), F.leaky_relu(x, 0.3))  # Keras's default slope
    torch.testing.assert_close(LeakyReLU(alpha=0.2)(x), F.leaky_relu(x, 0.2))
    torch.testing.assert_close(ELU(alpha=0.5)(x), F.elu(x, 0.5))
    p = _built(PReLU(alpha_initializer=initializers.Constant(0.25), shared_axes=[1, 2]), (4, 4, 3))
    assert p.alpha.shape == (1, 1, 3)
    img = torch.randn(2, 4, 4, 3)
    torch.testing.assert_close(p(img), F.prelu(img.permute(0, 3, 1, 2), torch.full((3,), 0.25)).permute(0, 2, 3, 1))
    torch.testing.assert_close(Softmax(axis=1)(img), F.softmax(img, dim=1))


def test_a_final_softmax_layer_fuses_into_cross_entropy():
    model = Sequential([Dense(3, input_shape=(4,)), Softmax()])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model._fused_layer is model.layers[1]  # skipped only while the loss is computed
    with model.loss_outputs():
        assert model.layers[1].skip_activation
    probs = model.predict(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_rescaling_and_the_older_rescale_name_load():
    torch.testing.assert_close(Rescaling(1 / 255)(torch.full((2, 2), 255.0)), torch.ones(2, 2))
    old = deserialize({"class_name": "Rescale", "config": {"name": None, "scale": 2.0, "offset": 1.0}})
    torch.testing.assert_close(old(torch.ones(3)), torch.full((3,), 3.0))


def test_spatial_dropout_drops_whole_channels_and_noise_only_in_training():
    torch.manual_seed(0)
    layer = SpatialDropout1D(0.5)
    layer.train()
    y = layer(torch.ones(8, 5, 6))
    per_channel = y.amax(dim=1)
    assert torch.equal(y, per_channel.unsqueeze(1).expand_as(y)) and set(y.unique().tolist()) == {0.0, 2.0}
    noise = GaussianNoise(0.3)
    noise.eval()
    assert torch.equal(noise(torch.ones(3)), torch.ones(3))


# ---- convolution family --------------------------------------------------------------------
@pytest.mark.parametrize(("size", "kernel", "stride", "padding"), [
    (5, 3, 2, "same"), (5, 3, 2, "valid"), (4, 2, 3, "valid"), (4, 4, 2, "same"), (3, 1, 2, "same"),
])
def test_conv2d_transpose_is_the_adjoint_of_keras_conv(size, kernel, stride, padding):
    """Keras's output size, and TensorFlow's values: the gradient of the matching convolution."""
    torch.manual_seed(0)
    layer = _built(Conv2DTranspose(3, kernel, strides=stride, padding=padding, use_bias=False), (size, size, 2))
    expected = size * stride + (max(kernel - stride, 0) if padding == "valid" else 0)
    assert layer.output_shape == (expected, expected, 3)
    x = torch.randn(2, size, size, 2)
    conv = _built(Conv2D(2, kernel, strides=stride, padding=padding, use_bias=False), (expected, expected, 3))
    with torch.no_grad():
        conv.weight.copy_(layer.weight)  # torch's transposed layout (in, out, kh, kw) is conv's (out, in, kh, kw)
    z = torch.zeros(2, expected, expected, 3, requires_grad=True)
    out = conv(z)
    assert out.shape[1:3] == x.shape[1:3]
    (out * x).sum().backward()
    torch.testing.assert_close(layer(x), z.grad)
    assert sum(p.numel() for p in _built(Conv2DTranspose(3, kernel), (4, 4, 2)).parameters()) == kernel**2 * 2 * 3 + 3


def test_pooling_same_upsampling_padding_and_dilation():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 5, 3)
    nchw = x.permute(0, 3, 1, 2)
    mp = _built(MaxPooling2D(padding="same"), (7, 5, 3))
    assert mp.output_shape == (4, 3, 3)
    torch.testing.assert_close(mp(x), F.max_pool2d(nchw, 2, 2, ceil_mode=True).permute(0, 2, 3, 1))
    ap = _built(AveragePooling2D(padding="same"), (7, 5, 3))
    ref = torch.zeros(2, 4, 3, 3)  # mean over the real cells of each window
    for i in range(4):
        for j in range(3):
            ref[:, i, j] = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean(dim=(1, 2))
    torch.testing.assert_close(ap(x), ref)
    up = _built(UpSampling2D((2, 3)), (7, 5, 3))
    assert up.output_shape == (14, 15, 3) and torch.equal(up(x)[:, ::2, ::3], x)
    bil = UpSampling2D(interpolation="bilinear")(x)
    torch.testing.assert_close(bil, F.interpolate(nchw, scale_factor=2, mode="bilinear").permute(0, 2, 3, 1))
    zp = _built(ZeroPadding2D(((1, 2), (0, 1))), (7, 5, 3))
    assert zp.output_shape == (10, 6, 3) and torch.equal(zp(x)[:, 1:8, 0:5], x) and zp(x)[:, 0].abs().sum() == 0
    assert torch.equal(_built(Cropping2D(1), (7, 5, 3))(x), x[:, 1:6, 1:4])
    dil = _built(Conv2D(4, 3, dilation_rate=2), (7, 5, 3))
    assert dil.output_shape == (3, 1, 4)
    torch.testing.assert_close(dil(x), F.conv2d(nchw, dil.weight, dil.bias, dilation=2).permute(0, 2, 3, 1))
    assert _built(GlobalMaxPooling1D(), (6, 3))(torch.ones(2, 6, 3)).shape == (2, 3)


# ---- masking and recurrent layers ----------------------------------------------------------
def _reference_states(layer, x, mask):
    """torch's own module on each sequence's unmasked steps alone: Keras's masked result."""
    outs = []
    for xi, mi in zip(x, mask, strict=True):
        seq, state = layer.rnn(xi[mi].unsqueeze(0))
        outs.append(state[0][0, 0] if isinstance(state, tuple) else state[0, 0])
    return torch.stack(outs)


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_masked_recurrent_layers_skip_masked_steps(cls):
    torch.manual_seed(0)
    layer = _built(cls(5, return_sequences=True), (6, 3))
    x = torch.randn(3, 6, 3)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    seq = layer(x, mask=mask)
    last = mask.long().cumsum(1) - 1
    for b in range(3):  # each step outputs the state after the unmasked steps so far; zeros before the first
        full, _ = layer.rnn(x[b][mask[b]].unsqueeze(0))
        for t in range(6):
            want = full[0, last[b, t]] if last[b, t] >= 0 else torch.zeros(5)
            torch.testing.assert_close(seq[b, t], want)
    layer.return_sequences = False
    torch.testing.assert_close(layer(x, mask=mask), _reference_states(layer, x, mask))
    loop, state = layer.step_loop(x, mask)  # the per-step path agrees with the packed kernel
    torch.testing.assert_close(state[0], _reference_states(layer, x, mask))
    torch.testing.assert_close(loop, seq)


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_step_loop_equals_the_fused_kernel_without_dropout(cls):
    torch.manual_seed(0)
    layer = _built(cls(4, return_sequences=True), (7, 3))
    x = torch.randn(2, 7, 3)
    seq, _ = layer.step_loop(x)
    torch.testing.assert_close(seq, layer.rnn(x)[0])


def test_recurrent_dropout_drops_the_state_entering_the_recurrent_product():
    torch.manual_seed(0)
    layer = _built(LSTM(4, recurrent_dropout=0.5, dropout=0.25, return_sequences=True), (5, 3))
    x = torch.randn(2, 5, 3)
    layer.eval()
    torch.testing.assert_close(layer(x), layer.rnn(x)[0])  # inference: the fused kernel, no dropout
    mask = torch.tensor([[2.0, 0.0, 2.0, 0.0], [0.0, 2.0, 2.0, 2.0]])
    seq, _ = layer.step_loop(x, recurrent_mask=mask)
    w_ih, w_hh, b = layer.rnn.weight_ih_l0, layer.rnn.weight_hh_l0, layer.rnn.bias_ih_l0
    h, c = torch.zeros(2, 4), torch.zeros(2, 4)
    for t in range(5):  # Keras's LSTMCell with h_tm1 * rec_dp_mask in the recurrent product
        i, f, g, o = (x[:, t] @ w_ih.T + (h * mask) @ w_hh.T + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        torch.testing.assert_close(seq[:, t], h)
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # fresh masks per batch
    with pytest.raises(NNGuruError, match="recurrent_dropout"):
        GRU(3, recurrent_dropout=1.0)


def test_keras_recurrent_init_and_param_counts():
    lstm = _built(LSTM(4), (5, 3))
    assert lstm.rnn.bias_ih_l0[4:8].tolist() == [1.0] * 4 and lstm.rnn.bias_ih_l0[:4].abs().sum() == 0
    recurrent = lstm.rnn.weight_hh_l0.detach().T  # Keras's (units, 4 * units) orthogonal recurrent kernel
    torch.testing.assert_close(recurrent @ recurrent.T, torch.eye(4), atol=1e-5, rtol=0)
    bi = _built(Bidirectional(LSTM(4)), (5, 3))
    assert sum(p.numel() for p in bi.parameters()) == 2 * 4 * (4 * (3 + 4 + 1))
    assert bi.output_shape == (8,)
    assert _built(Bidirectional(GRU(4, return_sequences=True), merge_mode="sum"), (5, 3)).output_shape == (5, 4)


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
def test_bidirectional_runs_both_directions_and_masks_both(merge):
    torch.manual_seed(0)
    bi = _built(Bidirectional(GRU(3, return_sequences=True), merge_mode=merge), (6, 2))
    x = torch.randn(2, 6, 2)
    fwd, _ = bi.forward_layer.rnn(x)
    bwd = bi.backward_layer.rnn(x.flip(1))[0].flip(1)
    ref = {"concat": torch.cat([fwd, bwd], -1), "sum": fwd + bwd, "mul": fwd * bwd, "ave": (fwd + bwd) / 2}[merge]
    torch.testing.assert_close(bi(x), ref)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    out = bi(x, mask=mask)
    assert out[0, :2].abs().sum() == 0  # masked steps output zeros inside Bidirectional, as Keras
    torch.testing.assert_close(out[1], ref[1])
    last = Bidirectional(LSTM(3))
    last.ensure_built((6, 2))
    h = last(x, mask=mask)
    want_b = _reference_states(last.backward_layer, x.flip(1), mask.flip(1))
    torch.testing.assert_close(h[:, 3:], want_b)
    torch.testing.assert_close(h[:, :3], _reference_states(last.forward_layer, x, mask))


def test_embedding_mask_makes_pre_padding_change_nothing():
    torch.manual_seed(0)
    model = Sequential([Embedding(20, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)),
                        GlobalAveragePooling1D(), Dropout(0.1), Dense(2)])
    short = np.array([[5, 3, 9]])
    padded = np.array([[0, 0, 0, 5, 3, 9]])  # pad_sequences' default: zeros in front
    model.build((6,))
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.as_tensor(padded)).numpy(), model(torch.as_tensor(short)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    pool = GlobalAveragePooling1D()
    v = torch.arange(12.0).reshape(1, 4, 3)
    mask = torch.tensor([[False, True, True, False]])
    torch.testing.assert_close(pool(v, mask=mask), v[0, 1:3].mean(0, keepdim=True))


# ---- Normalization and TextVectorization ---------------------------------------------------
def test_normalization_adapts_from_arrays_or_batches_and_inverts():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(200, 4)).astype(np.float32)
    layer = Normalization()
    layer.adapt(x)
    _built(layer, (4,))
    torch.testing.assert_close(layer.mean, torch.tensor(x.mean(0)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.variance, torch.tensor(x.var(0)), rtol=1e-4, atol=1e-5)
    batched = _built(Normalization(), (4,)).adapt(iter(np.split(x, 4)))
    torch.testing.assert_close(batched.mean, layer.mean)
    y = layer(torch.as_tensor(x))
    np.testing.assert_allclose(y.numpy(), (x - x.mean(0)) / x.std(0), rtol=1e-4, atol=1e-4)
    inv = _built(Normalization(mean=x.mean(0), variance=x.var(0), invert=True), (4,))
    torch.testing.assert_close(inv(y), torch.as_tensor(x), rtol=1e-4, atol=1e-4)
    scalar = _built(Normalization(axis=None).adapt(x), (4,))
    assert scalar.mean.shape == () and float(scalar.mean) == pytest.approx(float(x.mean()), rel=1e-5)


TEXTS = ["The cat sat.", "the dog sat down", "A cat!", "dogs, cats and the bird"]


def test_text_vectorization_follows_keras_vocabulary_rules():
    tv = TextVectorization(max_tokens=8, output_sequence_length=4)
    tv.adapt(TEXTS)
    # frequency first, ties by the larger string first (Keras sorts by (count, token), descending)
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "sat", "cat", "down", "dogs", "dog"]
    np.testing.assert_array_equal(tv.encode_host(["The bird sat", "cat cat cat cat cat"]),
                                  [[2, 1, 3, 0], [4, 4, 4, 4]])
    hot = TextVectorization(output_mode="multi_hot", vocabulary=["the", "cat"])
    assert hot.get_vocabulary() == ["[UNK]", "the", "cat"]
    np.testing.assert_array_equal(hot.encode_host(["the cat the dog"]), [[1, 1, 1]])
    count = TextVectorization(output_mode="count", vocabulary=["the", "cat"])
    np.testing.assert_array_equal(count.encode_host(["the cat the dog"]), [[1, 2, 1]])
    tfidf = TextVectorization(output_mode="tf_idf").adapt(TEXTS)
    vocab = tfidf.get_vocabulary()
    idf_the = math.log(1 + 4 / (1 + 3))  # 'the' appears in 3 of 4 texts
    assert tfidf.encode_host(["the the"])[0, vocab.index("the")] == pytest.approx(2 * idf_the)
    bigrams = TextVectorization(ngrams=2).adapt(["a b c"])
    assert set(bigrams.get_vocabulary()[2:]) == {"a", "b", "c", "a b", "b c"}


def test_text_models_fit_on_strings_and_reload_their_vocabulary(tmp_path):
    torch.manual_seed(0)
    tv = TextVectorization(max_tokens=30, output_sequence_length=6)
    tv.adapt(TEXTS)
    model = Sequential([tv, Embedding(30, 4, mask_zero=True), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(np.array(TEXTS), np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    before = model.predict(TEXTS)
    model.save(tmp_path / "m")
    again = nnguru.load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(TEXTS), before)
    assert again.layers[0].get_vocabulary() == tv.get_vocabulary()
    assert "pickle" not in (tmp_path / "m" / "model.json").read_text()


def test_new_layers_round_trip_through_the_safe_bundle(tmp_path):
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 2)).astype(np.float32)
    norm = Normalization()
    norm.adapt(x)
    model = Sequential([
        norm, Conv2D(4, 3, padding="same", kernel_initializer="he_normal", kernel_regularizer=regularizers.l2(1e-3)),
        ReLU(max_value=6.0), MaxPooling2D(padding="same"), UpSampling2D(), ZeroPadding2D(1), Cropping2D(1),
        Conv2DTranspose(3, 3, strides=2, padding="same"), PReLU(), LeakyReLU(0.1), GaussianNoise(0.1),
        Rescaling(0.5, 1.0), AveragePooling2D(), ELU(),
        Conv2D(2, 1), Flatten(), Dense(3, bias_regularizer="l1"), Softmax(),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, np.array([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
    model.save(tmp_path / "m")
    again = nnguru.load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[1].kernel_regularizer.get_config() == {"l2": 1e-3}
    seqs = np.random.default_rng(1).normal(size=(4, 5, 3)).astype(np.float32)
    rnn = Sequential([Bidirectional(GRU(3, return_sequences=True, go_backwards=True), input_shape=(5, 3)),
                      SpatialDropout1D(0.2), Bidirectional(LSTM(2, dropout=0.1), merge_mode="ave"), Dense(1)])
    rnn.compile(optimizer="adam", loss="mse")
    rnn.save(tmp_path / "r")
    np.testing.assert_array_equal(nnguru.load_model(tmp_path / "r").predict(seqs), rnn.predict(seqs))
