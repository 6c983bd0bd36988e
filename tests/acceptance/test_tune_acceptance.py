"""Issue 15's acceptance for ``nnguru tune``: 20 trials within a time limit improve validation over the
default run; the retrained best's test metric is printed next to the default's (recorded in
benchmarks/RESULTS.md, "Tuning"; the test metric is reported, not asserted: it may honestly be worse).
"""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from nnguru.cli import main


def _compare(tmp_path, data: str, *argv: str, trials: int = 20, timeout: int = 900) -> dict:
    default, tuned = tmp_path / "default", tmp_path / "tuned"
    t0 = time.perf_counter()
    assert main(["train", data, *argv, "--out", str(default), "--quiet"]) == 0
    t_default = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert main(["tune", data, *argv, "--trials", str(trials), "--timeout", str(timeout), "--out", str(tuned),
                 "--quiet"]) == 0
    t_tune = time.perf_counter() - t0
    d, t = (json.loads((run / "metrics.json").read_text()) for run in (default, tuned))
    summary = json.loads((tuned / "tune.json").read_text())
    val_loss_default = pd.read_csv(default / "history.csv")["val_loss"].min()
    row = {"data": data, "trials": sum(summary["counts"].values()), "counts": summary["counts"],
           "val_loss": (val_loss_default, summary["best"]["value"]),
           "val": (d["val"], t["val"]), "test": (d["test"], t["test"]),
           "seconds": (round(t_default, 1), round(t_tune, 1)), "best": summary["best"]["params"]}
    print(json.dumps(row, default=str))
    return row


@pytest.mark.slow
def test_tune_pima(shared_datasets, tmp_path):
    row = _compare(tmp_path, str(shared_datasets / "pima_indians_diabetes" / "pima-indians-diabetes.csv"),
                   "--target", "-1")
    assert row["trials"] == 20
    assert row["val_loss"][1] < row["val_loss"][0]  # the search improved validation over the default run


@pytest.mark.slow
@pytest.mark.xfail(run=False, reason="issue 15: not measured yet; 5+ CNN trials on the spoken digits take over "
                   "10 minutes on 2 CPU cores, past CI's budget. Run with --runxfail on a faster machine.")
def test_tune_spoken_digits(shared_datasets, tmp_path):
    row = _compare(tmp_path, str(shared_datasets / "free_spoken_digit_dataset" / "recordings"),
                   "--label-from-name", r"^(\d+)_", "--epochs", "8", timeout=300)
    assert row["trials"] >= 5  # within the time limit
    assert row["val_loss"][1] < row["val_loss"][0]
