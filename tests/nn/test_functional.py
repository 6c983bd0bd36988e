"""Keras's functional API: Input -> layers on symbolic tensors -> Model(inputs, outputs).

Oracles: hand-written torch computations with the same weights, and the parameter counts of the
keras.io functional-API guide (its ticket classifier and its toy ResNet).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nnguru
from nnguru import Model, Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import (
    LSTM,
    Add,
    Average,
    Concatenate,
    Conv2D,
    Dense,
    Dot,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    Input,
    Layer,
    Maximum,
    MaxPooling2D,
    Minimum,
    Multiply,
    Subtract,
    add,
    concatenate,
)
from nnguru.nn.functional import Functional, KerasTensor


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ---- building ----------------------------------------------------------------------------------
def test_mlp_graph_matches_torch_and_names_layers_like_keras():
    inputs = Input(shape=(4,))
    x = Dense(8, activation="relu")(inputs)
    outputs = Dense(3, activation="softmax")(x)
    assert isinstance(x, KerasTensor) and x.shape == (None, 8) and outputs.shape == (None, 3)
    model = Model(inputs=inputs, outputs=outputs)
    assert isinstance(model, Functional) and isinstance(model, Model)
    assert [layer.layer_name for layer in model.layers] == ["input_layer", "dense", "dense_1"]
    assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3
    assert model.get_layer("dense_1") is model.layers[2]
    text = model.summary(print_fn=None)
    assert "dense_1 (Dense)" in text and "(None, 3)" in text and "input_layer (InputLayer)" in text

    x_np = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    d1, d2 = model.layers[1], model.layers[2]
    expected = torch.softmax(F.linear(torch.relu(F.linear(torch.as_tensor(x_np), d1.weight, d1.bias)),
                                      d2.weight, d2.bias), -1)
    np.testing.assert_allclose(model.predict(x_np), _np(expected), rtol=1e-5, atol=1e-6)
    # compiled with a softmax loss, the softmax is split off exactly as in a Sequential
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert model._fused_layer is d2 and not d2.skip_activation  # skipped only while the loss is computed
    logits = F.linear(torch.relu(F.linear(torch.as_tensor(x_np), d1.weight, d1.bias)), d2.weight, d2.bias)
    with model.loss_outputs():
        np.testing.assert_allclose(_np(model(torch.as_tensor(x_np))), _np(logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x_np), _np(expected), rtol=1e-5, atol=1e-6)


def test_model_still_wraps_modules_and_sequential_input_still_works():
    assert type(Model(nn.Linear(4, 2))) is Model
    seq = Sequential([Input(shape=(4,)), Dense(3)])
    assert seq.built and seq.output_shape == (3,)

    class Sub(Model):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x)

    assert type(Sub()) is Sub


def test_layers_still_take_real_tensors_and_numpy_arrays():
    dense = Dense(2)
    out = dense(torch.ones(3, 4))
    assert out.shape == (3, 2)
    np.testing.assert_allclose(_np(dense(np.ones((3, 4)))), _np(out), rtol=1e-6)


def test_ticket_classifier_matches_the_keras_guide():
    """keras.io's functional-API guide: title/body/tags inputs, two outputs, 1,392,097 params."""
    num_tags, num_words, num_departments = 12, 10000, 4
    title_input = Input(shape=(None,), name="title")
    body_input = Input(shape=(None,), name="body")
    tags_input = Input(shape=(num_tags,), name="tags")
    title_features = LSTM(128)(Embedding(num_words, 64)(title_input))
    body_features = LSTM(32)(Embedding(num_words, 64)(body_input))
    x = concatenate([title_features, body_features, tags_input])
    priority_pred = Dense(1, name="priority")(x)
    department_pred = Dense(num_departments, name="department")(x)
    model = Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])

    assert model.count_params() == 1_392_097
    counts = {layer.layer_name: sum(p.numel() for p in layer.parameters()) for layer in model.layers}
    assert counts == {"title": 0, "body": 0, "tags": 0, "embedding": 640_000, "embedding_1": 640_000,
                      "lstm": 98_816, "lstm_1": 12_416, "concatenate": 0, "priority": 173, "department": 692}
    assert x.shape == (None, 172) and title_features.shape == (None, 128)
    assert model.output_names == ["priority", "department"]

    model.compile(optimizer="rmsprop", loss={"priority": "binary_crossentropy",
                                             "department": "categorical_crossentropy"},
                  loss_weights={"priority": 1.0, "department": 0.2}, metrics={"department": ["accuracy"]})
    rng = np.random.default_rng(0)
    title, body = rng.integers(num_words, size=(16, 5)), rng.integers(num_words, size=(16, 7))
    tags = rng.integers(2, size=(16, num_tags)).astype("float32")
    priority, department = rng.random((16, 1)), np.eye(num_departments)[rng.integers(num_departments, size=16)]
    history = model.fit({"title": title, "body": body, "tags": tags},
                        {"priority": priority, "department": department}, epochs=2, batch_size=8, verbose=0)
    assert list(history.history)[:4] == ["loss", "priority_loss", "department_loss", "department_accuracy"]
    # the total is the weighted sum of the outputs' losses, each computed by torch from the predictions
    p_pred, d_pred = model.predict([title, body, tags])
    assert p_pred.shape == (16, 1) and d_pred.shape == (16, num_departments)
    bce = F.binary_cross_entropy_with_logits(torch.as_tensor(p_pred), torch.as_tensor(priority, dtype=torch.float32))
    ce = F.cross_entropy(torch.as_tensor(d_pred), torch.as_tensor(department.argmax(1)))
    loss, p_loss, d_loss, _ = model.evaluate([title, body, tags], [priority, department])
    assert p_loss == pytest.approx(float(bce), rel=1e-4) and d_loss == pytest.approx(float(ce), rel=1e-4)
    assert loss == pytest.approx(p_loss + 0.2 * d_loss, rel=1e-5)


