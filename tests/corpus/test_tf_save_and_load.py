# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Save and load models (ModelCheckpoint, save_weights/load_weights, model.save + load_model).

Source: https://www.tensorflow.org/tutorials/keras/save_and_load
        (github.com/tensorflow/docs site/en/tutorials/keras/save_and_load.ipynb @ 7c36502), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow import keras` -> `import nnguru as keras`.
- `tf.keras.datasets.mnist.load_data()` -> `corpus_data.mnist(1000, 1000)` (real MNIST rows from ../shared/datasets);
  the tutorial then keeps 1000 of each, as published.
- epochs 10 -> 2, 50 -> 2 (with `save_freq=1*n_batches` instead of `5*n_batches` so checkpoints are still
  written), 5 -> 1.
- The TensorFlow-only SavedModel (`tf.saved_model.save/load`) and legacy HDF5 (`my_model.h5`) sections are
  dropped: they are not Keras 3 APIs.
"""

import os

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_save_and_load(workdir):
    import nnguru as tf
    import nnguru as keras

    (train_images, train_labels), (test_images, test_labels) = corpus_data.mnist(1000, 1000)

    train_labels = train_labels[:1000]
    test_labels = test_labels[:1000]

    train_images = train_images[:1000].reshape(-1, 28 * 28) / 255.0
    test_images = test_images[:1000].reshape(-1, 28 * 28) / 255.0

    # Define a simple sequential model
    def create_model():
      model = tf.keras.Sequential([
        keras.layers.Dense(512, activation='relu', input_shape=(784,)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10)
      ])

      model.compile(optimizer='adam',
                    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])

      return model

    # Create a basic model instance
    model = create_model()

    # Display the model's architecture
    model.summary()

    checkpoint_path = "training_1/cp.weights.h5"
    checkpoint_dir = os.path.dirname(checkpoint_path)

    # Create a callback that saves the model's weights
    cp_callback = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path,
                                                     save_weights_only=True,
                                                     verbose=1)

    # Train the model with the new callback
    model.fit(train_images,
              train_labels,
              epochs=2,
              validation_data=(test_images, test_labels),
              callbacks=[cp_callback])  # Pass callback to training

    os.listdir(checkpoint_dir)

    # Create a basic model instance
    model = create_model()

    # Evaluate the model
    loss, acc = model.evaluate(test_images, test_labels, verbose=2)
    print("Untrained model, accuracy: {:5.2f}%".format(100 * acc))

    # Loads the weights
    model.load_weights(checkpoint_path)

    # Re-evaluate the model
    loss, acc = model.evaluate(test_images, test_labels, verbose=2)
    print("Restored model, accuracy: {:5.2f}%".format(100 * acc))
    restored_acc = acc

    # Include the epoch in the file name (uses `str.format`)
    checkpoint_path = "training_2/cp-{epoch:04d}.weights.h5"
    checkpoint_dir = os.path.dirname(checkpoint_path)
    os.mkdir(checkpoint_dir)

    batch_size = 32

    # Calculate the number of batches per epoch
    import math
    n_batches = len(train_images) / batch_size
    n_batches = math.ceil(n_batches)    # round up the number of batches to the nearest whole integer

    # Create a callback that saves the model's weights every epoch
    cp_callback = tf.keras.callbacks.ModelCheckpoint(
        filepath=checkpoint_path,
        verbose=1,
        save_weights_only=True,
        save_freq=1*n_batches)

    # Create a new model instance
    model = create_model()

    # Save the weights using the `checkpoint_path` format
    model.save_weights(checkpoint_path.format(epoch=0))

    # Train the model with the new callback
    model.fit(train_images,
              train_labels,
              epochs=2,
              batch_size=batch_size,
              callbacks=[cp_callback],
              validation_data=(test_images, test_labels),
              verbose=0)

    os.listdir(checkpoint_dir)

    def load_latest_checkpoint(checkpoint_dir):
        latest = max(os.listdir(checkpoint_dir), key=lambda f: int(f.split('-')[1].split('.')[0]))
        return os.path.join(checkpoint_dir, latest)

    latest = load_latest_checkpoint(checkpoint_dir)
    latest

    # Create a new model instance
    model = create_model()

    # Load the previously saved weights
    model.load_weights(latest)

    # Re-evaluate the model from the latest checkpoint
    loss, acc = model.evaluate(test_images, test_labels, verbose=2)
    print("Restored model, accuracy: {:5.2f}%".format(100 * acc))

    os.mkdir('./checkpoints')
    # Save the weights
    model.save_weights('./checkpoints/my_checkpoint.weights.h5')

    # Create a new model instance
    model = create_model()

    # Restore the weights
    model.load_weights('./checkpoints/my_checkpoint.weights.h5')

    # Evaluate the model
    loss, acc = model.evaluate(test_images, test_labels, verbose=2)
    print("Restored model, accuracy: {:5.2f}%".format(100 * acc))

    # Create and train a new model instance.
    model = create_model()
    model.fit(train_images, train_labels, epochs=1)

    # Save the entire model as a `.keras` zip archive.
    model.save('my_model.keras')

    new_model = tf.keras.models.load_model('my_model.keras')

    # Show the model architecture
    new_model.summary()

    # Evaluate the restored model
    loss, acc = new_model.evaluate(test_images, test_labels, verbose=2)
    print('Restored model, accuracy: {:5.2f}%'.format(100 * acc))

    print(new_model.predict(test_images).shape)

    assert model.count_params() == 407050  # Keras 3.15: 784*512+512 + 512*10+10
    assert sorted(os.listdir("training_2")) == ["cp-0000.weights.h5", "cp-0001.weights.h5", "cp-0002.weights.h5"]
    assert restored_acc > 0.5  # the weights really came back (untrained is ~0.1)
    assert new_model.predict(test_images).shape == (1000, 10)
    np.testing.assert_allclose(new_model.predict(test_images[:20]), model.predict(test_images[:20]), rtol=1e-5,
                               atol=1e-5)
