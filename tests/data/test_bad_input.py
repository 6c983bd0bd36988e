"""Bad input: a clear NNGuruError naming the input and the fix, or a reported cleaning step."""

from __future__ import annotations

import numpy as np
import pytest

from nnguru.data.clean import clean
from nnguru.data.inspect import inspect_data
from nnguru.data.sources import load
from nnguru.errors import NNGuruError


def test_missing_path(tmp_path):
    with pytest.raises(NNGuruError, match="does not exist. Pass a CSV"):
        load(tmp_path / "nope.csv")


def test_empty_file(files):
    with pytest.raises(NNGuruError, match=r"empty file \(0 bytes\)"):
        load(files.text("e.csv", ""))


def test_whitespace_only_file(files):
    with pytest.raises(NNGuruError, match="only whitespace"):
        load(files.text("w.csv", "\n  \n\t\n"))


def test_header_only(files):
    with pytest.raises(NNGuruError, match=r"header line \(a, b, label\) but no data rows"):
        load(files.text("h.csv", "a,b,label\n"), target="label")


def test_single_class(files):
    ds = load(files.text("s.csv", "x,y\n1,a\n2,a\n3,a\n"), target="y")
    with pytest.raises(NNGuruError, match="single value \\('a'\\) in all 3 rows"):
        clean(ds)


def test_regression_on_text_labels(files):
    ds = load(files.text("t.csv", "x,y\n1,low\n2,high\n3,low\n"), target="y")
    with pytest.raises(NNGuruError, match="regression but the target holds text labels"):
        clean(ds, task="regression")


def test_target_all_missing(files):
    ds = load(files.text("t.csv", "x,y\n1,\n2,?\n3,NA\n"), target="y")
    with pytest.raises(NNGuruError, match="missing in all 3 rows"):
        clean(ds)


def test_non_utf8_bytes_are_read_and_reported(files):
    path = files.text("l.csv", b"name,y\ncaf\xe9,0\nna\xefve,1\nplain,0\n")
    ds, report = clean(load(path, target="y"))
    assert ds.X["name"].tolist() == ["café", "naïve", "plain"]
    assert any("not valid UTF-8" in w for w in report["warnings"])


def test_binary_file(files):
    with pytest.raises(NNGuruError, match="binary file"):
        load(files.text("img.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))


def test_ragged_rows_few_are_reported(files):
    ds, report = clean(load(files.text("r.csv", "a,b\n1,2\n3,4,5\n6,7\n8\n"), target="b"))
    assert "1 row(s) with more fields than the header were skipped" in report["warnings"]
    assert report["target"]["missing_rows_dropped"] == 1  # the short row "8" has no target
    assert len(ds) == 2


def test_ragged_rows_mostly_broken_mean_a_wrong_delimiter(files):
    text = "a,b,c\n1,2\n3\n4,5\n6\n7,8,9\n"
    with pytest.raises(NNGuruError, match="do not have the expected 3 fields.*--sep"):
        load(files.text("r.csv", text), sep=",")


def test_folder_with_no_recognizable_files(files):
    files.text("docs/a.txt", "x")
    files.text("docs/b.pdf", "y")
    with pytest.raises(NNGuruError, match=r"no images or audio \(extensions found: .pdf, .txt\)"):
        load(files.root / "docs")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NNGuruError, match="is empty. Put one subfolder per class"):
        load(tmp_path / "empty")


def test_path_column_pointing_only_at_missing_files(files):
    path = files.text("list.csv", "image,y\nmissing/a.png,0\nmissing/b.png,1\n")
    with pytest.raises(NNGuruError, match="None of the files in column 'image' could be read.*file not found"):
        clean(load(path, target="y"))


def test_unusable_separator_option(files):
    with pytest.raises(NNGuruError, match="--sep '::' is not a delimiter"):
        load(files.text("a.csv", "a,b\n1,2\n"), sep="::")


def test_only_the_target_column(files):
    with pytest.raises(NNGuruError, match="only the target column"):
        load(files.text("one.csv", "y\n1\n2\n"), target="y")


def test_damaged_parquet(files):
    with pytest.raises(NNGuruError, match="could not be read as Parquet"):
        load(files.text("d.parquet", b"PAR1 not really"))


def test_npz_without_inputs(tmp_path):
    np.savez(tmp_path / "a.npz", labels=np.arange(3))
    with pytest.raises(NNGuruError, match="none named x"):
        load(tmp_path / "a.npz")


def test_inspect_reports_the_same_errors(files):
    with pytest.raises(NNGuruError, match="empty file"):
        inspect_data(files.text("e.csv", ""))
