"""Every diagnosis rule on synthetic histories, plus no false alarms and robustness."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from nnguru.guru import (
    Finding,
    diagnose,
    load_findings,
    print_findings,
    remedies,
    save_findings,
)

NAN, INF = float("nan"), float("inf")
LN2, LN10 = math.log(2), math.log(10)


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
            "baseline": {"accuracy": 1 / k, "loss": math.log(k)}}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_healthy_curves_give_only_healthy():
    f = diagnose(history=healthy_history(), task="classification", metrics=balanced_metrics(),
                 n_params=5000, n_train=1100, lr=1e-3)
    assert codes(f) == ["healthy"]
    assert f[0].severity == "info"
    assert "0.950" in f[0].summary and f[0].evidence["best_epoch"] == 20


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_healthy_histories_do_not_guess(n):
    h = {k: v[:n] for k, v in healthy_history().items()}
    assert codes(diagnose(history=h, task="classification", metrics=balanced_metrics())) == [
        "healthy"]


def test_missing_validation_keys_and_empty_history():
    h = {"loss": curve(1.8, 0.1, 10)}
    assert codes(diagnose(history=h, task="classification")) == ["healthy"]
    assert codes(diagnose(history={}, task="regression")) == ["healthy"]
    # Keys present but all None (e.g. read back from a CSV without validation).
    h = {"loss": curve(1.8, 0.1, 10), "val_loss": [None] * 10}
    assert codes(diagnose(history=h, task="classification")) == ["healthy"]


def test_overfitting_when_val_loss_turns_up():
    n = 30
    h = {"loss": curve(0.7, 0.001, n), "val_loss": [0.6 - 0.02 * i for i in range(8)]
         + [0.45 + 0.05 * i for i in range(n - 8)]}
    f = diagnose(history=h, task="classification", lr=1e-3)
    assert codes(f) == ["overfitting"]
    ev = f[0].evidence
    assert ev["best_epoch"] == 9 and ev["val_rise"] > 1
    assert "dropout" in f[0].advice and "early" in f[0].advice


def test_overfitting_from_accuracy_gap_and_regression_loss_ratio():
    h = healthy_history()
    h["val_accuracy"] = [a - 0.3 for a in h["accuracy"]]
    assert "overfitting" in codes(diagnose(history=h, task="classification"))
    reg = {"loss": curve(1.0, 0.02, 15), "val_loss": curve(1.0, 0.4, 15)}
    f = diagnose(history=reg, task="regression")
    assert codes(f) == ["overfitting"] and f[0].evidence["ratio"] > 3


def test_small_val_noise_and_restored_epoch_are_not_overfitting():
    h = healthy_history(30)
    h["val_loss"][-3:] = [h["val_loss"][-4] * 1.15] * 3  # a 15% bump: noise, not a trend
    assert codes(diagnose(history=h, task="classification")) == ["healthy"]
    # Early stopping restored epoch 8: the later rise is the stopping tail.
    tail = {"loss": curve(0.7, 0.05, 14), "val_loss": curve(0.7, 0.3, 8) + [0.45] * 6}
    assert "overfitting" in codes(diagnose(history=tail, task="classification"))
    assert codes(diagnose(history=tail, task="classification", restored_epoch=8)) == ["healthy"]


def test_underfitting_near_the_baseline():
    n = 20
    h = {"loss": [0.70 - 0.001 * i for i in range(5)] + [0.695] * (n - 5),
         "val_loss": [0.70] * n, "accuracy": [0.52] * n, "val_accuracy": [0.5] * n}
    metrics = {"val": {"accuracy": 0.5}, "baseline": {"accuracy": 0.5, "loss": LN2}}
    f = diagnose(history=h, task="classification", metrics=metrics)
    assert codes(f) == ["underfitting"]
    assert f[0].evidence["baseline_loss"] == pytest.approx(LN2, rel=1e-3)
    assert "capacity" in f[0].advice and "learning rate" in f[0].advice


def test_underfitting_regression_r2():
    h = {"loss": curve(1.0, 0.95, 10), "val_loss": curve(1.0, 0.97, 10)}
    f = diagnose(history=h, task="regression", metrics={"val": {"r2": 0.03}, "test": {"r2": 0.9}})
    assert codes(f) == ["underfitting"] and f[0].evidence["val_r2"] == 0.03
    good = diagnose(history=h, task="regression", metrics={"val": {"r2": 0.8}})
    assert "underfitting" not in codes(good)


def test_plateau_flat_start_then_drop():
    h = {"loss": [2.303, 2.302, 2.302, 2.301, 2.301, 2.300, 1.9, 1.2, 0.7, 0.4, 0.3, 0.25],
         "val_loss": [2.303, 2.302, 2.302, 2.301, 2.301, 2.300, 1.9, 1.2, 0.7, 0.45, 0.35, 0.3]}
    f = diagnose(history=h, task="classification", n_classes=10, lr=1e-3)
    assert codes(f) == ["plateau"]
    assert f[0].evidence["flat_from_epoch"] == 1 and f[0].evidence["flat_to_epoch"] == 6


def test_flat_from_start_to_end_is_underfitting_not_plateau():
    h = {"loss": [2.302] * 12, "val_loss": [2.303] * 12}
    f = diagnose(history=h, task="classification", n_classes=10)
    assert codes(f) == ["underfitting"]
    assert "higher learning rate first" in f[0].advice


@pytest.mark.parametrize("bad", [NAN, INF, None])
def test_lr_too_high_on_nonfinite_loss(bad):
    h = {"loss": [1.2, 0.9, bad], "val_loss": [1.1, 0.8, 0.9]}
    f = diagnose(history=h, task="classification", lr=0.5, n_classes=3)
    assert f[0].code == "lr_too_high" and f[0].severity == "error"
    assert f[0].evidence["first_nonfinite_epoch"] == 3
    assert f[0].evidence["advised_lr"] == pytest.approx(0.05)
    assert "0.05" in f[0].advice
    json.dumps([x.to_dict() for x in f], allow_nan=False)


def test_lr_too_high_on_nonfinite_validation_loss_only():
    h = {"loss": [1.2, 0.9, 0.8], "val_loss": [1.1, NAN, NAN]}
    f = diagnose(history=h, task="classification", lr=0.1)
    assert f[0].code == "lr_too_high" and f[0].evidence["nonfinite_in"] == "validation"


def test_lr_too_high_when_training_loss_rises_explodes_or_oscillates():
    rising = {"loss": [0.7, 0.5, 0.4, 0.6, 0.9, 1.3]}
    assert codes(diagnose(history=rising, task="regression")) == ["lr_too_high"]
    spike = {"loss": [0.6, 0.1, 0.01, 0.001, 0.0008, 0.07]}  # Adam's last-epoch spike near zero
    assert codes(diagnose(history=spike, task="regression")) == ["healthy"]
    exploding = {"loss": [290.0, 170.0, 40.0, 10.0, 1.0, 0.5, 0.4], "val_loss": [200.0] * 7}
    f = diagnose(history=exploding, task="classification", n_classes=2, lr=3.0)
    assert codes(f) == ["lr_too_high"]  # the wild val curve is not called overfitting
    oscillating = {"loss": [1.0, 0.6, 0.8, 0.55, 0.75, 0.5, 0.7, 0.52, 0.72]}
    assert codes(diagnose(history=oscillating, task="regression")) == ["lr_too_high"]


def test_lr_advice_prefers_range_test_suggestion():
    h = {"loss": [1.0, NAN]}
    f = diagnose(history=h, task="regression", lr=1.0, suggested_lr=3e-3)
    assert f[0].evidence["advised_lr"] == pytest.approx(3e-3) and "range test" in f[0].advice
    f = diagnose(history=h, task="regression")  # lr unknown: assume the common default
    assert f[0].evidence["advised_lr"] == pytest.approx(1e-4) and "assuming" in f[0].advice


def test_lr_too_low_on_a_slow_straight_descent():
    n = 20
    h = {"loss": [0.79 - 0.0015 * i for i in range(n)],
         "val_loss": [0.79 - 0.0015 * i for i in range(n)],
         "accuracy": [0.4] * n, "val_accuracy": [0.4] * n}
    metrics = {"val": {"accuracy": 0.4}, "baseline": {"accuracy": 0.5, "loss": LN2}}
    f = diagnose(history=h, task="classification", metrics=metrics, lr=1e-5)
    assert codes(f) == ["lr_too_low"]  # the cause, not also "underfitting"
    assert f[0].evidence["advised_lr"] == pytest.approx(1e-4)


def test_converging_curve_is_not_lr_too_low():
    h = {"loss": curve(0.7, 0.45, 10, rate=0.5)}  # curved: fast first, then flat
    assert codes(diagnose(history=h, task="classification")) == ["healthy"]


def imbalanced_inputs(minority_recall: float, acc: float):
    counts = {"ok": 980, "fraud": 20}
    metrics = {"val": {"accuracy": acc, "per_class": {
        "ok": {"recall": 0.99, "support": 490}, "fraud": {"recall": minority_recall,
                                                          "support": 10}}},
               "baseline": {"accuracy": 0.98, "loss": 0.098}}
    return {"class_counts": {"train": counts}}, metrics


def test_class_imbalance_and_accuracy_paradox():
    n = 10
    h = {"loss": curve(0.3, 0.09, n), "val_loss": curve(0.3, 0.09, n)}
    report, metrics = imbalanced_inputs(0.0, 0.98)
    f = diagnose(history=h, task="classification", data_report=report, metrics=metrics)
    assert set(codes(f)) == {"class_imbalance", "accuracy_paradox"}  # not "underfitting"
    paradox = next(x for x in f if x.code == "accuracy_paradox")
    assert paradox.evidence["minority_class"] == "fraud"
    assert paradox.evidence["val_minority_recall"] == 0.0
    imb = next(x for x in f if x.code == "class_imbalance")
    assert imb.severity == "warning" and imb.evidence["majority_to_minority"] == 49


def test_imbalance_handled_well_is_info_only():
    h = {"loss": curve(0.3, 0.02, 10), "val_loss": curve(0.3, 0.03, 10)}
    report, metrics = imbalanced_inputs(0.8, 0.995)
    f = diagnose(history=h, task="classification", data_report=report, metrics=metrics)
    assert codes(f) == ["class_imbalance"] and f[0].severity == "info"


def test_class_weights_change_the_loss_scale_not_the_verdict():
    # A balanced-weights run: weighted training loss ~0.46 is far above the unweighted prior
    # loss 0.098 but well below ln 2, the prior loss on the weighted scale.
    h = {"loss": curve(0.65, 0.45, 15), "val_loss": curve(0.4, 0.30, 15)}
    report, metrics = imbalanced_inputs(0.6, 0.90)
    metrics["val"]["balanced_accuracy"] = 0.75
    plain = diagnose(history=h, task="classification", data_report=report, metrics=metrics)
    assert "lr_too_high" in codes(plain)
    weighted = diagnose(history=h, task="classification", data_report=report, metrics=metrics,
                        class_weight="balanced")
    assert codes(weighted) == ["class_imbalance"]


def test_leakage_from_count_or_data_report():
    h = healthy_history()
    f = diagnose(history=h, task="classification", leakage_count=60,
                 metrics={"test": {"n": 200}})
    leak = next(x for x in f if x.code == "leakage")
    assert leak.severity == "error" and leak.evidence["share_of_test"] == 0.3
    f = diagnose(history=h, task="classification", data_report={
        "duplicates_across_splits": {"train_test": 5, "train_val": 2}})
    assert "leakage" in codes(f)
    f = diagnose(history=h, task="classification", data_report={  # nnguru.train's layout
        "split": {"train": 700, "test": 150, "duplicates_train_test": 30}})
    assert next(x for x in f if x.code == "leakage").evidence["share_of_test"] == 0.2
    tiny = diagnose(history=h, task="classification", leakage_count=2,
                    metrics={"test": {"n": 1000}})
    assert "leakage" not in codes(tiny)  # 0.2% of the test split: below the threshold
    single = diagnose(history=h, task="classification", leakage_count=1,
                      metrics={"test": {"n": 22}})
    assert "leakage" not in codes(single)  # one coincidental duplicate (iris has some)


def test_small_data_per_class_and_per_parameter():
    h = healthy_history()
    f = diagnose(history=h, task="classification", n_params=70_000, n_train=40)
    small = next(x for x in f if x.code == "small_data")
    assert small.evidence["parameters_per_sample"] == 1750
    cnn = diagnose(history=h, task="classification", n_params=151_498, n_train=1258)
    assert codes(cnn) == ["healthy"]  # the digits CNN template: 120 per sample is fine
    f = diagnose(history=h, task="classification", n_train=30,
                 data_report={"class_counts": {"a": 25, "b": 5}})
    assert "small_data" in codes(f)
    f = diagnose(history={"loss": curve(1, 0.1, 10)}, task="regression", n_train=20)
    assert codes(f) == ["small_data"]
    shares = {"class_balance": {"a": 0.5, "b": 0.5}}  # shares, not counts
    assert codes(diagnose(history=h, task="classification", data_report=shares)) == ["healthy"]
    f = diagnose(history=h, task="classification", data_report=shares, n_train=12)
    assert next(x for x in f if x.code == "small_data").evidence[
        "smallest_class_train_samples"] == 6


def test_findings_sorted_by_severity_and_json_safe(tmp_path):
    h = {"loss": [1.0, NAN], "val_loss": [1.0, INF]}
    f = diagnose(history=h, task="classification", n_params=70_000, n_train=40,
                 leakage_count=3, metrics={"test": {"n": 10}})
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
    assert fix("overfitting", config={"dropout": 0.4, "early_stopping": True})["changes"] == {
        "dropout": 0.5}
    under = fix("underfitting", config={"epochs": 20})
    assert under["changes"] == {"hidden_scale": 2.0, "epochs": 40}
    imbalance = [Finding("class_imbalance", "warning", {"n_classes": 2}),
                 Finding("accuracy_paradox", "warning")]
    assert remedies(imbalance, {})["changes"] == {"class_weight": "balanced"}
    # Already weighted: the next step for a binary task is the validation-chosen threshold.
    assert remedies(imbalance, {"class_weight": "balanced"})["changes"] == {"threshold": "auto"}
    assert fix("class_imbalance", "info")["changes"] == {}
    leak = fix("leakage", "error")
    assert leak["changes"] == {} and any("duplicated" in d for d in leak["description"])
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
        task = ["classification", "regression"][i % 2]
        f = diagnose(history=h, task=task, n_classes=3, metrics={"val": {"r2": 0.5}})
        assert f
        json.dumps([x.to_dict() for x in f], allow_nan=False)
