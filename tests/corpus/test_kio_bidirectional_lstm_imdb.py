# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Bidirectional LSTM on IMDB (functional, Input(shape=(None,)), Embedding, Bidirectional, pad_sequences).

Source: https://keras.io/examples/nlp/bidirectional_lstm_imdb/
        (github.com/keras-team/keras-io examples/nlp/bidirectional_lstm_imdb.py @ 0a4be8b), fchollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`.
- `keras.datasets.imdb.load_data(num_words=max_features)` -> `corpus_data.word_sequences(128, 64, max_features)`
  (lists of word indices, 0/1 labels, as the loader returns).
- `max_features=20000, maxlen=200, epochs=2` -> `2000, 40, 1`; LSTM/Embedding widths kept.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_bidirectional_lstm_imdb(workdir):
    import numpy as np

    import nnguru as keras
    from nnguru import layers

    max_features = 2000  # Only consider the top 2k words
    maxlen = 40  # Only consider the first 40 words of each movie review

    # Input for variable-length sequences of integers
    inputs = keras.Input(shape=(None,), dtype="int32")
    # Embed each integer in a 128-dimensional vector
    x = layers.Embedding(max_features, 128)(inputs)
    # Add 2 bidirectional LSTMs
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    # Add a classifier
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.summary()

    (x_train, y_train), (x_val, y_val) = corpus_data.word_sequences(128, 64, max_features)
    print(len(x_train), "Training sequences")
    print(len(x_val), "Validation sequences")
    # Use pad_sequence to standardize sequence length:
    # this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
    x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val))

    assert x_train.shape == (128, maxlen) and x_train.dtype == np.int32
    # Keras pads and truncates at the front ("pre") by default.
    first = corpus_data.word_sequences(128, 64, max_features)[0][0][0]
    assert x_train[0].tolist() == ([0] * max(0, maxlen - len(first)) + first)[-maxlen:]
    # Keras 3.15: 256000 + 98816 + 98816 + 129
    assert model.count_params() == 453761
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.predict(x_val[:4]).shape == (4, 1)