def test_softmax_and_sigmoid_outputs_of_a_multi_output_model_are_probabilities():
    inp = Input(shape=(3,))
    h = Dense(6, activation="relu")(inp)
    a = Dense(4, activation="softmax", name="a")(h)
    b = Dense(1, activation="sigmoid", name="b")(h)
    model = Model(inp, {"a": a, "b": b})
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
                  metrics=["accuracy"])
    x = np.random.default_rng(1).normal(size=(10, 3)).astype(np.float32)
    ya, yb = np.arange(10) % 4, (np.arange(10) % 2).astype(np.float32)
    pred = model.predict(x)
    assert set(pred) == {"a", "b"}
    np.testing.assert_allclose(pred["a"].sum(1), 1.0, rtol=1e-5)
    logs = model.evaluate(x, {"a": ya, "b": yb}, return_dict=True)
    assert list(logs) == ["loss", "a_loss", "b_loss", "a_accuracy", "b_accuracy"]
    ce = F.nll_loss(torch.log(torch.as_tensor(pred["a"])), torch.as_tensor(ya))
    bce = F.binary_cross_entropy(torch.as_tensor(pred["b"])[:, 0], torch.as_tensor(yb))
    assert logs["a_loss"] == pytest.approx(float(ce), rel=1e-4)
    assert logs["b_loss"] == pytest.approx(float(bce), rel=1e-4)
    assert logs["a_accuracy"] == pytest.approx(float((pred["a"].argmax(1) == ya).mean()))
    assert logs["b_accuracy"] == pytest.approx(float(((pred["b"][:, 0] > 0.5) == yb).mean()))


