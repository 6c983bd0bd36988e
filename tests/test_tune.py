"""``nnguru tune``: bad input, the search on data prepared once, trial 0 = the default run, resume."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
import yaml

import nnguru
from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.tuning import space as S
from nnguru.tuning.search import PruneOnValLoss

FAST = ["--epochs", "4", "--quiet"]


# ---- bad input: exit 2 with a message naming the input, the value and the fix --------------------------
@pytest.mark.parametrize("argv, words", [
    (["--trials", "0"], ["trials (--trials)", "received 0", "--trials 20"]),
    (["--timeout", "0"], ["timeout (--timeout)", "received 0.0", "> 0"]),
    (["--sampler", "grid"], ["sampler (--sampler)", "'grid'", "tpe, random"]),
])
def test_bad_settings_exit_2(tmp_path, capsys, argv, words):
    assert main(["tune", "builtin:iris", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert not (tmp_path / "r").exists() and not (tmp_path / ".r.partial").exists()


@pytest.mark.parametrize("space, words", [
    ({"units": {"low": 128, "high": 16}}, ["search_space.units", "low (128) is greater than high (16)", "Swap"]),
    ({"units": {"low": -8, "high": 16}}, ["search_space.units", "-8 is out of range", ">= 1"]),
    ({"depth": [1, 2]}, ["unknown parameter(s) ['depth']", "layers"]),
    ({"lr": {"low": 0, "high": 0.1, "log": True}}, ["search_space.lr", "must be > 0"]),
    ({"activation": ["relu", "swoosh"]}, ["search_space.activation", "'swoosh'", "tanh"]),
    ({"optimizer": ["adam", "lbfgs"]}, ["['lbfgs'] take no weight_decay", "weight_decay: null"]),
    ({"dropout": []}, ["search_space.dropout", "empty"]),
])
def test_bad_search_space_exit_2(tmp_path, capsys, space, words):
    config = tmp_path / "tune.yaml"
    config.write_text(yaml.safe_dump({"search_space": space}))
    assert main(["tune", "builtin:iris", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and all(w in err for w in words), err


def test_space_overrides_fix_and_drop():
    fam = S.family_for((4,))
    space = S.parse_space(fam, {"activation": "tanh", "weight_decay": None, "units": {"low": 8, "high": 64}})
    assert space["activation"].choices == ("tanh",) and "weight_decay" not in space
    assert (space["units"].low, space["units"].high) == (8, 64)
    with pytest.raises(NNGuruError, match="dense_units"):  # a cnn parameter, not the mlp's
        S.parse_space(fam, {"dense_units": [64]})


@pytest.mark.parametrize("shape, n_train", [((30,), 500), ((12, 12, 1), 300)])
def test_default_params_rebuild_the_template(shape, n_train):
    """Trial 0's model is the model `nnguru train` builds (same layers, widths and parameter count)."""
    from nnguru.nn import templates
    from nnguru.nn.layers import Dense

    fam = S.family_for(shape)
    params = S.default_params(fam, shape, n_train, S.parse_space(fam))
    ours = fam.build({**params}, shape, [Dense(3, activation="softmax")])
    theirs = templates.build("auto", shape, [Dense(3, activation="softmax")], n_train)
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    assert ours.count_params() == theirs.count_params()


def test_pruning_callback_stops_the_fit_cleanly():
    class Trial:
        reports: list = []

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return len(self.reports) == 2

    class Model:
        stop_training = False

    cb = PruneOnValLoss(Trial())
    cb.set_model(Model())
    for epoch, loss in enumerate([0.9, 1.2]):  # the best so far is reported, not the last value
        cb.on_epoch_end(epoch, {"val_loss": loss})
    assert Trial.reports == [(0, 0.9), (1, 0.9)]
    assert cb.model.stop_training and cb.pruned_at == 2


# ---- a search ------------------------------------------------------------------------------------------
def test_tune_writes_a_run_and_trial_0_is_the_default_run(tmp_path):
    out, config = tmp_path / "tuned", tmp_path / "tune.yaml"
    # without weight decay, whose log-scale range has no "off" (trial 0 would take its 1e-6 floor)
    config.write_text("search_space:\n  weight_decay: null\n")
    assert main(["tune", "builtin:iris", "--trials", "3", "--config", str(config), "--out", str(out), *FAST]) == 0
    for name in ("study.db", "trials.csv", "tune.json", "metrics.json", "report.html", "config.yaml"):
        assert (out / name).is_file(), name
    assert (out / "model" / "weights.safetensors").is_file()
    summary = json.loads((out / "tune.json").read_text())
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and set(trials["state"]) <= {"complete", "pruned"}
    assert summary["best"]["value"] == trials["val_loss"].min()
    html = (out / "report.html").read_text()
    assert 'id="tuning"' in html and 'alt="optimization history"' in html
    # trial 0 is what `nnguru train` does: the same validation loss as a default run (the oracle)
    assert main(["train", "builtin:iris", "--out", str(tmp_path / "default"), *FAST]) == 0
    history = pd.read_csv(tmp_path / "default" / "history.csv")
    default = trials[trials["default"]].iloc[0]
    assert default["number"] == 0
    assert math.isclose(default["val_loss"], history["val_loss"].min(), rel_tol=1e-6)
    # the retrained best is a normal run: its test metrics and its bundle
    assert json.loads((out / "metrics.json").read_text())["test"]["accuracy"] > 0
    assert nnguru.load_model(out / "model").count_params() > 0


