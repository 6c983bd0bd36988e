"""Curve-finding remedies the planted-fault benchmark showed were missing."""

from __future__ import annotations

import pytest

from nnguru.guru import Finding, strongest_remedy
from nnguru.guru.remedies import ADAPTIVE_OPTIMIZER


def _fix(config: dict) -> dict:
    return strongest_remedy([Finding("lr_too_low", "warning", {})], config)["changes"]


def test_a_plain_sgd_crawl_at_its_usual_rate_switches_to_adam():
    # far below the documented rate: straight back to it (one round instead of three)
    assert _fix({"optimizer": "sgd", "lr": 1e-5}) == {"lr": pytest.approx(0.01)}
    # within a decade below it: one decade up
    assert _fix({"optimizer": "sgd", "lr": 2e-3}) == {"lr": pytest.approx(0.02)}
    # still crawling at (or above) it: per-weight steps, not a larger global step
    for opt in ("sgd", {"name": "momentum"}):
        assert _fix({"optimizer": opt, "lr": 0.01}) == {"optimizer": ADAPTIVE_OPTIMIZER,
                                                        "lr": pytest.approx(1e-3)}
    # adaptive optimizers keep the decade step
    assert _fix({"optimizer": "adam", "lr": 1e-3}) == {"lr": pytest.approx(1e-2)}
