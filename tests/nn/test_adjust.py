"""The remedy config keys rewrite the model as intended, and each network remedy cures its planted fault.

The faults are those of tests/guru/test_network_rules.py; "cured" means the finding is gone after
one retrain with the remedy's changes (what the auto-fix rounds rely on).
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

import nnguru
from nnguru import Sequential, guru, initializers, losses
from nnguru.config import resolve_config
from nnguru.errors import NNGuruError
from nnguru.guru.remedies import NETWORK_REMEDIES
from nnguru.layers import BatchNormalization, Conv2D, Dense, Flatten, Input
from nnguru.nn import adjust
from nnguru.training.monitor import NetworkMonitor
from planted_models import digits_mlp

X, Y = load_digits(return_X_y=True)
X, Y = (X[:480] / 16.0).astype("float32"), Y[:480]


def _kinds(model):
    return [(type(m).__name__, getattr(m, "activation_name", None)) for m in model.layers]


def _mlp():
    return Sequential([Input(shape=(64,)), Dense(16, activation="sigmoid"), Dense(8, activation="sigmoid"),
                       Dense(10, activation="softmax")])


def test_activation_changes_hidden_layers_only():
    model = adjust.adjust(_mlp(), activation="leaky_relu")
    assert _kinds(model)[1:] == [("Dense", "leaky_relu"), ("Dense", "leaky_relu"), ("Dense", "softmax")]


def test_batch_norm_goes_between_each_hidden_layer_and_its_activation():
    model = adjust.adjust(_mlp(), batch_norm=True)
    assert _kinds(model)[1:] == [("Dense", "linear"), ("BatchNormalization", None), ("Activation", "sigmoid"),
                                 ("Dense", "linear"), ("BatchNormalization", None), ("Activation", "sigmoid"),
                                 ("Dense", "softmax")]
    cnn = Sequential([Input(shape=(8, 8, 1)), Conv2D(4, 3, activation="relu"), BatchNormalization(), Flatten(),
                      Dense(3, activation="softmax")])
    assert _kinds(adjust.adjust(cnn, batch_norm=True))[1:4] == [  # its own BatchNormalization, not a second
        ("Conv2D", "linear"), ("BatchNormalization", None), ("Activation", "relu")]


def test_initializers_reinitialize_hidden_layers_and_reset_a_scaled_output():
    wide = initializers.RandomNormal(0, 1.5)
    model = Sequential([Input(shape=(64,)), Dense(16, activation="relu", kernel_initializer=wide,
                                                  bias_initializer=initializers.Constant(-5.0)),
                        Dense(10, activation="softmax", kernel_initializer=wide)])
    fixed = adjust.adjust(model, kernel_initializer="he_normal", bias_initializer="zeros")
    hidden, out = fixed.layers[1], fixed.layers[2]
    assert type(hidden.kernel_initializer).__name__ == "HeNormal"
    assert float(hidden.bias.detach().abs().max()) == 0.0
    assert type(out.kernel_initializer).__name__ == "GlorotUniform"
    assert float(hidden.weight.detach().std()) == pytest.approx(np.sqrt(2 / 64), rel=0.2)  # He: std sqrt(2 / fan_in)
    zero_head = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dense(2, kernel_initializer="zeros")])
    kept = adjust.adjust(zero_head, kernel_initializer="he_normal").layers[2]
    assert float(kept.weight.detach().abs().max()) == 0.0  # a head that starts at zero on purpose (forecast) stays so


def test_normalize_inputs_standardizes_like_standard_scaler():
    raw = X * 1000.0 + 7.0
    model = adjust.adjust(_mlp(), normalize=raw)
    norm = model.layers[1]
    assert type(norm).__name__ == "Normalization"
    with torch.no_grad():
        got = norm(torch.from_numpy(raw)).numpy()
    want = StandardScaler().fit_transform(raw.astype(np.float64))
    used = raw.std(axis=0) > 0
    np.testing.assert_allclose(got[:, used], want[:, used], rtol=1e-3, atol=1e-3)


def test_output_activation_auto_follows_the_loss():
    model = Sequential([Input(shape=(64,)), Dense(16, activation="relu"), Dense(10)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    fixed = adjust.apply_config(model, {"output_activation": "auto"}, X, None)
    assert fixed.layers[-1].activation_name == "softmax" and fixed.loss.from_logits is False


def test_lr_scale_and_clipnorm_reach_the_optimizer():
    assert adjust.optimizer_spec("adam", None, 0.1, 1.0) == {"name": "adam", "lr": pytest.approx(1e-4), "clipnorm": 1.0}
    assert adjust.optimizer_spec({"name": "sgd", "lr": 0.5}, None, 0.1)["lr"] == pytest.approx(0.05)
    assert adjust.optimizer_spec("adam") == "adam"
    with pytest.raises(NNGuruError, match="lr_scale needs a learning rate"):
        adjust.optimizer_spec("random-search", None, 0.1)


def test_functional_models_get_the_per_layer_edits_and_refuse_insertions():
    inputs = nnguru.Input(shape=(64,))
    outputs = Dense(10, activation="softmax")(Dense(16, activation="tanh")(inputs))
    model = nnguru.Model(inputs, outputs)
    fixed = adjust.adjust(model, activation="relu")
    assert [getattr(m, "activation_name", None) for m in fixed.layers if isinstance(m, Dense)] == ["relu", "softmax"]
    with pytest.raises(NNGuruError, match="Sequential"):
        adjust.adjust(model, batch_norm=True)


@pytest.mark.parametrize("key, value", [("activation", "relux"), ("kernel_initializer", "he"),
                                        ("batch_norm", "yes"), ("clipnorm", 0), ("lr_scale", -1.0),
                                        ("output_activation", "probabilities")])
def test_bad_remedy_options_are_refused(key, value):
    with pytest.raises(NNGuruError, match=f"{key} .*received"):
        resolve_config(None, **{key: value})


def test_pipeline_applies_the_keys(tmp_path):
    run = nnguru.train("builtin:iris", out=tmp_path / "r", epochs=2, verbose=0, activation="tanh", batch_norm=True,
                       normalize_inputs=True, clipnorm=1.0, lr_scale=0.5)
    summary = (tmp_path / "r" / "model_summary.txt").read_text()
    assert "Normalization" in summary and "BatchNormalization" in summary
    assert run.config["lr"] == pytest.approx(0.0005) and run.config["lr_scale"] is None  # config.yaml reruns it
    assert run.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).shape == (1,)


# ---- each network remedy cures its planted fault --------------------------------------------------
_faulty = digits_mlp  # the planted-fault model of tests/guru/test_network_rules.py


def _codes(model, x):
    nnguru.set_seed(0)
    mon = NetworkMonitor(every=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, Y, epochs=2, batch_size=32, verbose=0, callbacks=[mon])
    return {f.code for f in guru.diagnose(history={}, monitor=mon.result())}


@pytest.mark.parametrize("kwargs, scale, code", [
    ({"act": "sigmoid", "depth": 10}, 1.0, "vanishing_gradients"),
    ({"opt": {"name": "sgd", "lr": 50.0}}, 1.0, "exploding_gradients"),
    ({"bias": initializers.Constant(-5.0)}, 1.0, "dead_units"),
    ({}, 1000.0, "unnormalized_input"),
    ({"init": initializers.RandomNormal(0, 1.5)}, 1.0, "bad_initialization"),
    ({"act": "tanh", "init": initializers.RandomNormal(0, 1.5)}, 1.0, "saturation"),
    ({"loss": losses.SparseCategoricalCrossentropy(from_logits=True)}, 1.0, "output_loss_mismatch"),
], ids=["vanishing", "exploding", "dead", "unnormalized", "init", "saturation", "mismatch"])
def test_the_remedy_cures_the_planted_fault(kwargs, scale, code):
    x = X * scale
    assert code in _codes(_faulty(**kwargs), x)
    changes = NETWORK_REMEDIES[code][0]
    fixed = adjust.apply_config(_faulty(**kwargs), changes, x, None)
    assert code not in _codes(fixed, x)  # (exploding -> sgd at lr 5 with clipping still kills ReLUs:
    # dead_units remains, for the next auto-fix round)


def test_normalize_inputs_refuses_a_model_that_reads_token_ids():
    # int64 token ids are numeric, but standardized ids index nothing (Embedding would fail on them)
    from nnguru.layers import LSTM, Embedding

    model = Sequential([Embedding(50, 8, input_shape=(12,)), LSTM(4), Dense(3, activation="softmax")])
    ids = np.random.default_rng(0).integers(0, 50, (20, 12))
    with pytest.raises(NNGuruError, match="Embedding.*token ids"):
        adjust.adjust(model, normalize=ids)


# ---- a rebuild changes only what the remedy names ---------------------------------------------
def test_a_rebuild_keeps_the_weights_it_does_not_redraw_and_leaves_the_random_stream():
    nnguru.set_seed(0)
    model = Sequential([Input(shape=(64,)), Dense(16, activation="sigmoid"), Dense(10, activation="linear")])
    before = model.get_weights()
    state = torch.random.get_rng_state()
    same = adjust.adjust(model, output_activation="softmax")  # a new activation: the draw is the same
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(np.array_equal(a, b) for a, b in zip(before, same.get_weights(), strict=True))
    redrawn = adjust.adjust(model, kernel_initializer="he_normal")  # the remedy re-initializes the hidden layer
    assert not np.array_equal(before[0], redrawn.get_weights()[0])
    assert np.array_equal(before[2], redrawn.get_weights()[2])  # the output stays Glorot: kept
    bn = adjust.adjust(model, batch_norm=True)  # an inserted layer draws its own; the others keep theirs
    assert [type(m).__name__ for m in bn.layers[1:3]] == ["Dense", "BatchNormalization"]
    assert all(np.array_equal(a, b) for a, b in zip(model.layers[1].get_weights(), bn.layers[1].get_weights(),
                                                     strict=True))


def test_fixing_a_softmax_read_as_logits_retrains_to_the_same_weights():
    # nnguru reads the logits under the softmax either way, so the fixed model (from_logits=False)
    # trains exactly as the faulty one did: the auto-fix round measures the remedy, not an init draw
    def fit(fix: bool) -> list:
        model = digits_mlp(loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        if fix:
            model = adjust.apply_config(model, {"output_activation": "auto"}, X, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, Y, epochs=2, batch_size=64, verbose=0).history["loss"]

    faulty, fixed = fit(False), fit(True)
    assert fixed == pytest.approx(faulty, rel=1e-5)
