# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Timeseries classification from scratch (FordA, functional Conv1D + BatchNorm + ReLU, callbacks, load_model).

Source: https://keras.io/examples/timeseries/timeseries_classification_from_scratch/
        (github.com/keras-team/keras-io examples/timeseries/timeseries_classification_from_scratch.py @ 02cfaa2),
        hfawaz.
Changed:
- `import tensorflow as tf` (unused by the program) -> `import nnguru as tf`; `from tensorflow import keras` ->
  `import nnguru as keras`.
- `readucr(root_url + "FordA_TRAIN.tsv")` / `..._TEST.tsv` -> `corpus_data.ucr_series(96)` / `(48)`: float64
  (n, 500) z-normalized series with -1/1 labels, as readucr returns.
- `epochs = 500` -> `epochs = 2`.
- `"best_model.h5"` -> `"best_model.keras"` (twice), as the current keras.io version of the example has it
  (Keras 3 saves whole models as .keras).
- `keras.utils.plot_model(...)` (draws a PNG with pydot) and plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_timeseries_classification(workdir):
    import numpy as np
    from sklearn.metrics import accuracy_score

    import nnguru as tf  # noqa: F401  (imported, unused, as in the original)
    import nnguru as keras

    x_train, y_train = corpus_data.ucr_series(96, seed=0)
    x_test, y_test = corpus_data.ucr_series(48, seed=1)

    classes = np.unique(np.concatenate((y_train, y_test), axis=0))

    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

    num_classes = len(np.unique(y_train))

    idx = np.random.permutation(len(x_train))
    x_train = x_train[idx]
    y_train = y_train[idx]

    y_train[y_train == -1] = 0
    y_test[y_test == -1] = 0

    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)

        conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)

        conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)

        conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)

        gap = keras.layers.GlobalAveragePooling1D()(conv3)

        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    model = make_model(input_shape=x_train.shape[1:])

    epochs = 2
    batch_size = 32

    callbacks = [
        keras.callbacks.ModelCheckpoint(
            "best_model.keras", save_best_only=True, monitor="val_loss"
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
    ]
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        validation_split=0.2,
        verbose=1,
    )

    model = keras.models.load_model("best_model.keras")

    y_pred = model.predict(x_test).argmax(axis=1)

    print("Test accuracy", accuracy_score(y_pred, y_test))

    metric = "accuracy"
    history.history[metric]
    history.history["val_" + metric]

    assert list(classes) == [-1, 1]
    # Keras 3.15: 3 Conv1D (256 + 12352 + 12352) + 3 BatchNormalization (3 * 256, half non-trainable) + 130
    assert model.count_params() == 25858
    assert y_pred.shape == (48,)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
    assert "learning_rate" in history.history  # ReduceLROnPlateau logs it, as in Keras 3
