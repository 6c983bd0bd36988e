"""Keras namespaces, model methods, generators and callbacks, checked against Keras's documented values."""

import re

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import nnguru
import nnguru as keras
from nnguru import callbacks, layers, losses, metrics, models, optimizers, utils
from nnguru.errors import NNGuruError
from nnguru.keras_names import UnsupportedKerasName


@pytest.fixture
def binary():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 3)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=160) > 0).astype(np.float32)
    return x, y


def _binary_model():
    torch.manual_seed(0)
    return models.Sequential([keras.Input(shape=(3,)), layers.Dense(8, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])


def test_keras_names_resolve():
    assert keras.layers.Dense is layers.Dense and keras.Input is layers.Input
    assert keras.callbacks.EarlyStopping is callbacks.EarlyStopping
    assert keras.optimizers.Adam is optimizers.Adam and keras.utils.to_categorical is utils.to_categorical
    assert keras.Sequential is models.Sequential and keras.Model is models.Model
    assert models.load_model is nnguru.load_model
    assert keras.preprocessing.sequence.pad_sequences is utils.pad_sequences


def test_unsupported_keras_names_say_so():
    with pytest.raises(UnsupportedKerasName, match="MultiHeadAttention is a Keras layers name that nnguru does not "
                                                  "support. Use a torch.nn.MultiheadAttention"):
        keras.layers.MultiHeadAttention  # noqa: B018
    with pytest.raises(AttributeError, match="not in nnguru.callbacks"):
        callbacks.NoSuchCallback  # noqa: B018
    assert not hasattr(utils, "image_dataset_from_directory")
    with pytest.raises(AttributeError, match="Keras model attribute that nnguru does not support"):
        _binary_model().to_json  # noqa: B018
    with pytest.raises(NNGuruError, match="not supported"):
        utils.plot_model(_binary_model())


def test_to_categorical_and_pad_sequences_match_keras():
    np.testing.assert_array_equal(utils.to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    assert utils.to_categorical(np.array([[1], [0]])).shape == (2, 2)  # trailing 1 dropped, as in Keras
    seqs = [[1, 2, 3], [4]]
    np.testing.assert_array_equal(utils.pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4]])
    np.testing.assert_array_equal(utils.pad_sequences(seqs), [[1, 2, 3], [0, 0, 4]])
    np.testing.assert_array_equal(utils.pad_sequences(seqs, maxlen=2, padding="post", truncating="post", value=9),
                                  [[1, 2], [4, 9]])
    assert utils.pad_sequences(seqs, dtype="float32").dtype == np.float32
    with pytest.raises(NNGuruError, match="'pre' or 'post'"):
        utils.pad_sequences(seqs, padding="middle")


def test_optimizer_objects_build_the_registry_optimizers():
    model = _binary_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01, beta_1=0.8, epsilon=1e-6), loss="binary_crossentropy")
    model._finish_compile()
    group = model.optimizer.param_groups[0]
    assert isinstance(model.optimizer, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["eps"]) == (0.01, (0.8, 0.999), 1e-6)
    model.compile(optimizer=optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True), loss="binary_crossentropy")
    model._finish_compile()
    group = model.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"]) == (0.1, 0.9, True)
    model.compile(optimizer=optimizers.Adam(clipnorm=1.0), loss="binary_crossentropy")
    model._finish_compile()
    assert model.optimizer.nnguru_clipping == {"clipnorm": 1.0}  # optim/clipping.py; tests/optim/test_clipping.py


def test_schedules_follow_keras_formulas():
    s = optimizers.schedules
    assert s.ExponentialDecay(0.1, 10, 0.5)(20) == pytest.approx(0.025)
    assert s.ExponentialDecay(0.1, 10, 0.5, staircase=True)(15) == pytest.approx(0.05)
    assert s.InverseTimeDecay(0.1, 10, 1.0)(10) == pytest.approx(0.05)
    pw = s.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    assert [pw(5), pw(6), pw(11)] == [1.0, 0.5, 0.1]
    cos = s.CosineDecay(0.1, 100, alpha=0.1)
    assert cos(0) == pytest.approx(0.1) and cos(50) == pytest.approx(0.1 * (0.5 * 0.9 + 0.1))
    assert cos(500) == pytest.approx(0.01)


