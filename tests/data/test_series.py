"""Reading series: order, duplicates, gaps, irregular axes; seasons; windows that respect time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnguru.data import series as S
from nnguru.errors import NNGuruError


def read(frame: pd.DataFrame, **kw) -> S.SeriesSet:
    types = {"t": "datetime"}
    return S.read_series(frame.drop(columns=["y"]), frame["y"].to_numpy(), target="y",
                         time=kw.pop("time", None), series_id=kw.pop("series_id", None), types=types)


def test_unsorted_rows_are_sorted_and_gaps_interpolated_and_reported():
    times = pd.date_range("2020-01-01", periods=10, freq="D")
    frame = pd.DataFrame({"t": times.strftime("%Y-%m-%d"), "y": np.arange(10.0)}).drop(index=4).iloc[::-1]
    sset = read(frame)
    s = sset.series[0]
    assert sset.step == {"seconds": 86400} and sset.report["frequency"] == "daily"
    np.testing.assert_allclose(s.values, np.arange(10.0))  # the gap at day 5 is interpolated
    assert sset.report["repairs"] == [{"series": None, "sorted": True, "gaps_filled": 1}]


def test_month_starts_quarters_and_row_order():
    months = pd.DataFrame({"t": ["2020-01", "2020-02", "2020-03", "2020-04"], "y": [1.0, 2, 3, 4]})
    assert read(months).step == {"months": 1}
    quarters = pd.DataFrame({"t": ["2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"], "y": [1.0, 2, 3, 4]})
    assert read(quarters).step == {"months": 3}
    plain = S.read_series(pd.DataFrame(index=range(5)), np.arange(5.0), target="y", time=None, series_id=None,
                          types={})
    assert plain.step is None and plain.time is None
    assert list(S.future_times(plain.series[0].times, None, 2)) == [5, 6]


def test_duplicates_irregular_and_too_many_gaps_are_refused():
    dup = pd.DataFrame({"t": ["2020-01-01", "2020-01-02", "2020-01-02"], "y": [1.0, 2, 3]})
    with pytest.raises(NNGuruError, match="duplicated timestamps.*--series-id"):
        read(dup)
    irregular = pd.DataFrame({"t": ["2020-01-01", "2020-01-03", "2020-01-04 07:13", "2020-01-09"], "y": [1.0, 2, 3, 4]})
    with pytest.raises(NNGuruError, match="irregular"):
        read(irregular)
    sparse = pd.DataFrame({"t": ["2020-01-01", "2020-01-02", "2020-01-10"], "y": [1.0, 2, 3]})
    with pytest.raises(NNGuruError, match="too much to interpolate"):
        read(sparse)


def test_season_detection():
    t = np.arange(240)
    rng = np.random.default_rng(0)
    monthly = 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t + rng.normal(0, 0.1, 240)
    assert S.detect_season(monthly, {"months": 1})[0] == 12
    daily = np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, 240)
    assert S.detect_season(daily, {"seconds": 86400})[0] == 7
    assert S.detect_season(rng.normal(size=240), {"seconds": 86400})[0] == 1
    assert S.detect_season(monthly, None)[0] == 12  # row order: lags are scanned


def test_windows_never_take_targets_from_a_later_span():
    n, train_end, val_end = 60, 36, 48
    s = S.Series("", pd.RangeIndex(n), np.arange(1.0, n + 1), np.zeros((n, 0)))
    pre = S.SeriesPreprocessor(target="y", time=None, series_id=None, step=None, covariates=[], season=1,
                               window=5, horizon=3, transform="none", reference="last").fit([s], [train_end])
    for lo, hi in ((0, train_end), (train_end, val_end), (val_end, n)):
        origins = pre.origins(lo, hi)
        assert origins.min() + 1 >= lo and origins.max() + 3 <= hi - 1
        assert origins.min() >= 4  # a full window exists
    # targets decode back to the actual values: the representation is exact
    origins = pre.origins(val_end, n)
    x, y = pre.windows(s, origins)
    np.testing.assert_allclose(pre.decode(s, origins, y), s.values[origins[:, None] + np.arange(1, 4)], rtol=1e-5)


def test_log_seasonal_representation_round_trips_and_saves_without_pickle():
    t = np.arange(80)
    s = S.Series("", pd.RangeIndex(80), 100 * np.exp(0.01 * t) * (1.2 + np.sin(2 * np.pi * t / 12)),
                 np.zeros((80, 0)))
    pre = S.SeriesPreprocessor(target="y", time=None, series_id=None, step=None, covariates=[], season=12,
                               window=24, horizon=12, transform="log", reference="seasonal").fit([s], [60])
    origins = pre.origins(60, 80)
    _, y = pre.windows(s, origins)
    np.testing.assert_allclose(pre.decode(s, origins, y), s.values[origins[:, None] + np.arange(1, 13)], rtol=1e-4)
    again = S.SeriesPreprocessor.from_config(pre.to_config(), pre.state())
    np.testing.assert_array_equal(again.windows(s, origins)[0], pre.windows(s, origins)[0])


def test_trading_days_are_business_days_not_gaps():
    days = pd.bdate_range("2021-01-04", periods=120).delete([15, 60])  # two market holidays
    frame = pd.DataFrame({"t": days.strftime("%Y-%m-%d"), "y": np.arange(118.0)})
    sset = read(frame)
    assert sset.step == {"business_days": 1} and sset.report["repairs"][0]["gaps_filled"] == 2
    assert S.future_times(sset.series[0].times, sset.step, 1)[0].day_of_week < 5


def test_hourly_season_is_the_day_and_the_week_comes_as_calendar_features():
    hours = np.arange(24 * 7 * 12)
    rng = np.random.default_rng(0)
    values = np.sin(2 * np.pi * hours / 24) + 0.5 * np.sin(2 * np.pi * hours / 168) + rng.normal(0, 0.05, len(hours))
    season, report = S.detect_season(values, {"seconds": 3600})
    assert season == 24 and set(report["acf_of_changes"]) >= {"24"}
    times = pd.date_range("2024-01-01", periods=len(hours), freq="h")
    assert S.calendar_features(times, {"seconds": 3600}, window=48).shape[1] == 2  # the week only
    assert S.calendar_features(times, {"seconds": 3600}, window=12).shape[1] == 4  # the day too
