# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""TensorFlow 2 quickstart for beginners (MNIST, Sequential, logits + Softmax wrapper).

Source: https://www.tensorflow.org/tutorials/quickstart/beginner
        (github.com/tensorflow/docs site/en/tutorials/quickstart/beginner.ipynb @ 7c36502), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf` (the program uses only `tf.keras.*`).
- `mnist.load_data()` -> `corpus_data.mnist(256, 128)`: the first rows of the real MNIST from
  ../shared/datasets (same shapes and uint8 dtype).
- `epochs=5` -> `epochs=1`.
- `tf.nn.softmax(predictions).numpy()` (TensorFlow core, not Keras) -> `scipy.special.softmax(predictions, axis=-1)`.
- Notebook-only lines that merely display a value (`predictions`, `print(tf.__version__)`) are kept as expressions.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_quickstart_beginner(workdir):
    import nnguru as tf
    from scipy.special import softmax

    print("TensorFlow version:", tf.__version__)
    (x_train, y_train), (x_test, y_test) = corpus_data.mnist(256, 128)
    x_train, x_test = x_train / 255.0, x_test / 255.0

    model = tf.keras.models.Sequential([
      tf.keras.layers.Flatten(input_shape=(28, 28)),
      tf.keras.layers.Dense(128, activation='relu'),
      tf.keras.layers.Dropout(0.2),
      tf.keras.layers.Dense(10)
    ])

    predictions = model(x_train[:1]).numpy()
    predictions
    softmax(predictions, axis=-1)

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_fn(y_train[:1], predictions).numpy()

    model.compile(optimizer='adam',
                  loss=loss_fn,
                  metrics=['accuracy'])
    model.fit(x_train, y_train, epochs=1)
    model.evaluate(x_test,  y_test, verbose=2)

    probability_model = tf.keras.Sequential([
      model,
      tf.keras.layers.Softmax()
    ])
    probability_model(x_test[:5])

    # What a reader of the tutorial relies on:
    assert predictions.shape == (1, 10)
    assert model.count_params() == 101770  # Keras 3.15: 784*128+128 + 128*10+10
    initial = float(loss_fn(y_train[:1], predictions).numpy())
    assert 0.5 < initial < 5.0  # ~ln(10) before training, as the tutorial says
    probs = np.asarray(probability_model.predict(x_test[:5]))
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
