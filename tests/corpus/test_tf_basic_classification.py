# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Basic classification: classify images of clothing (Fashion-MNIST, Sequential, Softmax wrapper).

Source: https://www.tensorflow.org/tutorials/keras/classification
        (github.com/tensorflow/docs site/en/tutorials/keras/classification.ipynb @ 7c36502), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`.
- `fashion_mnist.load_data()` -> `corpus_data.images_with_labels(256, 128, (28, 28), 10)`: generated uint8
  images and labels of Fashion-MNIST's shapes and dtypes.
- `epochs=10` -> `epochs=2`.
- Plotting-only lines (`plt.*`, `plot_image`, `plot_value_array`) dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_basic_classification(workdir):
    import nnguru as tf

    (train_images, train_labels), (test_images, test_labels) = corpus_data.images_with_labels(256, 128, (28, 28), 10)

    class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                   'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
    train_images.shape
    len(train_labels)

    train_images = train_images / 255.0
    test_images = test_images / 255.0

    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dense(10)
    ])

    model.compile(optimizer='adam',
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])

    model.fit(train_images, train_labels, epochs=2)

    test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)
    print('\nTest accuracy:', test_acc)

    probability_model = tf.keras.Sequential([model,
                                             tf.keras.layers.Softmax()])
    predictions = probability_model.predict(test_images)
    predictions[0]
    np.argmax(predictions[0])
    test_labels[0]

    img = test_images[1]
    print(img.shape)
    img = (np.expand_dims(img,0))
    print(img.shape)
    predictions_single = probability_model.predict(img)
    print(predictions_single)
    np.argmax(predictions_single[0])
    class_names[np.argmax(predictions_single[0])]

    assert model.count_params() == 101770
    assert predictions.shape == (128, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    assert predictions_single.shape == (1, 10)
    assert np.isfinite(test_loss) and 0.0 <= test_acc <= 1.0
