"""Forecast benchmark: nnguru's ``task="forecast"`` against the references a user would pick instead.

Every method is scored under one protocol, on real series that ship inside installed packages:

- A series of ``n`` points, horizon ``H``, test span = the last ``T`` points. Rolling origin: every
  origin ``t`` (index of the last observed point) whose ``t+1 .. t+H`` lies inside the test span,
  i.e. ``T - H + 1`` origins; each method forecasts ``H`` steps from each origin using the data up to
  and including ``t``.
- Metrics over all (origin, step) pairs, computed here by one function for every method (nnguru's
  own numbers are read from its ``forecasts.csv``, never from its report): MAE, RMSE, MAPE (a
  fraction, as scikit-learn's), sMAPE (a fraction, ``2|a-f| / (|a|+|f|)``) and MASE (scaled by the
  in-sample seasonal-naive MAE of the data before the test span, season ``m``; ``m = 1`` is naive).
- Methods: naive (last value), seasonal naive, seasonal naive with drift, statsforecast AutoETS,
  AutoARIMA and AutoTheta (season ``m``), and nnguru over several seeds (mean and spread).

Why it is built this way:
- The statistical references are re-estimated at every origin on the short series (that is how a
  forecaster uses them: refit when a new month arrives); on the long high-frequency series they
  are fitted once on the data before the test span and then only *updated* with each new point
  (statsforecast's ``refit=False``), the same information nnguru gets, because refitting AutoARIMA
  at ~1,000 origins would take hours on two cores. Each series records which.
- The statsforecast references run through ``StatsForecast.cross_validation`` with ``step_size=1``
  and ``n_windows = T - H + 1``; its cutoffs are checked against the protocol's origins, so a drift
  in its windowing is an error, not a silently different protocol.
- The naive baselines are computed here as well and cross-checked against nnguru's own
  ``metrics["baseline"]``: a mismatch means one of the two disagrees on the protocol or a metric,
  and is reported.
- Series are loaded from the installed packages (no data is copied into the repository); the
  loaders say which package and function, and any cleaning (gaps, resampling) is done here and said.

Install (a separate venv; torch pinned in the same command so pip keeps the CPU wheel)::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0 statsforecast statsmodels pmdarima scikit-learn \
        numpy pandas scipy matplotlib rich safetensors pyyaml pillow soundfile pyarrow
    .venv-bench/bin/pip install --no-deps ISLP   # only its data files are read; its deps are not needed

Run (nnguru from PYTHONPATH, ``--src``, or this repository's src/)::

    .venv-bench/bin/python benchmarks/forecast.py                      # all 8 series, 3 seeds (~40 min on 2 cores)
    .venv-bench/bin/python benchmarks/forecast.py --series airline --seeds 3
    .venv-bench/bin/python benchmarks/forecast.py --methods naive,seasonal_naive,nnguru   # minutes, no AutoARIMA

AutoARIMA dominates the time (co2 ~200 s refit at 25 origins, taylor ~1,000 s for one fit at m=48).
Results and their reading: benchmarks/RESULTS.md (section "Forecasting").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import importlib.resources
import io
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))
LONG_SERIES = 1000  # points; above it AutoARIMA searches orders with the approximate likelihood
METRICS = ("mae", "rmse", "mape", "smape", "mase")
BASELINE_KEYS = ("naive", "seasonal_naive", "seasonal_naive_drift")


# ---------------------------------------------------------------------------------------------
# Series: real data shipped inside installed packages (nothing is copied into the repository)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One benchmark series and its protocol (horizon, test span, season)."""

    key: str
    values: np.ndarray  # float64, no gaps
    time: pd.DatetimeIndex | None  # None when the source has no calendar (taylor: half-hours)
    freq: str  # human label: "monthly", "daily (trading days)", ...
    m: int  # season length for the seasonal baselines, the references and MASE
    horizon: int
    test_steps: int
    source: str  # package and loader, said in the results
    refit: bool  # statistical references re-estimated at every origin (else: fit once, update)
    note: str = ""
    nnguru_time: bool = True  # hand nnguru the time column (False: row order only, see the note)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def origins(self) -> np.ndarray:
        """Indices ``t`` of the last observed point, one per rolling origin."""
        first = self.n - self.test_steps - 1
        return np.arange(first, self.n - self.horizon)

    def frame(self) -> pd.DataFrame:
        """The series as nnguru's users hand it over: a time column (when there is one) and a value."""
        df = pd.DataFrame({"value": self.values})
        if self.time is not None and self.nnguru_time:
            df.insert(0, "time", self.time)
        return df


