"""The table recipe end to end: a rare positive class chooses its threshold on validation, and a
saved run (robust scaling, signed categories, FeatureScale, label smoothing) predicts raw rows as
its evaluation did."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nnguru
from nnguru.layers import FeatureScale


def table(n: int = 500, share: float = 0.1, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    sex = rng.choice(["m", "f"], n)
    score = x[:, 0] + 0.5 * x[:, 1] + 0.8 * (sex == "f")
    y = score > np.quantile(score, 1 - share)
    return pd.DataFrame({"a": x[:, 0], "b": np.exp(x[:, 1]), "c": x[:, 2], "sex": sex,
                         "y": np.where(y, "yes", "no")})


def test_rare_positive_class_chooses_threshold_on_validation_and_reports_pr_auc(tmp_path):
    run = nnguru.train(table(), target="y", out=tmp_path / "r", epochs=3, verbose=0)
    info = run.metrics["threshold"]
    assert info["chosen_on"] == "validation" and "rare" in info["reason"]
    assert run.metrics["choices"]["threshold"] == info["value"] == run.metrics["test"]["threshold"]
    assert run.metrics["choices"]["positive"] == "yes"
    assert 0 <= run.metrics["test"]["pr_auc"] <= 1
    assert run.config["threshold"] == info["value"]  # predict applies the chosen threshold


def test_balanced_binary_keeps_threshold_half(tmp_path):
    run = nnguru.train(table(share=0.4), target="y", out=tmp_path / "r", epochs=2, verbose=0)
    assert "threshold" not in run.metrics and run.metrics["test"]["threshold"] == 0.5
    assert run.metrics["choices"]["threshold_rule"] == "default 0.5"


def test_saved_run_predicts_raw_rows_as_evaluated(tmp_path):
    data = table(share=0.3)
    run = nnguru.train(data, target="y", out=tmp_path / "r", epochs=3, verbose=0)
    assert any(isinstance(layer, FeatureScale) for layer in run.model.layers)
    assert run.model.table_recipe["label_smoothing"] == 0.1
    rows = data.drop(columns=["y"])
    features = run.preprocessor.transform(rows)
    loaded = nnguru.load_model(run.run_dir / "model")
    pre, run.model.preprocessor = run.model.preprocessor, None  # as in the evaluate stage: features in
    evaluated = run.model.predict(features)
    run.model.preprocessor = pre
    np.testing.assert_allclose(loaded.predict(rows), evaluated, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.model.predict(rows), evaluated, rtol=1e-5, atol=1e-6)
    table_out = run.predict_table(rows)
    assert len(table_out) == len(rows) and set(table_out["prediction"]) <= {"yes", "no"}


def test_tabular_option_reverts_the_recipe(tmp_path):
    old = {"scaling": "standard", "binary": "onehot", "feature_scale": False, "label_smoothing": 0.0,
           "beta_2": 0.999, "lr_schedule": "constant"}
    run = nnguru.train(table(share=0.3), target="y", out=tmp_path / "r", epochs=2, verbose=0, tabular=old)
    assert not any(isinstance(layer, FeatureScale) for layer in run.model.layers)
    assert run.model.optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    assert len(run.preprocessor.feature_names) == 5  # sex one-hot: two columns
