"""Time series for forecasting: a regular time axis, the season, and windows the model learns from.

``read_series`` turns a table (a value column, a time column or the row order, optional series
ids and numeric covariates) into regular series: rows sorted by time, duplicated or unparseable
timestamps refused, gaps filled by interpolation and reported, an irregular axis refused.

``SeriesPreprocessor`` is the forecasting counterpart of ``Preprocessor``: fitted on the training
span only, saved in the bundle (JSON + safetensors, never pickle). Its samples are windows: at an
origin ``t`` (the last observed step) the model sees the last ``window`` values and predicts the
next ``horizon`` values directly (one output per step). Values are first transformed (``log`` for
multiplicative series, chosen on validation), then expressed relative to a reference forecast
(the last value, or the value one season earlier) and scaled, so one network serves any level and
series of different sizes can share one model. A ridge regression on the training windows is the
linear part of the forecast; the network's targets are what it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nnguru.data import columns as col
from nnguru.errors import NNGuruError

CONFIG_FORMAT = "nnguru.series"
# A season must explain at least this autocorrelation of the differenced training series (ACF of
# a seasonal series' changes at its period is ~0.5-0.9; white noise stays under ~2/sqrt(n)).
SEASON_MIN_ACF = 0.3
# Gaps above this share of the time axis are not repaired by interpolation: too much invented data.
MAX_GAP_SHARE = 0.2
# The shortest window: a dozen past steps carry short-term dynamics; the default is also at least
# two seasons and two horizons.
MIN_WINDOW = 12
# Season lengths worth testing per step (in steps); unknown steps scan lags 2..SCAN_MAX_LAG.
SEASON_CANDIDATES = {
    ("months", 1): (12,), ("months", 3): (4,), ("seconds", 86400): (7, 365), ("seconds", 604800): (52,),
    ("seconds", 3600): (24, 168), ("seconds", 60): (60, 1440), ("business_days", 1): (5, 260),
}
SCAN_MAX_LAG = 60
# Ridge penalties the linear part of the forecast is chosen from on validation (inputs are scaled
# to ~unit size): from nearly least squares to nearly "the reference forecast plus the mean change".
LINEAR_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


# ---- reading -----------------------------------------------------------------------------------
@dataclass
class Series:
    """One regular series: its timestamps (or step numbers), values and covariates."""

    id: str
    times: pd.Index
    values: np.ndarray  # float64
    covariates: np.ndarray  # (n, C) float64


@dataclass
class SeriesSet:
    series: list[Series]
    time: str | None  # the time column; None: the row order is the time axis
    step: dict | None  # the regular step, e.g. {"months": 1} or {"seconds": 86400}; None: row order
    covariates: list[str]
    report: dict = field(default_factory=dict)


def read_series(X: pd.DataFrame, y, *, target: str, time: str | None, series_id: str | None,
                types: dict[str, str]) -> SeriesSet:
    """Parse, sort, check and repair the series of a table (see the module docstring)."""
    frame = X.reset_index(drop=True).copy()
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    frame["__y__"] = _numeric_target(y, target)
    if series_id is not None and series_id not in columns:
        raise NNGuruError(f"--series-id {series_id!r} is not a column; the columns are {columns}. "
                          "Pass the column that names each series, or leave --series-id out for one series.")
    time = _time_column(frame, columns, types, time, series_id)
    report: dict = {"time_column": time, "series_id": series_id}
    skip = {time, series_id, target}
    covariates = [c for c in columns if c not in skip and types.get(c) == "numeric"]
    ignored = [c for c in columns if c not in skip and c not in covariates]
    if ignored:
        report["columns_ignored"] = ignored
    groups = [("", frame)] if series_id is None else [
        (str(k), g) for k, g in frame.groupby(series_id, sort=True)]
    step = None
    if time is not None:
        frame[time] = _parse_times(frame[time], time)
        groups = [(k, frame.loc[g.index]) for k, g in groups]
        step = _common_step([g[time] for _, g in groups], time)
        report["frequency"] = _step_name(step)
    else:
        report["frequency"] = "row order (no time column: each row is one step)"
    series, repairs = [], []
    for key, g in groups:
        s, repair = _one_series(key, g, time, step, covariates)
        series.append(s)
        if repair:
            repairs.append(repair)
    report.update(series=len(series), steps=[len(s.values) for s in series][:20], covariates=covariates,
                  repairs=repairs)
    return SeriesSet(series, time, step, covariates, report)


def _numeric_target(y, target: str) -> np.ndarray:
    raw = pd.Series(np.asarray(y, dtype=object))
    values, invalid = col.to_numeric(raw)
    if invalid:
        rows = np.flatnonzero((values.isna() & ~col.missing_mask(raw)).to_numpy())
        raise NNGuruError(
            f"The forecast target {target!r} must be numbers; received {raw[rows[:3]].tolist()} in rows "
            f"{rows[:3].tolist()} ({invalid} such rows). Fix those values, or choose a numeric --target."
        )
    return values.to_numpy(np.float64)


def _time_column(frame: pd.DataFrame, columns: list[str], types: dict, time: str | None,
                 series_id: str | None) -> str | None:
    if time is not None:
        if time not in columns:
            raise NNGuruError(f"--time {time!r} is not a column; the columns are {columns}. Pass the "
                              "column holding the timestamps.")
        return time
    dates = [c for c in columns if types.get(c) == "datetime" and c != series_id]
    if len(dates) > 1:
        raise NNGuruError(f"Several columns hold dates ({dates}); pass --time COLUMN to say which one is "
                          "the time axis of the series.")
    return dates[0] if dates else None


def _parse_times(values: pd.Series, column: str) -> pd.Series:
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise NNGuruError(
            f"The time column {column!r} has {int(bad.sum())} missing or unparseable timestamps, e.g. "
            f"{values.iloc[rows[:3]].tolist()} in rows {rows[:3].tolist()}. Fix or drop those rows "
            "(dates such as 2024-01-31 or 2024-01-31 12:00 are read)."
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _step_candidates(times: pd.Series) -> list[dict]:
    diffs = np.diff(np.sort(times.to_numpy().astype("datetime64[s]").astype(np.int64)))
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return []
    values, counts = np.unique(diffs, return_counts=True)
    common = int(values[np.argmax(counts)])
    fixed = [{"seconds": common}, {"seconds": int(values.min())}]
    # Trading days: daily steps on weekdays only (weekends are not gaps to fill)
    weekdays = [{"business_days": 1}] if common == 86400 and (pd.DatetimeIndex(times).day_of_week < 5).all() else []
    return [{"years": 1}, {"months": 3}, {"months": 1}, *weekdays, *fixed]


def offset(step: dict) -> pd.DateOffset:
    """The pandas offset of a step: calendar months and years, business days, or fixed seconds."""
    if "business_days" in step:
        return pd.offsets.BDay(step["business_days"])
    return pd.DateOffset(**step)


def _grid(start, end, step: dict) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=offset(step))


def _common_step(times: list[pd.Series], column: str) -> dict:
    """The coarsest regular step whose grid holds every timestamp of every series."""
    longest = max(times, key=len)
    for step in _step_candidates(longest):
        if all(t.isin(_grid(t.min(), t.max(), step)).all() for t in times if len(t)):
            return step
    raise NNGuruError(
        f"The timestamps in {column!r} are irregular: no regular step (yearly, quarterly, monthly or a "
        "fixed number of seconds) holds them all. Resample the data to a regular frequency first "
        "(e.g. pandas' resample('D').mean())."
    )


def _step_name(step: dict) -> str:
    names = {("years", 1): "yearly", ("months", 3): "quarterly", ("months", 1): "monthly",
             ("seconds", 604800): "weekly", ("seconds", 86400): "daily", ("seconds", 3600): "hourly",
             ("seconds", 60): "every minute", ("business_days", 1): "business days (Monday to Friday)"}
    key = next(iter(step.items()))
    return names.get(key, f"every {pd.Timedelta(seconds=key[1])}" if key[0] == "seconds" else str(step))


def _one_series(key: str, g: pd.DataFrame, time: str | None, step: dict | None,
                covariates: list[str]) -> tuple[Series, dict | None]:
    where = f" of series {key!r}" if key else ""
    repair: dict = {}
    if time is not None:
        if not g[time].is_monotonic_increasing:
            repair["sorted"] = True
            g = g.sort_values(time, kind="stable")
        dup = g[time].duplicated(keep=False)
        if dup.any():
            first = g.loc[dup, time].iloc[0]
            rows = g.index[g[time] == first].tolist()[:3]
            raise NNGuruError(
                f"The time column {time!r}{where} has {int(g[time].duplicated().sum())} duplicated "
                f"timestamps, e.g. {first} in rows {rows}. Aggregate the rows of each timestamp (e.g. sum "
                "or mean), or pass --series-id COLUMN if the file holds several series."
            )
        grid = _grid(g[time].min(), g[time].max(), step)
        gaps = len(grid) - len(g)
        if gaps:
            if gaps > MAX_GAP_SHARE * len(grid):
                raise NNGuruError(
                    f"The series{where} misses {gaps} of its {len(grid)} {_step_name(step)} timestamps; "
                    f"more than {MAX_GAP_SHARE:.0%} missing is too much to interpolate. Fill or resample "
                    "the data first."
                )
            repair["gaps_filled"] = gaps
            g = g.set_index(time).reindex(grid).rename_axis(time).reset_index()
        times = pd.DatetimeIndex(g[time])
    else:
        times = pd.RangeIndex(len(g))
    values = pd.Series(g["__y__"].to_numpy(np.float64))
    missing = int(values.isna().sum()) - repair.get("gaps_filled", 0)
    if values.isna().all():
        raise NNGuruError(f"The target{where} has no values; choose another --target.")
    if values.isna().any():
        values = values.interpolate(limit_direction="both")
        if missing:
            repair["missing_values_interpolated"] = missing
    cov = g[covariates].apply(pd.to_numeric, errors="coerce").ffill().bfill().fillna(0.0) \
        if covariates else pd.DataFrame(index=g.index)
    if repair:
        repair = {"series": key or None, **repair}
    return Series(key, times, values.to_numpy(np.float64), cov.to_numpy(np.float64)), repair or None


# ---- choices from the data ---------------------------------------------------------------------
def detect_season(values: np.ndarray, step: dict | None) -> tuple[int, dict]:
    """The season length (1: none) from the autocorrelation of the changes, and why.

    Among the step's usual periods, the shortest that clears SEASON_MIN_ACF; when the step is
    unknown (row order), the scanned lag with the strongest autocorrelation.
    """
    x = np.diff(np.asarray(values, dtype=np.float64))
    x = x - x.mean() if len(x) else x
    denom = float(np.sum(x * x))
    key = next(iter(step.items())) if step else None
    candidates = SEASON_CANDIDATES.get(key) if key in SEASON_CANDIDATES else (
        () if key == ("years", 1) else tuple(range(2, SCAN_MAX_LAG + 1)))
    acf = {m: float(np.sum(x[m:] * x[:-m]) / denom) for m in candidates if denom > 0 and len(x) > 2 * m}
    clear = [m for m, r in acf.items() if r >= SEASON_MIN_ACF]
    # The shortest clear season: the window then spans it twice, and the longer cycles (the week of
    # hourly data) reach the model as calendar features, not as a window many times longer.
    season = min(clear) if clear and key in SEASON_CANDIDATES else (max(clear, key=acf.get) if clear else 1)
    shown = dict(sorted(acf.items(), key=lambda kv: -kv[1])[:5])
    return season, {"season": season, "acf_of_changes": {str(k): round(v, 3) for k, v in shown.items()},
                    "threshold": SEASON_MIN_ACF}


def default_window(season: int, horizon: int) -> int:
    """At least two seasons, two horizons and MIN_WINDOW steps."""
    return max(2 * season, 2 * horizon, MIN_WINDOW)


# ---- calendar features -------------------------------------------------------------------------
def calendar_features(times: pd.Index, step: dict | None, window: int) -> np.ndarray:
    """Cyclic (sin, cos) encodings of the calendar cycles longer than the window.

    A cycle the window spans (the month of year when the window holds two years) adds nothing the
    values do not already show and only gives a small model more to overfit; a longer one (the
    day of year for a two-week window of daily data) is information the window cannot see.
    """
    if step is None or not isinstance(times, pd.DatetimeIndex):
        return np.zeros((len(times), 0))
    key = next(iter(step.items()))
    cycles: list[tuple[np.ndarray, float, float]] = []  # (position, period, period in steps)
    if key == ("months", 1):
        cycles = [(times.month.to_numpy() - 1, 12, 12)]
    elif key == ("months", 3):
        cycles = [(times.quarter.to_numpy() - 1, 4, 4)]
    elif key == ("seconds", 604800):
        cycles = [(times.isocalendar().week.to_numpy(np.float64) - 1, 52.18, 52.18)]
    elif key == ("seconds", 86400):
        cycles = [(times.day_of_week.to_numpy(), 7, 7), (times.day_of_year.to_numpy() - 1, 365.25, 365.25)]
    elif key == ("business_days", 1):
        cycles = [(times.day_of_week.to_numpy(), 5, 5), (times.day_of_year.to_numpy() - 1, 365.25, 261)]
    elif key[0] == "seconds" and key[1] < 86400:
        hours = times.hour.to_numpy() + times.minute.to_numpy() / 60
        cycles = [(hours, 24, 86400 / key[1]), (times.day_of_week.to_numpy() + hours / 24, 7, 604800 / key[1])]
    out = [f(2 * np.pi * np.asarray(v, dtype=np.float64) / period)
           for v, period, steps in cycles if steps > window for f in (np.sin, np.cos)]
    return np.stack(out, axis=1) if out else np.zeros((len(times), 0))


def future_times(times: pd.Index, step: dict | None, n: int) -> pd.Index:
    """The ``n`` timestamps (or step numbers) after the end of ``times``."""
    if step is None or not isinstance(times, pd.DatetimeIndex):
        last = int(times[-1]) if len(times) else -1
        return pd.RangeIndex(last + 1, last + 1 + n)
    return pd.date_range(times[-1], periods=n + 1, freq=offset(step))[1:]


# ---- windows -----------------------------------------------------------------------------------
class SeriesPreprocessor:
    """Windows of transformed, reference-relative, scaled values (see the module docstring).

    Fitted on the training span of each series; ``windows`` builds model inputs and targets for
    any origins, ``decode`` turns model outputs back into forecasts in the data's units, and
    ``transform`` gives the input of the last window of raw series (what ``predict`` forecasts from).
    """

    kind = "series"
    task = "forecast"

    def __init__(self, *, target: str, time: str | None, series_id: str | None, step: dict | None,
                 covariates: list[str], season: int, window: int, horizon: int, transform: str,
                 reference: str, linear_alpha: float = 1.0):
        self.target, self.time, self.series_id, self.step = target, time, series_id, step
        self.covariates = list(covariates)
        self.season, self.window, self.horizon = int(season), int(window), int(horizon)
        self.transform_name, self.reference = transform, reference
        self.scales: dict[str, np.ndarray] = {}  # per series id: [in_scale, out_scale, mu_1..mu_H]
        self.cov_stats = np.zeros((2, len(self.covariates)))  # mean, std
        self.linear = np.zeros((0, self.horizon))  # ridge coefficients (window x features, + intercept row)
        self.linear_alpha = float(linear_alpha)
        self.input_shape: tuple[int, ...] | None = None

    # --- value transform ---
    def forward(self, values: np.ndarray) -> np.ndarray:
        return np.log(values) if self.transform_name == "log" else np.asarray(values, dtype=np.float64)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.exp(np.clip(z, -700, 700)) if self.transform_name == "log" else z

    # --- fitting ---
    def fit(self, series: list[Series], train_ends: list[int]) -> SeriesPreprocessor:
        """Scales and means from the training windows of each series (targets before ``train_ends``)."""
        pooled_in, pooled_res = [], []
        for s, end in zip(series, train_ends, strict=True):
            z = self.forward(s.values[:end])
            origins = self.origins(0, end)
            if not len(origins):
                continue
            win = self._window_values(z, origins)
            inp = (win - win[:, -1:]).reshape(-1)
            res = self._targets(z, origins) - self._refs(z, origins)
            pooled_in.append(inp)
            pooled_res.append(res)
            self.scales[s.id] = self._scale_row(inp, res)
        if not pooled_res:
            raise NNGuruError(self._too_short_message(min(train_ends)))
        self.scales["*"] = self._scale_row(np.concatenate(pooled_in), np.concatenate(pooled_res))
        if self.covariates:
            cov = np.concatenate([s.covariates[:end] for s, end in zip(series, train_ends, strict=True)])
            std = cov.std(axis=0)
            self.cov_stats = np.stack([cov.mean(axis=0), np.where(std > 1e-12, std, 1.0)])
        n_cal = calendar_features(series[0].times[:1], self.step, self.window).shape[1]
        self.input_shape = (self.window, 1 + n_cal + len(self.covariates))
        return self.fit_linear(series, train_ends, self.linear_alpha)

    def fit_linear(self, series: list[Series], train_ends: list[int], alpha: float) -> SeriesPreprocessor:
        """A ridge regression (penalty ``alpha``) from the window to the targets, on the training
        windows; the network learns what it leaves. A linear autoregression is a strong forecaster
        on small data, and the network starts from it instead of from nothing."""
        from sklearn.linear_model import Ridge

        xs, ys = [], []
        for s, end in zip(series, train_ends, strict=True):
            origins = self.origins(0, end)
            if len(origins):
                xs.append(self._inputs(s, origins).reshape(len(origins), -1))
                ys.append(self._base_targets(s, origins))
        ridge = Ridge(alpha=alpha).fit(np.concatenate(xs), np.concatenate(ys))
        self.linear = np.vstack([np.asarray(ridge.coef_, dtype=np.float64).reshape(self.horizon, -1).T,
                                 np.asarray(ridge.intercept_, dtype=np.float64).reshape(1, -1)])
        self.linear_alpha = float(alpha)
        return self

    def _scale_row(self, inp: np.ndarray, res: np.ndarray) -> np.ndarray:
        mu = res.mean(axis=0)
        out = float((res - mu).std())
        ins = float(inp.std())
        floor = 1e-8
        return np.concatenate([[ins if ins > floor else 1.0, out if out > floor else 1.0], mu])

    def _too_short_message(self, train_len: int) -> str:
        return (f"The training span ({train_len} steps) is too short for a window of {self.window} steps "
                f"plus a horizon of {self.horizon}: no training window fits. Pass a smaller --window or "
                "--test-steps, or use a longer series.")

    # --- windows ---
    def origins(self, lo: int, hi: int) -> np.ndarray:
        """Origins whose targets (t+1 .. t+horizon) all lie in [lo, hi) and whose window exists."""
        return np.arange(max(self.window - 1, lo - 1), hi - self.horizon)

    def _window_values(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        idx = origins[:, None] + np.arange(-self.window + 1, 1)[None, :]
        return z[idx]

    def _targets(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        return z[origins[:, None] + np.arange(1, self.horizon + 1)[None, :]]

    def _refs(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The reference forecast each step is learned relative to (last value or one season back)."""
        k = np.arange(1, self.horizon + 1)
        if self.reference == "seasonal":
            back = self.season * np.ceil(k / self.season).astype(int)
            return z[origins[:, None] + (k - back)[None, :]]
        return np.repeat(z[origins][:, None], self.horizon, axis=1)

    def _row(self, series_id: str) -> np.ndarray:
        return self.scales.get(series_id, self.scales["*"])

    def _inputs(self, s: Series, origins: np.ndarray) -> np.ndarray:
        """Model inputs (N, window, features): the window relative to its last value, calendar, covariates."""
        win = self._window_values(self.forward(s.values), origins)
        channels = [((win - win[:, -1:]) / self._row(s.id)[0])[..., None]]
        idx = origins[:, None] + np.arange(-self.window + 1, 1)[None, :]
        cal = calendar_features(s.times, self.step, self.window)
        if cal.shape[1]:
            channels.append(cal[idx])
        if self.covariates:
            channels.append(((s.covariates - self.cov_stats[0]) / self.cov_stats[1])[idx])
        return np.concatenate(channels, axis=2).astype(np.float32)

    def _base_targets(self, s: Series, origins: np.ndarray) -> np.ndarray:
        """The targets relative to the reference forecast, centered and scaled."""
        z = self.forward(s.values)
        row = self._row(s.id)
        return (self._targets(z, origins) - self._refs(z, origins) - row[2:]) / row[1]

    def _linear(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1).astype(np.float64) @ self.linear[:-1] + self.linear[-1]

    def windows(self, s: Series, origins: np.ndarray, with_targets: bool = True):
        """Model inputs (N, window, features) and, if asked, targets (N, horizon): what the linear
        forecast left to explain, so a zero output of the network means the linear forecast."""
        x = self._inputs(s, origins)
        if not with_targets:
            return x, None
        return x, (self._base_targets(s, origins) - self._linear(x)).astype(np.float32)

    def decode(self, s: Series, origins: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Forecasts in the data's units from model outputs (N, horizon) at ``origins`` of ``s``."""
        z = self.forward(s.values)
        row = self._row(s.id)
        total = np.asarray(out, dtype=np.float64) + self._linear(self._inputs(s, origins))
        return self.inverse(self._refs(z, origins) + row[2:] + total * row[1])

    def transform(self, X) -> np.ndarray:
        """Inputs of the last window of each raw series (a table); arrays pass through unchanged."""
        if isinstance(X, np.ndarray):
            return X
        sset = self.read(X)
        return np.concatenate([self.windows(s, np.array([len(s.values) - 1]), False)[0] for s in sset.series])

    def postprocess(self, X, out: np.ndarray) -> np.ndarray:
        """Forecasts (one row per series) from the outputs for the raw series ``X``; the outputs
        of arrays of windows (already model inputs) are returned as they are."""
        if isinstance(X, np.ndarray):
            return out
        sset = self.read(X)
        return np.concatenate([self.decode(s, np.array([len(s.values) - 1]), out[i:i + 1])
                               for i, s in enumerate(sset.series)])

    def read(self, X: pd.DataFrame) -> SeriesSet:
        """Raw rows with the training columns (target included) -> regular series."""
        if not isinstance(X, pd.DataFrame) or self.target not in X.columns:
            raise NNGuruError(
                f"A forecast needs the series itself: a table with the value column {self.target!r}"
                + (f" and the time column {self.time!r}" if self.time else "") + "."
            )
        types = {c: "numeric" for c in self.covariates}
        sset = read_series(X.drop(columns=[self.target]), X[self.target].to_numpy(), target=self.target,
                           time=self.time, series_id=self.series_id, types=types)
        missing = [c for c in self.covariates if c not in sset.covariates]
        if missing:
            raise NNGuruError(f"The new data lacks the covariate columns {missing} the model was trained with.")
        for s in sset.series:
            if len(s.values) < self.window:
                raise NNGuruError(f"The series{f' {s.id!r}' if s.id else ''} has {len(s.values)} steps; the "
                                  f"model needs at least its window of {self.window} steps to forecast.")
            if self.transform_name == "log" and (s.values <= 0).any():
                raise NNGuruError("The model forecasts the log of the values, but the new series has values "
                                  "<= 0. Forecast a positive series, or retrain with --transform none.")
        return sset

    # --- persistence (JSON + arrays, no pickle) ---
    def to_config(self) -> dict:
        return {"format": CONFIG_FORMAT, "version": 1, "target": self.target, "time": self.time,
                "series_id": self.series_id, "step": self.step, "covariates": self.covariates,
                "season": self.season, "window": self.window, "horizon": self.horizon,
                "transform": self.transform_name, "reference": self.reference,
                "series_ids": list(self.scales), "input_shape": list(self.input_shape or []),
                "linear_alpha": self.linear_alpha}

    def state(self) -> dict[str, np.ndarray]:
        state = {f"scales.{i}": row for i, row in enumerate(self.scales.values())}
        state["cov_stats"] = self.cov_stats
        state["linear"] = self.linear
        return state

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> SeriesPreprocessor:
        pre = cls(**{k: config[k] for k in ("target", "time", "series_id", "step", "covariates", "season",
                                            "window", "horizon", "reference", "linear_alpha")},
                  transform=config["transform"])
        pre.scales = {sid: np.asarray(state[f"scales.{i}"]) for i, sid in enumerate(config["series_ids"])}
        pre.cov_stats = np.asarray(state["cov_stats"])
        pre.linear = np.asarray(state["linear"], dtype=np.float64)
        pre.input_shape = tuple(config["input_shape"])
        return pre


def spans(n: int, horizon: int, val_frac: float, test_frac: float, test_steps: int | None) -> tuple[int, int]:
    """(train_end, val_end): test = the last max(test_frac * n, 3 horizons) steps (or ``test_steps``),
    validation the max(val_frac * n, 2 horizons) steps before it."""
    test = int(test_steps) if test_steps else max(int(round(test_frac * n)), 3 * horizon)
    val = max(int(round(val_frac * n)), 2 * horizon) if val_frac > 0 else 0
    return n - test - val, n - test


def log_possible(series: list[Series], train_ends: list[int]) -> bool:
    return all((s.values[:end] > 0).all() and (s.values > 0).all() for s, end in zip(series, train_ends, strict=True))

