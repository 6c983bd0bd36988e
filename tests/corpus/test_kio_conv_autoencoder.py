# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Convolutional autoencoder for image denoising (functional, Conv2D/MaxPooling2D/UpSampling2D, x -> x).

Source: https://keras.io/examples/vision/autoencoder/
        (github.com/keras-team/keras-io examples/vision/autoencoder.py @ 28033e1), Santiago L. Valdarrama.
Changed:
- `from tensorflow.keras.models import Model` -> `from nnguru.models import Model`;
  `from tensorflow.keras.layers import ...` -> `from nnguru.layers import ...`; `import tensorflow as tf` (unused)
  dropped.
- `mnist.load_data()` -> `corpus_data.mnist(128, 64)` (real MNIST rows from ../shared/datasets).
- `epochs=50` and `epochs=100` -> `epochs=1`.
- `display(...)` (plotting only) calls dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_conv_autoencoder(workdir):
    import numpy as np

    from nnguru.layers import Conv2D, Input, MaxPooling2D, UpSampling2D
    from nnguru.models import Model

    def preprocess(dataset):
        """
        Normalizes the supplied dataset and reshapes it into the appropriate format.
        """

        dataset = dataset.astype("float32") / 255.0
        dataset = np.reshape(dataset, (len(dataset), 28, 28, 1))
        return dataset

    def noise(dataset):
        """
        Adds random noise to each image in the supplied dataset.
        """

        noise_factor = 0.4
        noisy_dataset = dataset + noise_factor * np.random.normal(
            loc=0.0, scale=1.0, size=dataset.shape
        )

        return np.clip(noisy_dataset, 0.0, 1.0)

    # We only need images from the dataset. We will never use the target values so
    # we aren't going to load them.
    (train_dataset, _), (test_dataset, _) = corpus_data.mnist(128, 64)

    # Normalize and reshape the data
    train_dataset = preprocess(train_dataset)
    test_dataset = preprocess(test_dataset)

    # Create a copy of the datasets with added noise
    noisy_train_dataset = noise(train_dataset)
    noisy_test_dataset = noise(test_dataset)

    input = Input(shape=(28, 28, 1))

    # Encoder
    x = Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = MaxPooling2D((2, 2), padding="same")(x)
    x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = MaxPooling2D((2, 2), padding="same")(x)

    # Decoder
    x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = UpSampling2D((2, 2))(x)
    x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = UpSampling2D((2, 2))(x)
    x = Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

    # Autoencoder
    autoencoder = Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.summary()

    autoencoder.fit(
        x=train_dataset,
        y=train_dataset,
        epochs=1,
        batch_size=128,
        shuffle=True,
        validation_data=(test_dataset, test_dataset),
    )

    predictions = autoencoder.predict(test_dataset)

    history = autoencoder.fit(
        x=noisy_train_dataset,
        y=train_dataset,
        epochs=1,
        batch_size=128,
        shuffle=True,
        validation_data=(noisy_test_dataset, test_dataset),
    )

    predictions = autoencoder.predict(noisy_test_dataset)

    assert autoencoder.count_params() == 28353  # Keras 3.15: 320 + 3*9248 + 289
    assert predictions.shape == (64, 28, 28, 1)
    assert 0.0 <= predictions.min() and predictions.max() <= 1.0  # sigmoid outputs
    assert set(history.history) == {"loss", "val_loss"}
    assert np.isfinite(history.history["val_loss"][0])