def _airline() -> pd.Series:
    path = SHARED_DATASETS / "airline_passengers" / "airline-passengers.csv"
    df = pd.read_csv(path)
    return pd.Series(df["Passengers"].to_numpy(float), index=pd.to_datetime(df["Month"]))


def _pmdarima(name: str, start: str, freq: str) -> pd.Series:
    import pmdarima.datasets as pmd

    y = np.asarray(getattr(pmd, f"load_{name}")(), float)
    # ausbeer ends with one NaN (the unreleased 2008Q4): only trailing gaps are dropped.
    last = int(np.flatnonzero(np.isfinite(y))[-1]) + 1
    return pd.Series(y[:last], index=pd.date_range(start, periods=last, freq=freq))


def _co2_monthly() -> pd.Series:
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    # Weekly readings with 59 gaps; the monthly mean (as statsmodels' own examples do) leaves 5
    # empty months, filled by linear interpolation in time.
    monthly = weekly.resample("MS").mean().interpolate("time")
    return monthly.astype(float)


def _elec_equip() -> pd.Series:
    from statsmodels.datasets import elec_equip

    s = elec_equip.load().data.iloc[:, 0]
    return s.astype(float).asfreq("MS")


def _islp_csv(name: str) -> pd.DataFrame:
    # ISLP's data files are read straight from the installed wheel: importing ISLP's helpers
    # would pull its model dependencies, which this benchmark does not need.
    return pd.read_csv(importlib.resources.files("ISLP") / "data" / f"{name}.csv")


def _nyse_volume() -> pd.Series:
    df = _islp_csv("NYSE")
    return pd.Series(df["log_volume"].to_numpy(float), index=pd.to_datetime(df["date"]))


def _bikeshare_hourly() -> pd.Series:
    df = _islp_csv("Bikeshare")
    # 2011 only (``day`` is the day of the year, 1..365); 115 of the 8,760 hours have no record
    # (system outages, e.g. hurricane Irene): reindexed to every hour, filled by interpolation.
    stamps = pd.Timestamp("2011-01-01") + pd.to_timedelta(df["day"] - 1, unit="D")
    stamps += pd.to_timedelta(df["hr"].astype(int), unit="h")
    s = pd.Series(df["bikers"].to_numpy(float), index=pd.DatetimeIndex(stamps))
    full = pd.date_range("2011-01-01", "2011-12-31 23:00", freq="h")
    return s.reindex(full).interpolate("time").bfill()


def _taylor() -> pd.Series:
    import pmdarima.datasets as pmd

    return pd.Series(np.asarray(pmd.load_taylor(), float))


def _series(
    key: str,
    s: pd.Series,
    freq: str,
    m: int,
    horizon: int,
    test_steps: int,
    source: str,
    refit: bool,
    note: str = "",
    nnguru_time: bool = True,
) -> Series:
    values = s.to_numpy(float)
    if not np.isfinite(values).all():
        raise ValueError(f"{key}: series has missing values after loading")
    time_index = pd.DatetimeIndex(s.index) if isinstance(s.index, pd.DatetimeIndex) else None
    return Series(key, values, time_index, freq, m, horizon, test_steps, source, refit, note, nnguru_time)


def _last_share(n: int, share: float = 0.15) -> int:
    return int(round(n * share))


