# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Deep Learning with Python, 2nd ed., chapter 7 "Working with Keras: a deep dive" (sections 7.2-7.3).

Source: https://github.com/fchollet/deep-learning-with-python-notebooks
        second_edition/chapter07_working-with-keras.ipynb @ dea84a4, François Chollet.
One test per part of the chapter, each running that part's cells in order:
Sequential models, the Functional API (a multi-input, multi-output ticket model), subclassing the Model
class (and mixing it with Functional models), and the built-in loops with callbacks.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`; `from tensorflow.keras.datasets import mnist` dropped.
- `mnist.load_data()` -> `corpus_data.mnist(2048, 256)` (real MNIST rows), so `reshape((60000, 28 * 28))` /
  `reshape((10000, 28 * 28))` -> `reshape((2048, 28 * 28))` / `reshape((256, 28 * 28))` and the validation
  slice `[:10000]` / `[10000:]` -> `[:512]` / `[512:]`; `num_samples = 1280` -> `128`.
- `epochs=3` / `epochs=10` -> `epochs=1` / `epochs=2`.
- Left out: `keras.utils.plot_model` cells (need pydot/graphviz), the custom `RootMeanSquaredError` metric
  (written with `tf.one_hot`/`tf.reduce_sum`, TensorFlow ops), the TensorBoard cells (a made-up
  `/full_path_to_your_log_dir` and `%tensorboard` magics) and section 7.4 (tf.GradientTape loops).
- The subclassing test starts with the ticket data the Functional part's cell makes (its own test runs alone).
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


@pytest.mark.xfail(strict=True, reason="known gap: model.output_shape has no batch axis in nnguru ((10,), Keras: (None, 10))")
def test_dlwp_ch7_sequential(workdir):
    import nnguru as keras
    from nnguru import layers

    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    model = keras.Sequential()
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    model.build(input_shape=(None, 3))
    model.weights
    assert [tuple(w.shape) for w in model.weights] == [(3, 64), (64,), (64, 10), (10,)]
    model.summary()
    model = keras.Sequential(name="my_example_model")
    model.add(layers.Dense(64, activation="relu", name="my_first_layer"))
    model.add(layers.Dense(10, activation="softmax", name="my_last_layer"))
    model.build((None, 3))
    model.summary()
    assert model.count_params() == 906 and model.name == "my_example_model"
    assert [layer.name for layer in model.layers] == ["my_first_layer", "my_last_layer"]
    model = keras.Sequential()
    model.add(keras.Input(shape=(3,)))
    model.add(layers.Dense(64, activation="relu"))
    model.summary()
    model.add(layers.Dense(10, activation="softmax"))
    model.summary()
    assert model.output_shape == (None, 10)


@pytest.mark.xfail(strict=True, reason="known gap: layer.input / layer.output (symbolic tensors of a called layer) are not kept")
def test_dlwp_ch7_functional(workdir):
    import nnguru as keras
    from nnguru import layers

    inputs = keras.Input(shape=(3,), name="my_input")
    features = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    inputs = keras.Input(shape=(3,), name="my_input")
    inputs.shape
    inputs.dtype
    assert tuple(inputs.shape) == (None, 3) and "float32" in str(inputs.dtype)
    features = layers.Dense(64, activation="relu")(inputs)
    features.shape
    assert tuple(features.shape) == (None, 64)
    outputs = layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.summary()

    vocabulary_size = 10000
    num_tags = 100
    num_departments = 4

    title = keras.Input(shape=(vocabulary_size,), name="title")
    text_body = keras.Input(shape=(vocabulary_size,), name="text_body")
    tags = keras.Input(shape=(num_tags,), name="tags")

    features = layers.Concatenate()([title, text_body, tags])
    features = layers.Dense(64, activation="relu")(features)

    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(
        num_departments, activation="softmax", name="department")(features)

    model = keras.Model(inputs=[title, text_body, tags], outputs=[priority, department])
    import numpy as np

    num_samples = 128

    title_data = np.random.randint(0, 2, size=(num_samples, vocabulary_size))
    text_body_data = np.random.randint(0, 2, size=(num_samples, vocabulary_size))
    tags_data = np.random.randint(0, 2, size=(num_samples, num_tags))

    priority_data = np.random.random(size=(num_samples, 1))
    department_data = np.random.randint(0, 2, size=(num_samples, num_departments))

    model.compile(optimizer="rmsprop",
                  loss=["mean_squared_error", "categorical_crossentropy"],
                  metrics=[["mean_absolute_error"], ["accuracy"]])
    model.fit([title_data, text_body_data, tags_data],
              [priority_data, department_data],
              epochs=1)
    model.evaluate([title_data, text_body_data, tags_data],
                   [priority_data, department_data])
    priority_preds, department_preds = model.predict([title_data, text_body_data, tags_data])
    assert priority_preds.shape == (128, 1) and department_preds.shape == (128, 4)
    model.compile(optimizer="rmsprop",
                  loss={"priority": "mean_squared_error", "department": "categorical_crossentropy"},
                  metrics={"priority": ["mean_absolute_error"], "department": ["accuracy"]})
    model.fit({"title": title_data, "text_body": text_body_data, "tags": tags_data},
              {"priority": priority_data, "department": department_data},
              epochs=1)
    model.evaluate({"title": title_data, "text_body": text_body_data, "tags": tags_data},
                   {"priority": priority_data, "department": department_data})
    priority_preds, department_preds = model.predict(
        {"title": title_data, "text_body": text_body_data, "tags": tags_data})
    model.layers
    model.layers[3].input
    model.layers[3].output
    assert [layer.name for layer in model.layers[:3]] == ["title", "text_body", "tags"]
    assert [tuple(t.shape) for t in model.layers[3].input] == [(None, 10000), (None, 10000), (None, 100)]
    assert tuple(model.layers[3].output.shape) == (None, 20100)
    features = model.layers[4].output
    difficulty = layers.Dense(3, activation="softmax", name="difficulty")(features)

    new_model = keras.Model(
        inputs=[title, text_body, tags],
        outputs=[priority, department, difficulty])
    assert model.count_params() == 1286789  # Keras 3.15: 1286464 + 65 + 260
    assert new_model.count_params() == 1286789 + 195
    assert [o.shape for o in new_model.predict([title_data[:2], text_body_data[:2], tags_data[:2]])] == [
        (2, 1), (2, 4), (2, 3)]


@pytest.mark.xfail(strict=True, reason="known gap: subclassed Model.call on dict inputs is not supported")
def test_dlwp_ch7_subclassing(workdir):
    import nnguru as keras
    from nnguru import layers

    vocabulary_size = 10000
    num_tags = 100
    num_samples = 128
    title_data = np.random.randint(0, 2, size=(num_samples, vocabulary_size))
    text_body_data = np.random.randint(0, 2, size=(num_samples, vocabulary_size))
    tags_data = np.random.randint(0, 2, size=(num_samples, num_tags))
    priority_data = np.random.random(size=(num_samples, 1))
    department_data = np.random.randint(0, 2, size=(num_samples, 4))

    class CustomerTicketModel(keras.Model):

        def __init__(self, num_departments):
            super().__init__()
            self.concat_layer = layers.Concatenate()
            self.mixing_layer = layers.Dense(64, activation="relu")
            self.priority_scorer = layers.Dense(1, activation="sigmoid")
            self.department_classifier = layers.Dense(
                num_departments, activation="softmax")

        def call(self, inputs):
            title = inputs["title"]
            text_body = inputs["text_body"]
            tags = inputs["tags"]

            features = self.concat_layer([title, text_body, tags])
            features = self.mixing_layer(features)
            priority = self.priority_scorer(features)
            department = self.department_classifier(features)
            return priority, department
    model = CustomerTicketModel(num_departments=4)

    priority, department = model(
        {"title": title_data, "text_body": text_body_data, "tags": tags_data})
    assert tuple(priority.shape) == (128, 1) and tuple(department.shape) == (128, 4)
    model.compile(optimizer="rmsprop",
                  loss=["mean_squared_error", "categorical_crossentropy"],
                  metrics=[["mean_absolute_error"], ["accuracy"]])
    model.fit({"title": title_data,
               "text_body": text_body_data,
               "tags": tags_data},
              [priority_data, department_data],
              epochs=1)
    model.evaluate({"title": title_data,
                    "text_body": text_body_data,
                    "tags": tags_data},
                   [priority_data, department_data])
    priority_preds, department_preds = model.predict({"title": title_data,
                                                      "text_body": text_body_data,
                                                      "tags": tags_data})
    assert priority_preds.shape == (128, 1) and department_preds.shape == (128, 4)
    assert model.count_params() == 1286789  # the same weights as the Functional ticket model

    class Classifier(keras.Model):

        def __init__(self, num_classes=2):
            super().__init__()
            if num_classes == 2:
                num_units = 1
                activation = "sigmoid"
            else:
                num_units = num_classes
                activation = "softmax"
            self.dense = layers.Dense(num_units, activation=activation)

        def call(self, inputs):
            return self.dense(inputs)

    inputs = keras.Input(shape=(3,))
    features = layers.Dense(64, activation="relu")(inputs)
    outputs = Classifier(num_classes=10)(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert model.count_params() == 256 + 650
    assert model.predict(np.ones((2, 3))).shape == (2, 10)
    inputs = keras.Input(shape=(64,))
    outputs = layers.Dense(1, activation="sigmoid")(inputs)
    binary_classifier = keras.Model(inputs=inputs, outputs=outputs)

    class MyModel(keras.Model):

        def __init__(self, num_classes=2):
            super().__init__()
            self.dense = layers.Dense(64, activation="relu")
            self.classifier = binary_classifier

        def call(self, inputs):
            features = self.dense(inputs)
            return self.classifier(features)

    model = MyModel()
    out = model(np.ones((2, 5), dtype="float32"))
    assert tuple(out.shape) == (2, 1) and model.count_params() == 5 * 64 + 64 + 65


def test_dlwp_ch7_builtin_loops_and_callbacks(workdir):
    import matplotlib
    matplotlib.use("Agg")

    import nnguru as keras
    from nnguru import layers

    def get_mnist_model():
        inputs = keras.Input(shape=(28 * 28,))
        features = layers.Dense(512, activation="relu")(inputs)
        features = layers.Dropout(0.5)(features)
        outputs = layers.Dense(10, activation="softmax")(features)
        model = keras.Model(inputs, outputs)
        return model

    (images, labels), (test_images, test_labels) = corpus_data.mnist(2048, 256)
    images = images.reshape((2048, 28 * 28)).astype("float32") / 255
    test_images = test_images.reshape((256, 28 * 28)).astype("float32") / 255
    train_images, val_images = images[512:], images[:512]
    train_labels, val_labels = labels[512:], labels[:512]

    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_images, train_labels,
              epochs=1,
              validation_data=(val_images, val_labels))
    test_metrics = model.evaluate(test_images, test_labels)
    predictions = model.predict(test_images)
    assert len(test_metrics) == 2 and predictions.shape == (256, 10)
    assert model.count_params() == 407050  # Keras 3.15: 401920 + 5130

    callbacks_list = [
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            patience=2,
        ),
        keras.callbacks.ModelCheckpoint(
            filepath="checkpoint_path.keras",
            monitor="val_loss",
            save_best_only=True,
        )
    ]
    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_images, train_labels,
              epochs=2,
              callbacks=callbacks_list,
              validation_data=(val_images, val_labels))
    model = keras.models.load_model("checkpoint_path.keras")
    assert model.predict(test_images[:3]).shape == (3, 10)

    from matplotlib import pyplot as plt

    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

        def on_epoch_end(self, epoch, logs):
            plt.clf()
            plt.plot(range(len(self.per_batch_losses)), self.per_batch_losses,
                     label="Training loss for each batch")
            plt.xlabel(f"Batch (epoch {epoch})")
            plt.ylabel("Loss")
            plt.legend()
            plt.savefig(f"plot_at_epoch_{epoch}")
            self.per_batch_losses = []
    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_images, train_labels,
              epochs=2,
              callbacks=[LossHistory()],
              validation_data=(val_images, val_labels))

    from pathlib import Path
    assert Path("plot_at_epoch_0.png").is_file() and Path("plot_at_epoch_1.png").is_file()
