"""Every diagnosis rule on synthetic histories, plus no false alarms and robustness."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from nnguru.errors import NNGuruError
from nnguru.guru import (
    Finding,
    diagnose,
    load_findings,
    print_findings,
    register,
    remedies,
    save_findings,
)
from nnguru.guru import rules as guru_rules

NAN, INF = float("nan"), float("inf")
LN2, LN10 = math.log(2), math.log(10)
# The rules the forecasting task applies (no class-based rules).
FORECAST_RULES = ("lr_too_high", "lr_too_low", "plateau", "overfitting", "underfitting",
                  "small_data", "worse_than_baseline")


def curve(start: float, end: float, n: int, rate: float = 0.3) -> list[float]:
    """A healthy fast-then-flat decay from ``start`` towards ``end``."""
    return [end + (start - end) * math.exp(-rate * i) for i in range(n)]


def healthy_history(n: int = 20) -> dict[str, list[float]]:
    return {"loss": curve(1.8, 0.10, n), "val_loss": curve(1.7, 0.16, n),
            "accuracy": curve(0.5, 0.98, n), "val_accuracy": curve(0.5, 0.95, n),
            "lr": [1e-3] * n}


def balanced_metrics(k: int = 10, acc: float = 0.95) -> dict:
    per_class = {str(c): {"precision": acc, "recall": acc, "f1": acc, "support": 30}
                 for c in range(k)}
    return {"val": {"accuracy": acc, "per_class": per_class, "n": 30 * k},
            "test": {"accuracy": acc, "per_class": per_class, "n": 30 * k},
            "baseline": {"strategy": "majority class 0", "accuracy": 1 / k, "loss": math.log(k)}}


def split(train: int, test: int = 150, duplicates: int = 0) -> dict:
    """``data_report["split"]`` as the pipeline writes it (nnguru.schema.SplitReport)."""
    return {"method": "stratified", "train": train, "val": test, "test": test,
            "stratified": True, "seed": 0, "official_test_set": False,
            "duplicates_train_test": duplicates}


def classes(counts: dict[str, int]) -> dict:
    """``data_report["target"]`` of a class target, as data/clean.py writes it."""
    total = sum(counts.values())
    minority = min(counts, key=counts.get)
    return {"name": "y", "missing_rows_dropped": 0, "type": "classes", "class_balance": {
        "counts": counts, "shares": {k: v / total for k, v in counts.items()},
        "minority_class": minority, "minority_share": counts[minority] / total, "warning": None}}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_healthy_curves_give_only_healthy():
    f = diagnose(history=healthy_history(), data_report={"split": split(1100)},
                 metrics=balanced_metrics(), headline="accuracy", n_classes=10, n_params=5000,
                 lr=1e-3)
    assert codes(f) == ["healthy"]
    assert f[0].severity == "info"
    assert "0.950" in f[0].summary and f[0].evidence["best_epoch"] == 20


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_healthy_histories_do_not_guess(n):
    h = {k: v[:n] for k, v in healthy_history().items()}
    assert codes(diagnose(history=h, metrics=balanced_metrics(), headline="accuracy",
                          n_classes=10)) == ["healthy"]


def test_missing_validation_keys_and_empty_history():
    h = {"loss": curve(1.8, 0.1, 10)}
    assert codes(diagnose(history=h, n_classes=10)) == ["healthy"]
    assert codes(diagnose(history={})) == ["healthy"]
    # Keys present but all None (e.g. read back from a CSV without validation).
    h = {"loss": curve(1.8, 0.1, 10), "val_loss": [None] * 10}
    assert codes(diagnose(history=h, n_classes=10)) == ["healthy"]


def test_overfitting_when_val_loss_turns_up():
    n = 30
    h = {"loss": curve(0.7, 0.001, n), "val_loss": [0.6 - 0.02 * i for i in range(8)]
         + [0.45 + 0.05 * i for i in range(n - 8)]}
    f = diagnose(history=h, n_classes=2, lr=1e-3)
    assert codes(f) == ["overfitting"]
    ev = f[0].evidence
    assert ev["best_epoch"] == 9 and ev["val_rise"] > 1
    assert "dropout" in f[0].advice and "early" in f[0].advice


def test_overfitting_from_accuracy_gap_and_regression_loss_ratio():
    h = healthy_history()
    h["val_accuracy"] = [a - 0.3 for a in h["accuracy"]]
    assert "overfitting" in codes(diagnose(history=h, n_classes=10))
    reg = {"loss": curve(1.0, 0.02, 15), "val_loss": curve(1.0, 0.4, 15)}
    f = diagnose(history=reg)
    assert codes(f) == ["overfitting"] and f[0].evidence["ratio"] > 3


def test_small_val_noise_and_restored_epoch_are_not_overfitting():
    h = healthy_history(30)
    h["val_loss"][-3:] = [h["val_loss"][-4] * 1.15] * 3  # a 15% bump: noise, not a trend
    assert codes(diagnose(history=h, n_classes=10)) == ["healthy"]
    # Early stopping restored epoch 8: the later rise is the stopping tail.
    tail = {"loss": curve(0.7, 0.05, 14), "val_loss": curve(0.7, 0.3, 8) + [0.45] * 6}
    assert "overfitting" in codes(diagnose(history=tail, n_classes=2))
    assert codes(diagnose(history=tail, n_classes=2, restored_epoch=8)) == ["healthy"]


def test_underfitting_near_the_baseline():
    n = 20
    h = {"loss": [0.70 - 0.001 * i for i in range(5)] + [0.695] * (n - 5),
         "val_loss": [0.70] * n, "accuracy": [0.52] * n, "val_accuracy": [0.5] * n}
    metrics = {"val": {"accuracy": 0.5},
               "baseline": {"strategy": "majority class 0", "accuracy": 0.5, "loss": LN2}}
    f = diagnose(history=h, metrics=metrics, n_classes=2)
    assert codes(f) == ["underfitting"]
    assert f[0].evidence["baseline_loss"] == pytest.approx(LN2, rel=1e-3)
    assert "capacity" in f[0].advice and "learning rate" in f[0].advice


def test_underfitting_regression_r2():
    h = {"loss": curve(1.0, 0.95, 10), "val_loss": curve(1.0, 0.97, 10)}
    f = diagnose(history=h, metrics={"val": {"r2": 0.03}, "test": {"r2": 0.9}})
    assert codes(f) == ["underfitting"] and f[0].evidence["val_r2"] == 0.03
    good = diagnose(history=h, metrics={"val": {"r2": 0.8}})
    assert "underfitting" not in codes(good)


def test_plateau_flat_start_then_drop():
    h = {"loss": [2.303, 2.302, 2.302, 2.301, 2.301, 2.300, 1.9, 1.2, 0.7, 0.4, 0.3, 0.25],
         "val_loss": [2.303, 2.302, 2.302, 2.301, 2.301, 2.300, 1.9, 1.2, 0.7, 0.45, 0.35, 0.3]}
    f = diagnose(history=h, n_classes=10, lr=1e-3)
    assert codes(f) == ["plateau"]
    assert f[0].evidence["flat_from_epoch"] == 1 and f[0].evidence["flat_to_epoch"] == 6


def test_flat_from_start_to_end_is_underfitting_not_plateau():
    h = {"loss": [2.302] * 12, "val_loss": [2.303] * 12}
    f = diagnose(history=h, n_classes=10)
    assert codes(f) == ["underfitting"]
    assert "higher learning rate first" in f[0].advice


@pytest.mark.parametrize("bad", [NAN, INF, None])
def test_lr_too_high_on_nonfinite_loss(bad):
    h = {"loss": [1.2, 0.9, bad], "val_loss": [1.1, 0.8, 0.9]}
    f = diagnose(history=h, lr=0.5, n_classes=3)
    assert f[0].code == "lr_too_high" and f[0].severity == "error"
    assert f[0].evidence["first_nonfinite_epoch"] == 3
    assert f[0].evidence["advised_lr"] == pytest.approx(0.05)
    assert "0.05" in f[0].advice
    json.dumps([x.to_dict() for x in f], allow_nan=False)


def test_lr_too_high_on_nonfinite_validation_loss_only():
    h = {"loss": [1.2, 0.9, 0.8], "val_loss": [1.1, NAN, NAN]}
    f = diagnose(history=h, lr=0.1, n_classes=3)
    assert f[0].code == "lr_too_high" and f[0].evidence["nonfinite_in"] == "validation"


def test_lr_too_high_when_training_loss_rises_explodes_or_oscillates():
    rising = {"loss": [0.7, 0.5, 0.4, 0.6, 0.9, 1.3]}
    assert codes(diagnose(history=rising)) == ["lr_too_high"]
    spike = {"loss": [0.6, 0.1, 0.01, 0.001, 0.0008, 0.07]}  # Adam's last-epoch spike near zero
    assert codes(diagnose(history=spike)) == ["healthy"]
    exploding = {"loss": [290.0, 170.0, 40.0, 10.0, 1.0, 0.5, 0.4], "val_loss": [200.0] * 7}
    f = diagnose(history=exploding, n_classes=2, lr=3.0)
    assert codes(f) == ["lr_too_high"]  # the wild val curve is not called overfitting
    oscillating = {"loss": [1.0, 0.6, 0.8, 0.55, 0.75, 0.5, 0.7, 0.52, 0.72]}
    assert codes(diagnose(history=oscillating)) == ["lr_too_high"]


def test_lr_advice_prefers_range_test_suggestion():
    h = {"loss": [1.0, NAN]}
    f = diagnose(history=h, lr=1.0, suggested_lr=3e-3)
    assert f[0].evidence["advised_lr"] == pytest.approx(3e-3) and "range test" in f[0].advice
    f = diagnose(history=h)  # lr unknown: assume the common default
    assert f[0].evidence["advised_lr"] == pytest.approx(1e-4) and "assuming" in f[0].advice


def test_lr_too_low_on_a_slow_straight_descent():
    n = 20
    h = {"loss": [0.79 - 0.0015 * i for i in range(n)],
         "val_loss": [0.79 - 0.0015 * i for i in range(n)],
         "accuracy": [0.4] * n, "val_accuracy": [0.4] * n}
    metrics = {"val": {"accuracy": 0.4},
               "baseline": {"strategy": "majority class 0", "accuracy": 0.5, "loss": LN2}}
    f = diagnose(history=h, metrics=metrics, n_classes=2, lr=1e-5)
    assert codes(f) == ["lr_too_low"]  # the cause, not also "underfitting"
    assert f[0].evidence["advised_lr"] == pytest.approx(1e-4)


def test_converging_curve_is_not_lr_too_low():
    h = {"loss": curve(0.7, 0.45, 10, rate=0.5)}  # curved: fast first, then flat
    assert codes(diagnose(history=h, n_classes=2)) == ["healthy"]


def imbalanced_inputs(minority_recall: float, acc: float):
    counts = {"ok": 980, "fraud": 20}
    metrics = {"val": {"accuracy": acc, "per_class": {
        "ok": {"recall": 0.99, "support": 490}, "fraud": {"recall": minority_recall,
                                                          "support": 10}}},
               "baseline": {"strategy": "majority class ok", "accuracy": 0.98, "loss": 0.098}}
    return {"target": classes(counts)}, metrics


def test_class_imbalance_and_accuracy_paradox():
    n = 10
    h = {"loss": curve(0.3, 0.09, n), "val_loss": curve(0.3, 0.09, n)}
    report, metrics = imbalanced_inputs(0.0, 0.98)
    f = diagnose(history=h, data_report=report, metrics=metrics)
    assert set(codes(f)) == {"class_imbalance", "accuracy_paradox"}  # not "underfitting"
    paradox = next(x for x in f if x.code == "accuracy_paradox")
    assert paradox.evidence["minority_class"] == "fraud"
    assert paradox.evidence["val_minority_recall"] == 0.0
    imb = next(x for x in f if x.code == "class_imbalance")
    assert imb.severity == "warning" and imb.evidence["majority_to_minority"] == 49


def test_imbalance_handled_well_is_info_only():
    h = {"loss": curve(0.3, 0.02, 10), "val_loss": curve(0.3, 0.03, 10)}
    report, metrics = imbalanced_inputs(0.8, 0.995)
    f = diagnose(history=h, data_report=report, metrics=metrics)
    assert codes(f) == ["class_imbalance"] and f[0].severity == "info"


def test_class_weights_change_the_loss_scale_not_the_verdict():
    # A balanced-weights run: weighted training loss ~0.46 is far above the unweighted prior
    # loss 0.098 but well below ln 2, the prior loss on the weighted scale.
    h = {"loss": curve(0.65, 0.45, 15), "val_loss": curve(0.4, 0.30, 15)}
    report, metrics = imbalanced_inputs(0.6, 0.90)
    metrics["val"]["balanced_accuracy"] = 0.75
    plain = diagnose(history=h, data_report=report, metrics=metrics)
    assert "lr_too_high" in codes(plain)
    weighted = diagnose(history=h, data_report=report, metrics=metrics,
                        class_weight="balanced")
    assert codes(weighted) == ["class_imbalance"]


def test_leakage_from_the_split_report():
    h = healthy_history()
    f = diagnose(history=h, data_report={"split": split(700, test=200, duplicates=60)},
                 n_classes=10)
    leak = next(x for x in f if x.code == "leakage")
    assert leak.severity == "error" and leak.evidence["share_of_test"] == 0.3
    assert leak.evidence["duplicated_test_samples"] == 60 and leak.evidence["test_samples"] == 200
    f = diagnose(history=h, data_report={"split": split(700, test=600, duplicates=12)},
                 n_classes=10)
    assert next(x for x in f if x.code == "leakage").severity == "warning"  # 2%: inflated
    tiny = diagnose(history=h, data_report={"split": split(5000, test=1000, duplicates=2)},
                    n_classes=10)
    assert "leakage" not in codes(tiny)  # 0.2% of the test split: below the threshold
    single = diagnose(history=h, data_report={"split": split(100, test=22, duplicates=1)},
                      n_classes=10)
    assert "leakage" not in codes(single)  # one coincidental duplicate (iris has some)


def test_small_data_per_class_and_per_parameter():
    h = healthy_history()
    f = diagnose(history=h, data_report={"split": split(40)}, n_classes=2, n_params=70_000)
    small = next(x for x in f if x.code == "small_data")
    assert small.evidence["parameters_per_sample"] == 1750
    cnn = diagnose(history=h, data_report={"split": split(1258)}, n_classes=10,
                   n_params=151_498)
    assert codes(cnn) == ["healthy"]  # the digits CNN template: 120 per sample is fine
    f = diagnose(history=h, data_report={"target": classes({"a": 25, "b": 5}),
                                         "split": split(30)})
    assert next(x for x in f if x.code == "small_data").evidence["smallest_class"] == "b"
    f = diagnose(history={"loss": curve(1, 0.1, 10)}, data_report={"split": split(20)})
    assert codes(f) == ["small_data"] and f[0].evidence["train_samples"] == 20
    # Counts are of the whole data set: scaled to the training split's size.
    counts = {"target": classes({"a": 50, "b": 50})}
    assert codes(diagnose(history=h, data_report=counts)) == ["healthy"]
    f = diagnose(history=h, data_report={**counts, "split": split(12)})
    assert next(x for x in f if x.code == "small_data").evidence[
        "smallest_class_train_samples"] == 6


def test_small_data_counts_forecasting_windows():
    """The forecasting task passes its number of training windows as the split's train size."""
    h = {"loss": curve(1, 0.1, 10), "val_loss": curve(1, 0.12, 10)}
    f = diagnose(history=h, data_report={"split": {**split(30), "method": "chronological"}},
                 rules=FORECAST_RULES, headline="mase")
    assert codes(f) == ["small_data"] and "30 training samples" in f[0].summary
    f = diagnose(history=h, data_report={"split": {**split(300), "method": "chronological"}},
                 rules=FORECAST_RULES, headline="mase")
    assert codes(f) == ["healthy"]