def _nyse_series() -> Series:
    s = _nyse_volume()
    return _series(
        "nyse_volume",
        s,
        "daily (trading days)",
        5,
        1,
        _last_share(len(s)),
        "ISLP data NYSE.csv, column log_volume (detrended log NYSE volume, 1962-1986)",
        refit=False,
        note=(
            "values near 0: MAPE and sMAPE are not meaningful here, read MAE, RMSE, MASE; nnguru gets the "
            "values in row order without the dates (with them it stops: weekends read as 34% missing days)"
        ),
        nnguru_time=False,
    )


def _bikeshare_series() -> Series:
    s = _bikeshare_hourly()
    return _series(
        "bikeshare",
        s,
        "hourly",
        24,
        1,
        _last_share(len(s)),
        "ISLP data Bikeshare.csv, column bikers (Capital Bikeshare rentals per hour, 2011)",
        refit=False,
        note="115 missing hours interpolated; the weekly (168) season is not modelled by the m=24 references",
    )


def _taylor_series() -> Series:
    s = _taylor()
    return _series(
        "taylor",
        s,
        "half-hourly",
        48,
        1,
        _last_share(len(s)),
        "pmdarima.datasets.load_taylor (England & Wales electricity demand, 12 weeks of 2000, MW)",
        refit=False,
        note="the weekly (336) season is not modelled by the m=48 references",
    )


SERIES_BUILDERS: dict[str, Callable[[], Series]] = {
    "airline": lambda: _series(
        "airline",
        _airline(),
        "monthly",
        12,
        12,
        36,
        "shared/datasets/airline_passengers (Box & Jenkins AirPassengers, 1949-1960)",
        refit=True,
    ),
    "wineind": lambda: _series(
        "wineind",
        _pmdarima("wineind", "1980-01-01", "MS"),
        "monthly",
        12,
        12,
        36,
        "pmdarima.datasets.load_wineind (Australian wine sales by winemakers, 1980-1994)",
        refit=True,
    ),
    "ausbeer": lambda: _series(
        "ausbeer",
        _pmdarima("ausbeer", "1956-01-01", "QS"),
        "quarterly",
        4,
        8,
        24,
        "pmdarima.datasets.load_ausbeer (Australian beer production, 1956Q1-2008Q3, megalitres)",
        refit=True,
    ),
    "co2": lambda: _series(
        "co2",
        _co2_monthly(),
        "monthly (mean of weekly)",
        12,
        12,
        36,
        "statsmodels.datasets.co2 (Mauna Loa weekly CO2 ppm, 1958-2001; monthly means)",
        refit=True,
        note="5 empty months interpolated",
    ),
    "elec_equip": lambda: _series(
        "elec_equip",
        _elec_equip(),
        "monthly",
        12,
        12,
        36,
        "statsmodels.datasets.elec_equip (euro-area electrical equipment orders index, 1995-2016)",
        refit=True,
    ),
    "nyse_volume": _nyse_series,
    "bikeshare": _bikeshare_series,
    "taylor": _taylor_series,
}
DEFAULT_SERIES = ("airline", "wineind", "ausbeer", "co2", "elec_equip", "nyse_volume", "bikeshare", "taylor")


# ---------------------------------------------------------------------------------------------
# Metrics: one function for every method
# ---------------------------------------------------------------------------------------------


def mase_scale(y: np.ndarray, test_steps: int, m: int) -> float:
    """In-sample seasonal-naive MAE of the data before the test span (naive when ``m == 1``)."""
    train = y[: len(y) - test_steps]
    return float(np.mean(np.abs(train[m:] - train[:-m])))


