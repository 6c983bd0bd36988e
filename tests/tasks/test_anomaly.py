"""Anomaly detection: planted outliers found, threshold rules, predict columns, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import nnguru
from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.tasks.anomaly import detection_metrics, row_errors, top_features


def planted(n: int = 600, n_out: int = 40, seed: int = 0) -> pd.DataFrame:
    """Rows on a 2-D plane inside 6-D space; outliers keep each column's range but leave the plane."""
    mix = np.random.default_rng(0).normal(size=(2, 6))  # one plane for every sample drawn
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n + n_out, 2))
    x = z @ mix + rng.normal(0, 0.05, (n + n_out, 6))
    x[n:] = rng.permuted(x[n:], axis=0)  # outliers: each column shuffled, so the plane is broken
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(6)])
    frame["label"] = ["normal"] * n + ["outlier"] * n_out
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    nnguru.set_seed(0)
    return nnguru.train(planted(), target="label", task="anomaly", epochs=40,
                        out=tmp_path_factory.mktemp("anomaly") / "run", verbose=0)


def test_planted_outliers_are_found(planted_run, tmp_path):
    m = planted_run.metrics
    assert m["task"] == "anomaly"
    assert m["test"]["roc_auc"] >= 0.95
    assert set(m["baseline"]) == {"isolation_forest"}
    assert {"roc_auc", "pr_auc", "precision", "recall", "f1"} <= set(m["baseline"]["isolation_forest"])
    assert m["anomaly"]["normal_label"] == "normal"
    # labels only evaluate: the guru does not read them as a target
    assert "target" not in planted_run.data_report and "labels" in planted_run.data_report
    frame = planted_run.predict_table(planted().drop(columns="label"))
    assert {"score", "is_anomaly", "top_features"} <= set(frame.columns)
    assert (frame["is_anomaly"] == (frame["score"] > planted_run.config["anomaly_threshold"])).all()


def test_scores_are_mean_squared_reconstruction_errors(planted_run):
    model = planted_run.model
    x = model.preprocessor.transform(planted().drop(columns="label").head(7))
    pre, model.preprocessor = model.preprocessor, None
    with torch.no_grad():  # the oracle: the torch module's forward pass, outside nnguru's predict
        recon = model(torch.as_tensor(x)).numpy()
    model.preprocessor = pre
    np.testing.assert_allclose(row_errors(model, x).mean(1), ((recon - x) ** 2).mean(1), rtol=1e-5)


def test_detection_metrics_match_scikit_learn():
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    rng = np.random.default_rng(1)
    truth = rng.random(200) < 0.2
    scores = rng.random(200) + truth
    m = detection_metrics(truth, scores, 1.0)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert m["pr_auc"] == pytest.approx(average_precision_score(truth, scores))
    assert m["f1"] == pytest.approx(f1_score(truth, scores > 1.0))
    assert top_features(np.array([1.0, 3.0, 0.0, 6.0]), ["a", "b", "c", "d"], 2) == "d 60%, b 30%"


def test_normal_label_trains_on_normal_rows_only(tmp_path):
    data = planted()
    run = nnguru.train(data, target="label", task="anomaly", normal="normal", contamination=0.05, epochs=3,
                       out=tmp_path / "run", verbose=0)
    split = run.data_report["split"]
    assert split["train"] + split["val"] < (data["label"] == "normal").sum()  # outliers left out
    assert run.metrics["anomaly"]["trained_on"] == "--normal rows"
    assert run.metrics["test"]["rows"] == split["test"]


@pytest.mark.parametrize("argv, words", [
    (["--contamination", "0.7"], ["contamination", "0.7"]),
    (["--contamination", "0"], ["contamination", "0"]),
    (["--normal", "healthy"], ["--normal", "'healthy'", "normal", "outlier"]),
])
def test_bad_input_exits_2(tmp_path, capsys, argv, words):
    path = tmp_path / "data.csv"
    planted(60, 5).to_csv(path, index=False)
    code = main(["train", str(path), "--target", "label", "--task", "anomaly", "--epochs", "1",
                 "--out", str(tmp_path / "run"), *argv])
    assert code == 2
    err = capsys.readouterr().err + capsys.readouterr().out
    assert all(w in err for w in words), err
    assert not (tmp_path / "run").exists()


def test_normal_without_labels_is_refused(tmp_path):
    frame = planted(60, 5).drop(columns="label")
    with pytest.raises(NNGuruError, match="--normal 'x' names a label"):
        nnguru.train(frame.to_numpy(), task="anomaly", normal="x", epochs=1, out=tmp_path / "r", verbose=0)


def test_predict_cli_writes_score_and_flag(planted_run, tmp_path):
    path = tmp_path / "rows.csv"
    planted().drop(columns="label").head(20).to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    assert main(["predict", str(planted_run.run_dir), str(path), "--out", str(out), "--quiet"]) == 0
    preds = pd.read_csv(out)
    assert len(preds) == 20 and {"score", "is_anomaly"} <= set(preds.columns)
    assert json.loads((planted_run.run_dir / "metrics.json").read_text())["test"]["threshold"] > 0


def test_without_labels(tmp_path):
    x = planted(200, 10).drop(columns="label").to_numpy()
    run = nnguru.train(x, task="anomaly", contamination=0.1, epochs=2, out=tmp_path / "run", verbose=0)
    test, val = run.metrics["test"], run.metrics["val"]
    assert "roc_auc" not in test and "flagged_share" in test
    # --contamination 0.1: the threshold flags a tenth of the validation rows
    assert val["flagged_share"] == pytest.approx(0.1, abs=1.5 / run.data_report["split"]["val"])
    assert run.metrics["anomaly"]["normal_label"] is None
    assert len(run.predict_table(x)) == len(x)


def test_evaluate_cli_scores_new_labeled_rows(planted_run, tmp_path):
    path = tmp_path / "new.csv"
    planted(300, 30, seed=1).to_csv(path, index=False)
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(planted_run.run_dir), str(path), "--out", str(out), "--quiet"]) == 0
    test = json.loads(out.read_text())["test"]
    assert test["roc_auc"] >= 0.9 and test["anomalies"] == 30


def test_anomaly_table_plot_shows_dollar_signs_literally(tmp_path):
    """Text features such as '$' would start matplotlib's mathtext (font lookups, garbled cells)."""
    from nnguru.report.unsupervised import _plain

    assert _plain([["$5 off", "a"]]) == [[r"\$5 off", "a"]]