def test_residual_block_on_images_matches_torch():
    inp = Input(shape=(8, 8, 3))
    x = Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = Conv2D(4, 3, padding="same")(x)
    z = add([x, y])
    out = Dense(2)(GlobalAveragePooling2D()(z))
    model = Model(inp, out)
    assert z.shape == (None, 8, 8, 4)
    images = np.random.default_rng(2).normal(size=(3, 8, 8, 3)).astype(np.float32)
    c1, c2, dense = model.get_layer("conv2d"), model.get_layer("conv2d_1"), model.get_layer("dense")
    t = torch.as_tensor(images).permute(0, 3, 1, 2)
    a = torch.relu(F.conv2d(t, c1.weight, c1.bias, padding=1))
    b = F.conv2d(a, c2.weight, c2.bias, padding=1)
    expected = F.linear((a + b).mean(dim=(2, 3)), dense.weight, dense.bias)
    np.testing.assert_allclose(model.predict(images), _np(expected), rtol=1e-4, atol=1e-5)


def test_toy_resnet_parameter_count_matches_the_keras_guide():
    inputs = Input(shape=(32, 32, 3), name="img")
    x = Conv2D(32, 3, activation="relu")(inputs)
    x = Conv2D(64, 3, activation="relu")(x)
    block_1_output = MaxPooling2D(3)(x)
    x = Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = add([x, block_1_output])
    x = Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = add([x, block_2_output])
    x = Conv2D(64, 3, activation="relu")(block_3_output)
    x = GlobalAveragePooling2D()(x)
    x = Dense(256, activation="relu")(x)
    x = Dropout(0.5)(x)
    outputs = Dense(10)(x)
    model = Model(inputs, outputs, name="toy_resnet")
    assert block_1_output.shape == (None, 9, 9, 64)
    assert model.count_params() == 223_242


def test_shared_layer_keeps_one_set_of_weights():
    a, b = Input(shape=(5,)), Input(shape=(5,))
    shared = Dense(3)
    model = Model([a, b], Subtract()([shared(a), shared(b)]))
    assert model.count_params() == 5 * 3 + 3 and len(model.layers) == 4
    x1, x2 = np.random.default_rng(3).normal(size=(2, 4, 5)).astype(np.float32)
    expected = F.linear(torch.as_tensor(x1 - x2), shared.weight)  # the bias cancels
    np.testing.assert_allclose(model.predict([x1, x2]), _np(expected), rtol=1e-5, atol=1e-5)


def test_sequential_model_called_as_a_layer():
    encoder = Sequential([Dense(4, activation="relu"), Dense(2)])
    inp = Input(shape=(6,))
    out = Dense(1)(encoder(inp))
    model = Model(inp, out)
    assert encoder.built and out.shape == (None, 1)
    assert model.count_params() == (6 * 4 + 4) + (4 * 2 + 2) + 3
    x = np.ones((2, 6), np.float32)
    np.testing.assert_allclose(model.predict(x), _np(model.layers[-1](encoder(torch.as_tensor(x)))), rtol=1e-6)


@pytest.mark.parametrize("layer, oracle", [
    (Add(), lambda a, b: a + b), (Subtract(), lambda a, b: a - b), (Multiply(), lambda a, b: a * b),
    (Average(), lambda a, b: (a + b) / 2), (Maximum(), torch.maximum), (Minimum(), torch.minimum),
    (Concatenate(), lambda a, b: torch.cat([a, b], -1)),
    (Dot(axes=1), lambda a, b: (a * b).sum(-1, keepdim=True)),
    (Dot(axes=1, normalize=True), lambda a, b: F.cosine_similarity(a, b)[:, None]),
])
def test_merge_layers_match_torch(layer, oracle):
    x1, x2 = Input(shape=(3,)), Input(shape=(3,))
    model = Model([x1, x2], layer([x1, x2]))
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    np.testing.assert_allclose(model.predict([a.numpy(), b.numpy()]), _np(oracle(a, b)), rtol=1e-5, atol=1e-6)


def test_dot_of_sequences_is_a_batch_matmul():
    q, k = Input(shape=(5, 4)), Input(shape=(6, 4))
    scores = Dot(axes=2)([q, k])
    assert scores.shape == (None, 5, 6)
    a, b = torch.randn(2, 5, 4), torch.randn(2, 6, 4)
    out = Model([q, k], scores).predict([a.numpy(), b.numpy()])
    np.testing.assert_allclose(out, _np(a @ b.transpose(1, 2)), rtol=1e-5, atol=1e-5)


