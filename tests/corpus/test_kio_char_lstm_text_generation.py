# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""keras.io "Character-level text generation with LSTM": one-hot characters, LSTM + softmax, sampling.

Source: https://keras.io/examples/generative/lstm_character_level_text_generation/
        (github.com/keras-team/keras-io examples/generative/lstm_character_level_text_generation.py @ 0a09cb6),
        fchollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`.
- `keras.utils.get_file("nietzsche.txt", origin=...)` -> `corpus_data.nietzsche_text()`: a 3,000-character
  stand-in text file (the program lower-cases it and cuts it into 40-character windows as before).
- `epochs = 40` -> `epochs = 1`; `for i in range(400)` (characters generated per diversity) -> `range(5)`.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_char_lstm_text_generation(workdir):
    import nnguru as keras
    from nnguru import layers

    import numpy as np
    import random
    import sys
    import io

    path = corpus_data.nietzsche_text()
    with io.open(path, encoding="utf-8") as f:
        text = f.read().lower()
    print("corpus length:", len(text))

    chars = sorted(list(set(text)))
    print("total chars:", len(chars))
    char_indices = dict((c, i) for i, c in enumerate(chars))
    indices_char = dict((i, c) for i, c in enumerate(chars))

    # cut the text in semi-redundant sequences of maxlen characters
    maxlen = 40
    step = 3
    sentences = []
    next_chars = []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    print("nb sequences:", len(sentences))

    print("Vectorization...")
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=np.bool)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen, len(chars))),
            layers.LSTM(128),
            layers.Dense(len(chars), activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)

    def sample(preds, temperature=1.0):
        # helper function to sample an index from a probability array
        preds = np.asarray(preds).astype("float64")
        preds = np.log(preds) / temperature
        exp_preds = np.exp(preds)
        preds = exp_preds / np.sum(exp_preds)
        probas = np.random.multinomial(1, preds, 1)
        return np.argmax(probas)

    epochs = 1
    batch_size = 128

    for epoch in range(epochs):
        model.fit(x, y, batch_size=batch_size, epochs=1)

        print("Generating text after epoch: %d" % epoch)

        start_index = random.randint(0, len(text) - maxlen - 1)
        for diversity in [0.2, 0.5, 1.0, 1.2]:
            print("----- diversity:", diversity)

            generated = ""
            sentence = text[start_index : start_index + maxlen]
            generated += sentence
            print('----- Generating with seed: "' + sentence + '"')
            sys.stdout.write(generated)

            for i in range(5):
                x_pred = np.zeros((1, maxlen, len(chars)))
                for t, char in enumerate(sentence):
                    x_pred[0, t, char_indices[char]] = 1.0

                preds = model.predict(x_pred, verbose=0)[0]
                next_index = sample(preds, diversity)
                next_char = indices_char[next_index]

                sentence = sentence[1:] + next_char

                sys.stdout.write(next_char)
                sys.stdout.flush()
            print()

    assert x.dtype == bool and x.shape == (len(sentences), 40, len(chars))
    assert model.count_params() == 4 * 128 * (len(chars) + 128 + 1) + 129 * len(chars)  # Keras 3.15 summary
    assert preds.shape == (len(chars),)
    assert preds.sum() == pytest.approx(1.0, abs=1e-4)  # a softmax over the characters
    assert len(sentence) == maxlen and set(sentence) <= set(chars)
