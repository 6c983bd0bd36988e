# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""keras.io "Timeseries anomaly detection using an Autoencoder": Conv1D / Conv1DTranspose on pandas windows.

Source: https://keras.io/examples/timeseries/timeseries_anomaly_detection/
        (github.com/keras-team/keras-io examples/timeseries/timeseries_anomaly_detection.py @ 3aca056),
        pavithrasv.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from matplotlib import pyplot as plt` dropped with the plots.
- The two `pd.read_csv(<NAB url>, parse_dates=True, index_col="timestamp")` calls ->
  `corpus_data.nab_daily(anomaly=False/True)`: the same one-column frames, 5 days instead of 14, the
  second with a jump.
- `epochs=50` -> `epochs=2`.
- Plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_kio_timeseries_anomaly_detection(workdir):
    import numpy as np
    import pandas as pd
    import nnguru as keras
    from nnguru import layers

    df_small_noise = corpus_data.nab_daily(anomaly=False)
    df_daily_jumpsup = corpus_data.nab_daily(anomaly=True)
    print(df_small_noise.head())

    print(df_daily_jumpsup.head())

    # Normalize and save the mean and std we get,
    # for normalizing test data.
    training_mean = df_small_noise.mean()
    training_std = df_small_noise.std()
    df_training_value = (df_small_noise - training_mean) / training_std
    print("Number of training samples:", len(df_training_value))

    TIME_STEPS = 288

    # Generated training sequences for use in the model.
    def create_sequences(values, time_steps=TIME_STEPS):
        output = []
        for i in range(len(values) - time_steps + 1):
            output.append(values[i : (i + time_steps)])
        return np.stack(output)


    x_train = create_sequences(df_training_value.values)
    print("Training input shape: ", x_train.shape)

    model = keras.Sequential(
        [
            layers.Input(shape=(x_train.shape[1], x_train.shape[2])),
            layers.Conv1D(
                filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
            ),
            layers.Dropout(rate=0.2),
            layers.Conv1D(
                filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
            ),
            layers.Conv1DTranspose(
                filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
            ),
            layers.Dropout(rate=0.2),
            layers.Conv1DTranspose(
                filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
            ),
            layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
    model.summary()

    history = model.fit(
        x_train,
        x_train,
        epochs=2,
        batch_size=128,
        validation_split=0.1,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min")
        ],
    )

    # Get train MAE loss.
    x_train_pred = model.predict(x_train)
    train_mae_loss = np.mean(np.abs(x_train_pred - x_train), axis=1)

    # Get reconstruction loss threshold.
    threshold = np.max(train_mae_loss)
    print("Reconstruction error threshold: ", threshold)

    df_test_value = (df_daily_jumpsup - training_mean) / training_std

    # Create sequences from test values.
    x_test = create_sequences(df_test_value.values)
    print("Test input shape: ", x_test.shape)

    # Get test MAE loss.
    x_test_pred = model.predict(x_test)
    test_mae_loss = np.mean(np.abs(x_test_pred - x_test), axis=1)
    test_mae_loss = test_mae_loss.reshape((-1))

    # Detect all the samples which are anomalies.
    anomalies = test_mae_loss > threshold
    print("Number of anomaly samples: ", np.sum(anomalies))
    print("Indices of anomaly samples: ", np.where(anomalies))

    # data i is an anomaly if samples [(i - timesteps + 1) to (i)] are anomalies
    anomalous_data_indices = []
    for data_idx in range(TIME_STEPS - 1, len(df_test_value) - TIME_STEPS + 1):
        if np.all(anomalies[data_idx - TIME_STEPS + 1 : data_idx]):
            anomalous_data_indices.append(data_idx)

    df_subset = df_daily_jumpsup.iloc[anomalous_data_indices]

    assert x_train.shape == (1153, 288, 1)
    assert model.count_params() == 9505  # Keras 3.15: 256 + 3600 + 1808 + 3616 + 225
    assert x_train_pred.shape == x_train.shape and x_test_pred.shape == x_test.shape
    assert set(history.history) == {"loss", "val_loss"}
    assert test_mae_loss.shape == (len(x_test),) and np.isfinite(threshold)