# ---- training ----------------------------------------------------------------------------------
def test_two_input_model_learns_what_needs_both_inputs():
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(400, 3)).astype(np.float32), rng.normal(size=(400, 2)).astype(np.float32)
    y = ((x1[:, 0] + x1[:, 1]) * x2[:, 0] > 0).astype(np.int64)  # neither input alone predicts it
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    h = Dense(32, activation="relu")(concatenate([a, b]))
    model = Model([a, b], Dense(2, activation="softmax")(Dense(16, activation="relu")(h)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    nnguru.set_seed(0)
    history = model.fit([x1, x2], y, epochs=60, batch_size=32, validation_split=0.2, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.85
    assert model.evaluate({"a": x1, "b": x2}, y)[1] > 0.85  # a dict keyed by Input names works too


def test_variable_length_input_with_embedding_and_global_pooling():
    tokens = Input(shape=(None,), dtype="int32")
    emb = Embedding(20, 4)
    pooled = GlobalAveragePooling1D()(emb(tokens))
    out = Dense(1)(pooled)
    assert emb(tokens).shape == (None, None, 4) and pooled.shape == (None, 4)
    model = Model(tokens, out)
    dense = model.layers[-1]
    for steps in (3, 11):
        ids = np.random.default_rng(steps).integers(20, size=(4, steps))
        expected = F.linear(emb.weight[torch.as_tensor(ids)].mean(1), dense.weight, dense.bias)
        np.testing.assert_allclose(model.predict(ids), _np(expected), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss="mse")
    ids = np.random.default_rng(0).integers(20, size=(32, 6))
    model.fit(ids, ids.mean(1, keepdims=True) / 20, epochs=2, verbose=0)


class MaskValue(Layer):
    """Test layer: passes (N, steps, 1) values on and masks the steps holding ``value``."""

    def __init__(self, value: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.value = value

    def forward(self, x):
        return x

    def compute_mask(self, x, mask):
        return x[..., 0] != self.value


class Keep(Layer):
    """Test layer: the identity, letting the mask through."""

    supports_masking = True

    def forward(self, x):
        return x


class MaskedMean(Layer):
    """Test layer: the mean over the kept steps (reads the mask)."""

    takes_mask = True

    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def forward(self, x, mask=None):
        if mask is None:
            return x.mean(1)
        keep = mask[..., None].to(x.dtype)
        return (x * keep).sum(1) / keep.sum(1).clamp_min(1)


def test_masks_flow_through_the_graph_as_in_a_sequential():
    inp = Input(shape=(None, 1))
    model = Model(inp, MaskedMean()(Keep()(MaskValue(0.0)(inp))))
    seq = Sequential([MaskValue(0.0), Keep(), MaskedMean()])
    x = np.array([[[1.0], [2.0], [0.0], [0.0]], [[3.0], [0.0], [5.0], [1.0]]], np.float32)
    np.testing.assert_allclose(model.predict(x), seq.predict(x))
    np.testing.assert_allclose(model.predict(x)[:, 0], [1.5, 3.0])
    # a merge keeps a step only where every input keeps it: here neither 0 nor 1
    both = Model(inp, MaskedMean()(add([MaskValue(0.0)(inp), MaskValue(1.0)(inp)])))
    np.testing.assert_allclose(both.predict(x)[:, 0], [4.0, 8.0])


# ---- save / load -------------------------------------------------------------------------------
def _graph_model():
    title, tags = Input(shape=(None,), name="title"), Input(shape=(3,), name="tags")
    text = LSTM(5)(Embedding(30, 4)(title))
    shared = Dense(5, activation="relu")
    encoder = Sequential([Dense(4, activation="relu"), Dense(5)])
    x = concatenate([shared(text), shared(encoder(tags)), Dropout(0.2)(text, training=False)])
    score = Dense(1, name="score")(x)
    label = Dense(3, activation="softmax", name="label")(x)
    return Model([title, tags], [score, label], name="tickets")


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    model = _graph_model()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.5, 1.0],
                  metrics=[[], ["accuracy"]])
    rng = np.random.default_rng(0)
    x = [rng.integers(30, size=(12, 7)), rng.normal(size=(12, 3)).astype(np.float32)]
    y = [rng.normal(size=(12, 1)).astype(np.float32), rng.integers(3, size=12)]
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    loaded = nnguru.load_model(tmp_path / "m")
    assert isinstance(loaded, Functional) and loaded.name == "tickets"
    assert [m.layer_name if isinstance(m, Layer) else m.name for m in loaded.layers] == \
        [m.layer_name if isinstance(m, Layer) else m.name for m in model.layers]
    for a, b in zip(model.predict(x), loaded.predict(x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y), rel=1e-6)  # loss weights restored
    arch = json.loads((tmp_path / "m" / "model.json").read_text())["architecture"]
    assert arch["output_layers"] == [["score", 0, 0], ["label", 0, 0]]
    assert [len(spec["inbound_nodes"]) for spec in arch["layers"] if spec["name"] == "dense"] == [2]


def _saved(tmp_path):
    inp = Input(shape=(3,), name="x")
    model = Model(inp, Dense(2, name="out")(Dense(4, name="hidden")(inp)))
    model.save(tmp_path / "m")
    return tmp_path / "m", json.loads((tmp_path / "m" / "model.json").read_text())


@pytest.mark.parametrize("edit, words", [
    (lambda a: a["layers"][1].__setitem__("class_name", "Evil"), ["architecture.layers[1]", "Unknown layer 'Evil'"]),
    (lambda a: a["layers"][2]["inbound_nodes"][0][0].__setitem__(0, "ghost"),
     ["architecture.layers[2].inbound_nodes[0][0]", "'ghost'", "dangling"]),
    (lambda a: a["layers"][2]["inbound_nodes"][0][0].__setitem__(1, 4), ["node 4", "dangling"]),
    (lambda a: a["layers"][1]["inbound_nodes"][0][0].__setitem__(0, "out"), ["cycle", "hidden", "out"]),
    (lambda a: a["output_layers"][0].__setitem__(0, "nowhere"), ["architecture.output_layers[0]"]),
    (lambda a: a["layers"][1].__setitem__("inbound_nodes", "x"), ["architecture.layers[1].inbound_nodes"]),
    (lambda a: a["layers"][0]["config"].__setitem__("shape", [-1]), ["architecture.layers[0]", "Input(shape"]),
])
def test_loading_a_bad_graph_names_the_field(tmp_path, edit, words):
    path, meta = _saved(tmp_path)
    edit(meta["architecture"])
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(NNGuruError) as info:
        nnguru.load_model(path)
    for w in words:
        assert w in str(info.value)


def test_weight_shapes_of_a_graph_are_checked_before_allocating(tmp_path):
    path, meta = _saved(tmp_path)
    meta["architecture"]["layers"][1]["config"]["units"] = 10**9
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(NNGuruError, match="do not fit the saved architecture"):
        nnguru.load_model(path)


# ---- bad input ---------------------------------------------------------------------------------
def test_disconnected_input_is_refused():
    a, b = Input(shape=(2,), name="a"), Input(shape=(2,), name="b")
    with pytest.raises(NNGuruError, match=r"Disconnected input.*inputs\[1\].*Input b"):
        Model([a, b], Dense(1)(a))


def test_output_not_computed_from_the_inputs_is_refused():
    a, other = Input(shape=(2,), name="a"), Input(shape=(2,), name="other")
    with pytest.raises(NNGuruError, match="Graph disconnected: output 1 depends on the Input other"):
        Model(a, [Dense(1)(a), Dense(1)(other)])


@pytest.mark.parametrize("outputs", [np.zeros(3), torch.zeros(3), "dense"])
def test_non_symbolic_outputs_are_refused(outputs):
    with pytest.raises(NNGuruError, match=r"needs symbolic tensors.*outputs\[0\]"):
        Model(inputs=Input(shape=(2,)), outputs=outputs)


def test_intermediate_tensor_as_input_is_refused():
    inp = Input(shape=(2,))
    hidden = Dense(3)(inp)
    with pytest.raises(NNGuruError, match=r"inputs\[0\] was made by Dense"):
        Model(hidden, Dense(1)(hidden))


@pytest.mark.parametrize("merge, shapes", [
    (Concatenate(), ((2, 3), (4, 5))), (Add(), ((4,), (5,))), (Multiply(), ((4,), (4, 1))),
])
def test_merge_shape_mismatch_names_the_layer_and_both_shapes(merge, shapes):
    a, b = Input(shape=shapes[0]), Input(shape=shapes[1])
    with pytest.raises(NNGuruError) as info:
        merge([a, b])
    text = str(info.value)
    assert type(merge).__name__ in text and str(shapes[0]) in text and str(shapes[1]) in text


def test_wrong_number_of_arrays_for_a_multi_input_model():
    a, b = Input(shape=(2,), name="a"), Input(shape=(3,), name="b")
    model = Model([a, b], Dense(1)(concatenate([a, b])))
    model.compile(optimizer="adam", loss="mse")
    y = np.zeros(4)
    with pytest.raises(NNGuruError, match=r"2 inputs \(a, b\); x is a list of 3 arrays"):
        model.fit([np.zeros((4, 2)), np.zeros((4, 3)), np.zeros((4, 3))], y)
    with pytest.raises(NNGuruError, match="2 inputs .* one array"):
        model.fit(np.zeros((4, 2)), y)
    with pytest.raises(NNGuruError, match=r"keys \['a', 'c'\].*named \['a', 'b'\]"):
        model.fit({"a": np.zeros((4, 2)), "c": np.zeros((4, 3))}, y)
    with pytest.raises(NNGuruError, match=r"x\['b'\] has shape \(4, 2\).*expects \(N, 3\)"):
        model.fit([np.zeros((4, 2)), np.zeros((4, 2))], y)
    with pytest.raises(NNGuruError, match="inconsistent numbers of samples"):
        model.fit([np.zeros((4, 2)), np.zeros((5, 3))], y)


def test_layer_needing_a_concrete_length_after_a_variable_axis_is_refused():
    tokens = Input(shape=(None,))
    flat = Flatten()(Embedding(10, 3)(tokens))
    assert flat.shape == (None, None)
    with pytest.raises(NNGuruError, match=r"Dense 'dense_x' needs the size of axis 1 .* Give the Input a fixed"):
        Dense(2, name="dense_x")(flat)


def test_token_ids_beyond_float32_precision_are_refused_when_packing():
    ids, extra = Input(shape=(3,), name="ids"), Input(shape=(1,), name="extra")
    model = Model([ids, extra], Dense(1)(concatenate([GlobalAveragePooling1D()(Embedding(10, 2)(ids)), extra])))
    big = np.full((2, 3), 2**24 + 1)
    with pytest.raises(NNGuruError, match=r"integers up to 16,777,217.*2\*\*24"):
        model.predict([big, np.zeros((2, 1))])


def test_multi_output_compile_errors_name_the_outputs():
    inp = Input(shape=(2,))
    model = Model(inp, [Dense(1, name="p")(inp), Dense(2, name="q")(inp)])
    with pytest.raises(NNGuruError, match=r"no entry for outputs \['q'\]"):
        model.compile(optimizer="adam", loss={"p": "mse"})
    with pytest.raises(NNGuruError, match=r"list of 3.*2 outputs"):
        model.compile(optimizer="adam", loss=["mse"] * 3)
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(NNGuruError, match="class_weight is not supported"):
        model.fit(np.zeros((4, 2)), [np.zeros(4), np.zeros((4, 2))], class_weight={0: 1.0})


def test_torch_functions_on_symbolic_tensors_are_refused():
    with pytest.raises(NNGuruError, match="cannot run on a symbolic tensor"):
        torch.relu(Dense(2)(Input(shape=(3,))))
