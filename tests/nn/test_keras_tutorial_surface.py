"""Keras behaviour that the tutorial corpus (tests/corpus) needed beyond the first round of layers:
augmentation layers, per-pixel losses, TensorFlow-style names, custom text standardization and a
functional model's compile settings in the bundle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nnguru
from nnguru import layers
from nnguru.errors import NNGuruError
from nnguru.nn.functional import Functional
from nnguru.nn.sequential import Sequential


def _image(h=6, w=6, c=2, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).uniform(0, 255, size=(3, h, w, c)).astype(np.float32))


@pytest.mark.parametrize("layer", [layers.RandomFlip("horizontal"), layers.RandomRotation(0.2),
                                   layers.RandomZoom(0.3), layers.RandomTranslation(0.2, 0.2),
                                   layers.RandomContrast(0.5)])
def test_augmentation_is_the_identity_at_inference_and_random_in_training(layer):
    x = _image()
    layer.eval()
    torch.testing.assert_close(layer(x), x)
    layer.train()
    torch.manual_seed(0)
    outs = [layer(x) for _ in range(4)]
    assert all(o.shape == x.shape for o in outs)
    assert any(not torch.allclose(o, x) for o in outs)


def test_flip_and_quarter_turn_move_pixels_exactly():
    x = _image(5, 5, 1)
    flip = layers.RandomFlip("horizontal", seed=1).train()
    out = flip(x)
    for i in range(3):  # each image is either untouched or mirrored left-right
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(1))
    turn = layers.RandomRotation((0.25, 0.25), interpolation="nearest", fill_mode="constant").train()
    expected = np.rot90(x.numpy(), k=1, axes=(1, 2))  # counter-clockwise, as Keras's positive angles
    got = turn(x).numpy()
    assert np.allclose(got, expected, atol=1e-3) or np.allclose(got, np.rot90(x.numpy(), k=-1, axes=(1, 2)),
                                                                atol=1e-3)


def test_translation_by_a_whole_column_shifts_the_image():
    x = _image(4, 4, 1)
    shift = layers.RandomTranslation((0.0, 0.0), (0.25, 0.25), interpolation="nearest",
                                     fill_mode="constant").train()
    out = shift(x)  # one column of four to the right; the new column is filled with 0
    torch.testing.assert_close(out[:, :, 1:], x[:, :, :-1])
    assert torch.all(out[:, :, 0] == 0)


def test_bad_augmentation_arguments_say_what_is_allowed():
    with pytest.raises(NNGuruError, match="wrap"):
        layers.RandomRotation(0.1, fill_mode="wrap")
    with pytest.raises(NNGuruError, match="mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(NNGuruError, match="height, width, channels"):
        Sequential([layers.Input(shape=(8,)), layers.RandomFlip()])


def test_augmentation_layers_survive_save_and_load(tmp_path):
    model = Sequential([layers.Input(shape=(8, 8, 1)), layers.RandomFlip("horizontal"), layers.RandomZoom(0.1),
                        layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype(np.float32)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(nnguru.load_model(tmp_path / "m").predict(x), model.predict(x), rtol=1e-6)


def test_binary_crossentropy_on_image_shaped_targets_is_keras_per_pixel_mean():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, 4, 4, 1)).astype(np.float32)
    model = Sequential([layers.Input(shape=(4, 4, 1)), layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    loss = model.evaluate(x, x, verbose=0)
    probs = torch.as_tensor(model.predict(x))
    expected = F.binary_cross_entropy(probs, torch.as_tensor(x)).item()  # mean over every pixel
    assert loss == pytest.approx(expected, rel=1e-4)
    model.fit(x, x, epochs=1, verbose=0)
    with pytest.raises(NNGuruError, match="one target per output value"):
        model.fit(x, x[:, :2], epochs=1, verbose=0)


def test_tensorflow_spellings_reach_nnguru():
    import nnguru as tf

    assert tf.keras is nnguru and tf.keras.layers.Dense is layers.Dense
    tf.random.set_seed(3)
    a = torch.rand(2)
    tf.keras.utils.set_random_seed(3)
    torch.testing.assert_close(torch.rand(2), a)


def test_text_vectorization_takes_a_custom_standardize_function_but_does_not_save_it(tmp_path):
    calls = []

    def standardize(batch):
        calls.append(len(batch))
        return np.array([s.lower().replace("<br />", " ") for s in batch], dtype=object)

    vec = layers.TextVectorization(standardize=standardize, output_sequence_length=3)
    vec.adapt(["A b<br />C", "a B"])
    assert calls == [2]  # called once per batch, as Keras calls it
    assert vec.get_vocabulary()[:4] == ["", "[UNK]", "b", "a"]
    np.testing.assert_array_equal(vec(np.array(["B A", "c"])).numpy(), [[2, 3, 0], [4, 0, 0]])
    model = Sequential([layers.Input(shape=(1,), dtype="string"), vec, layers.Embedding(10, 2),
                        layers.GlobalAveragePooling1D(), layers.Dense(1)])
    with pytest.raises(NNGuruError, match="does not store"):
        model.save(tmp_path / "m")


def test_a_functional_models_compile_settings_come_back_from_its_bundle(tmp_path):
    inputs = layers.Input(shape=(3,))
    outputs = layers.Dense(2, activation="softmax")(layers.Dense(4, activation="relu")(inputs))
    model = nnguru.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=nnguru.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    model.save(tmp_path / "m.keras")
    back = nnguru.load_model(tmp_path / "m.keras")
    assert isinstance(back, Functional) and back.loss.name == "sparse_categorical_crossentropy"
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    assert back.evaluate(x, y, verbose=0)[0] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)


def test_model_losses_count_params_and_crossentropy_metrics_follow_keras():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(3, kernel_regularizer=nnguru.regularizers.l2(0.01)),
                        layers.BatchNormalization(), layers.Dense(1)])
    # Keras counts BatchNormalization's moving mean and variance: 4 weights per channel
    assert model.count_params() == (4 * 3 + 3) + 4 * 3 + (3 + 1)
    assert "Non-trainable params: 6" in model.summary(print_fn=None)
    penalty = sum(model.losses)
    assert float(penalty) == pytest.approx(0.01 * float(model.layers[1].weight.detach().square().sum()), rel=1e-6)
    model.compile(optimizer="adam", loss=nnguru.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[nnguru.metrics.BinaryCrossentropy(from_logits=True, name="bce"), "accuracy"])
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert {"bce", "val_bce"} <= set(h.history)
    logits = torch.as_tensor(model.predict(x))
    expected = F.binary_cross_entropy_with_logits(logits, torch.as_tensor(y)[:, None]).item()
    assert model.evaluate(x, y, return_dict=True)["bce"] == pytest.approx(expected, rel=1e-4)


def test_loss_objects_are_called_as_keras_calls_them():
    sce = nnguru.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = np.array([[2.0, 0.5, -1.0]], dtype=np.float32)
    expected = F.cross_entropy(torch.as_tensor(logits), torch.tensor([0])).item()
    assert sce(np.array([0]), logits).numpy() == pytest.approx(expected, rel=1e-6)  # (y_true, y_pred)
    mse = nnguru.losses.MeanSquaredError()
    assert float(mse([1.0, 2.0], [[1.5], [2.0]])) == pytest.approx(0.125)
