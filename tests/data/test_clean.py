"""clean: what the data report says is what was in the data, and what was done about it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nnguru.data.clean import (
    clean,
    duplicates_across,
    outlier_bounds,
    placeholder_zero_finding,
)
from nnguru.data.sources import load
from nnguru.data.types import Dataset
from nnguru.errors import NNGuruError


def _column(report: dict, name: str) -> dict:
    return next(e for e in report["columns"] if e["name"] == name)


def test_missing_markers_are_counted_per_column_and_marker(files):
    text = "a,b,label\n1,x,0\n?,y,1\nNA,,0\n-,x,1\n5, ,0\n6,N/A,1\n"
    ds, report = clean(load(files.text("m.csv", text), target="label"))
    assert _column(report, "a")["missing"] == 3
    assert _column(report, "a")["markers"] == {"?": 1, "NA": 1, "-": 1}
    assert _column(report, "b")["missing"] == 3
    assert report["missing"]["columns"]["a"]["fill"] == "median of train + missing indicator"
    assert report["missing"]["columns"]["b"]["fill"] == "most frequent in train + missing indicator"
    assert ds.X["a"].isna().sum() == 3 and ds.X["a"].dtype == np.float64
    json.dumps(report)


def test_unreadable_numbers_become_missing_and_are_counted(files):
    rows = "\n".join(f"{i}.5,{i % 2}" for i in range(30))
    ds, report = clean(load(files.text("n.csv", "x,y\n" + rows + "\n5kg,0\n"), target="y"))
    entry = _column(report, "x")
    assert entry["type"] == "numeric" and entry["invalid_numbers"] == 1 and entry["missing"] == 1


def test_missing_drop_removes_rows_with_gaps(files):
    text = "a,b,label\n1,x,0\n,y,1\n3,,0\n4,x,1\n5,y,0\n"
    ds, report = clean(load(files.text("m.csv", text), target="label"), missing="drop")
    assert len(ds) == 3 and report["missing"]["rows_dropped"] == 2
    assert report["missing"]["columns"]["a"]["fill"] == "rows dropped"
    assert any("--missing drop removed 2 of 5" in w for w in report["warnings"])


def test_rows_without_target_are_dropped_and_counted(files):
    text = "x,label\n1,a\n2,\n3,b\n4,?\n5,a\n6,b\n"
    ds, report = clean(load(files.text("t.csv", text), target="label"))
    assert report["target"]["missing_rows_dropped"] == 2
    assert len(ds) == 4 and ds.y.tolist() == ["a", "b", "a", "b"]


def test_numeric_targets_become_numbers(files):
    ds, _ = clean(load(files.text("t.csv", "x,y\n1,0\n2,1\n3,1\n"), target="y"))
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0, 1, 1]
    ds, report = clean(load(files.text("r.csv", "x,y\n1,0.5\n2,1.25\n3,2\n"), target="y"))
    assert ds.y.dtype == np.float64 and report["target"]["type"] == "numeric"


def test_categorical_spellings_merged_when_only_case_or_spaces_differ(files):
    rows = ["male", "male", "Male", " male", "MALE ", "female", "Female", "female"]
    text = "sex,y\n" + "\n".join(f"{s},{i % 2}" for i, s in enumerate(rows)) + "\n"
    ds, report = clean(load(files.text("s.csv", text), target="y"))
    assert sorted(set(ds.X["sex"])) == ["female", "male"]
    entry = _column(report, "sex")
    assert entry["spelling_fixed_cells"] == 4
    assert entry["spelling_fixes"] == {"Male": "male", " male": "male", "MALE ": "male", "Female": "female"}


def test_target_label_spellings_merged(files):
    text = "x,y\n1,spam\n2,Spam\n3,ham\n4,ham \n5,ham\n"
    ds, report = clean(load(files.text("t.csv", text), target="y"))
    assert sorted(set(ds.y)) == ["ham", "spam"]
    assert report["target"]["spelling_fixes"] == {"Spam": "spam", "ham ": "ham"}


def _pima_like(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    glucose = rng.normal(120, 30, n).round().clip(44, 199)
    glucose[:7] = 0
    pregnancies = rng.poisson(3, n).astype(float)
    return pd.DataFrame({"pregnancies": pregnancies, "glucose": glucose})


def test_placeholder_zeros_flagged_only_where_zero_is_implausible():
    frame = _pima_like()
    assert placeholder_zero_finding(frame["glucose"].to_numpy())["count"] == 7
    assert placeholder_zero_finding(frame["pregnancies"].to_numpy()) is None
    ds = Dataset(X=frame, y=np.array([0, 1] * 100), name="pima", kind="table", target="y")
    cleaned, report = clean(ds)
    assert set(report["placeholder_zeros"]) == {"glucose"}
    smallest = frame["glucose"][frame["glucose"] > 0].min()
    assert report["placeholder_zeros"]["glucose"]["smallest_nonzero"] == smallest
    assert cleaned.X["glucose"].eq(0).sum() == 7  # flagged, not changed
    treated, report = clean(ds, placeholder_zeros="missing")
    assert treated.X["glucose"].isna().sum() == 7
    assert report["placeholder_zeros"]["glucose"]["action"] == "treated as missing"


def test_outliers_flagged_by_robust_rule_and_dropped_only_when_asked():
    rng = np.random.default_rng(1)
    x = rng.normal(50, 5, 100)
    x[[3, 60]] = [500, -400]
    bounds = outlier_bounds(x)
    assert 20 < bounds[0] < 40 and 60 < bounds[1] < 80  # about median +- 3.5 sigma
    ds = Dataset(X=pd.DataFrame({"x": x}), y=np.array([0, 1] * 50), name="o", kind="table", target="y")
    kept, report = clean(ds)
    assert report["outliers"]["columns"]["x"]["count"] == 2 and len(kept) == 100
    dropped, report = clean(ds, drop_outliers=True)
    assert len(dropped) == 98 and report["outliers"]["rows_flagged"] == 2


def test_duplicates_counted_with_conflicting_labels(files):
    text = "id,a,b,y\n1,1,x,0\n2,1,x,0\n3,1,x,1\n4,2,y,0\n5,3,z,1\n6,3,z,1\n"
    ds, report = clean(load(files.text("d.csv", text), target="y"))
    assert report["duplicates"]["rows"] == 2  # rows 2 and 6 repeat rows 1 and 5 (id ignored)
    assert report["duplicates"]["conflicting_labels"] == 3  # rows 1-3 share inputs, labels 0/1
    assert len(ds) == 6  # duplicates are reported, not removed


def test_duplicates_across_splits_is_leakage(files):
    text = "a,b,y\n" + "\n".join(f"{i % 4},{i % 3},{i % 2}" for i in range(12)) + "\n"
    ds, _ = clean(load(files.text("l.csv", text), target="y"))
    train, test = ds.take(np.arange(6)), ds.take(np.arange(6, 12))
    assert duplicates_across(train, test) == 0
    leaky = ds.take(np.array([0, 1, 2]))
    assert duplicates_across(train, leaky) == 3
    images = np.zeros((4, 2, 2), dtype=np.uint8)
    images[1] = 1
    assert duplicates_across(images[:2], images[1:]) == 3


def test_duplicates_across_arrays_tables_and_text():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(100, 5))
    test = np.concatenate([rng.normal(size=(30, 5)), train[:7]])
    assert duplicates_across(train, test) == 7
    assert duplicates_across(train, test + 1e-9) == 0  # exact copies only
    zeros = np.zeros((1, 3))
    assert duplicates_across(zeros, -zeros) == 1  # -0.0 equals 0.0
    images = rng.integers(0, 255, size=(20, 8, 8), dtype=np.uint8)
    assert duplicates_across(images, images[[3, 3, 5]]) == 3
    df_train = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    df_test = pd.DataFrame({"b": ["y", "q"], "a": [2, 2]})  # column order differs
    assert duplicates_across(df_train, df_test) == 1
    assert duplicates_across(train, train[:0]) == 0
    texts = np.array([["hello", 1], ["bye", 2]], dtype=object)
    assert duplicates_across(texts, texts[:1]) == 1
    assert duplicates_across(texts, np.array([["hello", 2]], dtype=object)) == 0


def test_class_balance_and_minority_warning(files):
    labels = ["a"] * 95 + ["b"] * 5
    text = "x,y\n" + "\n".join(f"{i},{lab}" for i, lab in enumerate(labels)) + "\n"
    _, report = clean(load(files.text("c.csv", text), target="y"))
    balance = report["target"]["class_balance"]
    assert balance["counts"] == {"a": 95, "b": 5} and balance["minority_class"] == "b"
    assert "only 5.0%" in balance["warning"] and balance["warning"] in report["warnings"]


def test_ten_balanced_classes_are_not_a_minority_problem():
    ds = Dataset(X=np.zeros((100, 2)), y=np.repeat(np.arange(10), 10), name="d", kind="array")
    ds.X[:, 0] = np.arange(100)
    _, report = clean(ds)
    assert report["target"]["class_balance"]["warning"] is None


def test_corrupt_and_missing_image_files_are_listed_and_skipped(files):
    for i in range(3):
        files.png(f"imgs/ok{i}.png", size=(8 + i, 8))
    files.text("imgs/broken.png", b"\x89PNG\r\n\x1a\n garbage")
    files.text("imgs/empty.png", b"")
    path = files.text(
        "list.csv",
        "path,y\nimgs/ok0.png,a\nimgs/ok1.png,b\nimgs/ok2.png,a\nimgs/broken.png,b\n"
        "imgs/empty.png,a\nimgs/gone.png,b\n",
    )
    ds, report = clean(load(path, target="y"))
    reasons = {r["file"].split("/")[-1]: r["reason"] for r in report["corrupt_files"]}
    assert set(reasons) == {"broken.png", "empty.png", "gone.png"}
    assert reasons["gone.png"] == "file not found" and reasons["empty.png"].startswith("empty")
    assert len(ds) == 3 and report["corrupt_file_count"] == 3
    assert report["formatting"]["sizes"] == {"8x8": 1, "9x8": 1, "10x8": 1}


def test_corrupt_audio_files_are_listed_and_skipped(files):
    files.wav("a/yes/1.wav", seconds=0.2)
    files.wav("a/yes/2.wav", seconds=0.3, rate=16000)
    good = files.wav("a/no/3.wav", seconds=0.2).read_bytes()
    files.text("a/no/cut.wav", good[:30])
    files.text("a/no/zero.wav", good[:44])
    ds, report = clean(load(files.root / "a"))
    names = sorted(r["file"].split("/")[-1] for r in report["corrupt_files"])
    assert names == ["cut.wav", "zero.wav"] and len(ds) == 3
    assert report["formatting"]["sample_rates"] == {"8000": 2, "16000": 1}


def test_array_samples_with_nan_are_dropped():
    x = np.random.default_rng(0).normal(size=(6, 3))
    x[2, 1] = np.nan
    ds, report = clean(Dataset(X=x, y=np.array([0, 1, 0, 1, 0, 1]), name="a", kind="array"))
    assert len(ds) == 5 and report["array"]["non_finite_samples_dropped"] == 1


def test_constant_and_empty_columns_are_reported_unused(files):
    text = "a,b,c,y\n1,k,,0\n2,k,,1\n3,k,?,0\n"
    ds, report = clean(load(files.text("u.csv", text), target="y"))
    assert _column(report, "b")["type"] == "constant" and _column(report, "c")["type"] == "empty"
    assert "not used" in _column(report, "b")["action"]
    assert ds.X.attrs["column_types"]["c"] == "empty"


def test_column_types_travel_with_the_rows(files):
    ds, _ = clean(load(files.text("t.csv", "a,b,y\n1,x,0\n2,y,1\n3,x,0\n"), target="y"))
    part = ds.take(np.array([0, 2]))
    assert part.X.attrs["column_types"] == {"a": "numeric", "b": "categorical"}


def test_bad_options_are_named():
    ds = Dataset(X=pd.DataFrame({"a": [1, 2]}), y=np.array([0, 1]), name="d", kind="table")
    with pytest.raises(NNGuruError, match="--missing 'mean' is not a strategy"):
        clean(ds, missing="mean")
    with pytest.raises(NNGuruError, match="placeholder_zeros='zap'"):
        clean(ds, placeholder_zeros="zap")


@pytest.mark.parametrize("text,expected", [
    ("12", True), (" -3.5 ", True), (".5", True), ("1e-3", True), ("+7.", True),
    ("1,000", False), ("12 kg", False), ("$5", False), ("", False), ("e5", False), ("1e", False),
])
def test_one_plain_number_pattern(text, expected):
    from nnguru.data.columns import is_number

    assert is_number(text) is expected
