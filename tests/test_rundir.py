"""The run directory as a transaction: nothing the user wrote is deleted, a failed or concurrent run
leaves the previous run intact, and an unfinished run is refused by report/predict/evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import nnguru
from nnguru import api, rundir
from nnguru.bundle import load_model
from nnguru.cli import main
from nnguru.errors import NNGuruError

FAST = {"epochs": 2, "verbose": 0}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": (x[:, 0] > 0).astype(int)})


def test_overwrite_keeps_user_files_and_refuses_a_folder_with_them(tmp_path, table):
    out = tmp_path / "run"
    nnguru.train(table, target="y", out=out, **FAST)
    (out / "my_plot.png").write_bytes(b"mine")
    (out / "model" / "notes.txt").write_text("mine")
    with pytest.raises(NNGuruError, match="did not write.*model/notes.txt|did not write.*my_plot.png"):
        nnguru.train(table, target="y", out=out, overwrite=True, **FAST)
    assert (out / "my_plot.png").read_bytes() == b"mine" and (out / "model" / "notes.txt").exists()
    (out / "my_plot.png").unlink()
    (out / "model" / "notes.txt").unlink()
    first = (out / ".nnguru-run").read_text()
    run = nnguru.train(table, target="y", out=out, overwrite=True, **FAST)  # an nnguru run: replaced
    assert run.run_dir == out and (out / ".nnguru-run").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial or set-aside folder left


def test_a_folder_nnguru_did_not_mark_is_never_overwritten(tmp_path, table):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # named like a run file, but not written by nnguru
    (out / "history.png").write_text("x")
    with pytest.raises(NNGuruError, match="no .nnguru-run marker"):
        nnguru.train(table, target="y", out=out, overwrite=True, **FAST)
    assert sorted(p.name for p in out.iterdir()) == ["history.png", "metrics.json"]


def test_bad_input_with_overwrite_leaves_the_old_run_intact(tmp_path, table):
    out = tmp_path / "run"
    nnguru.train(table, target="y", out=out, **FAST)
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(["train", "builtin:iris", "--out", str(out), "--overwrite", "--val-frac", "1.5", "--quiet"]) == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_second_run_into_a_live_runs_folder_is_refused(tmp_path, table):
    out = tmp_path / "run"
    check = rundir.check_run_dir(out, "run", False)
    rd = rundir.begin(check, False, options={}, fingerprint={})  # a live run holds the lock
    with pytest.raises(NNGuruError, match=f"pid {os.getpid()}"):
        nnguru.train(table, target="y", out=out, **FAST)
    with pytest.raises(NNGuruError, match=f"pid {os.getpid()}"):
        nnguru.train(table, target="y", out=out, overwrite=True, **FAST)
    with pytest.raises(NNGuruError, match="still running"):
        rundir.take_over(out, rd.path)
    # report / predict on the unfinished run point at --resume
    assert main(["report", str(out), "--quiet"]) == 2
    with pytest.raises(NNGuruError, match="--resume"):
        api.predict(str(out), table)
    rd.release()
    with pytest.raises(NNGuruError, match="was interrupted.*--resume"):  # now a stale partial
        nnguru.train(table, target="y", out=out, **FAST)


def test_two_concurrent_cli_runs_one_refused(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nnguru.cli", "train", "builtin:iris", "--out", str(out), "--epochs", "3",
           "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    assert any("pid" in err or "already exists" in err for rc, err in results if rc == 2)
    assert json.loads((out / ".nnguru-run").read_text())["status"] == "done"


def test_bundle_resave_killed_between_files_loads_old_or_new(tmp_path, table):
    run = nnguru.train(table, target="y", out=tmp_path / "run", **FAST)
    path = tmp_path / "bundle"
    run.model.save(str(path))
    old = load_model(path).get_weights()
    # a re-save killed after the weights of a new model were written: the old bundle still loads whole
    script = textwrap.dedent(f"""
        import os, nnguru.nn.saving as s
        from nnguru.bundle import load_model
        m = load_model({str(path)!r})
        for w in m.parameters():
            w.data.add_(1.0)
        real = s._write_json
        def die(p, obj):
            if p.name == s.MODEL_JSON:
                os._exit(9)
            real(p, obj)
        s._write_json = die
        m.save({str(path)!r})
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", script], env=env).returncode == 9
    loaded = load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), old, strict=True))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers  # the killed writer's folder ...
    run.model.save(str(path))  # ... is removed by the next save
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_resume_refuses_changed_options_and_missing_runs(tmp_path, capsys):
    out = tmp_path / "run"
    rd = rundir.begin(rundir.check_run_dir(out, "run", False), False,
                      options={"data": "builtin:iris", "epochs": 3, "seed": 0}, fingerprint={"data": "x"})
    rd.release()  # as if killed
    assert main(["train", "--resume", str(out), "--epochs", "9"]) == 2
    assert "epochs (was 3, now 9)" in capsys.readouterr().err
    assert main(["train", "--resume", str(out)]) == 2  # builtin:iris's fingerprint is not "x"
    assert "changed since the run began" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no interrupted nnguru run" in capsys.readouterr().err
    assert main(["train"]) == 2


def test_commit_and_bundle_save_fsync_only_their_own_files(tmp_path):
    """A FIFO (or anything else) beside the run directory or the model folder is never opened: the
    rename is made durable by fsyncing the parent folder's entry, not its whole tree."""
    import signal

    from nnguru.layers import Dense

    os.mkfifo(tmp_path / "a_fifo")
    (tmp_path / "deep").mkdir()
    os.mkfifo(tmp_path / "deep" / "another_fifo")
    done = subprocess.run([sys.executable, "-m", "nnguru.cli", "train", "builtin:iris", "--epochs", "2",
                           "--out", str(tmp_path / "run"), "--quiet"],
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=240,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()

    def hung(*_):
        raise TimeoutError("model.save blocked on a FIFO beside the model folder")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        model = nnguru.Sequential([Dense(2, input_shape=(3,))])
        model.save(tmp_path / "model")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert (tmp_path / "model" / "weights.safetensors").is_file()
