# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Deep Learning with Python, 2nd ed., 4.2: classifying newswires (46 classes, to_categorical, sparse labels).

Source: https://github.com/fchollet/deep-learning-with-python-notebooks
        second_edition/chapter04_getting-started-with-neural-networks.ipynb @ dea84a4, François Chollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from tensorflow.keras.utils import to_categorical` ->
  `from nnguru.utils import to_categorical`; `from tensorflow.keras.datasets import reuters` dropped.
- `reuters.load_data(num_words=10000)` -> `corpus_data.word_sequences(600, 200, 10000, classes=46)`; the
  decoding lines that download `reuters.get_word_index()` dropped.
- The hold-out slice `[:1000]` -> `[:100]`; `epochs=20` / `9` -> `2` / `1`.
- Plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_dlwp_reuters(workdir):
    import numpy as np

    import nnguru as keras
    from nnguru import layers

    def vectorize_sequences(sequences, dimension=10000):
        results = np.zeros((len(sequences), dimension))
        for i, sequence in enumerate(sequences):
            for j in sequence:
                results[i, j] = 1.
        return results

    (train_data, train_labels), (test_data, test_labels) = corpus_data.word_sequences(600, 200, 10000, classes=46)
    len(train_data)
    len(test_data)
    train_data[10]
    train_labels[10]
    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)
    def to_one_hot(labels, dimension=46):
        results = np.zeros((len(labels), dimension))
        for i, label in enumerate(labels):
            results[i, label] = 1.
        return results
    y_train = to_one_hot(train_labels)
    y_test = to_one_hot(test_labels)
    from nnguru.utils import to_categorical
    y_train = to_categorical(train_labels)
    y_test = to_categorical(test_labels)
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(46, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x_val = x_train[:100]
    partial_x_train = x_train[100:]
    y_val = y_train[:100]
    partial_y_train = y_train[100:]
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=2,
                        batch_size=512,
                        validation_data=(x_val, y_val))
    loss = history.history["loss"]
    val_loss = history.history["val_loss"]
    epochs = range(1, len(loss) + 1)
    acc = history.history["accuracy"]
    val_acc = history.history["val_accuracy"]
    model = keras.Sequential([
      layers.Dense(64, activation="relu"),
      layers.Dense(64, activation="relu"),
      layers.Dense(46, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train,
              y_train,
              epochs=1,
              batch_size=512)
    results = model.evaluate(x_test, y_test)
    results
    import copy
    test_labels_copy = copy.copy(test_labels)
    np.random.shuffle(test_labels_copy)
    hits_array = np.array(test_labels) == np.array(test_labels_copy)
    hits_array.mean()
    predictions = model.predict(x_test)
    predictions[0].shape
    np.sum(predictions[0])
    np.argmax(predictions[0])
    y_train = np.array(train_labels)
    y_test = np.array(test_labels)
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(4, activation="relu"),
        layers.Dense(46, activation="softmax")
    ])
    model.compile(optimizer="rmsprop",
                  loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(partial_x_train,
              partial_y_train,
              epochs=2,
              batch_size=128,
              validation_data=(x_val, y_val))

    assert to_categorical(train_labels).shape == (600, 46)
    assert predictions[0].shape == (46,)
    assert np.sum(predictions[0]) == pytest.approx(1.0, rel=1e-5)
    assert len(loss) == len(val_loss) == len(acc) == len(val_acc) == 2
    assert model.count_params() == 640554  # Keras 3.15: 640064 + 260 + 230 (the 4-unit bottleneck)
    assert len(results) == 2 and np.isfinite(results[0])
