# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Overfit and underfit (model sizes, L2 regularizers, dropout, InverseTimeDecay, EarlyStopping, TensorBoard).

Source: https://www.tensorflow.org/tutorials/keras/overfit_and_underfit
        (github.com/tensorflow/docs site/en/tutorials/keras/overfit_and_underfit.ipynb @ 7c36502),
        The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow.keras import layers/regularizers` ->
  `from nnguru import layers/regularizers`; the `tensorflow_docs` helpers (EpochDots, HistoryPlotter: progress
  dots and plots only) and their imports dropped.
- Data loading: the HIGGS download and its `tf.data` pipeline (CsvDataset, pack_row, cache, shuffle, repeat,
  batch, `.map(... tf.expand_dims(y, -1))`) -> NumPy arrays from `corpus_data.higgs` (N_TRAIN=1000 rows,
  N_VALIDATION=200), labels shaped (n, 1) as the tutorial's `expand_dims` makes them.
- `N_TRAIN=1e4, BATCH_SIZE=500, max_epochs=10000` -> `1000, 100, 2`; the "medium" and "large" size models and
  the 512-unit width -> 64 units (same code, smaller numbers).
- `tf.add_n(l2_model.losses)` (TensorFlow core) -> `sum(l2_model.losses)`.
- Plotting-only lines dropped.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_overfit_and_underfit(workdir):
    import pathlib
    import shutil
    import tempfile

    import nnguru as tf
    from nnguru import layers
    from nnguru import regularizers

    logdir = pathlib.Path(tempfile.mkdtemp())/"tensorboard_logs"
    shutil.rmtree(logdir, ignore_errors=True)

    FEATURES = 28

    N_VALIDATION = int(200)
    N_TRAIN = int(1e3)
    BUFFER_SIZE = int(1e3)
    BATCH_SIZE = 100
    STEPS_PER_EPOCH = N_TRAIN//BATCH_SIZE

    features, labels = corpus_data.higgs(N_TRAIN + N_VALIDATION, FEATURES)
    validate_ds = (features[:N_VALIDATION], labels[:N_VALIDATION, None])
    train_ds = (features[N_VALIDATION:], labels[N_VALIDATION:, None])

    lr_schedule = tf.keras.optimizers.schedules.InverseTimeDecay(
      0.001,
      decay_steps=STEPS_PER_EPOCH*1000,
      decay_rate=1,
      staircase=False)

    def get_optimizer():
      return tf.keras.optimizers.Adam(lr_schedule)

    def get_callbacks(name):
      return [
        tf.keras.callbacks.EarlyStopping(monitor='val_binary_crossentropy', patience=200),
        tf.keras.callbacks.TensorBoard(logdir/name),
      ]

    def compile_and_fit(model, name, optimizer=None, max_epochs=2):
      if optimizer is None:
        optimizer = get_optimizer()
      model.compile(optimizer=optimizer,
                    loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                    metrics=[
                      tf.keras.metrics.BinaryCrossentropy(
                          from_logits=True, name='binary_crossentropy'),
                      'accuracy'])

      model.summary()

      history = model.fit(
        *train_ds,
        batch_size=BATCH_SIZE,
        steps_per_epoch = STEPS_PER_EPOCH,
        epochs=max_epochs,
        validation_data=validate_ds,
        callbacks=get_callbacks(name),
        verbose=0)
      return history

    tiny_model = tf.keras.Sequential([
        layers.Dense(16, activation='elu', input_shape=(FEATURES,)),
        layers.Dense(1)
    ])

    size_histories = {}
    size_histories['Tiny'] = compile_and_fit(tiny_model, 'sizes/Tiny')

    small_model = tf.keras.Sequential([
        # `input_shape` is only required here so that `.summary` works.
        layers.Dense(16, activation='elu', input_shape=(FEATURES,)),
        layers.Dense(16, activation='elu'),
        layers.Dense(1)
    ])
    size_histories['Small'] = compile_and_fit(small_model, 'sizes/Small')

    regularizer_histories = {}
    regularizer_histories['Tiny'] = size_histories['Tiny']

    l2_model = tf.keras.Sequential([
        layers.Dense(64, activation='elu',
                     kernel_regularizer=regularizers.l2(0.001),
                     input_shape=(FEATURES,)),
        layers.Dense(64, activation='elu',
                     kernel_regularizer=regularizers.l2(0.001)),
        layers.Dense(1)
    ])

    regularizer_histories['l2'] = compile_and_fit(l2_model, "regularizers/l2")

    result = l2_model(features)
    regularization_loss=sum(l2_model.losses)

    dropout_model = tf.keras.Sequential([
        layers.Dense(64, activation='elu', input_shape=(FEATURES,)),
        layers.Dropout(0.5),
        layers.Dense(64, activation='elu'),
        layers.Dropout(0.5),
        layers.Dense(1)
    ])

    regularizer_histories['dropout'] = compile_and_fit(dropout_model, "regularizers/dropout")

    combined_model = tf.keras.Sequential([
        layers.Dense(64, kernel_regularizer=regularizers.l2(0.0001),
                     activation='elu', input_shape=(FEATURES,)),
        layers.Dropout(0.5),
        layers.Dense(64, kernel_regularizer=regularizers.l2(0.0001),
                     activation='elu'),
        layers.Dropout(0.5),
        layers.Dense(1)
    ])

    regularizer_histories['combined'] = compile_and_fit(combined_model, "regularizers/combined")

    assert tiny_model.count_params() == 481  # Keras 3.15: 28*16+16 + 17
    assert l2_model.count_params() == 6081  # 28*64+64 + 64*64+64 + 65
    for history in regularizer_histories.values():
        assert {"loss", "val_loss", "binary_crossentropy", "val_binary_crossentropy", "accuracy",
                "val_accuracy"} <= set(history.history)
        assert all(np.isfinite(history.history["loss"]))
    # The L2 penalty is part of the model's losses: sum of 0.001 * ||W||^2 over the two kernels.
    kernels = [np.asarray(layer.get_weights()[0]) for layer in l2_model.layers[:2]]
    expected = sum(0.001 * float((k ** 2).sum()) for k in kernels)
    assert float(regularization_loss) == pytest.approx(expected, rel=1e-4)
    assert tuple(result.shape) == (N_TRAIN + N_VALIDATION, 1)
    assert any(logdir.rglob("*")), "TensorBoard wrote no event files"