def test_findings_sorted_by_severity_and_json_safe(tmp_path):
    h = {"loss": [1.0, NAN], "val_loss": [1.0, INF]}
    f = diagnose(history=h, data_report={"split": split(40, test=10, duplicates=3)},
                 n_classes=2, n_params=70_000)
    assert set(codes(f)) == {"lr_too_high", "leakage", "small_data"}
    sev = [x.severity for x in f]
    assert sev == sorted(sev, key=["error", "warning", "info"].index)
    json.dumps([x.to_dict() for x in f], allow_nan=False)  # NaN/inf evidence became null
    path = save_findings(f, tmp_path / "diagnosis.json")
    assert [x.to_dict() for x in load_findings(path)] == [x.to_dict() for x in f]


def test_finding_validates_severity_and_prints():
    with pytest.raises(ValueError):
        Finding("healthy", "fatal")
    buf = io.StringIO()
    f = Finding("class_imbalance", "warning", {"summary": "class '[red]x' is rare"}, "weights")
    print_findings([f], Console(file=buf, width=120, color_system=None))
    out = buf.getvalue()
    assert "class_imbalance" in out and "[red]x" in out and "weights" in out


def test_remedies_per_code():
    def fix(code, severity="warning", evidence=None, config=None):
        return remedies([Finding(code, severity, evidence or {})], config or {})

    assert fix("lr_too_high", "error", config={"lr": 0.1})["changes"] == {
        "lr": pytest.approx(0.01)}
    assert fix("lr_too_high", evidence={"advised_lr": 0.003})["changes"]["lr"] == 0.003
    assert fix("lr_too_low", config={"lr": 1e-5})["changes"]["lr"] == pytest.approx(1e-4)
    assert fix("plateau", config={"lr": 1e-3})["changes"]["lr"] == pytest.approx(3e-3)
    over = fix("overfitting", config={"dropout": 0.0})
    assert over["changes"] == {"dropout": 0.3, "early_stopping": True}
    # early stopping already on: what is left is width (halved, down to a quarter)
    assert fix("overfitting", config={"dropout": 0.4, "early_stopping": True})["changes"] == {
        "dropout": 0.5, "hidden_scale": 0.5}
    assert fix("overfitting", config={"dropout": 0.5, "early_stopping": True, "hidden_scale": 4.0})[
        "changes"] == {"hidden_scale": 2.0}
    assert fix("overfitting", config={"dropout": 0.5, "early_stopping": True, "hidden_scale": 0.25})[
        "changes"] == {}
    under = fix("underfitting", config={"epochs": 20})
    assert under["changes"] == {"hidden_scale": 2.0, "epochs": 40}
    imbalance = [Finding("class_imbalance", "warning", {"n_classes": 2}),
                 Finding("accuracy_paradox", "warning")]
    assert remedies(imbalance, {})["changes"] == {"class_weight": "balanced"}
    # Already weighted: the next step for a binary task is the validation-chosen threshold.
    assert remedies(imbalance, {"class_weight": "balanced"})["changes"] == {"threshold": "auto"}
    assert fix("class_imbalance", "info")["changes"] == {}
    leak = fix("leakage", "error")  # scored without the copies (tests/guru/test_leakage_repair.py)
    assert leak["changes"] == {"drop_leaked": True}
    assert fix("leakage", "error", config={"drop_leaked": True})["changes"] == {}
    healthy = fix("healthy", "info")
    assert healthy["changes"] == {} and healthy["codes"] == []
    assert "lr_too_high" in fix("lr_too_high")["codes"]


