# ruff: noqa  -- the published programs are kept line for line (their own quotes and spacing)
"""How to Develop LSTM Models for Time Series Forecasting: stacked, bidirectional, CNN-LSTM, encoder-decoder.

Source: https://machinelearningmastery.com/how-to-develop-lstm-models-for-time-series-forecasting/ ,
        Jason Brownlee (the "univariate stacked lstm", "univariate bidirectional lstm", "univariate cnn lstm"
        and "univariate multi-step encoder-decoder lstm" complete listings).
Changed:
- `from keras.models import Sequential` -> `from nnguru.models import Sequential`; `from keras.layers import X`
  and `from keras.layers.convolutional import X` -> `from nnguru.layers import X`.
- `epochs=200` / `epochs=500` / `epochs=100` -> `epochs=5`.
- Tabs -> 4 spaces (the listings are nested in test functions).
The data is the listings' own toy sequence [10, 20, ..., 90]; nothing is downloaded.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.corpus


def test_mlm_stacked_lstm(workdir):
    # univariate stacked lstm example
    from numpy import array
    from nnguru.models import Sequential
    from nnguru.layers import LSTM
    from nnguru.layers import Dense

    # split a univariate sequence
    def split_sequence(sequence, n_steps):
        X, y = list(), list()
        for i in range(len(sequence)):
            # find the end of this pattern
            end_ix = i + n_steps
            # check if we are beyond the sequence
            if end_ix > len(sequence)-1:
                break
            # gather input and output parts of the pattern
            seq_x, seq_y = sequence[i:end_ix], sequence[end_ix]
            X.append(seq_x)
            y.append(seq_y)
        return array(X), array(y)

    # define input sequence
    raw_seq = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # choose a number of time steps
    n_steps = 3
    # split into samples
    X, y = split_sequence(raw_seq, n_steps)
    # reshape from [samples, timesteps] into [samples, timesteps, features]
    n_features = 1
    X = X.reshape((X.shape[0], X.shape[1], n_features))
    # define model
    model = Sequential()
    model.add(LSTM(50, activation='relu', return_sequences=True, input_shape=(n_steps, n_features)))
    model.add(LSTM(50, activation='relu'))
    model.add(Dense(1))
    model.compile(optimizer='adam', loss='mse')
    # fit model
    model.fit(X, y, epochs=5, verbose=0)
    # demonstrate prediction
    x_input = array([70, 80, 90])
    x_input = x_input.reshape((1, n_steps, n_features))
    yhat = model.predict(x_input, verbose=0)
    print(yhat)

    assert X.shape == (6, 3, 1)
    assert model.count_params() == 30651  # Keras 3.15: 10400 + 20200 + 51
    assert yhat.shape == (1, 1) and np.isfinite(yhat).all()


def test_mlm_bidirectional_lstm(workdir):
    # univariate bidirectional lstm example
    from numpy import array
    from nnguru.models import Sequential
    from nnguru.layers import LSTM
    from nnguru.layers import Dense
    from nnguru.layers import Bidirectional

    # split a univariate sequence
    def split_sequence(sequence, n_steps):
        X, y = list(), list()
        for i in range(len(sequence)):
            # find the end of this pattern
            end_ix = i + n_steps
            # check if we are beyond the sequence
            if end_ix > len(sequence)-1:
                break
            # gather input and output parts of the pattern
            seq_x, seq_y = sequence[i:end_ix], sequence[end_ix]
            X.append(seq_x)
            y.append(seq_y)
        return array(X), array(y)

    # define input sequence
    raw_seq = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # choose a number of time steps
    n_steps = 3
    # split into samples
    X, y = split_sequence(raw_seq, n_steps)
    # reshape from [samples, timesteps] into [samples, timesteps, features]
    n_features = 1
    X = X.reshape((X.shape[0], X.shape[1], n_features))
    # define model
    model = Sequential()
    model.add(Bidirectional(LSTM(50, activation='relu'), input_shape=(n_steps, n_features)))
    model.add(Dense(1))
    model.compile(optimizer='adam', loss='mse')
    # fit model
    model.fit(X, y, epochs=5, verbose=0)
    # demonstrate prediction
    x_input = array([70, 80, 90])
    x_input = x_input.reshape((1, n_steps, n_features))
    yhat = model.predict(x_input, verbose=0)
    print(yhat)

    assert model.count_params() == 20901  # Keras 3.15: 2 x 10400 + 101
    assert yhat.shape == (1, 1) and np.isfinite(yhat).all()


def test_mlm_cnn_lstm(workdir):
    # univariate cnn lstm example
    from numpy import array
    from nnguru.models import Sequential
    from nnguru.layers import LSTM
    from nnguru.layers import Dense
    from nnguru.layers import Flatten
    from nnguru.layers import TimeDistributed
    from nnguru.layers import Conv1D
    from nnguru.layers import MaxPooling1D

    # split a univariate sequence into samples
    def split_sequence(sequence, n_steps):
        X, y = list(), list()
        for i in range(len(sequence)):
            # find the end of this pattern
            end_ix = i + n_steps
            # check if we are beyond the sequence
            if end_ix > len(sequence)-1:
                break
            # gather input and output parts of the pattern
            seq_x, seq_y = sequence[i:end_ix], sequence[end_ix]
            X.append(seq_x)
            y.append(seq_y)
        return array(X), array(y)

    # define input sequence
    raw_seq = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # choose a number of time steps
    n_steps = 4
    # split into samples
    X, y = split_sequence(raw_seq, n_steps)
    # reshape from [samples, timesteps] into [samples, subsequences, timesteps, features]
    n_features = 1
    n_seq = 2
    n_steps = 2
    X = X.reshape((X.shape[0], n_seq, n_steps, n_features))
    # define model
    model = Sequential()
    model.add(TimeDistributed(Conv1D(filters=64, kernel_size=1, activation='relu'), input_shape=(None, n_steps, n_features)))
    model.add(TimeDistributed(MaxPooling1D(pool_size=2)))
    model.add(TimeDistributed(Flatten()))
    model.add(LSTM(50, activation='relu'))
    model.add(Dense(1))
    model.compile(optimizer='adam', loss='mse')
    # fit model
    model.fit(X, y, epochs=5, verbose=0)
    # demonstrate prediction
    x_input = array([60, 70, 80, 90])
    x_input = x_input.reshape((1, n_seq, n_steps, n_features))
    yhat = model.predict(x_input, verbose=0)
    print(yhat)

    assert X.shape == (5, 2, 2, 1)
    assert model.count_params() == 23179  # Keras 3.15: 128 + 0 + 0 + 23000 + 51
    assert yhat.shape == (1, 1) and np.isfinite(yhat).all()


def test_mlm_encoder_decoder_lstm(workdir):
    # univariate multi-step encoder-decoder lstm example
    from numpy import array
    from nnguru.models import Sequential
    from nnguru.layers import LSTM
    from nnguru.layers import Dense
    from nnguru.layers import RepeatVector
    from nnguru.layers import TimeDistributed

    # split a univariate sequence into samples
    def split_sequence(sequence, n_steps_in, n_steps_out):
        X, y = list(), list()
        for i in range(len(sequence)):
            # find the end of this pattern
            end_ix = i + n_steps_in
            out_end_ix = end_ix + n_steps_out
            # check if we are beyond the sequence
            if out_end_ix > len(sequence):
                break
            # gather input and output parts of the pattern
            seq_x, seq_y = sequence[i:end_ix], sequence[end_ix:out_end_ix]
            X.append(seq_x)
            y.append(seq_y)
        return array(X), array(y)

    # define input sequence
    raw_seq = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    # choose a number of time steps
    n_steps_in, n_steps_out = 3, 2
    # split into samples
    X, y = split_sequence(raw_seq, n_steps_in, n_steps_out)
    # reshape from [samples, timesteps] into [samples, timesteps, features]
    n_features = 1
    X = X.reshape((X.shape[0], X.shape[1], n_features))
    y = y.reshape((y.shape[0], y.shape[1], n_features))
    # define model
    model = Sequential()
    model.add(LSTM(100, activation='relu', input_shape=(n_steps_in, n_features)))
    model.add(RepeatVector(n_steps_out))
    model.add(LSTM(100, activation='relu', return_sequences=True))
    model.add(TimeDistributed(Dense(1)))
    model.compile(optimizer='adam', loss='mse')
    # fit model
    model.fit(X, y, epochs=5, verbose=0)
    # demonstrate prediction
    x_input = array([70, 80, 90])
    x_input = x_input.reshape((1, n_steps_in, n_features))
    yhat = model.predict(x_input, verbose=0)
    print(yhat)

    assert X.shape == (5, 3, 1) and y.shape == (5, 2, 1)
    assert model.count_params() == 121301  # Keras 3.15: 40800 + 0 + 80400 + 101
    assert yhat.shape == (1, 2, 1) and np.isfinite(yhat).all()
