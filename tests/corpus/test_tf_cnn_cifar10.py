# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""TensorFlow tutorial "Convolutional Neural Network (CNN)": CIFAR-10, Conv2D/MaxPooling2D stack, logits.

Source: https://www.tensorflow.org/tutorials/images/cnn
        (github.com/tensorflow/docs site/en/tutorials/images/cnn.ipynb @ 05529b0), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow.keras import datasets, layers, models` ->
  `from nnguru import layers, models` (`datasets` is only used to download CIFAR-10).
- `datasets.cifar10.load_data()` -> `corpus_data.images_with_labels(256, 64, (32, 32, 3), 10, label_shape=(1,))`:
  uint8 (n, 32, 32, 3) images and uint8 (n, 1) labels, as the loader returns.
- `epochs=10` -> `epochs=2`.
- Plotting-only lines dropped (the 5x5 image grid, the accuracy curve, and the last cells, which plot
  `predictions` next to `tf.nn.softmax(predictions)`: `tf.nn` is TensorFlow, not Keras).
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


@pytest.mark.xfail(strict=True, reason="known gap: model.output_shape has no batch axis in nnguru ((4, 4, 64), Keras: (None, 4, 4, 64))")
def test_tf_cnn_cifar10(workdir):
    import nnguru as tf

    from nnguru import layers, models

    (train_images, train_labels), (test_images, test_labels) = corpus_data.images_with_labels(
        256, 64, (32, 32, 3), 10, label_shape=(1,))

    # Normalize pixel values to be between 0 and 1
    train_images, test_images = train_images / 255.0, test_images / 255.0
    class_names = ['airplane', 'automobile', 'bird', 'cat', 'deer',
                   'dog', 'frog', 'horse', 'ship', 'truck']

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.summary()
    base_params = model.count_params()
    base_shape = model.output_shape
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10))
    model.summary()

    model.compile(optimizer='adam',
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])

    history = model.fit(train_images, train_labels, epochs=2,
                        validation_data=(test_images, test_labels))
    test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)
    print(test_acc)
    predictions         = model.predict(test_images)

    assert base_shape == (None, 4, 4, 64)  # "our (4, 4, 64) outputs were flattened"
    assert base_params == 56320  # Keras 3.15: 896 + 18496 + 36928
    assert model.count_params() == 122570  # + Dense 65600 + 650
    assert len(history.history['accuracy']) == 2 and len(history.history['val_accuracy']) == 2
    assert 0.0 <= test_acc <= 1.0 and np.isfinite(test_loss)
    assert predictions.shape == (64, 10)
    assert not np.allclose(predictions.sum(axis=1), 1.0)  # logits, not probabilities