def test_lr_too_high_wins_the_learning_rate_change():
    both = remedies([Finding("lr_too_high", "error", {"advised_lr": 1e-4}),
                     Finding("plateau", "warning")], {"lr": 1e-3})
    assert both["changes"]["lr"] == 1e-4 and len(both["description"]) == 1


def test_random_histories_never_crash():
    rng = np.random.default_rng(0)
    for i in range(200):
        n = int(rng.integers(0, 12))
        vals = rng.choice([0.1, 0.5, 1.0, 2.0, 100.0, NAN, INF, -INF, 0.0], size=(4, n))
        h = {"loss": vals[0].tolist(), "val_loss": vals[1].tolist(),
             "accuracy": np.abs(vals[2]).tolist(), "val_accuracy": np.abs(vals[3]).tolist()}
        test = {"r2": float(rng.choice([-1.0, 0.5, NAN])), "accuracy": 0.6, "mase": 1.0}
        base = [{"strategy": "mean", "r2": 0.0},
                {"naive": {"mase": 1.2}, "seasonal_naive": {"mase": NAN}}][i % 2]
        f = diagnose(history=h, n_classes=[3, None][i % 2], headline=["r2", "mase"][i % 2],
                     metrics={"val": {"r2": 0.5}, "test": test, "baseline": base})
        assert f
        json.dumps([x.to_dict() for x in f], allow_nan=False)


