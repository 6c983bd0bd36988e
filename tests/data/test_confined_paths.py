"""Files named by the data are read only from inside its folder, and only if they are regular files.

Each case is a refusal with one message, or a listed skip: never a traceback, never a hang (a FIFO
would block a reader forever; the tests would time out instead of failing if one were opened).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from nnguru.data import paths
from nnguru.data.clean import clean
from nnguru.data.sources import load
from nnguru.errors import NNGuruError

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks (POSIX)")


def _no_hang(fn, seconds: float = 10.0):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked (a FIFO was opened?)"
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture
def table_with_bad_paths(files, tmp_path):
    """data/list.csv: 8 good rows, then ../outside.png, /etc/passwd, a FIFO, a symlink out, a missing
    outside file. Returns (csv path, outside file)."""
    outside = files.png("elsewhere/outside.png")
    for i in range(8):
        files.png(f"data/img/{i}.png", value=20 * i)
    os.mkfifo(tmp_path / "data" / "img" / "pipe.png")
    os.symlink(outside, tmp_path / "data" / "img" / "link.png")
    rows = [f"img/{i}.png,{'ab'[i % 2]}" for i in range(8)]
    rows += ["../elsewhere/outside.png,a", "/etc/passwd,b", "img/pipe.png,a", "img/link.png,b",
             "../elsewhere/no_such_file.png,a"]
    return files.text("data/list.csv", "file,label\n" + "\n".join(rows) + "\n"), outside


def test_table_paths_outside_the_folder_fifos_and_symlinks_out_are_refused_in_one_message(table_with_bad_paths):
    csv, _ = table_with_bad_paths
    with pytest.raises(NNGuruError) as info:
        _no_hang(lambda: load(csv, target="label"))
    message = str(info.value)
    for row, value, reason in [(9, "../elsewhere/outside.png", paths.OUTSIDE), (10, "/etc/passwd", paths.OUTSIDE),
                               (11, "img/pipe.png", "FIFO"), (12, "img/link.png", paths.SYMLINK_OUT),
                               (13, "../elsewhere/no_such_file.png", paths.OUTSIDE)]:
        assert f"row {row} {value!r}: " in message and reason in message.split(f"row {row} ", 1)[1].split(";")[0]
    assert "5 file path(s)" in message and "--allow-outside-paths" in message
    assert "img/0.png" not in message  # good rows are not listed


def test_refusal_does_not_reveal_whether_an_outside_file_exists(files):
    files.png("data/a.png")
    files.png("secret.png")
    messages = []
    for value in ("../secret.png", "../no_such.png"):
        csv = files.text("data/t.csv", f"file,label\na.png,x\n{value},y\n")
        with pytest.raises(NNGuruError) as info:
            load(csv, target="label")
        messages.append(str(info.value).replace(value, "VALUE"))
    assert messages[0] == messages[1]


def test_allow_outside_paths_reads_outside_files_but_never_fifos(table_with_bad_paths, tmp_path):
    csv, outside = table_with_bad_paths
    with pytest.raises(NNGuruError) as info:
        _no_hang(lambda: load(csv, target="label", allow_outside_paths=True))
    message = str(info.value)
    assert "1 file path(s)" in message and "FIFO" in message and "outside" not in message.split("will not")[1][:80]
    (tmp_path / "data" / "img" / "pipe.png").unlink()
    text = csv.read_text().replace("img/pipe.png,a\n", "")
    csv.write_text(text)
    ds = load(csv, target="label", allow_outside_paths=True)
    assert str(outside) in ds.X["file"].tolist() and "/etc/passwd" in ds.X["file"].tolist()
    assert "path_errors" not in ds.info or not ds.info["path_errors"]


def test_mark_mode_records_refused_rows_for_predict(table_with_bad_paths):
    csv, _ = table_with_bad_paths
    ds = _no_hang(lambda: load(csv, path_errors="mark"))
    assert sorted(ds.info["path_errors"]) == [8, 9, 10, 11, 12]
    assert ds.X["file"][8] == "../elsewhere/outside.png"  # kept as written, never resolved outside
    assert paths.unreadable_rows(ds).keys() == {8, 9, 10, 11, 12}


def test_symlinks_inside_the_folder_are_followed(files, tmp_path):
    for i in range(4):
        files.png(f"data/img/{i}.png")
    os.symlink(tmp_path / "data" / "img" / "0.png", tmp_path / "data" / "alias.png")
    csv = files.text("data/t.csv", "file,label\n" + "".join(f"img/{i}.png,x\n" for i in range(4)) + "alias.png,y\n")
    ds = load(csv, target="label")
    assert len(ds) == 5 and not ds.info["path_errors"]


def test_class_folders_skip_and_list_fifos_and_symlinks_out(files, tmp_path):
    for label in ("cat", "dog"):
        for i in range(3):
            files.png(f"pets/{label}/{i}.png")
    secret = files.png("secret/s.png")
    os.mkfifo(tmp_path / "pets" / "cat" / "pipe.png")
    os.symlink(secret, tmp_path / "pets" / "dog" / "out.png")
    os.symlink(tmp_path / "secret", tmp_path / "pets" / "outdir")  # a whole class folder outside
    os.symlink(tmp_path / "pets" / "cat", tmp_path / "pets" / "cat" / "loop")  # a loop inside
    ds = _no_hang(lambda: load(tmp_path / "pets"))
    assert sorted(ds.y.tolist()) == ["cat"] * 3 + ["dog"] * 3
    skipped = {s["file"]: s["reason"] for s in ds.info["skipped_files"]}
    assert "FIFO" in skipped["cat/pipe.png"]
    assert skipped["dog/out.png"].startswith(paths.SYMLINK_OUT)
    assert skipped["outdir"].startswith(paths.SYMLINK_OUT)
    _, report = clean(ds)
    listed = {Path(c["file"]).name: c["reason"] for c in report["corrupt_files"]}
    assert "FIFO" in listed["pipe.png"] and paths.SYMLINK_OUT in listed["out.png"]
    followed = load(tmp_path / "pets", allow_outside_paths=True)
    assert len(followed) == 8 and sorted(set(followed.y)) == ["cat", "dog", "outdir"]


def test_folder_of_only_unreadable_entries_is_refused(tmp_path):
    (tmp_path / "f" / "a").mkdir(parents=True)
    os.mkfifo(tmp_path / "f" / "a" / "x.png")
    with pytest.raises(NNGuruError, match="no regular files"):
        _no_hang(lambda: load(tmp_path / "f"))


def test_data_itself_may_not_be_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "data.csv")
    with pytest.raises(NNGuruError, match="FIFO"):
        _no_hang(lambda: load(tmp_path / "data.csv"))


def test_open_regular_refuses_fifos_and_devices_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "p")
    for target in (tmp_path / "p", "/dev/null", tmp_path):
        with pytest.raises(NNGuruError, match="not a regular file"):
            _no_hang(lambda t=target: paths.open_regular(t))
    (tmp_path / "f").write_bytes(b"x")
    with paths.open_regular(tmp_path / "f") as f:
        assert f.read() == b"x"


# ---- the CLI: train refuses, predict marks the bad rows and predicts the rest ------------------------


def _image_table(root: Path, n: int = 16) -> Path:
    """root/train.csv naming n tiny images (dark = a, light = b) in root/img/."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        Image.fromarray((rng.random((8, 8)) * 60 + 150 * (i % 2)).astype("uint8")).save(root / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,{'ab'[i % 2]}")
    path = root / "train.csv"
    path.write_text("file,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    from nnguru.cli import main

    root = tmp_path_factory.mktemp("image_run")
    table = _image_table(root / "data")
    assert main(["train", str(table), "--target", "label", "--epochs", "2", "--out", str(root / "run"),
                 "--quiet"]) == 0
    return root / "run"


def test_cli_train_refuses_paths_out_of_the_folder_in_one_message(tmp_path, capsys):
    from nnguru.cli import main

    table = _image_table(tmp_path / "data")
    (tmp_path / "outside.png").write_bytes((tmp_path / "data" / "img" / "0.png").read_bytes())
    os.mkfifo(tmp_path / "data" / "img" / "fifo.png")
    os.symlink(tmp_path / "outside.png", tmp_path / "data" / "img" / "out.png")
    with open(table, "a") as f:
        f.write("../outside.png,a\n/etc/passwd,b\nimg/fifo.png,a\nimg/out.png,b\n")
    code = _no_hang(lambda: main(["train", str(table), "--target", "label", "--out", str(tmp_path / "run")]))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "internal error" not in err
    assert err.count("nnguru train: error:") == 1
    for row, value in [(17, "../outside.png"), (18, "/etc/passwd"), (19, "img/fifo.png"), (20, "img/out.png")]:
        assert f"row {row} {value!r}" in err
    assert "not found" not in err and "exist" not in err  # nothing said about the outside files
    assert not (tmp_path / "run").exists()


def test_cli_predict_marks_unreadable_rows_and_predicts_the_rest(image_run, tmp_path, capsys):
    import pandas as pd

    from nnguru.cli import main

    table = _image_table(tmp_path / "new", n=6)
    (tmp_path / "new" / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    os.mkfifo(tmp_path / "new" / "img" / "fifo.png")
    with open(table, "a") as f:
        f.write("img/broken.png,a\nimg/fifo.png,b\n../../etc/passwd.png,a\nimg/5.png,b\n")
    out = tmp_path / "preds.csv"
    code = _no_hang(lambda: main(["predict", str(image_run), str(table), "--out", str(out)]))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 of 10 rows could not be read" in captured.err and "'error' column" in captured.err
    preds = pd.read_csv(out, keep_default_na=False)
    assert len(preds) == 10 and "error" in preds.columns and "prediction" in preds.columns
    bad = preds["error"] != ""
    assert bad.tolist() == [False] * 6 + [True] * 3 + [False]
    assert "damaged" in preds["error"][6] or "not an image" in preds["error"][6]
    assert "FIFO" in preds["error"][7] and "outside the data folder" in preds["error"][8]
    assert (preds["prediction"][bad] == "").all() and preds["prediction"][~bad].isin(["a", "b"]).all()
