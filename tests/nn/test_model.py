"""Keras compatibility of Sequential / Model: the tutorial program, History, shapes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Model, Sequential
from nnguru.datasets import load_mnist
from nnguru.errors import NNGuruError
from nnguru.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def tutorial_model():
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'),
                        Dense(10, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def test_seed_tutorial_program_runs_unchanged(mnist_dir):
    (x, y), (x_test, y_test) = load_mnist(mnist_dir)
    X_train, y_train = x[:6000] / 255.0, y[:6000]
    X_val, y_val = x_test[:1000] / 255.0, y_test[:1000]
    # --- the tutorial's program, verbatim apart from the imports ---
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'),
                        Dense(10, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(X_train, y_train, epochs=5, batch_size=32, validation_data=(X_val, y_val))
    # ---
    assert list(history.history)[:4] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 5 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    loss, acc = model.evaluate(X_val, y_val)
    assert acc == pytest.approx(history.history["val_accuracy"][-1], abs=1e-6)
    proba = model.predict(X_val[:7])
    assert proba.shape == (7, 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_history_keys_and_evaluate_shapes(blobs):
    x, y = blobs
    model = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "precision", "recall", "f1"])
    h = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    for key in ["loss", "accuracy", "precision", "recall", "f1", "val_loss", "val_accuracy", "val_f1"]:
        assert len(h.history[key]) == 3, key
    assert len(h.logs["lr"]) == len(h.logs["seconds"]) == 3 and "lr" not in h.history  # nnguru's own keys
    assert h.epoch == [0, 1, 2]
    result = model.evaluate(x, y)
    assert isinstance(result, list) and len(result) == 5
    assert isinstance(model.evaluate(x, y, return_dict=True), dict)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)  # no metrics: a scalar, like Keras


def test_training_metrics_match_sklearn(blobs):
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    x, y = blobs
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy", "f1"])
    model.fit(x, y, epochs=1, verbose=0)
    loss, acc, f1 = model.evaluate(x, y)
    proba = model.predict(x)
    assert acc == pytest.approx(accuracy_score(y, proba.argmax(1)))
    assert f1 == pytest.approx(f1_score(y, proba.argmax(1), average="macro"))
    assert loss == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]), rel=1e-4)


@pytest.mark.parametrize("outputs", [1, 3])
def test_regression_metrics_match_sklearn(blobs, outputs):
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    x, _ = blobs
    target = (x[:, :outputs] * np.array([2.0, -1.0, 0.5][:outputs]) + 0.3).astype(np.float32)
    if outputs == 1:
        target = target[:, 0]
    model = Sequential([Dense(outputs, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse", "rmse"])
    model.fit(x, target, epochs=1, verbose=0)
    loss, mae, mse, rmse = model.evaluate(x, target, batch_size=7)  # several batches, a short last one
    pred = model.predict(x).reshape(target.shape)
    assert mae == pytest.approx(mean_absolute_error(target, pred), rel=1e-5)
    assert mse == pytest.approx(mean_squared_error(target, pred), rel=1e-5)
    assert rmse == pytest.approx(mean_squared_error(target, pred) ** 0.5, rel=1e-5)
    assert loss == pytest.approx(mse, rel=1e-5)


def test_binary_and_regression_losses(blobs):
    x, y = blobs
    yb = (y == 0).astype(np.float32)
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "precision"])
    model.fit(x, yb, epochs=20, verbose=0)
    p = model.predict(x)
    assert p.shape == (300, 1) and p.min() >= 0 and p.max() <= 1
    assert model.evaluate(x, yb)[1] > 0.95
    target = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    for loss in ("mse", "mae", "huber"):
        reg = Sequential([Dense(1, input_shape=(4,))])
        reg.compile(optimizer={"name": "adam", "lr": 0.05}, loss=loss, metrics=["mae"])
        reg.fit(x, target, epochs=60, batch_size=16, verbose=0)
        assert reg.evaluate(x, target)[1] < 0.5, loss


def test_cnn_trains(blobs):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0)[..., None].astype(np.float32)
    model = Sequential([Conv2D(8, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
                        MaxPooling2D(2), Flatten(), Dropout(0.2), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    idx = np.random.default_rng(0).permutation(len(x))
    tr, te = idx[:1400], idx[1400:]
    model.fit(x[tr], d.target[tr], epochs=20, verbose=0)
    assert model.evaluate(x[te], d.target[te])[1] > 0.93


def test_any_torch_module_trains_through_fit(blobs):
    x, y = blobs
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model = Model(net)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=10, verbose=0)
    assert h.history["accuracy"][-1] > 0.95
    assert model.predict(x).shape == (300, 3)
    mixed = Sequential([torch.nn.Linear(4, 8), Dense(3, activation="softmax")])
    mixed.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mixed.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(NNGuruError, match="raw torch modules"):
        mixed.save("unused")


def test_seeded_runs_are_reproducible(blobs):
    x, y = blobs

    def run():
        nnguru.set_seed(42)
        m = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m.fit(x, y, epochs=3, verbose=0).history["loss"], m.predict(x)

    (l1, p1), (l2, p2) = run(), run()
    assert l1 == l2
    np.testing.assert_array_equal(p1, p2)


def test_class_weight_changes_the_loss(blobs):
    x, y = blobs
    m = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, verbose=0)
    base = m.evaluate(x, y)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    m.fit(x, y, epochs=1, verbose=0, class_weight={0: 10.0, 1: 1.0, 2: 1.0}, shuffle=False)
    m.load_state_dict(state)
    assert m.evaluate(x, y) == pytest.approx(base)
    with pytest.raises(NNGuruError, match="no weight for classes"):
        m.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0})


def test_summary_counts_parameters():
    model = tutorial_model()
    text = model.summary(print_fn=None)
    assert "(None, 784)" in text and "100,480" in text and "Total params: 101,770" in text


# ---- bad input: caught before training, with the value and the fix ---------------------------
@pytest.fixture
def compiled():
    return tutorial_model()


def test_mismatched_lengths(compiled):
    with pytest.raises(NNGuruError, match=r"inconsistent numbers of samples: x has 10, y has 9"):
        compiled.fit(np.zeros((10, 28, 28)), np.zeros(9), verbose=0)


def test_nan_in_features(compiled):
    x = np.zeros((10, 28, 28))
    x[3, 0, 0] = np.nan
    x[5, 1, 1] = np.inf
    with pytest.raises(NNGuruError, match=r"1 NaN and 1 infinite .*first rows: \[3, 5\]"):
        compiled.fit(x, np.zeros(10), verbose=0)


def test_one_hot_labels_with_sparse_loss(compiled):
    y = np.eye(10)[np.arange(10)]
    with pytest.raises(NNGuruError, match="look one-hot encoded: use loss='categorical_crossentropy'"):
        compiled.fit(np.zeros((10, 28, 28)), y, verbose=0)


def test_label_out_of_range(compiled):
    with pytest.raises(NNGuruError, match=r"Labels must be in 0..9 .* received labels from 0 to 10"):
        compiled.fit(np.zeros((11, 28, 28)), np.arange(11), verbose=0)


def test_wrong_input_shape(compiled):
    with pytest.raises(NNGuruError, match=r"has shape \(5, 784\), but the model expects \(N, 28, 28\)"):
        compiled.fit(np.zeros((5, 784)), np.zeros(5), verbose=0)


def test_unknown_names():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(NNGuruError, match="Unknown loss 'cross_entropyy'. Valid names:"):
        model.compile(optimizer="adam", loss="cross_entropyy")
    with pytest.raises(NNGuruError, match="(?i)unknown optimizer"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(NNGuruError, match="Unknown metric 'acuracy'"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(NNGuruError, match="needs a classification loss"):
        model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    with pytest.raises(NNGuruError, match="Only instances of"):
        Sequential(["dense"])


def test_fit_before_compile():
    with pytest.raises(NNGuruError, match=r"Call model.compile"):
        Sequential([Dense(1, input_shape=(2,))]).fit(np.zeros((2, 2)), np.zeros(2))
