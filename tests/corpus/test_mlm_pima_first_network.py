# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Your First Deep Learning Project in Python with Keras Step-by-Step (Pima diabetes, Dense 12-8-1).

Source: https://machinelearningmastery.com/tutorial-first-neural-network-python-keras/ , Jason Brownlee
        (the post's complete listing, tf.keras version).
Changed:
- `from tensorflow.keras.models import Sequential` -> `from nnguru.models import Sequential`;
  `from tensorflow.keras.layers import Dense` -> `from nnguru.layers import Dense`.
- `loadtxt('pima-indians-diabetes.csv', ...)` reads the same file from ../shared/datasets (`corpus_data.pima_csv()`).
- `epochs=150` -> `epochs=2`.
- `predictions[i]` -> `predictions[i].item()` in the print: NumPy 2.4 no longer formats a 1-element array with
  `%d` (the listing fails the same way under real Keras with current NumPy).
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_mlm_pima_first_network(workdir):
    # first neural network with keras tutorial
    from numpy import loadtxt

    from nnguru.layers import Dense
    from nnguru.models import Sequential

    # load the dataset
    dataset = loadtxt(corpus_data.pima_csv(), delimiter=',')
    # split into input (X) and output (y) variables
    X = dataset[:,0:8]
    y = dataset[:,8]
    # define the keras model
    model = Sequential()
    model.add(Dense(12, input_shape=(8,), activation='relu'))
    model.add(Dense(8, activation='relu'))
    model.add(Dense(1, activation='sigmoid'))
    # compile the keras model
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    # fit the keras model on the dataset
    model.fit(X, y, epochs=2, batch_size=10)
    # evaluate the keras model
    _, accuracy = model.evaluate(X, y)
    print('Accuracy: %.2f' % (accuracy*100))
    # make class predictions with the model
    predictions = (model.predict(X) > 0.5).astype(int)
    # summarize the first 5 cases
    for i in range(5):
        print('%s => %d (expected %d)' % (X[i].tolist(), predictions[i].item(), y[i]))

    assert X.shape == (768, 8)
    assert model.count_params() == 221  # Keras 3.15: 108 + 104 + 9
    assert predictions.shape == (768, 1) and set(np.unique(predictions)) <= {0, 1}
    assert 0.0 <= accuracy <= 1.0