def forecast_metrics(mase: float) -> dict:
    """metrics.json of a forecasting run: named baselines with the same keys as ``test``."""
    return {"val": {"mase": mase}, "test": {"mae": 10.0, "mase": mase},
            "baseline": {"naive": {"mae": 12.0, "mase": 1.0},
                         "seasonal_naive": {"mae": 9.0, "mase": 0.8},
                         "seasonal_naive_drift": {"mae": 9.5, "mase": 0.9}}}


def test_worse_than_the_best_named_baseline():
    h = {"loss": curve(1.0, 0.3, 12), "val_loss": curve(1.0, 0.35, 12)}
    f = diagnose(history=h, metrics=forecast_metrics(1.3), rules=FORECAST_RULES,
                 headline="mase")
    assert codes(f) == ["worse_than_baseline"] and f[0].severity == "warning"
    ev = f[0].evidence
    assert ev["baseline"] == "seasonal_naive" and ev["baseline_score"] == 0.8  # the best one
    assert ev["metric"] == "mase" and ev["test_score"] == 1.3
    assert "seasonal_naive" in f[0].summary
    for words in ("two seasons", "log", "more history", "'seasonal_naive' baseline itself"):
        assert words in f[0].advice
    # Between the baselines (lower MASE is better): it beats naive, not seasonal_naive.
    assert "worse_than_baseline" in codes(diagnose(
        history=h, metrics=forecast_metrics(0.85), rules=FORECAST_RULES, headline="mase"))
    better = diagnose(history=h, metrics=forecast_metrics(0.7), rules=FORECAST_RULES,
                      headline="mase")
    assert codes(better) == ["healthy"] and better[0].evidence["baseline_mase"] == 0.8
    # Without a headline metric there is nothing to compare.
    assert codes(diagnose(history=h, metrics=forecast_metrics(1.3))) == ["healthy"]


