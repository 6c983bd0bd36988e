"""nnguru.train end to end from Python: Run, raw-data prediction, --auto-fix before vs after."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nnguru


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
    assert (tmp_path / "run" / "report.html").read_text().count("auto") > 0


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
