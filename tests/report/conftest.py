"""Run directories as ``nnguru train`` writes them, built from nnguru's own pieces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nnguru.evaluate import baseline, choose_threshold, classification_metrics, regression_metrics
from nnguru.guru import Finding, diagnose, save_findings
from nnguru.report import save_run_plots

# User-controlled text that must come out escaped, never as markup.
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _history(n: int = 12) -> dict[str, list[float]]:
    decay = np.exp(-0.3 * np.arange(n))
    return {"epoch": list(range(1, n + 1)), "loss": (0.1 + 0.6 * decay).tolist(),
            "accuracy": (0.95 - 0.4 * decay).tolist(), "val_loss": (0.15 + 0.55 * decay).tolist(),
            "val_accuracy": (0.92 - 0.4 * decay).tolist(), "lr": [1e-3] * n,
            "seconds": [0.1] * n}


@pytest.fixture
def classification_run(tmp_path: Path) -> Path:
    """A binary run with every file the report reads, user strings made hostile."""
    run = tmp_path / "binary_run"
    run.mkdir()
    rng = np.random.default_rng(0)
    classes = ["benign", EVIL]
    y_tr = (rng.random(400) < 0.3).astype(int)
    y_va, y_te = (rng.random(100) < 0.3).astype(int), (rng.random(100) < 0.3).astype(int)
    score = lambda y: np.clip(0.45 * y + rng.random(len(y)) * 0.55, 0, 1)  # noqa: E731
    p_va, p_te = score(y_va), score(y_te)
    t, table = choose_threshold(y_va, p_va, 1)
    metrics = {"task": "classification", "epochs_run": 12, "train_seconds": 1.2,
               "val": classification_metrics(y_va, p_va, classes, threshold=t, y_train=y_tr),
               "test": classification_metrics(y_te, p_te, classes, threshold=t, y_train=y_tr),
               "baseline": baseline("classification", y_tr, y_te, classes=classes),
               "threshold": {"value": t, "chosen_on": "validation", "tradeoff": table}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    hist = _history()
    pd.DataFrame(hist).to_csv(run / "history.csv", index=False)
    findings = diagnose(history=hist, metrics=metrics, headline="accuracy", n_classes=len(classes))
    findings.append(Finding("class_imbalance", "warning",
                            {"summary": f"Class '{EVIL}' is rare.", "minority_class": EVIL},
                            "Use class weights."))
    save_findings(findings, run / "diagnosis.json")
    (run / "data_report.json").write_text(json.dumps({
        "source": {"path": f"/data/{EVIL}.csv"},
        "split": {"train": 400, "val": 100, "test": 100},
        "columns": [{"name": EVIL, "type": "numeric", "missing": 3}],
        "target": {"class_balance": {"counts": {"benign": 280, EVIL: 120}}}}))
    (run / "config.yaml").write_text(yaml.safe_dump({"task": "classification", "lr": 0.001,
                                                     "target": EVIL}))
    (run / "model_summary.txt").write_text(f"Model: {EVIL}\nTotal params: 4,810\n")
    (run / "environment.json").write_text(json.dumps({"python": "3.11", "torch": "2.13"}))
    (run / "auto_fix.json").write_text(json.dumps({
        "applied": True, "changes": {"dropout": 0.3, "early_stopping": True},
        "description": ["dropout 0 -> 0.3 (overfitting)"],
        "before": {"val": {"loss": 0.9, "accuracy": 0.7}, "val_loss_best": 0.5,
                   "diagnosis": ["overfitting"]},
        "after": {"val": {"loss": 0.4, "accuracy": 0.8}, "val_loss_best": 0.38,
                  "diagnosis": ["healthy"]}}))
    save_run_plots(run, history=hist, metrics=metrics["test"], y_true=y_te,
                   proba=np.stack([1 - p_te, p_te], 1), positive_index=1)
    return run


@pytest.fixture
def regression_run(tmp_path: Path) -> Path:
    """A regression run with few files: no history.png, data report, config or auto-fix."""
    run = tmp_path / "regression_run"
    run.mkdir()
    rng = np.random.default_rng(1)
    y_tr, y_te = rng.normal(size=200), rng.normal(size=50)
    pred = y_te + rng.normal(scale=0.4, size=50)
    metrics = {"task": "regression", "test": regression_metrics(y_te, pred),
               "baseline": baseline("regression", y_tr, y_te)}
    (run / "metrics.json").write_text(json.dumps(metrics))
    hist = {"loss": [1.0, 0.5, float("nan")], "val_loss": [1.1, 0.6, None]}
    pd.DataFrame(hist).to_csv(run / "history.csv", index=False)
    save_findings(diagnose(history=hist, metrics=metrics, headline="r2"),
                  run / "diagnosis.json")
    save_run_plots(run, y_true=y_te, y_pred=pred)
    return run
