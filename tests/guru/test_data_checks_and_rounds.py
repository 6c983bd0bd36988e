"""Label errors (cleanlab), near-duplicates across splits, the remedy registry and auto-fix options."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from nnguru.config import resolve_config
from nnguru.errors import NNGuruError
from nnguru.guru import Finding, diagnose
from nnguru.guru.data_checks import label_issues, near_duplicates
from nnguru.guru.remedies import REMEDIES, remedies, strongest_remedy


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x[:900] / 16).astype("float32"), y[:900]


def _flip(y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < share
    out = y.copy()
    out[flip] = (out[flip] + rng.integers(1, 10, flip.sum())) % 10
    return out, flip


def test_label_issues_find_flipped_labels_and_few_on_clean(digits):
    x, y = digits
    clean = label_issues(x, y)
    assert clean["share"] < 0.03
    noisy, flip = _flip(y, 0.2)
    found = label_issues(x, noisy, classes=[f"d{i}" for i in range(10)],
                         items=[f"row {i}" for i in range(len(y))])
    listed = [int(r["item"].split()[1]) for r in found["rows"]]
    assert flip[listed].mean() >= 0.9  # the listed rows really were flipped
    recall = flip[found["train_indices"]].sum() / flip.sum()
    assert recall >= 0.6 and found["share"] > 0.1
    first = found["rows"][0]
    assert first["given"] == f"d{noisy[listed[0]]}" and first["likely"].startswith("d")
    # the finding, with the listing, in diagnosis.json's form
    codes = {f.code: f for f in diagnose(history={"loss": [1.0, 0.5]}, n_classes=10,
                                         label_issues=found)}
    assert codes["label_errors"].severity == "error"
    assert codes["label_errors"].to_dict()["evidence"]["rows"][0]["given"] == first["given"]
    assert "label_errors" not in {f.code for f in diagnose(history={"loss": [1.0, 0.5]},
                                                             n_classes=10, label_issues=clean)}


def test_near_duplicates_count_slightly_changed_copies(digits):
    x, _ = digits
    train, test = x[:600], x[600:]
    rng = np.random.default_rng(0)
    assert near_duplicates(train, test)["count"] <= 2
    copies = train[:30] + rng.normal(0, 0.01, train[:30].shape).astype("float32")
    found = near_duplicates(train, np.vstack([test, copies]))
    assert found["count"] >= 30
    # the leakage rule reads the near copies too
    split = {"train": 600, "val": 0, "test": 330, "duplicates_train_test": 0}
    f = diagnose(history={"loss": [1.0, 0.5]}, n_classes=10, data_report={"split": split},
                 near_duplicates=found["count"])
    leak = [x for x in f if x.code == "leakage"]
    assert leak and leak[0].evidence["near_copies"] >= 30 and leak[0].evidence["exact_copies"] == 0


def test_strongest_remedy_acts_on_the_most_severe_finding():
    findings = [Finding("overfitting", "warning"), Finding("lr_too_high", "error",
                                                           {"advised_lr": 0.01})]
    fix = strongest_remedy(findings, {"lr": 0.1})
    assert fix["codes"] == ["lr_too_high"] and fix["changes"] == {"lr": 0.01}
    only = strongest_remedy(findings, {"lr": 0.1}, only=["overfitting"])
    assert only["codes"] == ["overfitting"] and "dropout" in only["changes"]
    assert strongest_remedy([Finding("healthy", "info")], {})["changes"] == {}


def test_remedies_by_name_for_data_and_network_findings():
    assert {"label_errors", "exploding_gradients", "dead_units", "vanishing_gradients",
            "lr_too_high", "overfitting", "underfitting",
            "class_imbalance"} <= set(REMEDIES)
    drop = remedies([Finding("label_errors", "error", {"train_indices": [5, 2]})], {})
    assert drop["changes"] == {"drop_train_rows": [2, 5]}
    # already dropped: nothing new to do
    assert remedies([Finding("label_errors", "error", {"train_indices": [5, 2]})],
                    {"drop_train_rows": [2, 5]})["changes"] == {}
    # a network finding's remedy is the monitor's model change (guru.remedies.NETWORK_REMEDIES)
    vanish = remedies([Finding("vanishing_gradients", "warning")], {"optimizer": "sgd", "lr": 0.01})
    assert vanish["changes"] == {"activation": "relu", "kernel_initializer": "he_normal"}
    exploding = remedies([Finding("exploding_gradients", "error")], {"lr": 0.1})["changes"]
    assert exploding["lr"] == pytest.approx(0.01) and exploding["clipnorm"] == 1.0


def test_auto_fix_options_and_batch_size_auto():
    cfg = resolve_config(None)
    assert cfg["batch_size"] == "auto" and cfg["auto_fix_rounds"] == 3
    assert resolve_config(None, batch_size="64")["batch_size"] == 64
    assert resolve_config(None, auto_fix_only="lr_too_high, overfitting")["auto_fix_only"] == [
        "lr_too_high", "overfitting"]
    with pytest.raises(NNGuruError, match="auto_fix_rounds"):
        resolve_config(None, auto_fix_rounds=0)
    with pytest.raises(NNGuruError, match="unknown finding code.*'lr_to_high'"):
        resolve_config(None, auto_fix_only="lr_to_high")
    with pytest.raises(NNGuruError, match="batch_size"):
        resolve_config(None, batch_size="big")


@pytest.mark.parametrize("argv", [["--auto-fix-rounds", "0"], ["--auto-fix-only", "nope"]])
def test_cli_refuses_bad_auto_fix_options(argv, capsys):
    from nnguru.cli import main

    assert main(["train", "builtin:iris", "--auto-fix", *argv]) == 2
    err = capsys.readouterr().err
    assert "auto" in err and "Traceback" not in err


def test_a_rate_decades_off_goes_back_to_the_documented_default():
    low = remedies([Finding("lr_too_low", "warning", {"advised_lr": 1e-5})],
                   {"optimizer": "adam", "lr": 1e-6})
    assert low["changes"] == {"lr": 1e-3} and "documented default" in low["description"][0]
    high = remedies([Finding("lr_too_high", "error")], {"optimizer": "adam", "lr": 3.0})
    assert high["changes"] == {"lr": 1e-3}
    # a plain global step decades off (SGD 1e-5 or 30): adam at its default, whose per-weight
    # steps do not depend on the model's scale the way SGD's one rate does
    for lr, code in ((1e-5, "lr_too_low"), (30.0, "lr_too_high")):
        fix = remedies([Finding(code, "warning")], {"optimizer": "sgd", "lr": lr})
        assert fix["changes"] == {"optimizer": "adam", "lr": 1e-3}
        assert "more than a decade" in fix["description"][0]
    # within a decade of the default: one decade, as advised
    assert remedies([Finding("lr_too_high", "error")], {"optimizer": "sgd", "lr": 0.05})[
        "changes"]["lr"] == pytest.approx(0.005)