def test_resume_continues_the_same_study(tmp_path):
    out = tmp_path / "tuned"

    def interrupt(study, trial):  # Ctrl-C after the second finished trial
        if len(study.trials) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nnguru.tune("builtin:iris", out=out, trials=4, epochs=3, verbose=0, callbacks=[interrupt])
    part = tmp_path / ".tuned.partial"
    assert part.is_dir() and not out.exists()
    before = optuna.load_study(study_name="nnguru-tune", storage=f"sqlite:///{part / 'study.db'}")
    assert len(before.trials) == 2
    run = nnguru.tune(resume=out)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and list(trials["number"]) == [0, 1, 2, 3]  # numbering carried on
    assert sum(run.extras["tune"]["counts"].values()) == 4
    assert main(["tune", "--resume", str(out)]) == 0  # a finished search: nothing to resume, exit 0


def test_resume_refuses_changed_options(tmp_path, capsys):
    out = tmp_path / "tuned"

    def interrupt(study, trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nnguru.tune("builtin:iris", out=out, trials=3, epochs=2, verbose=0, callbacks=[interrupt])
    assert main(["tune", "--resume", str(out), "--seed", "3"]) == 2
    assert "keeps its options" in capsys.readouterr().err


def test_per_trial_time_budget_is_the_training_loops_callback_and_bad_durations_exit_2(tmp_path, capsys):
    from nnguru.callbacks import TimeBudget
    from nnguru.tuning.search import _budget

    (budget,) = _budget(30.0)
    assert isinstance(budget, TimeBudget) and budget.seconds == 30.0 and not budget.restore_best_weights
    assert _budget(None) == []
    assert main(["tune", "builtin:iris", "--time-budget", "ten minutes", "--out", str(tmp_path / "t")]) == 2
    assert "--time-budget" in capsys.readouterr().err and not (tmp_path / "t").exists()


# ---- time: --timeout bounds the whole search ----------------------------------------------------------
def test_search_clock_shares_the_time_left_and_stops_when_a_trial_cannot_fit():
    from nnguru.tuning.search import SearchClock

    now = [0.0]
    clock = SearchClock(timeout=100.0, per_trial=90.0, share=3.0, clock=lambda: now[0])
    assert clock.budget(trials_to_go=20) == 15.0  # 3 x 100 s / 20 trials
    assert clock.budget(trials_to_go=2) == 90.0  # the run's own budget caps the share
    now[0] = 95.0
    assert clock.budget(trials_to_go=2) == 5.0  # never past the timeout (3 x 5 s / 2 is more)
    assert clock.budget(trials_to_go=10) == 1.5
    clock.record(8.0)  # the cheapest trial took 8 s: 5 s left cannot fit one
    assert not clock.fits()
    now[0] = 90.0
    assert clock.fits()
    assert SearchClock(None, 30.0).budget(5) == 30.0 and SearchClock(None, None).fits()


def test_timeout_bounds_the_whole_search(tmp_path):
    """A 3 s search for 10 long trials: each trial trains within its share of the time left (so none
    runs past the limit) and trials stop starting once what is left cannot fit one."""
    out = tmp_path / "tuned"
    run = nnguru.tune("builtin:iris", out=out, trials=10, timeout=3, pruner="none", epochs=5000, patience=5000,
                      time_budget=1, verbose=0)
    trials = pd.read_csv(out / "trials.csv")
    assert 1 <= len(trials) < 10  # stopped by the limit, not by the trial count
    assert trials["budget_reached"].all() and (trials["time_budget"] <= 3 / 10 + 0.05).all()
    assert (trials["seconds"] <= trials["time_budget"] + 1.0).all()  # one step and a validation pass over
    study = optuna.load_study(study_name="nnguru-tune", storage=f"sqlite:///{out / 'study.db'}")
    start = study.trials[0].datetime_start
    assert all((t.datetime_start - start).total_seconds() < 3 for t in study.trials)  # none started late
    assert run.extras["tune"]["timeout"] == 3 and run.extras["tune"]["search_seconds"] > 0
    assert "Time limit (--timeout): 3 s for the whole search" in (out / "report.html").read_text()


def test_cnn_searches_narrower_ranges_on_a_cpu():
    fam = S.family_for((28, 28, 1))
    cpu, full = S.parse_space(fam, cpu=True), S.parse_space(fam)
    assert cpu["units"].high == 32 < full["units"].high and cpu["layers"].high == 2 < full["layers"].high
    assert 16 not in cpu["batch_size"].choices
    # the template's own values stay inside, so trial 0 is still the default run
    assert set(S.default_params(fam, (28, 28, 1), 1000, cpu)) == set(S.default_params(fam, (28, 28, 1), 1000, full))
    assert S.parse_space(fam, {"units": {"low": 8, "high": 64}}, cpu=True)["units"].high == 64  # the config wins


def test_killed_search_resumes_and_the_trial_count_carries_on(tmp_path):
    """SIGKILL a `nnguru tune` process after its second finished trial, then `--resume`: the same study
    goes on (numbers carry on past the killed trial) to the trials asked for."""
    out = tmp_path / "tuned"
    db = tmp_path / ".tuned.partial" / "study.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "nnguru.cli", "tune", "builtin:iris", "--trials", "5", "--epochs", "60",
           "--patience", "60", "--pruner", "none", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, finished = time.monotonic() + 120, 0
    try:
        while finished < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if db.exists():
                # (the tables may not exist yet)
                with contextlib.closing(sqlite3.connect(db)) as con, contextlib.suppress(sqlite3.OperationalError):
                    finished = con.execute("select count(*) from trials where state in "
                                           "('COMPLETE', 'PRUNED')").fetchone()[0]
        assert proc.poll() is None, proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()
    assert finished >= 2 and not out.exists()
    run = nnguru.tune(resume=out, verbose=0)
    trials = pd.read_csv(out / "trials.csv")
    done = trials[trials["state"].isin(["complete", "pruned"])]
    assert len(done) == 5 and sum(run.extras["tune"]["counts"].get(s, 0) for s in ("complete", "pruned")) == 5
    assert trials["number"].tolist() == list(range(len(trials)))  # one study, numbering carried on
    assert set(trials["state"]) <= {"complete", "pruned", "fail"}  # the killed trial is marked failed


def test_pruners_by_name():
    from nnguru.tuning.search import _pruner, check_settings

    assert isinstance(_pruner("hyperband", 50), optuna.pruners.HyperbandPruner)
    assert isinstance(_pruner("halving", 50), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(_pruner("none", 50), optuna.pruners.NopPruner)
    with pytest.raises(NNGuruError, match="median, halving, hyperband, none"):
        check_settings({"trials": 5, "sampler": "tpe", "pruner": "asha"})


@pytest.mark.parametrize(("family", "optimizer", "lr_decay", "expected"), [
    ("cnn", "adam", None, "BudgetDecay"),  # the cnn template's decay over the trial's budget, as nnguru train
    ("cnn", "sgd", None, "BudgetDecay"),  # whatever optimizer the trial drew: the same recipe for every trial
    ("cnn", "adam", "none", None),  # the user's --lr-decay none holds in trials too
    ("mlp", "adam", None, None)])  # a non-table mlp: no schedule
def test_trials_train_with_the_default_runs_schedule(family, optimizer, lr_decay, expected):
    """A trial's schedule and early stopping are nnguru train's, on the trial's options: under the cnn's
    budget decay the rate reaches 0 at the budget and early stopping only keeps the best epoch."""
    from nnguru import pipeline
    from nnguru.callbacks import TimeBudget
    from nnguru.tuning import search

    timer = TimeBudget(30)
    params = {"optimizer": optimizer, "dropout": 0.3, "batch_size": 32, "lr": 1e-3}
    run = search.trial_config({"optimizer": "adam", "batch_size": "auto", "lr_decay": lr_decay, "dropout": None,
                               "lr": None}, params, S._FAMILIES[family])
    assert run["optimizer"] == {"name": optimizer} and run["batch_size"] == 32 and run["dropout"] == 0.3
    cbs = pipeline._schedule(run, object(), 20, timer)
    assert [type(cb).__name__ for cb in cbs] == ([expected] if expected else [])
    if expected:
        assert cbs[0].time_budget is timer and cbs[0].epochs == 20
    assert pipeline.stops_early(run, object(), True, 30.0) is (expected is None)


def test_the_best_trial_retrains_with_its_trials_recipe(tmp_path):
    """The retrained best runs what its trial ran: the searched optimizer under the cnn's budget decay
    (not the constant rate nnguru train keeps for an optimizer a user picks), without early stopping's
    cut, for its budget; config.yaml says so, so rerunning it trains the same way."""
    out = tmp_path / "tuned"
    config = tmp_path / "tune.yaml"
    config.write_text("search_space:\n  optimizer: [rmsprop]\n  layers: 1\n  units: 8\n  batch_size: [64]\n")
    nnguru.tune("builtin:digits", out=out, trials=2, pruner="none", time_budget=2, config=config, verbose=0)
    summary = json.loads((out / "tune.json").read_text())
    assert summary["family"] == "cnn" and summary["best"]["params"]["optimizer"] == "rmsprop"
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["lr_decay"] == "budget" and cfg["optimizer"]["name"] == "rmsprop" and cfg["time_budget"] == 2
    history = pd.read_csv(out / "history.csv")
    trials = pd.read_csv(out / "trials.csv")
    # both ran to their 2 s budget: the rate decayed towards 0 and no patience ended them first
    assert trials["budget_reached"].all() and history["lr"].iloc[-1] < 0.5 * history["lr"].iloc[0]
