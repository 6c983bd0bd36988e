"""The CLI end to end: the run-directory contract of DESIGN.md, and exit code 2 on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from nnguru.cli import main

RUN_FILES = ["metrics.json", "history.csv", "diagnosis.json", "data_report.json", "report.html",
             "config.yaml", "history.png", "model"]


def check_run_dir(run, task="classification"):
    for name in RUN_FILES:
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == task
    assert {"test", "val", "baseline", "epochs_run", "train_seconds"} <= set(metrics)
    keys = {"accuracy", "precision", "recall", "f1", "loss", "per_class"} if task == "classification" \
        else {"mae", "rmse", "r2"}
    assert keys <= set(metrics["test"])
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == metrics["epochs_run"]
    header = list(rows[0])
    assert header[:3] == ["epoch", "loss", "val_loss"] and header[-2:] == ["lr", "seconds"]
    for finding in json.loads((run / "diagnosis.json").read_text()):
        assert {"code", "severity", "evidence", "advice"} <= set(finding)
    assert "split" in json.loads((run / "data_report.json").read_text())
    assert {"weights.safetensors", "model.json", "preprocess.json"} <= {p.name for p in (run / "model").iterdir()}
    return metrics


def test_train_builtin_digits_predict_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "builtin:digits", "--model", "mlp", "--epochs", "15", "--out", str(run),
                 "--quiet"]) == 0
    metrics = check_run_dir(run)
    assert metrics["test"]["accuracy"] > 0.9
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["data"] == "builtin:digits" and cfg["epochs"] == 15 and cfg["optimizer"] == "adam"

    # predict on raw rows: a CSV of 64 pixel columns
    from sklearn.datasets import load_digits

    d = load_digits()
    raw = tmp_path / "raw.npz"
    np.savez(raw, x=d.images[:20])
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(run), str(raw), "--out", str(preds), "--quiet"]) == 0
    frame = pd.read_csv(preds)
    assert len(frame) == 20 and "prediction" in frame and "proba_0" in frame
    assert (frame["prediction"].to_numpy() == d.target[:20]).mean() >= 0.85
    # predict refuses to overwrite without --overwrite
    assert main(["predict", str(run), str(raw), "--out", str(preds), "--quiet"]) == 2
    # a rerun from the saved config gives the same test metrics
    run2 = tmp_path / "run2"
    assert main(["train", "builtin:digits", "--config", str(run / "config.yaml"), "--out", str(run2),
                 "--quiet"]) == 0
    again = json.loads((run2 / "metrics.json").read_text())
    assert again["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_train_numeric_csv_regression_and_evaluate(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["price"] = 3 * x[:, 0] - 2 * x[:, 1] + 0.5 * x[:, 2] ** 2 + 10 + rng.normal(0, 0.1, 400)
    data = tmp_path / "houses.csv"
    frame.to_csv(data, index=False)
    run = tmp_path / "run"
    assert main(["train", str(data), "--target", "price", "--out", str(run), "--quiet", "--epochs", "60"]) == 0
    metrics = check_run_dir(run, "regression")
    assert metrics["test"]["mae"] < 0.5 * metrics["baseline"]["mae"]
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run), str(data), "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert {"mae", "rmse", "r2"} <= set(result["test"])
    # target by position: -1 is the last column
    run_pos = tmp_path / "run_pos"
    assert main(["train", str(data), "--target", "-1", "--out", str(run_pos), "--quiet", "--epochs", "2"]) == 0


def test_train_mnist_folder_short_run(mnist_dir, tmp_path):
    run = tmp_path / "mnist"
    assert main(["train", str(mnist_dir), "--model", "mlp", "--epochs", "1", "--batch-size", "128",
                 "--out", str(run), "--quiet"]) == 0
    metrics = check_run_dir(run)
    report = json.loads((run / "data_report.json").read_text())
    assert report["split"]["test"] == 10_000 and report["split"]["official_test_set"]
    assert metrics["test"]["accuracy"] > 0.9


def test_predict_takes_new_rows_without_the_columns_training_typed_as_target_or_ignore(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "note": rng.choice(["x", "y"], 200)})
    frame["t"] = np.where(frame["a"] > 0, 1, 0)
    frame.to_csv(tmp_path / "train.csv", index=False)
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "train.csv"), "--target", "t", "--column-type", "t=categorical",
                 "--column-type", "note=ignore", "--out", str(run), "--epochs", "3", "--quiet"]) == 0
    frame[["a"]].head(5).to_csv(tmp_path / "new.csv", index=False)  # no target, no ignored column
    preds = tmp_path / "p.csv"
    assert main(["predict", str(run), str(tmp_path / "new.csv"), "--out", str(preds), "--quiet"]) == 0
    assert len(pd.read_csv(preds)) == 5


@pytest.mark.parametrize("argv,message", [
    (["train", "does/not/exist.csv", "--target", "y"], "does not exist"),
    (["train", "builtin:digitz"], "Unknown built-in dataset"),
    (["train", "builtin:iris", "--optimizer", "adamm"], "adamm"),
    (["train", "builtin:iris", "--model", "transformer"], "Unknown model template"),
    (["predict", "no_such_run", "builtin:iris", "--out", "x.csv"], "not an nnguru run directory"),
    (["report", "no_such_run"], "not an nnguru run directory"),
])
def test_bad_input_exits_2_without_traceback(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("flag,value", [("--optimizer", "adamm"), ("--model", "transformer")])
def test_unknown_names_are_refused_before_the_data_is_loaded(flag, value, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "builtin:digits", flag, value]) == 2
    out, err = capsys.readouterr()
    assert value in err and "Data" not in out  # no data report printed before the refusal


def test_missing_target_column_lists_columns(tmp_path, capsys):
    data = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2, 3, 4], "b": [0, 1, 0, 1]}).to_csv(data, index=False)
    assert main(["train", str(data), "--target", "label", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "label" in err and "'a'" in err and "'b'" in err


def test_existing_run_dir_is_not_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    assert main(["train", "builtin:iris", "--out", str(run), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["train", "builtin:iris", "--out", str(run), "--overwrite", "--quiet"]) == 2
    assert (run / "precious.txt").read_text() == "keep me"


def test_console_script_and_help():
    out = subprocess.run([sys.executable, "-m", "nnguru.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("demo", "inspect", "train", "evaluate", "predict", "report", "lr-find"):
        assert command in out.stdout
    bad = subprocess.run([sys.executable, "-m", "nnguru.cli", "train"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