def test_a_schedule_sets_the_rate_every_step(binary):
    x, y = binary
    model = _binary_model()
    schedule = optimizers.schedules.ExponentialDecay(0.01, 4, 0.5)
    model.compile(optimizer=optimizers.Adam(schedule), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=40, verbose=0)  # 4 steps per epoch
    assert history.logs["lr"] == pytest.approx([schedule(3), schedule(7)])


def test_history_keys_are_keras_names(binary):
    x, y = binary
    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["acc", "binary_accuracy", metrics.AUC(), metrics.Precision()])
    h = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert list(h.history)[:5] == ["loss", "acc", "binary_accuracy", "auc", "precision"]
    assert "val_auc" in h.history
    # nothing Keras does not log: the rate and the seconds of each epoch are in h.logs only
    assert set(h.history) == {"loss", "acc", "binary_accuracy", "auc", "precision", "val_loss", "val_acc",
                              "val_binary_accuracy", "val_auc", "val_precision"}
    assert set(h.logs) == set(h.history) | {"lr", "seconds"}
    assert model.metrics_names == ["loss", "acc", "binary_accuracy", "auc", "precision"]
    assert model.history is h
    auc = model.evaluate(x, y, return_dict=True)["auc"]
    assert auc == pytest.approx(roc_auc_score(y, model.predict(x)[:, 0]), abs=0.01)


def test_sparse_metrics_objects(binary):
    x, _ = binary
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    torch.manual_seed(0)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(3,))])
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(),
                  metrics=[metrics.SparseCategoricalAccuracy(), "accuracy"])
    _, sca, acc = model.evaluate(x, y)
    assert sca == acc == pytest.approx(float((model.predict(x).argmax(1) == y).mean()))


