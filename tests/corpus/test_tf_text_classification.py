# ruff: noqa  -- the published program is kept line for line (its own indentation, quotes, % formats)
"""Basic text classification (TextVectorization.adapt, Embedding, GlobalAveragePooling1D, export model).

Source: https://www.tensorflow.org/tutorials/keras/text_classification
        (github.com/tensorflow/docs site/en/tutorials/keras/text_classification.ipynb @ 7c36502), The TensorFlow Authors.
Changed:
- `import tensorflow as tf` -> `import nnguru as tf`; `from tensorflow.keras import layers/losses` ->
  `from nnguru import layers/losses`.
- Data loading: the aclImdb download and `text_dataset_from_directory` (tf.data pipelines, `.map`, `.cache`,
  `.prefetch`) -> NumPy arrays from `corpus_data.reviews` (512 short reviews, labels 0/1), split 80/20 as the
  tutorial's `validation_split=0.2`; `vectorize_text` maps arrays instead of `tf.data` elements.
- `custom_standardization` is written with Python `re` on NumPy strings instead of `tf.strings` (TensorFlow core);
  it does the same thing (lowercase, drop `<br />`, strip punctuation). Keras 3 on other backends accepts it too.
- `max_features=10000, sequence_length=250, epochs=10` -> `1000, 40, 2`.
- Plotting-only lines dropped; `tf.constant([...])` (TensorFlow core) -> `np.array([...])`.
"""

import numpy as np
import pytest

import corpus_data

pytestmark = pytest.mark.corpus


def test_tf_text_classification(workdir):
    import re
    import string

    import nnguru as tf
    from nnguru import layers
    from nnguru import losses

    texts, labels = corpus_data.reviews(512)
    raw_train = (texts[:320], labels[:320])
    raw_val = (texts[320:400], labels[320:400])
    raw_test = (texts[400:], labels[400:])

    def custom_standardization(input_data):
      lowercase = np.char.lower(np.asarray(input_data, dtype=str))
      stripped_html = np.char.replace(lowercase, '<br />', ' ')
      return np.array([re.sub('[%s]' % re.escape(string.punctuation), '', s) for s in stripped_html.ravel()])

    max_features = 1000
    sequence_length = 40

    vectorize_layer = layers.TextVectorization(
        standardize=custom_standardization,
        max_tokens=max_features,
        output_mode='int',
        output_sequence_length=sequence_length)

    # Make a text-only dataset (without labels), then call adapt
    train_text = raw_train[0]
    vectorize_layer.adapt(train_text)

    def vectorize_text(text, label):
      text = np.expand_dims(text, -1)
      return vectorize_layer(text), label

    first_review, first_label = raw_train[0][0], raw_train[1][0]
    print("Review", first_review)
    print("Vectorized review", vectorize_text(first_review, first_label))
    print('Vocabulary size: {}'.format(len(vectorize_layer.get_vocabulary())))

    train_ds = vectorize_text(*raw_train)
    val_ds = vectorize_text(*raw_val)
    test_ds = vectorize_text(*raw_test)

    embedding_dim = 16

    model = tf.keras.Sequential([
      layers.Embedding(max_features, embedding_dim),
      layers.Dropout(0.2),
      layers.GlobalAveragePooling1D(),
      layers.Dropout(0.2),
      layers.Dense(1, activation='sigmoid')])

    model.summary()

    model.compile(loss=losses.BinaryCrossentropy(),
                  optimizer='adam',
                  metrics=[tf.metrics.BinaryAccuracy(threshold=0.5)])

    epochs = 2
    history = model.fit(
        *train_ds,
        validation_data=val_ds,
        epochs=epochs)

    loss, accuracy = model.evaluate(*test_ds)

    print("Loss: ", loss)
    print("Accuracy: ", accuracy)

    history_dict = history.history
    history_dict.keys()

    acc = history_dict['binary_accuracy']
    val_acc = history_dict['val_binary_accuracy']
    loss = history_dict['loss']
    val_loss = history_dict['val_loss']

    export_model = tf.keras.Sequential([
      vectorize_layer,
      model,
      layers.Activation('sigmoid')
    ])

    export_model.compile(
        loss=losses.BinaryCrossentropy(from_logits=False), optimizer="adam", metrics=['accuracy']
    )

    # Test it with `raw_test_ds`, which yields raw strings
    metrics = export_model.evaluate(*raw_test, return_dict=True)
    print(metrics)

    examples = np.array([
      "The movie was great!",
      "The movie was okay.",
      "The movie was terrible..."
    ])

    predictions = export_model.predict(examples)

    assert len(vectorize_layer.get_vocabulary()) <= max_features
    assert vectorize_layer.get_vocabulary()[:2] == ["", "[UNK]"]
    assert train_ds[0].shape == (320, sequence_length)
    assert model.count_params() == 16017  # Keras 3.15: 1000*16 + 16+1
    assert len(acc) == len(val_acc) == len(loss) == len(val_loss) == 2
    assert set(metrics) == {"loss", "accuracy"}
    assert np.asarray(predictions).shape == (3, 1)
