# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Deep Learning with Python, 2nd ed., 8.2: a convnet from scratch on cats vs dogs, then with data augmentation.

Source: https://github.com/fchollet/deep-learning-with-python-notebooks
        second_edition/chapter08_intro-to-dl-for-computer-vision.ipynb @ dea84a4, François Chollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from tensorflow.keras.utils import image_dataset_from_directory` dropped.
- Data loading: the Kaggle download, `make_subset` and `image_dataset_from_directory(..., image_size=(180, 180),
  batch_size=32)` -> `(images, labels)` NumPy pairs from `corpus_data.images_with_labels(16, 8, (180, 180, 3), 2)`
  (float32 0-255 pixels, int32 labels, as the dataset yields); so `model.fit(train_dataset, ...)` ->
  `model.fit(*train_dataset, ...)` and `evaluate(test_dataset)` -> `evaluate(*test_dataset)`.
- The `tf.data` demonstration cells (TensorFlow core, not part of the model) and the batch-printing loop dropped.
- `epochs=30` / `100` -> `1` / `1`.
- Plotting-only lines (including the augmented-image grid) dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def _dataset(n_train, n_val, n_test):
    (x, y), (xv, yv) = corpus_data.images_with_labels(n_train + n_test, n_val, (180, 180, 3), 2)
    as_batch = lambda a, b: (a.astype("float32"), b.astype("int32"))  # noqa: E731
    return as_batch(x[:n_train], y[:n_train]), as_batch(xv, yv), as_batch(x[n_train:], y[n_train:])


def test_dlwp_convnet_augmentation(workdir):
    import nnguru as keras
    from nnguru import layers

    inputs = keras.Input(shape=(180, 180, 3))
    x = layers.Rescaling(1./255)(inputs)
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.summary()
    model.compile(loss="binary_crossentropy",
                  optimizer="rmsprop",
                  metrics=["accuracy"])

    train_dataset, validation_dataset, test_dataset = _dataset(16, 8, 8)

    callbacks = [
        keras.callbacks.ModelCheckpoint(
            filepath="convnet_from_scratch.keras",
            save_best_only=True,
            monitor="val_loss")
    ]
    history = model.fit(
        *train_dataset,
        epochs=1,
        validation_data=validation_dataset,
        callbacks=callbacks)
    accuracy = history.history["accuracy"]
    val_accuracy = history.history["val_accuracy"]
    loss = history.history["loss"]
    val_loss = history.history["val_loss"]
    epochs = range(1, len(accuracy) + 1)
    test_model = keras.models.load_model("convnet_from_scratch.keras")
    test_loss, test_acc = test_model.evaluate(*test_dataset)
    print(f"Test accuracy: {test_acc:.3f}")
    assert model.count_params() == 991041  # Keras 3.15 summary (DLwP prints the same)
    np.testing.assert_allclose(test_model.predict(test_dataset[0]), model.predict(test_dataset[0]), rtol=1e-4,
                               atol=1e-5)

    data_augmentation = keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.2),
        ]
    )

    inputs = keras.Input(shape=(180, 180, 3))
    x = data_augmentation(inputs)
    x = layers.Rescaling(1./255)(x)
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)

    model.compile(loss="binary_crossentropy",
                  optimizer="rmsprop",
                  metrics=["accuracy"])

    callbacks = [
        keras.callbacks.ModelCheckpoint(
            filepath="convnet_from_scratch_with_augmentation.keras",
            save_best_only=True,
            monitor="val_loss")
    ]
    history = model.fit(
        *train_dataset,
        epochs=1,
        validation_data=validation_dataset,
        callbacks=callbacks)

    test_model = keras.models.load_model(
        "convnet_from_scratch_with_augmentation.keras")
    test_loss, test_acc = test_model.evaluate(*test_dataset)
    print(f"Test accuracy: {test_acc:.3f}")

    assert model.count_params() == 991041  # augmentation layers have no weights
    # Augmentation is active only in training: inference is deterministic.
    first = model.predict(test_dataset[0])
    np.testing.assert_allclose(model.predict(test_dataset[0]), first, rtol=1e-6)
    assert first.shape == (8, 1)
    assert np.isfinite(test_loss) and len(epochs) == 1 and len(val_loss) == len(loss) == 1
