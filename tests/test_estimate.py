"""nnguru.estimate: FLOPs against a hand count, the estimate's structure, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nnguru import Sequential, estimate
from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.layers import Dense, Flatten


def _mlp():
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def test_flops_match_a_hand_count():
    model = _mlp()
    x, _ = _data(2)
    model.build(x.shape[1:])
    # a multiply-add counts 2: 784x128 and 128x10 matrix products per sample (bias adds and ReLU not counted)
    assert estimate.count_flops(model, torch.as_tensor(x)) == 2 * (784 * 128 + 128 * 10)
    assert estimate.activation_elements(model, torch.as_tensor(x)) == 784 + 128 + 10


def test_estimate_structure_and_the_model_is_untouched():
    x, y = _data(400)
    xv, yv = _data(100, seed=1)
    model = _mlp()
    model.build(x.shape[1:])
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    est = estimate.estimate_fit(model, x, y, xv, yv, batch_size=32, epochs=200, patience=10, price_per_hour=3.6)
    for key, value in model.state_dict().items():  # a copy was timed
        torch.testing.assert_close(value, weights[key])
    assert torch.equal(torch.get_rng_state(), rng)  # the run that follows shuffles as without the estimate
    d = est.to_dict()
    for key in ("seconds", "seconds_per_epoch", "epochs", "peak_memory_mb", "flops_per_sample", "cost"):
        assert key in d
    assert est.params == 784 * 128 + 128 + 128 * 10 + 10 and est.steps_per_epoch == 13
    assert est.seconds_per_step > 0 and est.validation_seconds > 0
    assert est.seconds_per_epoch == pytest.approx(13 * est.seconds_per_step + est.validation_seconds
                                                  + est.epoch_overhead_seconds)
    assert est.stop == "early stopping" and est.epochs == 40  # 4 patiences, below the cap of 200
    assert est.seconds == pytest.approx(40 * est.seconds_per_epoch)
    # the usual range: early stopping's quartiles, 2.5 and 7.3 patiences (25 and 73 epochs)
    assert est.seconds_low == pytest.approx(25 * est.seconds_per_epoch)
    assert est.seconds_high == pytest.approx(73 * est.seconds_per_epoch)
    assert "usually" in est.summary()
    assert est.cost == pytest.approx(est.seconds / 1000)  # 3.6 per hour = 0.001 per second
    assert est.peak_memory_mb * 2**20 > x.nbytes + xv.nbytes
    assert "parameters" in est.summary()


def test_time_budget_caps_the_estimate():
    x, y = _data(200)
    est = estimate.estimate_fit(_mlp(), x, y, batch_size=32, epochs=50, time_budget=1e-4)
    # not one epoch fits: the first is cut at the budget, then the step under way ends
    assert est.stop == "time budget" and est.epochs == 1 and est.seconds == pytest.approx(1e-4 + est.seconds_per_step)


@pytest.mark.parametrize(("per_epoch", "budget", "expected"), [(25.0, 90.0, (3, 75.0)), (30.0, 90.0, (3, 90.0)),
                                                               (100.0, 90.0, (1, 95.0))])
def test_budget_stop(per_epoch, budget, expected):
    assert estimate.budget_stop(per_epoch, budget, tail=5.0) == expected


@pytest.mark.parametrize(("cap", "patience", "expected"), [(200, 10, (40, "early stopping")),
                                                           (40, 10, (40, "epochs")), (7, None, (7, "epochs"))])
def test_expected_epochs(cap, patience, expected):
    assert estimate.expected_epochs(cap, patience) == expected


@pytest.mark.parametrize("price", ["abc", "-1", "nan", True])
def test_bad_price(price):
    with pytest.raises(NNGuruError, match=r"price_per_hour \(--price-per-hour\) must be a number >= 0"):
        estimate.parse_price(price)


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--price-per-hour", "two dollars", "price_per_hour"), ("--epochs", "0", "epochs (--epochs) must be"),
    ("--device", "tpu", "device (--device) 'tpu' is not a device name"),
    ("--time-budget", "soon", "time_budget (--time-budget) must be a positive duration")])
def test_cli_bad_input_exits_2(tmp_path, capsys, flag, value, message):
    assert main(["estimate", "builtin:iris", "--out", str(tmp_path / "e.json"), flag, value]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "e.json").exists()


def test_cli_writes_estimate_json(tmp_path):
    out = tmp_path / "estimate.json"
    assert main(["estimate", "builtin:iris", "--out", str(out), "--epochs", "30", "--quiet"]) == 0
    d = json.loads(out.read_text())
    assert d["kind"] == "nnguru.estimate" and d["epochs_cap"] == 30 and d["seconds"] > 0 and d["cost"] is None
    assert main(["estimate", "builtin:iris", "--out", str(out), "--quiet"]) == 2  # no silent overwrite


# ---- the time model and the whole command, on fake timings ----------------------------------------
@pytest.fixture
def fake_timings(monkeypatch):
    """Steps of 10 ms, 5 ms per epoch outside them, validation at 1 ms per 100 rows."""
    monkeypatch.setattr(estimate, "time_training", lambda *a, **k: estimate._Timing(0.010, 0.005, "fake"))
    monkeypatch.setattr(estimate, "time_validation", lambda model, x, y, batch_size=32, **k: len(x) * 1e-5)


def test_time_model_on_fake_timings(fake_timings):
    x, y = _data(640)
    xv, yv = _data(300, seed=1)
    est = estimate.estimate_fit(_mlp(), x, y, xv, yv, batch_size=32, epochs=200, patience=10,
                                after=estimate.after_rows(640, 300, 300), before_seconds=4.0)
    # 20 steps x 10 ms + validation 300 x 10 us + 5 ms outside the steps
    assert est.seconds_per_epoch == pytest.approx(20 * 0.010 + 0.003 + 0.005)
    assert est.epochs == 40 and est.seconds == pytest.approx(40 * est.seconds_per_epoch)
    assert est.seconds_per_row == pytest.approx(1e-5)
    # after training: val + test + the training items' embeddings + the similarity queries, and the fixed part
    rows = 640 + 300 + 300 + 300
    assert est.after_seconds == pytest.approx(estimate.AFTER_FIXED_SECONDS + rows * 1e-5)
    assert est.command_seconds == pytest.approx(4.0 + est.seconds + est.after_seconds)
    assert "in all" in est.summary()


def test_data_check_seconds_follow_their_sizes():
    from nnguru.guru import data_checks as dc

    lab, near = estimate.LABEL_SECONDS_PER_UNIT, estimate.NEAR_DUP_SECONDS_PER_UNIT
    assert estimate.check_seconds(600, 100, 12, 2) == pytest.approx(lab * 600 * 12 * 2 + near * 600 * 100 * 12)
    assert estimate.check_seconds(600, 100, 12, None) == pytest.approx(near * 600 * 100 * 12)  # no labels
    big = estimate.check_seconds(51_000, 10_000, 784, 10)  # both checks sample: MNIST's sizes are capped
    assert big == pytest.approx(lab * dc.LABEL_MAX_SAMPLES * dc.LABEL_MAX_FEATURES * 10
                                + near * dc.NEAR_DUP_MAX_TRAIN * dc.NEAR_DUP_MAX_TEST * 784)
    assert estimate.after_seconds(1e-4, 1000, 2.5) == pytest.approx(estimate.AFTER_FIXED_SECONDS + 0.1 + 2.5)


def test_plan_rebudgets_an_estimate(fake_timings):
    x, y = _data(640)
    xv, yv = _data(300, seed=1)
    est = estimate.estimate_fit(_mlp(), x, y, xv, yv, batch_size=32, epochs=200, patience=10,
                                after=0, before_seconds=0.0)
    per_epoch = est.seconds_per_epoch
    tight = estimate.plan(est, 5.5 * per_epoch)  # 5 whole epochs fit, the 6th would not
    assert (tight.epochs, tight.stop) == (5, "time budget")
    assert tight.seconds == pytest.approx(5 * per_epoch)
    assert tight.command_seconds == pytest.approx(tight.seconds + est.after_seconds)
    loose = estimate.plan(tight, 1000.0)  # a budget that does not bind: early stopping's stop again
    assert (loose.epochs, loose.stop, loose.seconds) == (40, "early stopping", pytest.approx(40 * per_epoch))
    assert tight.seconds_low == tight.seconds_high == tight.seconds  # the budget decides: no range
    assert (loose.seconds_low, loose.seconds_high) == (pytest.approx(25 * per_epoch), pytest.approx(73 * per_epoch))
    assert tight.seconds_max == pytest.approx(5 * per_epoch)  # the most: the budget's whole epochs...
    assert loose.seconds_max == pytest.approx(200 * per_epoch)  # ...or the epoch cap
    assert "at most" in loose.summary()
    assert estimate.plan(est, None).seconds == pytest.approx(est.seconds)


def test_estimate_without_validation_times_inference_on_training_rows(fake_timings):
    x, y = _data(640)
    est = estimate.estimate_fit(_mlp(), x, y, batch_size=32, epochs=7, after=10, before_seconds=1.0)
    assert est.epochs == 7 and est.stop == "epochs" and est.validation_seconds == 0.0
    assert est.seconds_per_row == pytest.approx(1e-5)


@pytest.mark.parametrize(("lr_decay", "stop"), [(None, "time budget"), ("none", "early stopping")])
def test_an_image_run_is_predicted_to_last_its_budget_under_the_budget_decay(fake_timings, monkeypatch, lr_decay,
                                                                             stop):
    monkeypatch.setattr(estimate, "PROBE_SECONDS", 0.5)
    # builtin:digits is 8x8 images: the cnn, whose rate decays to 0 over the budget (no early stop)
    est = estimate.estimate("builtin:digits", time_budget="30s", lr_decay=lr_decay)
    assert est.stop == stop
    if stop == "time budget":  # the budget's whole epochs, not early stopping's typical stop
        assert est.epochs == int(30 // est.seconds_per_epoch) and est.seconds <= 30.0
    else:  # early stopping: replayed for PROBE_SECONDS (0.5 here), then at least the typical stop
        assert 0 < est.probe_epochs < est.epochs_cap and est.probe_ended == ""
        assert est.epochs >= max(round(estimate.TYPICAL_STOP_PATIENCES * est.patience), est.probe_epochs + 1,
                                 est.probe_best_epoch + est.patience)


# ---- where early stopping ends: the replay of the run's start ----------------------------------------
def _noisy_table(n: int, seed: int):
    """A linear rule with a third of its labels flipped: the validation loss turns within a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    flip = rng.random(n) < 0.33
    return x, np.where(flip, 1 - y, y)


