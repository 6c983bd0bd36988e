"""sources.load: every kind of input the guides mention, read without changing a value."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnguru.data.sources import load
from nnguru.errors import NNGuruError

TITANIC_LIKE = (
    "PassengerId,Survived,Name,Sex,Age\n"
    '1,0,"Braund, Mr. Owen",male,22\n'
    '2,1,"Cumings, Mrs. John",female,38\n'
    '3,1,"Heikkinen, Miss. Laina",female,\n'
)


def test_csv_with_header_and_quoted_commas(files):
    ds = load(files.text("t.csv", TITANIC_LIKE), target="Survived")
    assert ds.kind == "table" and ds.target == "Survived"
    assert list(ds.X.columns) == ["PassengerId", "Name", "Sex", "Age"]
    assert ds.X["Name"].tolist()[0] == "Braund, Mr. Owen"
    assert ds.y.tolist() == ["0", "1", "1"]
    assert ds.info["header"] is True and ds.info["sep"] == ","


@pytest.mark.parametrize("target", ["Survived", "survived", 1, -4, "1", "-4"])
def test_target_by_name_any_case_or_position(files, target):
    ds = load(files.text("t.csv", TITANIC_LIKE), target=target)
    assert ds.target == "Survived"


def test_unknown_target_lists_the_columns(files):
    with pytest.raises(NNGuruError, match=r"'Survivors' is not a column.*'PassengerId', 'Survived'"):
        load(files.text("t.csv", TITANIC_LIKE), target="Survivors")


def test_target_position_out_of_range(files):
    with pytest.raises(NNGuruError, match="out of range.*5 columns"):
        load(files.text("t.csv", TITANIC_LIKE), target=9)


def test_no_target_returns_all_columns_and_no_labels(files):
    ds = load(files.text("t.csv", TITANIC_LIKE))
    assert ds.y is None and "Survived" in ds.X.columns


def test_headerless_numbers_get_c_names_and_last_column_target(files):
    ds = load(files.text("p.csv", "6,148,72,1\n1,85,66,0\n8,183,64,1\n"), target=-1)
    assert ds.info["header"] is False
    assert list(ds.X.columns) == ["c0", "c1", "c2"] and ds.target == "c3"
    assert ds.y.tolist() == ["1", "0", "1"]


def test_no_header_flag_and_column_names(files):
    path = files.text("h.csv", "a,b,label\nx,1,yes\ny,2,no\n")
    assert list(load(path, header=False).X.columns) == ["c0", "c1", "c2"]
    named = load(path, header=False, columns=["u", "v", "w"], target="w")
    assert named.y.tolist() == ["label", "yes", "no"]


def test_columns_option_must_match_the_width(files):
    with pytest.raises(NNGuruError, match="gives 2 names.*has 3 columns"):
        load(files.text("h.csv", "1,2,3\n4,5,6\n"), columns=["a", "b"])


def test_header_is_detected_above_categorical_text(files):
    text = "label\tmessage\nham\tsee you soon\nspam\tWIN a prize now\nham\tok\n"
    assert load(files.text("s.tsv", text)).info["header"] is True
    headerless = "ham\tsee you soon\nspam\tWIN a prize now\nham\tok\nham\tlater\n"
    assert load(files.text("s2.tsv", headerless)).info["header"] is False


def test_tab_separated_text_with_stray_quotes_keeps_them(files):
    text = (
        "label\tmessage\n"
        'ham\t"Hi" she said, "see you"\n'
        'spam\t"WINNER!! claim now\n'
        "ham\tno quotes here\n"
        'ham\tsays "ok"\n'
    )
    ds = load(files.text("sms", text), target="label")
    assert ds.info["sep"] == "\t" and ds.info["quoting"] == "none"
    assert ds.X["message"].tolist()[1] == '"WINNER!! claim now'
    assert len(ds) == 4


def test_whitespace_separated_with_leading_spaces(files):
    text = " 0.00632  18.00   2.310  24.00\n 0.02731   0.00   7.070  21.60\n 0.02729   0.00   7.070  34.70\n"
    ds = load(files.text("housing.data", text), target=-1)
    assert ds.info["sep"] == "whitespace"
    assert ds.X.shape == (3, 3) and ds.y.tolist() == ["24.00", "21.60", "34.70"]


@pytest.mark.parametrize(("sep", "option"), [(";", None), ("|", None), (";", "semicolon"), ("\t", "tab")])
def test_other_delimiters_detected_or_set(files, sep, option):
    text = sep.join(["a", "b", "c"]) + "\n" + sep.join(["1", "x y", "2"]) + "\n" + sep.join(["3", "z", "4"]) + "\n"
    ds = load(files.text("d.txt", text), sep=option)
    assert list(ds.X.columns) == ["a", "b", "c"] and ds.X["b"].tolist() == ["x y", "z"]


def test_trailing_delimiters_are_not_ragged_rows(files):
    ds = load(files.text("t.csv", "a,b\n1,2,\n3,4,\n"))
    assert ds.X.shape == (2, 2) and ds.info["long_rows_skipped"]["count"] == 0


def test_ragged_rows_are_skipped_or_padded_and_listed(files):
    text = "a,b,c\n1,2,3\n4,5,6,7\n8,9\n10,11,12\n"
    ds = load(files.text("r.csv", text))
    assert ds.info["long_rows_skipped"] == {"count": 1, "lines": [3]}
    assert ds.info["short_rows_padded"] == {"count": 1, "lines": [4]}
    assert ds.X["c"].tolist() == ["3", "", "12"]


def test_latin1_bytes_are_read_and_reported(files):
    path = files.text("e.csv", "city,n\nMünchen,1\nKöln,2\n", encoding="cp1252")
    ds = load(path)
    assert ds.X["city"].tolist() == ["München", "Köln"]
    assert ds.info["encoding"] == "cp1252" and "not valid UTF-8" in ds.info["encoding_note"]


def test_utf8_bom_and_gzip(files):
    ds = load(files.text("b.csv", "\ufeffa,b\n1,2\n"))
    assert list(ds.X.columns) == ["a", "b"]
    zipped = files.text("z.csv.gz", gzip.compress(b"a,b\n1,2\n3,4\n"))
    assert load(zipped).X.shape == (2, 2)


def test_column_types_are_inferred_and_overridable(files):
    rows = "\n".join(f"{i},{i % 3},{'ab'[i % 2]},2020-01-{i + 1:02d}" for i in range(25))
    path = files.text("c.csv", "id,level,group,when\n" + rows + "\n")
    ds = load(path)
    assert ds.info["column_types"] == {
        "id": "identifier",
        "level": "numeric",
        "group": "categorical",
        "when": "datetime",
    }
    forced = load(path, column_types={"level": "categorical"})
    assert forced.info["column_types"]["level"] == "categorical"
    with pytest.raises(NNGuruError, match="not a column type"):
        load(path, column_types={"level": "ordinal"})
    with pytest.raises(NNGuruError, match="does not have"):
        load(path, column_types={"nope": "numeric"})


def test_parquet_keeps_types(files, tmp_path):
    frame = pd.DataFrame({"x": [1.5, 2.5, np.nan], "c": ["a", "b", None], "y": [0, 1, 0]})
    frame.to_parquet(tmp_path / "d.parquet")
    ds = load(tmp_path / "d.parquet", target="y")
    assert ds.info["format"] == "parquet" and ds.X["x"].dtype == np.float64
    assert ds.y.tolist() == [0, 1, 0]


def test_npz_arrays_with_official_split(tmp_path):
    x = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    np.savez(tmp_path / "a.npz", x_train=x[:3], y_train=[0, 1, 0], x_test=x[3:], y_test=[1, 0])
    ds = load(tmp_path / "a.npz")
    assert ds.kind == "array" and ds.X.shape == (5, 4, 4)
    assert ds.split_hint.tolist() == ["train"] * 3 + ["test"] * 2


def test_image_class_folders(files):
    for label in ("cat", "dog"):
        for i in range(3):
            files.png(f"pets/{label}/{i}.png")
    files.text("pets/dog/notes.txt", "not an image")
    files.text("pets/.DS_Store", "x")
    ds = load(files.root / "pets")
    assert ds.kind == "image" and list(ds.X.columns) == ["path"]
    assert sorted(ds.y.tolist()) == ["cat"] * 3 + ["dog"] * 3
    assert ds.info["ignored_files"] == ["dog/notes.txt"]


def test_flat_audio_folder_with_label_from_name_and_fsdd_split(files):
    for digit in (3, 7):
        for rep in (0, 6):
            files.wav(f"rec/{digit}_jackson_{rep}.wav", seconds=0.1)
    files.wav("rec/noise.wav", seconds=0.1)
    ds = load(files.root / "rec", label_from_name=r"^(\d+)_")
    assert ds.kind == "audio"
    by_name = dict(zip([p.split("/")[-1] for p in ds.X["path"]], ds.y, strict=True))
    assert by_name["7_jackson_6.wav"] == "7" and by_name["noise.wav"] is None
    assert ds.info["label_from_name"]["unmatched"] == ["noise.wav"]
    assert ds.split_hint is None  # noise.wav breaks FSDD naming: no official split claimed
    (files.root / "rec" / "noise.wav").unlink()
    fsdd = load(files.root / "rec", label_from_name=r"^(\d+)_")
    assert sorted(fsdd.split_hint.tolist()) == ["test", "test", "train", "train"]


def test_label_pattern_errors(files):
    files.wav("rec/1_a_0.wav", seconds=0.1)
    with pytest.raises(NNGuruError, match="not a valid regular expression"):
        load(files.root / "rec", label_from_name="(")
    with pytest.raises(NNGuruError, match="no capturing group"):
        load(files.root / "rec", label_from_name=r"^\d+")
    with pytest.raises(NNGuruError, match="matches none"):
        load(files.root / "rec", label_from_name=r"^([a-z]+)_")


def test_flat_folder_without_labels_is_unlabelled(files):
    files.png("new/a.png")
    files.png("new/b.png")
    ds = load(files.root / "new")
    assert ds.y is None and len(ds) == 2


def test_table_with_relative_image_paths(files):
    files.png("data/imgs/a.png")
    files.png("data/imgs/b.png")
    path = files.text("data/list.csv", "file,label\nimgs/a.png,x\n./imgs/b.png,y\n")
    ds = load(path, target="label")
    assert ds.kind == "image" and ds.info["path_column"] == "file"
    assert all(p.endswith(("imgs/a.png", "imgs/b.png")) for p in ds.X["file"])
    assert (files.root / "data" / ds.X["file"][0]).resolve().is_file()


def test_table_with_paths_outside_its_folder_needs_the_flag(files):
    files.png("imgs/a.png")
    files.png("imgs/b.png")
    path = files.text("data/list.csv", "file,label\n../imgs/a.png,x\n../imgs/b.png,y\n")
    with pytest.raises(NNGuruError, match="outside the data folder"):
        load(path, target="label")
    ds = load(path, target="label", allow_outside_paths=True)
    assert all(Path(p).resolve().is_file() for p in ds.X["file"])


def _write_idx(path, array: np.ndarray, code: int) -> None:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_mnist_idx_folder_keeps_the_official_split(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 6), ("t10k", 4)):
        _write_idx(tmp_path / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28), dtype=np.uint8), 8)
        _write_idx(tmp_path / f"{part}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8), 8)
    ds = load(tmp_path)
    assert ds.kind == "array" and ds.X.shape == (10, 28, 28) and ds.X.dtype == np.uint8
    assert ds.split_hint.tolist() == ["train"] * 6 + ["test"] * 4


def test_builtin_sets():
    iris = load("builtin:iris")
    assert iris.kind == "table" and iris.X.shape == (150, 4)
    assert set(iris.y) == {"setosa", "versicolor", "virginica"}
    digits = load("builtin:digits")
    assert digits.kind == "array" and digits.X.shape[1:] == (8, 8)
    with pytest.raises(NNGuruError, match="Unknown built-in"):
        load("builtin:cifar")


def test_vectorized_media_kinds_agree_with_the_per_file_rule():
    from nnguru.data.columns import media_kind, media_kinds

    names = ["a.png", "dir/B.JPG", "x/.png", ".png", "a.b/c", "noext", "a.png.txt", "a.tar.flac",
             "dir.png/file", "a.", "x/y.WebP", "s p a c e.wav", "9.aif"]
    got = media_kinds(pd.Series(names)).tolist()
    assert [None if isinstance(g, float) else g for g in got] == [media_kind(n) for n in names]


def test_registered_source_is_asked_before_the_built_in_ones(files, monkeypatch):
    from nnguru.data import sources
    from nnguru.data.types import Dataset

    monkeypatch.setattr(sources, "SOURCES", dict(sources.SOURCES))
    assert list(sources.SOURCES) == ["builtin", "mnist_idx", "media_folder", "npz", "parquet",
                                     "table"]
    seen = []

    def load_pipes(spec: str, options: sources.SourceOptions) -> Dataset:
        seen.append(options.target)
        frame = pd.DataFrame([line.split("|") for line in Path(spec).read_text().split()],
                             columns=["a", "y"])
        return sources.table_dataset(frame, {"path": spec, "format": "pipes"}, Path(spec), options)

    sources.register_source("pipes", lambda spec: spec.endswith(".pipes") and Path(spec).is_file(),
                            load_pipes)
    ds = load(files.text("d.pipes", "1|x\n2|y\n3|x\n"), target="y")  # a file: table would read it
    assert seen == ["y"] and ds.info["format"] == "pipes" and list(ds.y) == ["x", "y", "x"]
    assert ds.info["column_types"] == {"a": "numeric"}
    assert load(files.text("d.csv", "a,label\n1,x\n2,z\n"), target="label").info["format"] == "csv"
    with pytest.raises(NNGuruError, match="already registered"):
        sources.register_source("pipes", lambda spec: False, load_pipes)
    with pytest.raises(NNGuruError, match="does not exist"):
        load("nowhere.pipes")
