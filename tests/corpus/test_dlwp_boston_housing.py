# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Deep Learning with Python, 2nd ed., 4.3: predicting house prices (K-fold validation, mse loss, mae metric).

Source: https://github.com/fchollet/deep-learning-with-python-notebooks
        second_edition/chapter04_getting-started-with-neural-networks.ipynb @ dea84a4, François Chollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from tensorflow.keras.datasets import boston_housing` dropped.
- `boston_housing.load_data()` -> `corpus_data.boston_housing()`: the real 506 rows from ../shared/datasets,
  shuffled with seed 113 and split 404/102 exactly as Keras's loader does.
- `num_epochs = 100` / `500` / final `epochs=130` -> `2` / `2` / `2`.
- Plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_dlwp_boston_housing(workdir):
    import numpy as np

    import nnguru as keras
    from nnguru import layers

    (train_data, train_targets), (test_data, test_targets) = corpus_data.boston_housing()
    train_data.shape
    test_data.shape
    train_targets
    mean = train_data.mean(axis=0)
    train_data -= mean
    std = train_data.std(axis=0)
    train_data /= std
    test_data -= mean
    test_data /= std
    def build_model():
        model = keras.Sequential([
            layers.Dense(64, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(1)
        ])
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        return model
    k = 4
    num_val_samples = len(train_data) // k
    num_epochs = 2
    all_scores = []
    for i in range(k):
        print(f"Processing fold #{i}")
        val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
        val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
        partial_train_data = np.concatenate(
            [train_data[:i * num_val_samples],
             train_data[(i + 1) * num_val_samples:]],
            axis=0)
        partial_train_targets = np.concatenate(
            [train_targets[:i * num_val_samples],
             train_targets[(i + 1) * num_val_samples:]],
            axis=0)
        model = build_model()
        model.fit(partial_train_data, partial_train_targets,
                  epochs=num_epochs, batch_size=16, verbose=0)
        val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
        all_scores.append(val_mae)
    all_scores
    np.mean(all_scores)
    num_epochs = 2
    all_mae_histories = []
    for i in range(k):
        print(f"Processing fold #{i}")
        val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
        val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
        partial_train_data = np.concatenate(
            [train_data[:i * num_val_samples],
             train_data[(i + 1) * num_val_samples:]],
            axis=0)
        partial_train_targets = np.concatenate(
            [train_targets[:i * num_val_samples],
             train_targets[(i + 1) * num_val_samples:]],
            axis=0)
        model = build_model()
        history = model.fit(partial_train_data, partial_train_targets,
                            validation_data=(val_data, val_targets),
                            epochs=num_epochs, batch_size=16, verbose=0)
        mae_history = history.history["val_mae"]
        all_mae_histories.append(mae_history)
    average_mae_history = [
        np.mean([x[i] for x in all_mae_histories]) for i in range(num_epochs)]
    truncated_mae_history = average_mae_history[10:]
    model = build_model()
    model.fit(train_data, train_targets,
              epochs=2, batch_size=16, verbose=0)
    test_mse_score, test_mae_score = model.evaluate(test_data, test_targets)
    test_mae_score
    predictions = model.predict(test_data)
    predictions[0]

    assert train_data.shape == (404, 13) and test_data.shape == (102, 13)
    assert len(all_scores) == 4 and all(np.isfinite(all_scores))
    assert len(average_mae_history) == 2
    assert model.count_params() == 5121  # Keras 3.15: 896 + 4160 + 65
    assert predictions.shape == (102, 1)
    # The mae metric is the mean absolute error of the predictions (checked against NumPy).
    assert test_mae_score == pytest.approx(float(np.abs(predictions[:, 0] - test_targets).mean()), rel=1e-4)
