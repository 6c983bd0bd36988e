# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""The functional API guide: a multi-input, multi-output ticket model (3 inputs, 2 named outputs).

Source: https://keras.io/guides/functional_api/ ("Models with multiple inputs and outputs")
        (github.com/keras-team/keras-io guides/functional_api.py @ 14a2af7), fchollet.
Changed:
- `from tensorflow import keras` -> `import nnguru as keras`; `from tensorflow.keras import layers` ->
  `from nnguru import layers`.
- The guide's own dummy data: 1280 rows -> 256, body length 100 -> 20, `epochs=2` kept; `num_words=10000` -> 1000.
- `keras.utils.plot_model(...)` (draws a PNG with pydot) dropped.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.corpus


def test_kio_functional_multi_io(workdir):
    import numpy as np

    import nnguru as keras
    from nnguru import layers

    num_tags = 12  # Number of unique issue tags
    num_words = 1000  # Size of vocabulary obtained when preprocessing text data
    num_departments = 4  # Number of departments for predictions

    title_input = keras.Input(
        shape=(None,), name="title"
    )  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(
        shape=(num_tags,), name="tags"
    )  # Binary vectors of size `num_tags`

    # Embed each word in the title into a 64-dimensional vector
    title_features = layers.Embedding(num_words, 64)(title_input)
    # Embed each word in the text into a 64-dimensional vector
    body_features = layers.Embedding(num_words, 64)(body_input)

    # Reduce sequence of embedded words in the title into a single 128-dimensional vector
    title_features = layers.LSTM(128)(title_features)
    # Reduce sequence of embedded words in the body into a single 32-dimensional vector
    body_features = layers.LSTM(32)(body_features)

    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])

    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)

    # Instantiate an end-to-end model predicting both priority and department
    model = keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs=[priority_pred, department_pred],
    )

    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss=[
            keras.losses.BinaryCrossentropy(from_logits=True),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        ],
        loss_weights=[1.0, 0.2]
    )

    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2}
    )

    # Dummy input data
    title_data = np.random.randint(num_words, size=(256, 10))
    body_data = np.random.randint(num_words, size=(256, 20))
    tags_data = np.random.randint(2, size=(256, num_tags)).astype("float32")

    # Dummy target data
    priority_targets = np.random.random(size=(256, 1))
    dept_targets = np.random.randint(2, size=(256, num_departments))

    history = model.fit(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        epochs=2,
        batch_size=32,
    )

    # Keras 3.15: 64000 + 64000 + 98816 + 12416 + 173 + 692
    assert model.count_params() == 240097
    assert {"loss", "priority_loss", "department_loss"} <= set(history.history)
    priority, department = model.predict({"title": title_data[:5], "body": body_data[:5], "tags": tags_data[:5]})
    assert priority.shape == (5, 1) and department.shape == (5, 4)
    assert all(np.isfinite(history.history["loss"]))