def metrics(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, MAPE (fraction, as scikit-learn), sMAPE (fraction) and MASE over all pairs."""
    a = np.asarray(actual, float)
    f = np.asarray(forecast, float)
    err = np.abs(a - f)
    denom = np.abs(a) + np.abs(f)
    smape = np.divide(2.0 * err, denom, out=np.zeros_like(err), where=denom > 0)
    return {
        "mae": float(err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(err / np.maximum(np.abs(a), np.finfo(np.float64).eps))),
        "smape": float(smape.mean()),
        "mase": float(err.mean() / scale),
    }


# ---------------------------------------------------------------------------------------------
# Methods: each returns an (n_origins, H) forecast matrix, rows in ``Series.origins`` order
# ---------------------------------------------------------------------------------------------


def actual_matrix(s: Series) -> np.ndarray:
    steps = np.arange(1, s.horizon + 1)
    return s.values[s.origins[:, None] + steps[None, :]]


def forecast_naive(s: Series) -> np.ndarray:
    """The last observed value, for every step."""
    return np.repeat(s.values[s.origins][:, None], s.horizon, axis=1)


def _snaive_core(s: Series, drift: bool) -> np.ndarray:
    y, m = s.values, s.m
    steps = np.arange(1, s.horizon + 1)
    k = (steps - 1) // m + 1  # seasons back: the latest observed value in the same season
    idx = s.origins[:, None] + steps[None, :] - k[None, :] * m
    fc = y[idx]
    if drift:
        # Seasonal random walk with drift: the mean seasonal difference up to the origin, added
        # once per season stepped over (fable's SNAIVE(y ~ drift())).
        slopes = np.array([np.mean(y[m : t + 1] - y[: t + 1 - m]) for t in s.origins])
        fc = fc + slopes[:, None] * k[None, :]
    return fc


def forecast_seasonal_naive(s: Series) -> np.ndarray:
    return _snaive_core(s, drift=False)


def forecast_seasonal_naive_drift(s: Series) -> np.ndarray:
    return _snaive_core(s, drift=True)


def _statsforecast_model(name: str, s: Series):
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    if name == "AutoARIMA" and s.n > LONG_SERIES:
        # Long high-frequency series: the approximate likelihood during the order search, as R's
        # auto.arima does by default for long or highly seasonal series (the exact search on
        # 7,000 hourly points with m=24 ran over 10 minutes for a single fit).
        return AutoARIMA(season_length=s.m, approximation=True)
    return {"AutoETS": AutoETS, "AutoARIMA": AutoARIMA, "AutoTheta": AutoTheta}[name](season_length=s.m)


def forecast_statsforecast(s: Series, name: str) -> np.ndarray:
    """statsforecast's rolling-origin cross-validation, checked against the protocol's origins."""
    from statsforecast import StatsForecast

    n_windows = s.test_steps - s.horizon + 1
    df = pd.DataFrame({"unique_id": s.key, "ds": np.arange(s.n), "y": s.values})
    sf = StatsForecast(models=[_statsforecast_model(name, s)], freq=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = sf.cross_validation(df=df, h=s.horizon, n_windows=n_windows, step_size=1, refit=s.refit)
    cv = cv.sort_values(["cutoff", "ds"])
    cutoffs = np.sort(cv["cutoff"].unique())
    if not np.array_equal(cutoffs, s.origins):
        raise RuntimeError(f"{name}: statsforecast cutoffs {cutoffs[:3]}.. differ from the protocol's origins")
    fc = cv[name].to_numpy(float).reshape(len(cutoffs), s.horizon)
    steps = (cv["ds"] - cv["cutoff"]).to_numpy().reshape(len(cutoffs), s.horizon)
    if not (steps == np.arange(1, s.horizon + 1)).all():
        raise RuntimeError(f"{name}: statsforecast steps are not 1..H per origin")
    return fc


def forecast_lag_ridge(s: Series) -> np.ndarray:
    """A linear autoregression: ridge on the last ``2m`` values (at least 10), one output per step.

    The cheap model a data scientist tries before a neural net (ISLP's NYSE lab does exactly this).
    Like nnguru, it is fitted once, on windows whose targets lie before the test span, and then
    applied at every origin; the penalty is picked by leave-one-out (``RidgeCV``).
    """
    from sklearn.linear_model import RidgeCV

    lags = max(2 * s.m, 10)
    y = s.values
    n_train = s.n - s.test_steps
    mu, sd = y[:n_train].mean(), y[:n_train].std() or 1.0
    z = (y - mu) / sd
    ends = np.arange(lags - 1, n_train - s.horizon)  # last input index of each training window
    if len(ends) < 2 * lags:
        raise ValueError(f"too short for {lags} lags")
    win = np.arange(-lags + 1, 1)
    steps = np.arange(1, s.horizon + 1)
    x_train, y_train = z[ends[:, None] + win], z[ends[:, None] + steps]
    model = RidgeCV(alphas=np.logspace(-4, 3, 15)).fit(x_train, y_train)
    pred = model.predict(z[s.origins[:, None] + win]).reshape(len(s.origins), s.horizon)
    return pred * sd + mu


@dataclass
class NnguruRun:
    """One nnguru seed: its forecast matrix, wall seconds and its own reported metrics."""

    forecast: np.ndarray
    seconds: float
    own_test: dict[str, float]
    own_baseline: dict[str, dict[str, float]]


def _import_nnguru(src: Path | None):
    if src is not None and str(src) not in sys.path:
        sys.path.insert(0, str(src))
    import nnguru

    return nnguru


def forecast_nnguru(
    s: Series, seed: int, src: Path | None, workdir: Path, pass_season: bool = True, extra: dict | None = None
) -> NnguruRun:
    """Train nnguru through its public API and read its (origin, step) forecasts back.

    The forecasts are aligned to this harness's origins by the *time* (or row) of the forecast
    point and the step, and the actual values nnguru reports are checked against the series, so a
    shifted or partial ``forecasts.csv`` is an error rather than a quietly wrong score.
    """
    nnguru = _import_nnguru(src)
    run_dir = workdir / f"{s.key}-seed{seed}{'' if pass_season else '-auto'}"
    kwargs: dict = {"season": s.m} if pass_season else {}
    kwargs.update(extra or {})
    if s.time is not None and s.nnguru_time:
        kwargs["time"] = "time"
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nnguru.train(
            s.frame(),
            target="value",
            task="forecast",
            horizon=s.horizon,
            test_steps=s.test_steps,
            out=run_dir,
            overwrite=True,
            verbose=0,
            seed=seed,
            **kwargs,
        )
    seconds = time.perf_counter() - t0
    fc_df = pd.read_csv(Path(run_dir) / "forecasts.csv")
    fc = _align_nnguru(s, fc_df)
    return NnguruRun(fc, seconds, dict(run.metrics["test"]), dict(run.metrics.get("baseline", {})))


def _align_nnguru(s: Series, fc_df: pd.DataFrame) -> np.ndarray:
    steps = fc_df["step"].to_numpy(int)
    if s.time is not None and s.nnguru_time:
        pos = pd.Series(np.arange(s.n), index=s.time)
        target_pos = pos.reindex(pd.to_datetime(fc_df["time"])).to_numpy()
    elif "origin" in fc_df and np.issubdtype(fc_df["origin"].dtype, np.integer):
        target_pos = fc_df["origin"].to_numpy(int) + steps
    else:
        target_pos = pd.to_numeric(fc_df["time"]).to_numpy()
    if np.isnan(np.asarray(target_pos, float)).any():
        raise RuntimeError("nnguru forecasts.csv: forecast times not found in the series")
    target_pos = np.asarray(target_pos, int)
    origin_pos = target_pos - steps
    out = np.full((len(s.origins), s.horizon), np.nan)
    row = origin_pos - s.origins[0]
    ok = (row >= 0) & (row < len(s.origins)) & (steps >= 1) & (steps <= s.horizon)
    if not ok.all():
        raise RuntimeError(f"nnguru forecasts.csv: {int((~ok).sum())} rows outside the protocol's origins")
    if not np.allclose(fc_df["actual"].to_numpy(float), s.values[target_pos], rtol=1e-6, atol=1e-6):
        raise RuntimeError("nnguru forecasts.csv: 'actual' does not match the series at the aligned points")
    out[row, steps - 1] = fc_df["forecast"].to_numpy(float)
    if np.isnan(out).any():
        raise RuntimeError(f"nnguru forecasts.csv: {int(np.isnan(out).sum())} (origin, step) pairs missing")
    return out


# ---------------------------------------------------------------------------------------------
# Running and reporting
# ---------------------------------------------------------------------------------------------

# "nnguru": season m given (as the references get it); "nnguru_auto": nnguru's own defaults (the
# season detected from the data), i.e. what a user who passes only the horizon gets.
NNGURU_VARIANTS = ("nnguru", "nnguru_auto")
NNGURU_OPTIONS: dict = {}  # --nnguru-opt KEY=VALUE: extra options to nnguru.train, for trying other defaults
REFERENCES: dict[str, tuple[str, Callable[[Series], np.ndarray]]] = {
    "naive": ("naive (last value)", forecast_naive),
    "seasonal_naive": ("seasonal naive", forecast_seasonal_naive),
    "seasonal_naive_drift": ("seasonal naive + drift", forecast_seasonal_naive_drift),
    "AutoETS": ("statsforecast AutoETS", lambda s: forecast_statsforecast(s, "AutoETS")),
    "AutoARIMA": ("statsforecast AutoARIMA", lambda s: forecast_statsforecast(s, "AutoARIMA")),
    "AutoTheta": ("statsforecast AutoTheta", lambda s: forecast_statsforecast(s, "AutoTheta")),
    "lag_ridge": ("linear AR (ridge on 2m lags)", forecast_lag_ridge),
}


@dataclass
class MethodResult:
    key: str
    label: str
    scores: list[dict[str, float]]  # one per seed (one for the deterministic references)
    seconds: list[float]
    error: str = ""

    def mean(self, metric: str) -> float:
        return statistics.fmean(s[metric] for s in self.scores)

    def spread(self, metric: str) -> float:
        vals = [s[metric] for s in self.scores]
        return max(vals) - min(vals) if len(vals) > 1 else 0.0


@dataclass
class SeriesResult:
    series: Series
    methods: list[MethodResult] = field(default_factory=list)
    baseline_checks: list[str] = field(default_factory=list)


def run_series(s: Series, methods: list[str], seeds: int, src: Path | None, workdir: Path) -> SeriesResult:
    actual = actual_matrix(s)
    scale = mase_scale(s.values, s.test_steps, s.m)
    res = SeriesResult(s)
    for key in methods:
        if key in NNGURU_VARIANTS:
            continue
        label, fn = REFERENCES[key]
        t0 = time.perf_counter()
        try:
            fc = fn(s)
        except Exception as exc:  # a reference that fails is reported, not fatal
            res.methods.append(MethodResult(key, label, [], [], error=f"{type(exc).__name__}: {exc}"))
            continue
        seconds = time.perf_counter() - t0
        res.methods.append(MethodResult(key, label, [metrics(actual, fc, scale)], [seconds]))
        _progress(f"  {s.key}: {label} {seconds:.1f}s")
    for key in (k for k in NNGURU_VARIANTS if k in methods):
        res.methods.append(_run_nnguru(s, key, seeds, src, workdir, actual, scale, res.baseline_checks))
    return res


def _run_nnguru(
    s: Series,
    key: str,
    seeds: int,
    src: Path | None,
    workdir: Path,
    actual: np.ndarray,
    scale: float,
    checks: list[str],
) -> MethodResult:
    """nnguru over ``seeds`` seeds; for ``nnguru`` (season given) its own metrics are cross-checked."""
    pass_season = key == "nnguru"
    scores, secs = [], []
    own_baselines: dict[str, dict[str, float]] = {}
    error = ""
    for seed in range(seeds):
        try:
            r = forecast_nnguru(s, seed, src, workdir, pass_season=pass_season, extra=NNGURU_OPTIONS)
        except Exception as exc:  # reported in the table, not fatal
            error = f"{type(exc).__name__}: {exc}"
            break
        scores.append(metrics(actual, r.forecast, scale))
        secs.append(r.seconds)
        own_baselines = r.own_baseline
        if pass_season:
            checks += _check_own(s, f"seed {seed} test", r.own_test, scores[-1])
        _progress(f"  {s.key}: {key} seed {seed} {r.seconds:.1f}s mae={scores[-1]['mae']:.4g}")
    label = f"nnguru ({seeds} seeds)" if pass_season else f"nnguru, season auto ({seeds} seeds)"
    result = MethodResult(key, label, scores, secs, error)
    if not (pass_season and scores):
        return result
    for base in BASELINE_KEYS:
        if base not in own_baselines:
            checks.append(f"nnguru metrics['baseline'] has no '{base}'")
            continue
        ours = metrics(actual, REFERENCES[base][1](s), scale)
        checks += _check_own(s, f"baseline {base}", own_baselines[base], ours)
    return result


def warm_up(methods: list[str], src: Path | None, workdir: Path) -> None:
    """Run every method once on a small synthetic series before anything is timed.

    The first call in a process pays one-off costs that a forecaster does not pay per series:
    statsforecast's numba compilation, the first imports of scikit-learn, matplotlib and torch. The
    ``seconds`` column is meant to compare fitting and forecasting, so those costs are paid here.
    """
    rng = np.random.default_rng(0)
    steps = np.arange(120)
    y = 100 + 0.2 * steps + 10 * np.sin(2 * np.pi * steps / 12) + rng.normal(0, 1, 120)
    s = Series("warmup", y, pd.date_range("2000-01-01", periods=120, freq="MS"), "monthly", 12, 6, 12, "", False)
    for key in methods:
        with contextlib.suppress(Exception):
            if key in NNGURU_VARIANTS:
                forecast_nnguru(s, 0, src, workdir)
            else:
                REFERENCES[key][1](s)


def _check_own(s: Series, what: str, theirs: dict[str, float], ours: dict[str, float]) -> list[str]:
    """Differences between nnguru's own metric and this harness's, beyond float noise."""
    out = []
    for name in METRICS:
        if name not in theirs:
            out.append(f"{what}: nnguru reports no '{name}'")
            continue
        a, b = float(theirs[name]), ours[name]
        if not np.isclose(a, b, rtol=1e-4, atol=1e-9):
            out.append(f"{what}: {name} nnguru {a:.6g} vs harness {b:.6g}")
    return out


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def table(res: SeriesResult) -> tuple[list[str], list[list[str]]]:
    """Rows per method (nnguru: mean ± spread over seeds) and a ratio row nnguru / best reference."""
    header = ["method", *[m.upper() if m != "smape" else "sMAPE" for m in METRICS], "seconds"]
    rows: list[list[str]] = []
    for mr in res.methods:
        if not mr.scores:
            rows.append([mr.label, *["-"] * len(METRICS), f"failed: {mr.error[:80]}"])
            continue
        cells = []
        for name in METRICS:
            cell = _fmt(mr.mean(name))
            if len(mr.scores) > 1:
                cell += f" ±{_fmt(mr.spread(name) / 2)}"
            cells.append(cell)
        rows.append([mr.label, *cells, _fmt(statistics.fmean(mr.seconds))])
    refs = [m for m in res.methods if m.key not in NNGURU_VARIANTS and m.scores]
    for nn in (m for m in res.methods if m.key in NNGURU_VARIANTS and m.scores):
        if not refs:
            break
        ratio_cells = []
        for name in METRICS:
            best = min(refs, key=lambda m, n=name: m.mean(n))
            ratio_cells.append(f"{nn.mean(name) / best.mean(name):.3f} ({best.key})")
        rows.append([f"{nn.key} / best reference", *ratio_cells, ""])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)])


def describe(s: Series) -> str:
    span = f"{s.time[0].date()} .. {s.time[-1].date()}" if s.time is not None else "no calendar"
    refit = "refit at every origin" if s.refit else "fitted once before the test span, updated at each origin"
    if s.n > LONG_SERIES:
        refit += " (AutoARIMA: approximate search)"
    text = (
        f"{s.key}: {s.source}; {s.freq}, n={s.n} ({span}); H={s.horizon}, T={s.test_steps}, m={s.m}, "
        f"{s.test_steps - s.horizon + 1} origins; statsforecast references {refit}"
    )
    return text + (f"; {s.note}" if s.note else "")


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def library_versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for dist in ("nnguru", "torch", "statsforecast", "numpy", "pandas", "statsmodels", "pmdarima", "ISLP"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
    return ", ".join(parts)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--series",
        default=",".join(DEFAULT_SERIES),
        help=f"comma list from {','.join(SERIES_BUILDERS)} (default: %(default)s)",
    )
    p.add_argument(
        "--methods",
        default=",".join([*REFERENCES, "nnguru"]),
        help=f"comma list from {','.join([*REFERENCES, *NNGURU_VARIANTS])} (default: all but nnguru_auto)",
    )
    p.add_argument("--seeds", type=int, default=3, help="nnguru seeds 0..N-1 (default: %(default)s)")
    p.add_argument(
        "--src",
        type=Path,
        default=None,
        help="nnguru source tree to import (default: PYTHONPATH, else this repository's src/)",
    )
    p.add_argument(
        "--refit",
        choices=("series", "always", "never"),
        default="series",
        help="statsforecast references: refit at every origin or fit once and update "
        "(default: per series, short ones refit)",
    )
    p.add_argument(
        "--nnguru-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra nnguru.train option (repeatable; VALUE read as YAML), e.g. val_frac=0.08",
    )
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (for RESULTS.md)")
    p.add_argument("--json", type=Path, default=None, help="also write every score and time as JSON")
    p.add_argument("--no-warmup", action="store_true", help="time first calls too (imports, numba compilation)")
    p.add_argument("--keep-runs", type=Path, default=None, help="keep nnguru's run folders here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger("statsforecast").setLevel(logging.ERROR)
    import yaml

    for item in args.nnguru_opt:
        key, _, value = item.partition("=")
        NNGURU_OPTIONS[key.strip()] = yaml.safe_load(value)
    keys = [k.strip() for k in args.series.split(",") if k.strip()]
    methods = [k.strip() for k in args.methods.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SERIES_BUILDERS] + [
        m for m in methods if m not in [*REFERENCES, *NNGURU_VARIANTS]
    ]
    if unknown:
        print(f"unknown series/method: {', '.join(unknown)}", file=sys.stderr)
        return 2
    src = args.src
    if src is None and any(k in methods for k in NNGURU_VARIANTS):
        try:
            import nnguru  # noqa: F401  (already importable: PYTHONPATH or an install)
        except ImportError:
            src = REPO / "src"
    render = markdown_table if args.markdown else text_table
    if NNGURU_OPTIONS:
        print(f"nnguru options beyond the protocol's: {NNGURU_OPTIONS}")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes")
    dump: dict = {"machine": machine_description(), "versions": None, "date": now, "series": {}}
    with tempfile.TemporaryDirectory(prefix="nnguru-forecast-bench-") as tmp:
        workdir = args.keep_runs or Path(tmp)
        if not args.no_warmup:
            _progress("warming up (imports, numba compilation) ...")
            warm_up(methods, src, workdir)
        for key in keys:
            s = SERIES_BUILDERS[key]()
            if args.refit != "series":
                s = dataclasses.replace(s, refit=args.refit == "always")
            _progress(describe(s))
            res = run_series(s, methods, args.seeds, src, workdir)
            header, rows = table(res)
            print(f"\n{'### ' if args.markdown else ''}{describe(s)}\n")
            print(render(header, rows))
            if res.baseline_checks:
                print("\nnnguru's own metrics vs this harness (mismatches):")
                for line in res.baseline_checks:
                    print(f"- {line}")
            elif "nnguru" in methods and any(m.key == "nnguru" and m.scores for m in res.methods):
                print("\nnnguru's own test and baseline metrics match this harness's.")
            sys.stdout.flush()
            dump["series"][key] = {
                "describe": describe(s),
                "methods": {m.key: {"scores": m.scores, "seconds": m.seconds, "error": m.error} for m in res.methods},
                "checks": res.baseline_checks,
            }
    dump["versions"] = library_versions()
    nn_module = sys.modules.get("nnguru")
    dump["nnguru_from"] = str(Path(nn_module.__file__).parent) if nn_module and nn_module.__file__ else None
    print(f"\nMachine: {dump['machine']}\nVersions: {dump['versions']}\nnnguru imported from: {dump['nnguru_from']}")
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
