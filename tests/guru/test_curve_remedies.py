"""Curve-finding remedies the planted-fault benchmark showed were missing."""

from __future__ import annotations

import pytest

from nnguru.guru import Finding, strongest_remedy
from nnguru.guru.remedies import ADAPTIVE_OPTIMIZER


def _fix(config: dict) -> dict:
    return strongest_remedy([Finding("lr_too_low", "warning", {})], config)["changes"]


def test_a_plain_sgd_crawl_at_its_usual_rate_switches_to_adam():
    # decades below the documented rate: adam at once (one round instead of three)
    assert _fix({"optimizer": "sgd", "lr": 1e-5}) == {"optimizer": ADAPTIVE_OPTIMIZER,
                                                      "lr": pytest.approx(1e-3)}
    # within a decade below it: one decade up
    assert _fix({"optimizer": "sgd", "lr": 2e-3}) == {"lr": pytest.approx(0.02)}
    # still crawling at (or above) it: per-weight steps, not a larger global step
    for opt in ("sgd", {"name": "momentum"}):
        assert _fix({"optimizer": opt, "lr": 0.01}) == {"optimizer": ADAPTIVE_OPTIMIZER,
                                                        "lr": pytest.approx(1e-3)}
    # adaptive optimizers keep the decade step
    assert _fix({"optimizer": "adam", "lr": 1e-3}) == {"lr": pytest.approx(1e-2)}


def test_a_weighted_run_that_catches_the_rare_class_is_no_paradox():
    """With 'balanced' class weights, accuracy near the majority baseline reflects the rare
    class's tiny share (planted-fault tables: 5 rare of 66 validation samples, 2 caught):
    balanced accuracy against chance decides; a still-blind weighted model stays a paradox."""
    from nnguru.guru import diagnose

    counts = {"0": 21, "1": 357}
    report = {"target": {"class_balance": {"counts": counts}}}
    h = {"loss": [0.6, 0.4, 0.3, 0.25, 0.2], "val_loss": [0.5, 0.3, 0.2, 0.15, 0.12]}

    def codes(recall: float, balanced: float, weight: str | None) -> set[str]:
        val = {"accuracy": 0.955, "balanced_accuracy": balanced,
               "per_class": {"0": {"recall": recall}, "1": {"recall": 1.0}}}
        return {f.code for f in diagnose(history=h, data_report=report, metrics={"val": val},
                                         class_weight=weight, n_classes=2)}

    assert "accuracy_paradox" in codes(0.4, 0.7, None)  # accuracy 0.955 vs baseline 0.944
    assert "accuracy_paradox" not in codes(0.4, 0.7, "balanced")
    assert "accuracy_paradox" in codes(0.0, 0.5, "balanced")  # still blind


def test_a_steady_crawl_above_the_prior_loss_is_too_low_not_too_high():
    """SGD at 1e-5 on the planted-fault GRU: the first loss 2.17 is 1.6x ln 4 (an unlucky start)
    and every epoch descends by ~0.1%: a crawl. A curve that stays up there and wanders is still
    overshooting."""
    from nnguru.guru import diagnose

    crawl = [2.1707 - 0.00262 * i for i in range(20)]
    val = [2.0447 - 0.00236 * i for i in range(20)]
    found = {f.code for f in diagnose(history={"loss": crawl, "val_loss": val}, n_classes=4)}
    assert "lr_too_low" in found and "lr_too_high" not in found
    bounce = [2.2, 2.1, 2.3, 2.15, 2.4, 2.2, 2.35, 2.1]
    assert "lr_too_high" in {f.code for f in diagnose(history={"loss": bounce}, n_classes=4)}