def _small_mlp():
    from nnguru.layers import Dropout

    model = Sequential([Dense(64, activation="relu", input_shape=(8,)), Dropout(0.2), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_the_probe_replays_the_run_to_the_epoch_where_early_stopping_ends():
    from nnguru.callbacks import EarlyStopping

    x, y = _noisy_table(400, 0)
    xv, yv = _noisy_table(100, 1)
    torch.manual_seed(0)
    model = _small_mlp()
    model.build((8,))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    probe = estimate.probe_run(model, x, y, xv, yv, batch_size=16, epochs=300, patience=4, seconds=60)
    for key, value in model.state_dict().items():  # a copy was trained
        torch.testing.assert_close(value, weights[key])
    assert torch.equal(torch.get_rng_state(), rng)
    early = EarlyStopping(patience=4, restore_best_weights=True)
    history = model.fit(x, y, batch_size=16, epochs=300, validation_data=(xv, yv), callbacks=[early], verbose=0)
    # the same shuffles and dropout masks: the run stops where its replay stopped
    assert probe.ended == "early stopping" and early.stopped_epoch is not None
    assert probe.epochs == len(history.logs["loss"]) < 300 and probe.best_epoch == early.best_epoch + 1
    assert len(probe.epoch_seconds) == probe.epochs and all(s > 0 for s in probe.epoch_seconds)


def test_a_probe_out_of_time_says_how_far_the_run_goes_at_least():
    x, y = _data(2000)
    probe = estimate.probe_run(_mlp(), x, y, x[:200], y[:200], batch_size=32, epochs=500, patience=400, seconds=0.3)
    assert probe.ended == "" and 1 <= probe.epochs < 500


@pytest.mark.parametrize(("probe", "expected"), [
    (estimate.Probe(17, 7, "early stopping", [], 0.0), (17, "early stopping")),  # ended: known
    (estimate.Probe(30, 28, "", [], 0.0), (40, "early stopping")),  # out of time early: the typical stop
    (estimate.Probe(60, 55, "", [], 0.0), (65, "early stopping")),  # ...later: the patience past its best
    (estimate.Probe(150, 148, "", [], 0.0), (155, "epochs"))])  # ...past the cap: the cap
def test_expected_epochs_from_a_probe(probe, expected):
    assert estimate.expected_epochs(155 if probe.epochs == 150 else 200, 10, probe=probe) == expected


def test_train_predicts_a_table_run_to_the_epoch(tmp_path):
    import json

    import pandas as pd

    from nnguru import pipeline

    x, y = _noisy_table(600, 3)
    path = tmp_path / "noisy.csv"
    pd.DataFrame({**{f"f{i}": x[:, i] for i in range(8)}, "label": y}).to_csv(path, index=False)
    run = pipeline.train(str(path), target="label", out=tmp_path / "run", verbose=0)
    m = json.loads((run.run_dir / "metrics.json").read_text())
    est = m["estimate"]
    assert est["probe_ended"] == "early stopping" and est["stop"] == "early stopping"
    assert est["epochs"] == est["actual_epochs"] == m["epochs_run"] < est["epochs_cap"]
    assert est["seconds_low"] == est["seconds_high"] == est["seconds"]  # known, not a range
