# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Simple MNIST convnet (Sequential CNN, keras.Input, to_categorical, validation_split).

Source: https://keras.io/examples/vision/mnist_convnet/
        (github.com/keras-team/keras-io examples/vision/mnist_convnet.py @ 02cfe80), fchollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`.
- `keras.datasets.mnist.load_data()` -> `corpus_data.mnist(256, 128)` (real MNIST rows from ../shared/datasets).
- `epochs = 15` -> `epochs = 1`.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_mnist_convnet(workdir):
    import numpy as np

    import nnguru as keras
    from nnguru import layers

    # Model / data parameters
    num_classes = 10
    input_shape = (28, 28, 1)

    # Load the data and split it between train and test sets
    (x_train, y_train), (x_test, y_test) = corpus_data.mnist(256, 128)

    # Scale images to the [0, 1] range
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    # Make sure images have shape (28, 28, 1)
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    print("x_train shape:", x_train.shape)
    print(x_train.shape[0], "train samples")
    print(x_test.shape[0], "test samples")

    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )

    model.summary()

    batch_size = 128
    epochs = 1

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])

    assert y_train.shape == (256, 10) and y_train.dtype.kind == "f"
    assert model.count_params() == 34826  # Keras 3.15 summary: 320 + 18496 + 16010
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.isfinite(score[0]) and 0.0 <= score[1] <= 1.0
    assert model.predict(x_test[:3]).shape == (3, 10)
