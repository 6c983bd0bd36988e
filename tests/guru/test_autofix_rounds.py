"""``--auto-fix`` rounds end to end through ``nnguru.train`` on iris (small, a few seconds a run)."""

from __future__ import annotations

import json

import nnguru


def test_rounds_fix_a_crawl_and_choose_on_validation(tmp_path):
    run = nnguru.train("builtin:iris", optimizer="sgd", lr=1e-5, epochs=8, auto_fix=True,
                       auto_fix_rounds=2, out=tmp_path / "run", verbose=0)
    fix = json.loads((tmp_path / "run" / "auto_fix.json").read_text())
    rounds = fix["rounds"]
    assert rounds[0]["round"] == 0 and "lr_too_low" in rounds[0]["diagnosis"]
    assert 2 <= len(rounds) <= 3
    assert rounds[1]["codes"] == ["lr_too_low"] and rounds[1]["changes"]["lr"] > 1e-5
    # the kept round is the best on validation, and the run directory holds it
    assert fix["selected_by"] == "val_loss_best"  # the class weights did not change
    best = min(range(len(rounds)), key=lambda i: rounds[i]["val_loss_best"])
    assert fix["chosen"] == best
    assert run.metrics["val"] == rounds[fix["chosen"]]["val"]
    assert not list((tmp_path / "run").glob("_auto_fix_*"))


def test_a_healthy_run_is_left_alone(tmp_path):
    run = nnguru.train("builtin:iris", auto_fix=True, out=tmp_path / "ok", verbose=0, epochs=60)
    fix = json.loads((tmp_path / "ok" / "auto_fix.json").read_text())
    codes = [f.code for f in run.diagnosis]
    assert codes == ["healthy"], codes
    assert fix["applied"] is False and len(fix["rounds"]) == 1 and fix["chosen"] == 0


def test_the_report_shows_every_round():
    from nnguru.report.html import _autofix_rounds

    fix = {"chosen": 1, "selected_by": "balanced_accuracy", "rounds": [
        {"round": 0, "description": ["the run as configured"], "val": {"balanced_accuracy": 0.5},
         "diagnosis": ["lr_too_low"]},
        {"round": 1, "description": ["learning rate 1e-05 -> 0.01"],
         "val": {"balanced_accuracy": 0.9}, "diagnosis": ["healthy"]}]}
    html = _autofix_rounds(fix)
    assert html.count("<tr>") == 3 and "1 (kept)" in html and "0.9" in html
    assert "learning rate 1e-05 -&gt; 0.01" in html