def test_loss_functions_and_custom_losses(binary):
    x, y = binary
    yt, yp = np.array([1, 0]), np.array([[0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(yt, yp).numpy(),
                               [-np.log(0.8), -np.log(0.6)], rtol=1e-5)
    np.testing.assert_allclose(losses.mse(np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]])).numpy(), [1.0, 4.0])
    model = _binary_model()
    model.compile(optimizer="adam", loss=losses.binary_crossentropy)
    assert isinstance(model.loss, losses.BinaryCrossentropy)

    def my_mse(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean(dim=-1)

    model.compile(optimizer="adam", loss=my_mse)
    model.fit(x, y[:, None], epochs=1, verbose=0)
    p = model.predict(x)
    assert model.evaluate(x, y[:, None]) == pytest.approx(float(((y[:, None] - p) ** 2).mean()), rel=1e-5)


def test_get_layer_uses_keras_default_names():
    model = models.Sequential([layers.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
    first, second = model.get_layer(index=0), model.get_layer(index=1)
    assert re.fullmatch(r"dense(_\d+)?", first.name)
    n = int(first.name.rsplit("_", 1)[1]) if "_" in first.name else 0
    assert second.name == f"dense_{n + 1}"
    assert model.get_layer(second.name) is second
    assert models.Sequential([layers.Dense(1, name="out")]).get_layer("out").name == "out"
    with pytest.raises(NNGuruError, match="No such layer"):
        model.get_layer("nope")


def test_train_test_predict_on_batch(binary):
    x, y = binary
    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x[:32], y[:32])
    loss, acc = model.train_on_batch(x[:32], y[:32])
    assert loss == pytest.approx(before[0], rel=1e-5) and acc == pytest.approx(before[1])
    assert model.test_on_batch(x[:32], y[:32])[0] < before[0]  # the update lowered the batch's loss
    np.testing.assert_allclose(model.predict_on_batch(x[:4]), model.predict(x[:4]))


def test_fit_on_generators_iterables_and_weights(binary):
    x, y = binary

    def forever():
        while True:
            for i in range(0, 160, 32):
                yield x[i:i + 32], y[i:i + 32]

    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit(forever(), steps_per_epoch=5, epochs=2, verbose=0, validation_data=forever(), validation_steps=2)
    assert len(h.history["loss"]) == 2 and len(h.history["val_accuracy"]) == 2
    batches = [(x[i:i + 40], y[i:i + 40], np.ones(40, np.float32)) for i in range(0, 160, 40)]
    h = model.fit(batches, epochs=2, verbose=0)  # a re-iterable list of (x, y, w): every epoch sees all
    assert len(h.history["loss"]) == 2
    arrays = model.evaluate(x, y)
    assert model.evaluate(iter([(x, y)])) == pytest.approx(arrays)
    once = ((x[i:i + 80], y[i:i + 80]) for i in range(0, 160, 80))
    with pytest.warns(UserWarning, match="ran out"):
        h = model.fit(once, epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1  # the generator was exhausted after the first epoch
    assert model.predict(iter([x[:5], x[5:7]])).shape == (7, 1)


def test_numpy_list_and_one_dimensional_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=64).astype(np.float32)
    model = models.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, 2 * x, epochs=1, verbose=0)  # (N,) is N samples of one feature
    assert model.input_shape == (1,)
    out = model(x[:3])
    assert isinstance(out, torch.Tensor) and out.shape == (3, 1)
    torch.testing.assert_close(model([[0.5], [1.0]]), model(torch.tensor([[0.5], [1.0]])))


def test_save_and_load_weights_and_checkpoint_files(binary, tmp_path):
    x, y = binary
    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    best = tmp_path / "best_model.keras"
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.ModelCheckpoint(str(best), save_best_only=True)])
    for name in ("w.weights.h5", "w.safetensors", "ckpt"):
        model.save_weights(tmp_path / name)
        other = _binary_model()
        other.load_weights(tmp_path / name)
        np.testing.assert_array_equal(other.predict(x), model.predict(x))
    loaded = nnguru.load_model(best)  # a single safetensors file under Keras's name
    assert loaded.predict(x).shape == (160, 1)
    other = _binary_model()
    other.load_weights(best)
    np.testing.assert_array_equal(other.predict(x), loaded.predict(x))
    with pytest.raises(NNGuruError, match="do not fit"):
        models.Sequential([layers.Dense(2, input_shape=(3,))]).load_weights(tmp_path / "ckpt")


def test_lambda_callback_hooks(binary):
    x, y = binary
    seen = []
    cb = callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append("begin"),
                                  on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, "loss" in logs)),
                                  on_batch_end=lambda batch, logs: seen.append("batch"),
                                  on_train_end=lambda logs: seen.append("end"))
    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=80, verbose=0, callbacks=[cb])
    assert seen == ["begin", "batch", "batch", ("epoch", 0, True), "batch", "batch", ("epoch", 1, True), "end"]


def test_tensorboard_callback(binary, tmp_path, monkeypatch):
    import nnguru.report.tensorboard as tb

    if tb.tensorboard_available():
        x, y = binary
        model = _binary_model()
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(log_dir=tmp_path / "tb")])
        assert any((tmp_path / "tb").iterdir())
    monkeypatch.setattr(tb, "tensorboard_available", lambda: False)
    with pytest.raises(NNGuruError, match="pip install tensorboard"):
        callbacks.TensorBoard(log_dir=tmp_path)


def test_import_nnguru_stays_lazy():
    import subprocess
    import sys

    code = "import sys, nnguru; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_call_after_fit_is_inference_as_in_keras():
    """Keras's model(x) runs in inference mode: after fit, no dropout, the same output as predict."""
    import nnguru
    from nnguru.layers import Dense, Dropout

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = nnguru.Sequential([Dense(16, activation="relu", input_shape=(4,)), Dropout(0.5),
                               Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    first = np.asarray(model(x))
    np.testing.assert_allclose(first, np.asarray(model(x)))
    np.testing.assert_allclose(first, model.predict(x), atol=1e-6)
