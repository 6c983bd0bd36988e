"""The real datasets of ../shared/datasets load, clean and preprocess as the guides promise.

Skipped (with the reason) when the datasets are not there; set NNGURU_DATASETS to point at them.
End-to-end accuracy targets are checked by the `nnguru train` acceptance tests.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from nnguru.data.clean import clean
from nnguru.data.preprocess import Preprocessor
from nnguru.data.sources import load


def _prepare(path, task: str = "classification", **options):
    ds = load(path, **options)
    cleaned, report = clean(ds)
    pre = Preprocessor(task).fit(cleaned.X, cleaned.y)
    return ds, cleaned, report, pre


def _column(report: dict, name: str) -> dict:
    return next(e for e in report["columns"] if e["name"] == name)


def test_titanic(shared_datasets):
    ds, cleaned, report, pre = _prepare(shared_datasets / "titanic" / "titanic.csv", target="Survived")
    assert len(cleaned) == 891 and report["target"]["class_balance"]["counts"] == {"0": 549, "1": 342}
    assert {c: _column(report, c)["missing"] for c in ("Age", "Cabin", "Embarked")} == {
        "Age": 177,
        "Cabin": 687,
        "Embarked": 2,
    }
    assert _column(report, "PassengerId")["action"].startswith("not used")
    names = pre.feature_names
    assert not any(n.startswith("PassengerId") for n in names)
    assert {"Name:has 'mr'", "Name:has 'mrs'", "Name:has 'miss'", "Name:has 'master'"} <= set(names)
    assert len(names) < 80  # nothing one-hot per passenger
    assert np.isfinite(pre.transform(cleaned.X)).all()


def test_pima_flags_placeholder_zeros(shared_datasets):
    path = shared_datasets / "pima_indians_diabetes" / "pima-indians-diabetes.csv"
    ds, cleaned, report, pre = _prepare(path, target=-1)
    assert ds.info["header"] is False and ds.target == "c8" and len(cleaned) == 768
    # glucose, blood pressure, skin thickness, insulin, BMI; not pregnancies, pedigree or age
    assert set(report["placeholder_zeros"]) == {"c1", "c2", "c3", "c4", "c5"}
    assert report["placeholder_zeros"]["c4"]["count"] == 374
    assert report["target"]["class_balance"]["counts"] == {"0": 500, "1": 268}
    assert pre.input_shape == (8,)


def test_boston_housing_regression(shared_datasets):
    path = shared_datasets / "boston_housing" / "housing.csv"
    ds, cleaned, report, pre = _prepare(path, task="regression", target=-1)
    assert ds.info["header"] is False and ds.X.shape == (506, 13)
    assert report["target"]["type"] == "numeric" and report["target"]["summary"]["max"] == 50.0
    assert pre.encode_y(cleaned.y).dtype == np.float32 and pre.input_shape == (13,)


def test_sms_spam_collection(shared_datasets):
    path = shared_datasets / "sms_spam_collection" / "SMSSpamCollection"
    ds, cleaned, report, pre = _prepare(path, target="Label")
    assert ds.info["sep"] == "\t" and ds.info["quoting"] == "none" and ds.info["header"] is True
    assert ds.info["long_rows_skipped"]["count"] == 0 and len(ds) == 4574
    assert report["target"]["class_balance"]["counts"] == {"ham": 3957, "spam": 617}
    assert ds.info["column_types"] == {"SMS": "text"} and pre.kind == "text"
    assert pre.classes == ["ham", "spam"]


@pytest.mark.slow
def test_free_spoken_digits(shared_datasets):
    recordings = shared_datasets / "free_spoken_digit_dataset" / "recordings"
    start = time.perf_counter()
    ds, cleaned, report, pre = _prepare(recordings, label_from_name=r"^(\d+)_")
    features = pre.transform(cleaned.X)
    seconds = time.perf_counter() - start
    assert len(cleaned) == 2500 and report["corrupt_file_count"] == 0
    assert set(report["target"]["class_balance"]["counts"].values()) == {250}
    assert (cleaned.split_hint == "test").sum() == 250  # repetitions 0-4: FSDD's official test set
    assert features.shape == (2500, *pre.input_shape) and pre.input_shape[0] == 32
    assert np.isfinite(features).all() and seconds < 60


def test_mnist_idx(shared_datasets):
    start = time.perf_counter()
    ds, cleaned, report, pre = _prepare(shared_datasets / "mnist")
    features = pre.transform(cleaned.X[:1000])
    assert time.perf_counter() - start < 30
    assert cleaned.X.shape == (70000, 28, 28) and cleaned.X.dtype == np.uint8
    assert (cleaned.split_hint == "test").sum() == 10000
    assert features.shape == (1000, 28, 28, 1) and features.max() == 1.0


@pytest.mark.slow
def test_mnist_png_folder_with_planted_problems(mnist_png_folder):
    ds, cleaned, report, pre = _prepare(mnist_png_folder.root)
    skipped = {r["file"].rsplit("/", 1)[-1] for r in report["corrupt_files"]}
    assert skipped == set(mnist_png_folder.corrupt)
    assert len(cleaned) == mnist_png_folder.images
    assert ds.info["ignored_files"] == ["README.txt"]
    assert report["formatting"]["images_to_resize"] == len(mnist_png_folder.odd_sized)
    assert pre.input_shape == (28, 28, 1)
    odd = cleaned.X["path"].str.endswith(f"/{mnist_png_folder.odd_sized[0]}")
    assert pre.transform(cleaned.X[odd]).shape == (1, 28, 28, 1)