def test_worse_than_the_flat_baseline_explains_underfitting():
    h = {"loss": curve(1.0, 0.9, 10), "val_loss": curve(1.0, 0.95, 10)}
    metrics = {"val": {"r2": 0.02}, "test": {"r2": -0.15, "mae": 3.1},
               "baseline": {"strategy": "mean of the training targets (4.2)", "r2": 0.0,
                            "mae": 3.0}}
    assert codes(diagnose(history=h, metrics=metrics)) == ["underfitting"]  # no headline
    f = diagnose(history=h, metrics=metrics, headline="r2")
    assert codes(f) == ["worse_than_baseline"]  # suppresses the symptom it explains
    assert f[0].evidence["baseline"] == "trivial" and "mean of the training targets" in (
        f[0].summary)
    assert "seasons" not in f[0].advice and "baseline" in f[0].advice
    metrics["test"]["r2"] = 0.0  # as good as the mean: not worse
    assert "worse_than_baseline" not in codes(diagnose(history=h, metrics=metrics,
                                                       headline="r2"))


def test_worse_than_baseline_judges_rare_classes_by_balanced_accuracy():
    h = {"loss": curve(0.65, 0.45, 15), "val_loss": curve(0.4, 0.30, 15)}
    report, metrics = imbalanced_inputs(0.6, 0.90)
    base = {**metrics["baseline"], "balanced_accuracy": 0.5}
    metrics.update(baseline=base, test={"accuracy": 0.90, "balanced_accuracy": 0.75})
    f = diagnose(history=h, data_report=report, metrics=metrics, headline="accuracy",
                 class_weight="balanced")
    assert codes(f) == ["class_imbalance"]  # 0.90 < 0.98 accuracy is the rare class' price
    metrics["test"]["balanced_accuracy"] = 0.45
    f = diagnose(history=h, data_report=report, metrics=metrics, headline="accuracy",
                 class_weight="balanced")
    worse = next(x for x in f if x.code == "worse_than_baseline")
    assert worse.evidence["metric"] == "balanced_accuracy"
    # Balanced classes: plain accuracy against the majority class.
    m = balanced_metrics(k=2, acc=0.45)
    m["baseline"]["accuracy"] = 0.5
    f = diagnose(history=healthy_history(), metrics=m, headline="accuracy", n_classes=2)
    assert "worse_than_baseline" in codes(f) and "healthy" not in codes(f)


