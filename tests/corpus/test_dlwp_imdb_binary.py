# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Deep Learning with Python, 2nd ed., 4.1: classifying movie reviews (multi-hot vectors, Dense 16-16-1).

Source: https://github.com/fchollet/deep-learning-with-python-notebooks
        second_edition/chapter04_getting-started-with-neural-networks.ipynb @ dea84a4, François Chollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from tensorflow.keras.datasets import imdb` dropped.
- `imdb.load_data(num_words=10000)` -> `corpus_data.word_sequences(512, 128, 10000)`; the decoding lines that
  download `imdb.get_word_index()` dropped.
- The hold-out slice `[:10000]` -> `[:128]`; `epochs=20` / `4` -> `2` / `1`.
- Plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_dlwp_imdb_binary(workdir):
    (train_data, train_labels), (test_data, test_labels) = corpus_data.word_sequences(512, 128, 10000)
    train_data[0]
    train_labels[0]
    max([max(sequence) for sequence in train_data])

    import numpy as np
    def vectorize_sequences(sequences, dimension=10000):
        results = np.zeros((len(sequences), dimension))
        for i, sequence in enumerate(sequences):
            for j in sequence:
                results[i, j] = 1.
        return results
    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)
    x_train[0]
    y_train = np.asarray(train_labels).astype("float32")
    y_test = np.asarray(test_labels).astype("float32")

    import nnguru as keras
    from nnguru import layers

    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    x_val = x_train[:128]
    partial_x_train = x_train[128:]
    y_val = y_train[:128]
    partial_y_train = y_train[128:]
    history = model.fit(partial_x_train,
                        partial_y_train,
                        epochs=2,
                        batch_size=512,
                        validation_data=(x_val, y_val))
    history_dict = history.history
    history_dict.keys()

    history_dict = history.history
    loss_values = history_dict["loss"]
    val_loss_values = history_dict["val_loss"]
    epochs = range(1, len(loss_values) + 1)
    acc = history_dict["accuracy"]
    val_acc = history_dict["val_accuracy"]

    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid")
    ])
    model.compile(optimizer="rmsprop",
                  loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=1, batch_size=512)
    results = model.evaluate(x_test, y_test)
    results
    predictions = model.predict(x_test)

    assert sorted(history_dict.keys()) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(epochs) == 2 and len(acc) == len(val_acc) == 2
    assert model.count_params() == 160305  # Keras 3.15: 160016 + 272 + 17
    assert len(results) == 2 and np.isfinite(results[0])
    assert predictions.shape == (128, 1) and ((0 <= predictions) & (predictions <= 1)).all()
