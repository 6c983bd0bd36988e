"""nnguru.train end to end from Python: Run, raw-data prediction, --auto-fix before vs after."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nnguru
from nnguru.errors import NNGuruError


def test_train_is_callable_again_and_run_predicts_raw_rows(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"height": rng.normal(170, 10, 300), "color": rng.choice(["red", "blue"], 300)})
    frame["big"] = np.where(frame["height"] > 170, "yes", "no")
    run = nnguru.train(frame, target="big", out=tmp_path / "a", verbose=0, epochs=30)
    again = nnguru.train(frame, target="big", out=tmp_path / "b", verbose=0, epochs=30)  # no shadowing
    assert run.metrics["test"]["accuracy"] > 0.9
    assert again.metrics["test"]["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"])  # seeded
    raw = pd.DataFrame({"height": [150.0, 190.0], "color": ["red", "green"]})  # unseen category is fine
    assert run.predict(raw).tolist() == ["no", "yes"]
    loaded = nnguru.load_model(tmp_path / "a" / "model")
    np.testing.assert_allclose(loaded.predict(raw), run.predict_proba(raw), rtol=1e-6)


def test_zeros_treated_as_missing_in_training_are_missing_at_prediction_too(tmp_path):
    rng = np.random.default_rng(0)
    glucose = rng.normal(120, 30, 400).round().clip(44, 199)
    frame = pd.DataFrame({"glucose": glucose, "age": rng.integers(21, 80, 400).astype(float)})
    frame["diabetic"] = np.where(frame["glucose"] > 125, "yes", "no")
    frame.loc[:11, "glucose"] = 0  # a glucose of 0: not measured
    run = nnguru.train(frame, target="diabetic", out=tmp_path / "run", verbose=0, epochs=5,
                       placeholder_zeros="missing")
    assert run.data_report["placeholder_zeros"]["glucose"]["action"] == "treated as missing"
    zero = pd.DataFrame({"glucose": [0.0], "age": [40.0]})
    unknown = pd.DataFrame({"glucose": [np.nan], "age": [40.0]})
    expected = run.model.preprocessor.transform(unknown)
    np.testing.assert_array_equal(run.model.preprocessor.transform(zero), expected)
    loaded = nnguru.load_model(tmp_path / "run" / "model")  # the saved bundle knows it too
    np.testing.assert_array_equal(loaded.preprocessor.transform(zero), expected)
    np.testing.assert_allclose(loaded.predict(zero), loaded.predict(unknown))


def test_column_types_apply_to_a_dataframe_and_bad_ones_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"grade": rng.integers(1, 4, 200).astype(float), "x": rng.normal(size=200)})
    frame["y"] = np.where(frame["x"] > 0, "a", "b")
    run = nnguru.train(frame, target="y", out=tmp_path / "run", verbose=0, epochs=2,
                       column_types={"grade": "categorical"})
    assert run.model.preprocessor.column_types["grade"] == "categorical"
    with pytest.raises(NNGuruError, match="nosuch"):
        nnguru.train(frame, target="y", out=tmp_path / "bad", verbose=0, column_types={"nosuch": "numeric"})


def test_auto_fix_improves_an_overfitting_run(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 20)).astype(np.float32)
    y = (x[:, 0] + 0.8 * rng.normal(size=120) > 0).astype(int)  # one informative feature, much noise
    run = nnguru.train((x, y), out=tmp_path / "run", verbose=0, early_stopping=False, dropout=0.0,
                       hidden_scale=8.0, epochs=150, lr=0.003, auto_fix=True)
    fix = json.loads((tmp_path / "run" / "auto_fix.json").read_text())
    assert fix["applied"] and "overfitting" in fix["before"]["diagnosis"]
    assert fix["after"]["val_loss_best"] < fix["before"]["val_loss_best"]
    assert run.extras["auto_fix"]["after"] == fix["after"]
    from nnguru.report.html import fmt

    page = (tmp_path / "run" / "report.html").read_text()
    section = page[page.index('<section id="autofix">'):]
    section = section[:section.index("</section>")]
    assert "Auto-fix: before vs after" in section and "overfitting" in section
    for side in ("before", "after"):  # the best validation loss of each run, as the page shows it
        assert fmt(fix[side]["val_loss_best"]) in section


def test_auto_fix_improves_minority_recall(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    y = (rng.random(n) < 0.02).astype(int)  # 98:2
    x = rng.normal(size=(n, 5)).astype(np.float32) + y[:, None] * 1.2
    run = nnguru.train((x, y), out=tmp_path / "run", verbose=0, epochs=20, auto_fix=True)
    fix = json.loads((tmp_path / "run" / "auto_fix.json").read_text())
    assert "class_imbalance" in fix["before"]["diagnosis"]
    assert fix["changes"].get("class_weight") == "balanced"
    assert fix["after"]["val"]["recall"] > fix["before"]["val"]["recall"] + 0.2
    assert run.config["class_weight"] == "balanced"
