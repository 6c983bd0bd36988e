# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Time Series Prediction with LSTM Recurrent Neural Networks in Python with Keras (window method).

Source: https://machinelearningmastery.com/time-series-prediction-lstm-recurrent-neural-networks-python-keras/ ,
        Jason Brownlee ("LSTM for Regression Using the Window Method" listing, tf.keras version).
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow.keras.models import Sequential` ->
  `from nnguru.models import Sequential`; `from tensorflow.keras.layers import Dense, LSTM` ->
  `from nnguru.layers import Dense, LSTM`.
- `read_csv('airline-passengers.csv', ...)` reads the same file from ../shared/datasets (`corpus_data.airline_csv()`).
- `epochs=100` -> `epochs=2`.
- Plotting-only lines (the shifted prediction arrays exist only to be plotted) dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_mlm_airline_lstm(workdir):
    # LSTM for international airline passengers problem with window regression framing
    import numpy as np
    from pandas import read_csv
    from sklearn.metrics import mean_squared_error
    from sklearn.preprocessing import MinMaxScaler

    import nnguru as tf
    from nnguru.layers import LSTM, Dense
    from nnguru.models import Sequential

    # convert an array of values into a dataset matrix
    def create_dataset(dataset, look_back=1):
        dataX, dataY = [], []
        for i in range(len(dataset)-look_back-1):
            a = dataset[i:(i+look_back), 0]
            dataX.append(a)
            dataY.append(dataset[i + look_back, 0])
        return np.array(dataX), np.array(dataY)
    # fix random seed for reproducibility
    tf.random.set_seed(7)
    # load the dataset
    dataframe = read_csv(corpus_data.airline_csv(), usecols=[1], engine='python')
    dataset = dataframe.values
    dataset = dataset.astype('float32')
    # normalize the dataset
    scaler = MinMaxScaler(feature_range=(0, 1))
    dataset = scaler.fit_transform(dataset)
    # split into train and test sets
    train_size = int(len(dataset) * 0.67)
    test_size = len(dataset) - train_size
    train, test = dataset[0:train_size,:], dataset[train_size:len(dataset),:]
    # reshape into X=t and Y=t+1
    look_back = 3
    trainX, trainY = create_dataset(train, look_back)
    testX, testY = create_dataset(test, look_back)
    # reshape input to be [samples, time steps, features]
    trainX = np.reshape(trainX, (trainX.shape[0], 1, trainX.shape[1]))
    testX = np.reshape(testX, (testX.shape[0], 1, testX.shape[1]))
    # create and fit the LSTM network
    model = Sequential()
    model.add(LSTM(4, input_shape=(1, look_back)))
    model.add(Dense(1))
    model.compile(loss='mean_squared_error', optimizer='adam')
    model.fit(trainX, trainY, epochs=2, batch_size=1, verbose=2)
    # make predictions
    trainPredict = model.predict(trainX)
    testPredict = model.predict(testX)
    # invert predictions
    trainPredict = scaler.inverse_transform(trainPredict)
    trainY = scaler.inverse_transform([trainY])
    testPredict = scaler.inverse_transform(testPredict)
    testY = scaler.inverse_transform([testY])
    # calculate root mean squared error
    trainScore = np.sqrt(mean_squared_error(trainY[0], trainPredict[:,0]))
    print('Train Score: %.2f RMSE' % (trainScore))
    testScore = np.sqrt(mean_squared_error(testY[0], testPredict[:,0]))
    print('Test Score: %.2f RMSE' % (testScore))

    assert trainX.shape == (92, 1, 3) and testX.shape == (44, 1, 3)
    assert model.count_params() == 133  # Keras 3.15: LSTM 4*4*(3+4+1) = 128, Dense 5
    assert trainPredict.shape == (92, 1) and testPredict.shape == (44, 1)
    assert np.isfinite(trainScore) and np.isfinite(testScore)
