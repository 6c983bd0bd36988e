"""Forecasting end to end: time-ordered split, rolling-origin metrics, baselines, predict, bundle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from series_data import daily_series, monthly_series

import nnguru
from nnguru.cli import main
from nnguru.evaluate.forecast import baseline_forecasts


@pytest.fixture(scope="module")
def monthly_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "run"
    return nnguru.train(monthly_series(), target="sales", task="forecast", horizon=12, out=out, verbose=0)


def test_monthly_run_beats_seasonal_naive_with_a_time_ordered_split(monthly_run):
    m, report = monthly_run.metrics, monthly_run.data_report
    assert m["task"] == "forecast" and set(m["baseline"]) == {"naive", "seasonal_naive", "seasonal_naive_drift"}
    for block in (m["test"], *m["baseline"].values()):
        assert {"mae", "rmse", "mape", "smape", "mase"} <= set(block)
    assert m["test"]["mape"] < m["baseline"]["seasonal_naive"]["mape"]
    assert m["test"]["mae"] < m["baseline"]["seasonal_naive"]["mae"]
    f = report["forecast"]
    assert f["season"] == 12 and f["window"] >= 24 and f["transform"] == "log"
    split = report["split"]
    assert split["method"] == "chronological" and split["steps"] == {"train": 156 - 36 - 24, "val": 24, "test": 36}
    assert split["test"] == 36 - 12 + 1  # rolling origins whose whole horizon lies in the test span


def test_forecasts_table_matches_metrics_and_never_reads_the_future(monthly_run):
    frame = pd.read_csv(monthly_run.run_dir / "forecasts.csv", parse_dates=["origin", "time"])
    data = monthly_series()
    test_start = pd.Timestamp(monthly_run.data_report["split"]["test_starts"])
    assert (frame["time"] >= test_start).all() and (frame["time"] > frame["origin"]).all()
    assert len(frame) == monthly_run.metrics["test"]["n"] == 25 * 12
    mae = float(np.mean(np.abs(frame["actual"] - frame["forecast"])))
    assert mae == pytest.approx(monthly_run.metrics["test"]["mae"])
    # the naive baselines are recomputed from the raw data up to each origin
    values = data["sales"].to_numpy()
    times = pd.to_datetime(data["month"])
    origin = frame["origin"].iloc[0]
    t = int(np.flatnonzero(times == origin)[0])
    expected = baseline_forecasts(values[:t + 1], 12, 12)
    first = frame[frame["origin"] == origin].sort_values("step")
    np.testing.assert_allclose(first["seasonal_naive_drift"], expected["seasonal_naive_drift"])
    np.testing.assert_allclose(first["actual"], values[t + 1:t + 13])


def test_training_statistics_do_not_see_the_test_span(monthly_run):
    pre = monthly_run.model.preprocessor
    changed = monthly_series()
    changed.loc[len(changed) - 36:, "sales"] *= 50  # a wild test span
    other = nnguru.train(changed, target="sales", task="forecast", horizon=12, verbose=0,
                         out=monthly_run.run_dir.parent / "changed")
    for key in pre.scales:
        np.testing.assert_allclose(other.model.preprocessor.scales[key], pre.scales[key])


def test_predict_continues_the_series_with_timestamps_and_reloads(monthly_run, tmp_path):
    data = monthly_series()
    table = monthly_run.predict_table(data, horizon=18)  # 12 direct steps, then recursive
    assert list(table.columns) == ["time", "step", "prediction"] and len(table) == 18
    assert table["time"].iloc[0] == pd.Timestamp("2013-01-01") and table["time"].iloc[-1] == pd.Timestamp("2014-06-01")
    loaded = nnguru.load_model(monthly_run.run_dir / "model")
    assert type(loaded.preprocessor).__name__ == "SeriesPreprocessor"
    # the Keras-style door: a loaded model forecasts from the end of the raw series it is given
    np.testing.assert_allclose(loaded.predict(data)[0], table["prediction"].iloc[:12], rtol=1e-5)
    data.to_csv(tmp_path / "series.csv", index=False)
    out = tmp_path / "preds.csv"
    assert main(["predict", str(monthly_run.run_dir), str(tmp_path / "series.csv"), "--out", str(out)]) == 0
    preds = pd.read_csv(out)
    np.testing.assert_allclose(preds["prediction"], table["prediction"].iloc[:12], rtol=1e-5)
    # forecasting a shorter history gives a different, still sensible forecast
    shorter = monthly_run.predict(data.iloc[:-12])
    assert len(shorter) == 12 and np.all(np.abs(shorter / data["sales"].iloc[-12:].to_numpy() - 1) < 0.2)


def test_evaluate_scores_a_new_series_by_rolling_origin(monthly_run, tmp_path):
    monthly_series(seed=5).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(monthly_run.run_dir), str(tmp_path / "new.csv"), "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())["test"]
    assert result["mape"] < result["baseline"]["naive"]["mape"]


def test_one_step_daily_forecast_beats_the_naive_baseline_clearly(tmp_path):
    run = nnguru.train(daily_series(), target="load", task="forecast", out=tmp_path / "d", verbose=0)
    m = run.metrics
    assert run.data_report["forecast"]["season"] == 7
    assert m["test"]["mae"] < 0.8 * m["baseline"]["naive"]["mae"]


def test_several_series_share_one_model(tmp_path):
    a, b = monthly_series(120, seed=1), monthly_series(120, seed=2)
    b["sales"] *= 10  # another scale: each series is scaled on its own
    frame = pd.concat([a.assign(store="a"), b.assign(store="b")], ignore_index=True)
    run = nnguru.train(frame, target="sales", task="forecast", series_id="store", horizon=3,
                       out=tmp_path / "multi", verbose=0)
    forecasts = pd.read_csv(run.run_dir / "forecasts.csv")
    assert set(forecasts["series"]) == {"a", "b"}
    assert run.metrics["test"]["mase"] < run.metrics["baseline"]["naive"]["mase"]
    table = run.predict_table(frame)
    assert list(table.columns) == ["series", "time", "step", "prediction"] and len(table) == 6
    assert table.loc[table.series == "b", "prediction"].mean() > 5 * table.loc[table.series == "a", "prediction"].mean()


def test_auto_task_forecasts_a_plain_series_and_warns_on_a_time_ordered_table(tmp_path, monthly_csv):
    assert main(["train", str(monthly_csv), "--target", "sales", "--out", str(tmp_path / "auto"), "--quiet",
                 "--epochs", "3"]) == 0
    assert json.loads((tmp_path / "auto" / "metrics.json").read_text())["task"] == "forecast"
    table = monthly_series()
    table["price"] = np.linspace(1, 2, len(table))
    run = nnguru.train(table, target="sales", out=tmp_path / "table", verbose=0, epochs=2)
    assert run.metrics["task"] == "regression"
    assert any("--task forecast" in w for w in run.data_report["warnings"])


def test_rnn_and_conv1d_templates_train_on_windows(tmp_path):
    for template in ("rnn", "conv1d"):
        run = nnguru.train(monthly_series(), target="sales", task="forecast", horizon=3, model=template,
                           epochs=3, out=tmp_path / template, verbose=0)
        assert run.model.name == template and run.metrics["test"]["mae"] > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--horizon", "0"], "horizon (--horizon) must be a positive whole number"),
    (["--window", "150"], "too short"),
    (["--series-id", "shop"], "--series-id 'shop' is not a column"),
    (["--time", "when"], "--time 'when' is not a column"),
])
def test_bad_forecast_options_exit_2_without_writing(tmp_path, monthly_csv, capsys, argv, message):
    out = tmp_path / "run"
    code = main(["train", str(monthly_csv), "--target", "sales", "--task", "forecast", "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()  # refused before a run directory was made
    out.mkdir()
    (out / "metrics.json").write_text("a run of mine")
    assert main(["train", str(monthly_csv), "--target", "sales", "--task", "forecast", "--out", str(out),
                 "--overwrite", *argv]) == 2
    assert (out / "metrics.json").read_text() == "a run of mine"  # --overwrite replaces nothing on bad input


def test_bad_series_exit_2(tmp_path, capsys):
    cases = {
        "short": (monthly_series(30), "too short"),
        "text": (monthly_series().assign(sales=lambda d: d["sales"].astype(str).where(d.index != 5, "lots")),
                 "must be numbers"),
        "dup": (pd.concat([monthly_series().iloc[:3], monthly_series()], ignore_index=True), "duplicated timestamps"),
        "bad_time": (monthly_series().assign(month=lambda d: d["month"].where(d.index != 7, "someday")),
                     "unparseable timestamps"),
    }
    for name, (frame, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        code = main(["train", str(path), "--target", "sales", "--task", "forecast", "--horizon", "12",
                     "--time", "month", "--out", str(tmp_path / f"run_{name}")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (name, err)


def test_guru_says_plainly_when_a_naive_forecast_wins(tmp_path):
    """A random walk: the last value is the best forecast there is; the guru's verdict follows the
    scores (worse_than_baseline exactly when a baseline beats the model), with forecasting advice."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=400, freq="D").strftime("%Y-%m-%d"),
                          "v": 100 + np.cumsum(rng.normal(0, 1, 400))})
    run = nnguru.train(frame, target="v", task="forecast", out=tmp_path / "rw", verbose=0, epochs=5)
    best = min(b["mase"] for b in run.metrics["baseline"].values())
    findings = {f.code: f for f in run.diagnosis}
    assert ("worse_than_baseline" in findings) == (run.metrics["test"]["mase"] > best)
    if "worse_than_baseline" in findings:
        assert "window" in findings["worse_than_baseline"].advice and "healthy" not in findings
    # the rule on this run's own numbers, with the model made worse than the naive forecast
    from nnguru.guru import diagnose

    metrics = {**run.metrics, "test": {**run.metrics["test"], "mase": best * 1.5}}
    # (this rule alone: on a GPU, bf16 training can give a curve that lr_too_low/high explains first,
    # and those suppress it by design)
    planted = diagnose(history=run.history, data_report=run.data_report, metrics=metrics,
                       rules=("worse_than_baseline",), headline="mase")
    finding = next(f for f in planted if f.code == "worse_than_baseline")
    assert "log" in finding.advice and finding.evidence["baseline_score"] == pytest.approx(best, rel=1e-3)
