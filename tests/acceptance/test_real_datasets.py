"""Issue 3's acceptance: one `nnguru train` command with default settings per real dataset.

The figures and times are recorded in benchmarks/RESULTS.md (times are measured there, not asserted).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from nnguru.cli import main


def train(tmp_path: Path, *argv: str) -> tuple[dict, dict, float]:
    run = tmp_path / "run"
    t0 = time.perf_counter()
    assert main(["train", *argv, "--out", str(run), "--quiet"]) == 0
    seconds = time.perf_counter() - t0
    metrics = json.loads((run / "metrics.json").read_text())
    report = json.loads((run / "data_report.json").read_text())
    print(f"{argv[0]}: test {metrics['test']} in {seconds:.0f}s")
    return metrics, report, seconds


def test_titanic(shared_datasets, tmp_path):
    metrics, report, _ = train(tmp_path, str(shared_datasets / "titanic" / "titanic.csv"), "--target", "Survived")
    assert metrics["test"]["accuracy"] >= 0.78
    assert metrics["test"]["accuracy"] > metrics["baseline"]["accuracy"]


def test_pima_flags_placeholder_zeros(shared_datasets, tmp_path):
    data = shared_datasets / "pima_indians_diabetes" / "pima-indians-diabetes.csv"
    metrics, report, _ = train(tmp_path, str(data), "--target", "-1")
    assert metrics["test"]["accuracy"] >= 0.74
    zeros = report["placeholder_zeros"]  # glucose, blood pressure, skin, insulin, BMI
    assert set(zeros) == {"c1", "c2", "c3", "c4", "c5"}
    assert {f["action"] for f in zeros.values()} == {"flagged only"}
    # --zeros-as-missing: treated as missing in training, and by `nnguru predict` on raw rows
    metrics, report, _ = train(tmp_path / "missing", str(data), "--target", "-1", "--zeros-as-missing")
    assert {f["action"] for f in report["placeholder_zeros"].values()} == {"treated as missing"}
    # 0.72: the table recipe measured 0.713 (seeds 0-2) against the old defaults' 0.730 here, one or
    # two of 115 test rows, within the split's noise (benchmarks/RESULTS.md, "Table defaults")
    assert metrics["test"]["accuracy"] >= 0.72
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(tmp_path / "missing" / "run"), str(data), "--out", str(preds), "--quiet"]) == 0
    assert len(preds.read_text().splitlines()) == 768 + 1


def test_boston_housing_regression(shared_datasets, tmp_path):
    metrics, _, _ = train(tmp_path, str(shared_datasets / "boston_housing" / "housing.csv"), "--target", "-1")
    assert metrics["task"] == "regression"
    assert metrics["test"]["mae"] <= 3.2


def test_sms_spam(shared_datasets, tmp_path):
    metrics, _, _ = train(tmp_path, str(shared_datasets / "sms_spam_collection" / "SMSSpamCollection"),
                          "--target", "Label")
    assert metrics["test"]["accuracy"] >= 0.97
    assert metrics["test"]["positive"] == "spam" and metrics["test"]["f1"] >= 0.90


def test_free_spoken_digits(shared_datasets, tmp_path):
    metrics, _, seconds = train(tmp_path, str(shared_datasets / "free_spoken_digit_dataset" / "recordings"),
                                "--label-from-name", r"^(\d+)_")
    assert metrics["test"]["accuracy"] >= 0.90


def _planted_folder(tmp_path: Path, mnist: Path):
    spec = importlib.util.spec_from_file_location("data_conftest", Path(__file__).parents[1] / "data" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.write_mnist_png_folder(tmp_path / "images", mnist, count=4000)


def test_image_folder_with_corrupt_files(mnist_dir, tmp_path):
    planted = _planted_folder(tmp_path, mnist_dir)
    metrics, report, _ = train(tmp_path, str(planted.root))
    listed = json.dumps(report["corrupt_files"])
    for name in planted.corrupt:
        assert name in listed
    assert metrics["test"]["accuracy"] >= 0.95


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "diabetes"])
def test_builtin_sets_beat_their_baselines(name, tmp_path):
    metrics, _, _ = train(tmp_path, f"builtin:{name}")
    if metrics["task"] == "classification":
        assert metrics["test"]["accuracy"] >= 0.85
    else:
        # diabetes: HistGradientBoosting's MAE is 0.75-0.92 of the mean predictor's on random 15% test
        # splits (seeds 0-2: 53.5/58.2, 45.2/60.3, 49.2/62.1); the table recipe gives 0.80 here
        assert metrics["test"]["mae"] < 0.85 * metrics["baseline"]["mae"]


def test_airline_forecast_beats_seasonal_naive(shared_datasets, tmp_path):
    """Issue 9: defaults and --horizon 12 (the task is picked by auto), rolling origin over 36 months."""
    data = shared_datasets / "airline_passengers" / "airline-passengers.csv"
    metrics, report, _ = train(tmp_path, str(data), "--target", "Passengers", "--horizon", "12")
    assert metrics["task"] == "forecast" and report["split"]["method"] == "chronological"
    assert report["split"]["steps"]["test"] == 36 and metrics["test"]["n"] == (36 - 12 + 1) * 12
    assert report["forecast"]["season"] == 12 and report["forecast"]["transform"] == "log"
    seasonal = metrics["baseline"]["seasonal_naive"]
    assert metrics["test"]["mape"] < seasonal["mape"] and metrics["test"]["mae"] < seasonal["mae"]
    assert (tmp_path / "run" / "forecasts.csv").is_file() and (tmp_path / "run" / "forecast.png").is_file()
