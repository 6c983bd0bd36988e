"""Preprocessor: learned on the training split only, applied identically to any rows later."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from nnguru.data.clean import clean
from nnguru.data.preprocess import Preprocessor
from nnguru.data.sources import load
from nnguru.errors import NNGuruError


def _round_trip(pre: Preprocessor) -> Preprocessor:
    """Through JSON text and plain arrays, as the bundle stores it."""
    config = json.loads(json.dumps(pre.to_config()))
    state = {k: np.array(v) for k, v in pre.state().items()}
    return Preprocessor.from_config(config, state)


def test_numbers_are_imputed_with_train_median_and_standardized_with_train_stats():
    train = pd.DataFrame({"a": [1.0, 2.0, np.nan, 5.0], "b": [10.0, 20.0, 30.0, 40.0]})
    pre = Preprocessor("regression").fit(train)
    out = pre.transform(train)
    a = np.array([1.0, 2.0, 2.0, 5.0])  # NaN -> median of 1, 2, 5
    np.testing.assert_allclose(out[:, 0], (a - a.mean()) / a.std(), rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], [0, 0, 1, 0])  # indicator only for "a"
    assert pre.input_shape == (3,) and pre.feature_names == ["a", "b", "a missing"]
    test = pd.DataFrame({"a": [np.nan], "b": [np.nan]})
    np.testing.assert_allclose(pre.transform(test)[0], [(2 - a.mean()) / a.std(), 0.0, 1.0], atol=1e-6)


def test_categories_one_hot_with_other_unseen_and_missing():
    train = pd.DataFrame({"c": ["red", "red", "Blue ", "blue", "green", None, "red"]})
    pre = Preprocessor(max_categories=2).fit(train)
    assert pre.feature_names == ["c=red", "c=blue", "c=other", "c missing"]
    out = pre.transform(pd.DataFrame({"c": ["RED", "green", "purple", "?"]}))
    np.testing.assert_array_equal(
        out,
        [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]],  # missing -> most frequent
    )


def test_identifiers_are_never_one_hot_encoded(files):
    titles = ["Mr", "Mrs", "Miss", "Mr", "Master"] * 6
    unique = [chr(97 + i % 26) + chr(97 + i // 26) + "son" for i in range(30)]  # aason, bason ...
    rows = "\n".join(
        f'{i + 1},"{unique[i].title()}, {t}. {unique[-i - 1].title()}",{i % 2}' for i, t in enumerate(titles)
    )
    ds, _ = clean(load(files.text("p.csv", "PassengerId,Name,y\n" + rows + "\n"), target="y"))
    pre = Preprocessor().fit(ds.X, ds.y)
    assert pre.feature_names == ["Name:has 'mr'", "Name:has 'master'", "Name:has 'miss'", "Name:has 'mrs'"]
    assert pre.column_types["PassengerId"] == "identifier"


def test_text_features_match_scikit_learn_tfidf():
    texts = ["free prize call now", "call me later", "win a free prize", "see you later", "now or never"]
    frame = pd.DataFrame({"msg": texts})
    pre = Preprocessor(text_features=50, char_features=0, column_types={"msg": "text"}).fit(frame)
    assert pre.kind == "text"
    vocabulary = [n.split(":", 2)[2] for n in pre.feature_names]
    oracle = TfidfVectorizer(
        ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True, vocabulary=vocabulary
    ).fit(texts)
    new = ["free free prize later", "nothing known here"]
    np.testing.assert_allclose(pre.transform(pd.DataFrame({"msg": new})), oracle.transform(new).toarray(), atol=1e-6)


def test_dates_become_numeric_parts():
    frame = pd.DataFrame({"when": ["2020-01-15", "2020-03-01", "2021-07-04", None]})
    pre = Preprocessor("regression", column_types={"when": "datetime"}).fit(frame)
    parts = ["when.year", "when.month", "when.day", "when.day_of_week", "when missing"]
    assert pre.feature_names == parts
    assert np.isfinite(pre.transform(frame)).all()


def test_class_encoding_sorted_round_trip_and_unknown_labels():
    pre = Preprocessor("classification").fit(np.zeros((4, 1)), np.array(["spam", "ham", "ham", "spam"]))
    assert pre.classes == ["ham", "spam"]
    np.testing.assert_array_equal(pre.encode_y(["spam", " ham"]), [1, 0])
    assert pre.decode_y(np.array([1, 0])).tolist() == ["spam", "ham"]
    assert pre.decode_y(np.array([[0.9, 0.1], [0.2, 0.8]])).tolist() == ["ham", "spam"]
    with pytest.raises(NNGuruError, match=r"\['eggs'\] that were not in the training data"):
        pre.encode_y(["eggs"])


def test_numeric_labels_accept_any_spelling_of_the_number():
    pre = Preprocessor().fit(np.zeros((3, 1)), np.array([10, 2, 10]))
    assert pre.classes == [2, 10]
    np.testing.assert_array_equal(pre.encode_y(["10", 2.0, "2"]), [1, 0, 0])
    assert pre.decode_y(np.array([1])).dtype == np.int64


def test_regression_targets_are_floats_and_checked():
    pre = Preprocessor("regression").fit(np.zeros((2, 1)), np.array([1.5, 2.0]))
    assert pre.encode_y(["3.5", 4]).dtype == np.float32 and pre.classes is None
    with pytest.raises(NNGuruError, match="must be numbers"):
        pre.encode_y(["high"])
    assert pre.decode_y(np.array([[1.0], [2.0]])).shape == (2,)


def test_uint8_images_scaled_with_channel_axis():
    x = np.full((3, 4, 5), 255, dtype=np.uint8)
    pre = Preprocessor().fit(x)
    out = pre.transform(x)
    assert out.shape == (3, 4, 5, 1) and out.dtype == np.float32 and out.max() == 1.0
    assert pre.kind == "image" and pre.input_shape == (4, 5, 1)
    with pytest.raises(NNGuruError, match="expects numeric samples of shape"):
        pre.transform(np.zeros((2, 5, 4), dtype=np.uint8))


def test_feature_matrix_standardized_with_train_stats():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    pre = Preprocessor().fit(x)
    np.testing.assert_allclose(pre.transform(np.array([[2.0, 7.0]])), [[0.0, 2.0]])


def test_raw_rows_get_the_same_features_as_cleaned_rows(files):
    text = "age,sex,y\n22,male,0\n?,female,1\n35, Female,1\n40,MALE,0\n"
    path = files.text("raw.csv", text)
    cleaned, _ = clean(load(path, target="y"))
    pre = Preprocessor().fit(cleaned.X, cleaned.y)
    raw = load(path)  # as predict reads a new file: strings, markers, odd spellings, target
    np.testing.assert_array_equal(pre.transform(raw.X), pre.transform(cleaned.X))


def test_missing_training_columns_are_named():
    pre = Preprocessor().fit(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    with pytest.raises(NNGuruError, match=r"lacks the column\(s\) \['b'\]"):
        pre.transform(pd.DataFrame({"a": [1.0]}))


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(NNGuruError, match="Unknown preprocessing option.*max_categories"):
        Preprocessor(max_cats=3)


def test_not_fitted_is_a_clear_error():
    with pytest.raises(NNGuruError, match="not fitted"):
        Preprocessor().transform(np.zeros((1, 2)))


def _mixed_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],
            "c": ["a", "b", "a", None, "b", "a"],
            "t": ["good day to you", "free prize now", "good morning", "", "win prize", "free day"],
            "d": ["2020-01-01", "2020-02-01", "2020-03-05", "2020-04-01", "2021-05-01", "2021-06-01"],
        }
    )


def test_round_trip_reproduces_table_features():
    frame = _mixed_table()
    pre = Preprocessor(column_types={"t": "text", "d": "datetime"}).fit(frame, list("xyxyxy"))
    again = _round_trip(pre)
    np.testing.assert_array_equal(again.transform(frame), pre.transform(frame))
    assert again.classes == ["x", "y"] and again.input_shape == pre.input_shape


def test_round_trip_reproduces_array_features():
    x = np.random.default_rng(0).normal(size=(5, 3))
    pre = Preprocessor().fit(x)
    np.testing.assert_array_equal(_round_trip(pre).transform(x), pre.transform(x))


def test_images_from_paths_one_size_one_mode(files):
    paths = [str(files.png(f"i{i}.png", size=(6, 4))) for i in range(3)]
    paths.append(str(files.png("big.png", size=(12, 9), mode="RGB")))
    pre = Preprocessor().fit(pd.DataFrame({"path": paths}))
    out = pre.transform(paths)  # a plain list of files works too (model.predict on files)
    assert pre.kind == "image" and out.shape == (4, 4, 6, 1)
    np.testing.assert_allclose(out[0], 128 / 255, rtol=1e-6)
    again = _round_trip(pre)
    np.testing.assert_array_equal(again.transform(paths), out)
    forced = Preprocessor(image_size=(8, 8), color_mode="rgb").fit(pd.DataFrame({"path": paths}))
    assert forced.input_shape == (8, 8, 3)


def test_audio_from_paths_fixed_shape_log_mel(files):
    paths = [str(files.wav(f"a{i}.wav", seconds=0.2 + 0.1 * i, freq=300 + 200 * i)) for i in range(4)]
    paths.append(str(files.wav("fast.wav", seconds=0.3, rate=16000)))
    pre = Preprocessor().fit(pd.DataFrame({"path": paths}), [0, 1, 0, 1, 0])
    out = pre.transform(pd.DataFrame({"path": paths}))
    assert pre.kind == "audio" and out.shape == (5, *pre.input_shape) and pre.input_shape[0] == 32
    assert pre.input_shape[2] == 1 and np.isfinite(out).all()
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-4)  # standardized per band
    np.testing.assert_array_equal(_round_trip(pre).transform(paths), out)


def test_a_corrupt_file_at_predict_time_names_the_file(files):
    good = [str(files.png(f"g{i}.png")) for i in range(2)]
    pre = Preprocessor().fit(pd.DataFrame({"path": good}))
    bad = files.text("bad.png", b"not a png")
    with pytest.raises(NNGuruError, match="bad.png"):
        pre.transform([str(bad)])
    with pytest.raises(NNGuruError, match="gone.png"):
        pre.transform([str(files.root / "gone.png")])
