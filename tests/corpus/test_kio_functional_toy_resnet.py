# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""The functional API guide: a toy ResNet for CIFAR-10 (residual `layers.add`, GlobalAveragePooling2D).

Source: https://keras.io/guides/functional_api/ ("A toy ResNet model")
        (github.com/keras-team/keras-io guides/functional_api.py @ 14a2af7), fchollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`.
- `keras.datasets.cifar10.load_data()` -> `corpus_data.images_with_labels(256, 64, (32, 32, 3), 10,
  label_shape=(1,))`: uint8 (n, 32, 32, 3) images and uint8 (n, 1) labels, as the loader returns.
- `x_train[:1000]` -> `x_train[:256]` (the guide already trains one epoch on a slice).
- `keras.utils.plot_model(...)` dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_functional_toy_resnet(workdir):
    import nnguru as keras
    from nnguru import layers

    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])

    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)

    model = keras.Model(inputs, outputs, name="toy_resnet")
    model.summary()

    (x_train, y_train), (x_test, y_test) = corpus_data.images_with_labels(256, 64, (32, 32, 3), 10,
                                                                          label_shape=(1,))

    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["acc"]
    )
    # We restrict the data to the first 1000 samples so as to limit execution time
    # on Colab. Try to train on the entire dataset until convergence!
    history = model.fit(x_train[:256], y_train[:256], batch_size=64, epochs=1, validation_split=0.2)

    assert y_train.shape == (256, 10)  # to_categorical drops the trailing 1 of (n, 1) labels
    assert model.count_params() == 223242  # Keras 3.15 summary of toy_resnet
    assert model.name == "toy_resnet"
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert model.predict(x_test[:2]).shape == (2, 10)