def test_a_diverged_run_is_lr_too_high_not_worse_than_baseline():
    h = {"loss": [0.7, 0.5, 0.4, 0.6, 0.9, 1.3]}
    f = diagnose(history=h, metrics=forecast_metrics(1.3), headline="mase")
    assert codes(f) == ["lr_too_high"]


def test_rules_select_what_applies():
    h = {"loss": curve(0.3, 0.09, 10), "val_loss": curve(0.3, 0.09, 10)}
    report, metrics = imbalanced_inputs(0.0, 0.98)
    regression = [c for c in guru_rules.RULES if c not in ("class_imbalance",
                                                           "accuracy_paradox")]
    found = codes(diagnose(history=h, data_report=report, metrics=metrics, rules=regression))
    assert "class_imbalance" not in found and "accuracy_paradox" not in found
    assert "underfitting" in found  # no paradox rule left to explain it
    assert set(codes(diagnose(history=h, data_report=report, metrics=metrics,
                              rules=["accuracy_paradox"]))) == {"accuracy_paradox"}
    with pytest.raises(NNGuruError, match="unknown guru rule.*'overfit'.*overfitting"):
        diagnose(history=h, rules=["overfit"])


def test_register_a_rule_with_what_it_suppresses_and_needs(monkeypatch):
    monkeypatch.setattr(guru_rules, "RULES", dict(guru_rules.RULES))
    calls = []

    def few_epochs(f):
        calls.append(f.n_epochs)
        return Finding("few_epochs", "info", {"summary": "short"}) if f.n_epochs < 5 else None

    register("few_epochs", few_epochs, suppresses=("overfitting",), needs=("val_loss",))
    h = {"loss": [0.7, 0.3, 0.1, 0.05], "val_loss": [0.6, 0.4, 0.7, 0.9],
         "accuracy": [0.6, 0.8, 0.99, 1.0], "val_accuracy": [0.6, 0.7, 0.7, 0.7]}
    assert codes(diagnose(history=h, n_classes=2)) == ["few_epochs"]  # overfitting suppressed
    assert codes(diagnose(history={"loss": h["loss"]}, n_classes=2)) == ["healthy"]
    assert calls == [4]  # skipped without the validation loss it needs
    with pytest.raises(NNGuruError, match="already registered"):
        register("few_epochs", few_epochs)
    with pytest.raises(NNGuruError, match="unknown facts.*'val_los'"):
        register("other", few_epochs, needs=("val_los",))


def test_prior_loss_under_label_smoothing_matches_torch():
    """The table recipe smooths labels: a constant predictor's smoothed loss (torch's oracle) is the
    baseline the curves are judged against, or a healthy run looks stuck at the prior."""
    import torch
    import torch.nn.functional as F

    from nnguru.guru.rules import gather_facts

    counts = {"0": 98, "1": 2}
    y = torch.tensor([0] * 98 + [1] * 2)
    eps = 0.1
    target = (1 - eps) * torch.tensor([0.98, 0.02]) + eps / 2  # the best constant prediction
    oracle = F.cross_entropy(target.log().expand(100, 2), y, label_smoothing=eps).item()
    report = {"target": {"class_balance": {"counts": counts}}}
    facts = gather_facts(history={"loss": [0.3, 0.2]}, data_report=report, n_classes=2, label_smoothing=eps)
    assert facts.train_baseline_loss() == pytest.approx(oracle, rel=1e-5)
    plain = gather_facts(history={"loss": [0.3, 0.2]}, data_report={"target": {"class_balance": {"counts": counts}}},
                         n_classes=2)
    assert plain.train_baseline_loss() < facts.train_baseline_loss()
