# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Basic regression: predict fuel efficiency (Auto MPG, Normalization.adapt, linear and DNN models).

Source: https://www.tensorflow.org/tutorials/keras/regression
        (github.com/tensorflow/docs site/en/tutorials/keras/regression.ipynb @ 7c36502), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow import keras` -> `import nnguru as keras`;
  `from tensorflow.keras import layers` -> `from nnguru import layers`.
- `pd.read_csv(url, ...)` -> `corpus_data.auto_mpg(150)`: a generated table with the same columns, dtypes and
  a few missing horsepowers.
- `epochs=100` -> `epochs=2`.
- Plotting-only lines (`sns.pairplot`, `plot_loss`, `plot_horsepower`, `plt.*`) dropped; `tf.linspace(0.0, 250, 251)`
  (TensorFlow core) -> `np.linspace(0.0, 250, 251)`; `%%time` cell magics dropped.
"""

import numpy as np
import pandas as pd
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_regression(workdir):
    np.set_printoptions(precision=3, suppress=True)

    import nnguru as tf
    import nnguru as keras
    from nnguru import layers

    raw_dataset = corpus_data.auto_mpg(150)

    dataset = raw_dataset.copy()
    dataset.tail()
    dataset.isna().sum()
    dataset = dataset.dropna()
    dataset['Origin'] = dataset['Origin'].map({1: 'USA', 2: 'Europe', 3: 'Japan'})
    dataset = pd.get_dummies(dataset, columns=['Origin'], prefix='', prefix_sep='', dtype=float)
    dataset.tail()

    train_dataset = dataset.sample(frac=0.8, random_state=0)
    test_dataset = dataset.drop(train_dataset.index)
    train_dataset.describe().transpose()

    train_features = train_dataset.copy()
    test_features = test_dataset.copy()

    train_labels = train_features.pop('MPG')
    test_labels = test_features.pop('MPG')

    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train_features))
    print(normalizer.mean.numpy())

    first = np.array(train_features[:1])

    with np.printoptions(precision=2, suppress=True):
      print('First example:', first)
      print()
      print('Normalized:', normalizer(first).numpy())

    horsepower = np.array(train_features['Horsepower'])

    horsepower_normalizer = layers.Normalization(input_shape=[1,], axis=None)
    horsepower_normalizer.adapt(horsepower)

    horsepower_model = tf.keras.Sequential([
        horsepower_normalizer,
        layers.Dense(units=1)
    ])

    horsepower_model.summary()
    horsepower_model.predict(horsepower[:10])

    horsepower_model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
        loss='mean_absolute_error')

    history = horsepower_model.fit(
        train_features['Horsepower'],
        train_labels,
        epochs=2,
        # Suppress logging.
        verbose=0,
        # Calculate validation results on 20% of the training data.
        validation_split = 0.2)

    hist = pd.DataFrame(history.history)
    hist['epoch'] = history.epoch
    hist.tail()

    test_results = {}

    test_results['horsepower_model'] = horsepower_model.evaluate(
        test_features['Horsepower'],
        test_labels, verbose=0)

    x = np.linspace(0.0, 250, 251)
    y = horsepower_model.predict(x)

    linear_model = tf.keras.Sequential([
        normalizer,
        layers.Dense(units=1)
    ])

    linear_model.predict(train_features[:10])
    linear_model.layers[1].kernel

    linear_model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
        loss='mean_absolute_error')

    history = linear_model.fit(
        train_features,
        train_labels,
        epochs=2,
        # Suppress logging.
        verbose=0,
        # Calculate validation results on 20% of the training data.
        validation_split = 0.2)

    test_results['linear_model'] = linear_model.evaluate(
        test_features, test_labels, verbose=0)

    def build_and_compile_model(norm):
      model = keras.Sequential([
          norm,
          layers.Dense(64, activation='relu'),
          layers.Dense(64, activation='relu'),
          layers.Dense(1)
      ])

      model.compile(loss='mean_absolute_error',
                    optimizer=tf.keras.optimizers.Adam(0.001))
      return model

    dnn_horsepower_model = build_and_compile_model(horsepower_normalizer)
    dnn_horsepower_model.summary()

    history = dnn_horsepower_model.fit(
        train_features['Horsepower'],
        train_labels,
        validation_split=0.2,
        verbose=0, epochs=2)

    x = np.linspace(0.0, 250, 251)
    y = dnn_horsepower_model.predict(x)

    test_results['dnn_horsepower_model'] = dnn_horsepower_model.evaluate(
        test_features['Horsepower'], test_labels,
        verbose=0)

    dnn_model = build_and_compile_model(normalizer)
    dnn_model.summary()

    history = dnn_model.fit(
        train_features,
        train_labels,
        validation_split=0.2,
        verbose=0, epochs=2)

    test_results['dnn_model'] = dnn_model.evaluate(test_features, test_labels, verbose=0)

    pd.DataFrame(test_results, index=['Mean absolute error [MPG]']).T

    test_predictions = dnn_model.predict(test_features).flatten()

    error = test_predictions - test_labels

    dnn_model.save('dnn_model.keras')

    reloaded = tf.keras.models.load_model('dnn_model.keras')

    test_results['reloaded'] = reloaded.evaluate(
        test_features, test_labels, verbose=0)

    pd.DataFrame(test_results, index=['Mean absolute error [MPG]']).T

    # Normalization learned the training columns' statistics (Keras: population variance).
    np.testing.assert_allclose(np.asarray(normalizer.mean).ravel(), train_features.mean().to_numpy(), rtol=1e-4)
    assert horsepower_model.count_params() == 5  # Keras 3.15: mean, variance, count (non-trainable) + 2
    assert dnn_model.count_params() == 4884  # Keras 3.15: normalizer 9+9+1 + 640 + 4160 + 65
    assert set(hist.columns) == {"loss", "val_loss", "epoch"}
    assert np.asarray(y).shape == (251, 1)
    assert test_predictions.shape == (len(test_features),)
    assert np.isfinite(error).all()
    np.testing.assert_allclose(test_results['reloaded'], test_results['dnn_model'], rtol=1e-5)
