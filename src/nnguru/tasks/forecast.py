"""Forecasting: predict the next ``horizon`` values of a series from its last ``window`` values.

The split follows time: training, then validation, then test spans, never shuffled; no window
reads a target from a later span, and scaling is fitted on the training span only. The test span
is scored by rolling origin: from every origin whose whole horizon lies in the test span, the
model forecasts with the data up to the origin, next to the naive (last value), seasonal-naive and
seasonal-naive-with-drift forecasts from the same origins (``forecasts.csv`` has them all).

Choices made from the data, each reported in ``data_report.json``'s ``forecast`` block: the step
(frequency), the season length (autocorrelation of the changes), the window (at least two
seasons), and, on the validation span, the value transform (none or log) and the reference
forecast (the last value or the seasonal naive), compared by the validation error of the linear
part of the model (a ridge regression on the same windows, see ``data.series``), so that one
network is trained, not one per choice. The network learns what the linear forecast leaves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnguru.data import series as S
from nnguru.errors import NNGuruError
from nnguru.evaluate.forecast import BASELINES, baseline_forecasts, forecast_metrics, mase_scale
from nnguru.tasks import register
from nnguru.tasks.base import Evaluation, Prepared, Task
from nnguru.tasks.classification import numeric_values

SPLITS = ("train", "val", "test")


@register
class Forecast(Task):
    name = "forecast"
    auto_rank = 10  # a plain series is unmistakable; ask before labels or values
    split_method = "chronological"
    loss = "mse"
    headline = "mase"
    summary_metrics = ("mae", "rmse", "mape", "smape", "mase")
    report_cards = ("mape", "mase")
    guru_rules = ("lr_too_high", "lr_too_low", "plateau", "overfitting", "underfitting", "small_data",
                  "worse_than_baseline",
                  # inside the network (guru/network_rules.py)
                  "unnormalized_input", "exploding_gradients", "dead_units", "vanishing_gradients",
                  "saturation", "bad_initialization", "nonfinite")
    figures = {"forecast.png": "Forecasts vs actual on the test span (rolling origin), with the baselines"}
    options = ("time", "series_id", "horizon", "window", "season", "transform", "test_steps")

    # --- choosing the task ---
    @classmethod
    def _time_ordered(cls, ds) -> str | None:
        """The datetime column the rows are sorted by, when the target is numeric."""
        if not isinstance(ds.X, pd.DataFrame) or ds.y is None or numeric_values(ds.y) is None:
            return None
        types = ds.info.get("column_types") or {}
        dates = [c for c in ds.X.columns if types.get(c) == "datetime"]
        if len(dates) != 1:
            return None
        times = pd.to_datetime(ds.X[dates[0]].astype("string"), errors="coerce", format="mixed")
        ordered = times.notna().all() and times.is_monotonic_increasing and times.is_unique
        return dates[0] if ordered else None

    @classmethod
    def fits(cls, ds) -> bool:
        """A table of a numeric target over one sorted time column and nothing else: a series."""
        time = cls._time_ordered(ds)
        return time is not None and list(ds.X.columns) == [time]

    @classmethod
    def hint(cls, ds) -> str | None:
        time = cls._time_ordered(ds)
        if time is None:
            return None
        return (f"The rows are ordered by time ({time!r}) and the target is a value over time: a random "
                "split lets later rows leak into training and flatters the test score. To forecast it, "
                f"pass --task forecast (task='forecast'), with --time {time} and --horizon H.")

    # --- prepare ---
    def _options(self) -> tuple[int, int | None, int | None, int | None]:
        cfg = self.cfg
        horizon = _positive_int(cfg.get("horizon", 1), "--horizon", "the number of steps to forecast, e.g. 12")
        window = cfg.get("window") and _positive_int(cfg["window"], "--window", "past steps the model sees")
        season = cfg.get("season") and _positive_int(cfg["season"], "--season", "the season length in steps")
        test = cfg.get("test_steps") and _positive_int(cfg["test_steps"], "--test-steps", "the test span length")
        if cfg.get("transform") not in (None, "none", "log"):
            raise NNGuruError(f"--transform {cfg['transform']!r} is not supported; use 'none' or 'log' "
                              "(or leave it out to choose on validation).")
        return horizon, window, season, test

    def prepare(self, ds, console) -> Prepared:
        cfg = self.cfg
        horizon, window, season, test_steps = self._options()
        types = ds.info.get("column_types") or (ds.X.attrs.get("column_types") if isinstance(ds.X, pd.DataFrame)
                                                else None) or {}
        if not isinstance(ds.X, pd.DataFrame):
            raise NNGuruError("Forecasting needs a table: a value column (--target) and a time column, "
                              f"e.g. a CSV; received {ds.kind} data.")
        target = ds.target or "value"
        sset = S.read_series(ds.X, ds.y, target=target, time=cfg.get("time"), series_id=cfg.get("series_id"),
                             types=types)
        ends = [S.spans(len(s.values), horizon, float(cfg["val_frac"]), float(cfg["test_frac"]), test_steps)
                for s in sset.series]
        train_ends = [a for a, _ in ends]
        longest = int(np.argmax([len(s.values) for s in sset.series]))
        if season is None:
            season, season_report = S.detect_season(sset.series[longest].values[:max(train_ends[longest], 2)],
                                                    sset.step)
        else:
            season_report = {"season": season, "chosen_by": "--season"}
        window = window or S.default_window(season, horizon)
        self._check_lengths(sset, ends, window, horizon, test_steps)
        transform, reference, alpha, probe = self._choose(sset, target, ends, season, window, horizon)
        pre = self._preprocessor(sset, target, season, window, horizon, transform, reference, alpha)
        pre.fit(sset.series, train_ends)
        x, y, origins = _windows(pre, sset.series, ends)
        cfg.update(time=sset.time, horizon=horizon, window=window, season=season, transform=transform)
        s0, (a0, b0) = sset.series[longest], ends[longest]
        data_report = {
            "dataset": ds.name, "kind": "series", "source": ds.info.get("path") or ds.info.get("source"),
            "rows": {"loaded": len(ds), "after_cleaning": int(sum(len(s.values) for s in sset.series))},
            "series": sset.report, "warnings": [],
            "forecast": {**season_report, "window": window, "horizon": horizon, "transform": transform,
                         "reference": reference, "linear_alpha": alpha,
                         "chosen_on_validation": probe},
            "split": {"method": self.split_method, "train": len(y["train"]), "val": len(y["val"]),
                      "test": len(y["test"]), "stratified": False, "seed": int(cfg["seed"]),
                      "official_test_set": False, "duplicates_train_test": 0,
                      "steps": {"train": a0, "val": b0 - a0, "test": len(s0.values) - b0},
                      "test_starts": str(s0.times[b0]), "val_starts": str(s0.times[a0])},
        }
        _print_report(data_report, console)
        context = {"series": sset.series, "origins": origins, "ends": ends}
        return Prepared(data_report, pre, x, y, horizon, target, context)

    def _check_lengths(self, sset: S.SeriesSet, ends, window: int, horizon: int, test_steps) -> None:
        for s, (a, b) in zip(sset.series, ends, strict=True):
            where = f"series {s.id!r}" if s.id else "the series"
            test = len(s.values) - b
            if a < window + horizon:
                if window > max(a, 0):
                    fix = ("Pass a smaller --window" + (" (the default is at least two seasons; try "
                           "--season 1)" if not self.cfg.get("window") else "") + ", a smaller --test-steps, "
                           "or use a longer series.")
                else:
                    fix = "Use a longer series, or pass a smaller --horizon or --test-steps."
                raise NNGuruError(
                    f"The series is too short: {where} has {len(s.values)} steps, but a window of {window} "
                    f"+ a horizon of {horizon} + validation ({b - a}) and test ({test}) spans need at "
                    f"least {window + horizon + (b - a) + test}; the training span ({max(a, 0)} steps) "
                    f"holds no training window. {fix}"
                )
            if test < horizon:
                raise NNGuruError(f"--test-steps {test_steps} is shorter than the horizon {horizon}: no test "
                                  "forecast fits. Pass a test span of at least one horizon.")

    def _choose(self, sset: S.SeriesSet, target: str, ends, season: int, window: int,
                horizon: int) -> tuple[str, str, float, list]:
        """The (transform, reference, ridge penalty) whose linear forecast has the lowest validation MAE."""
        series, cfg = sset.series, self.cfg
        train_ends = [a for a, _ in ends]
        transforms = [cfg["transform"]] if cfg.get("transform") else (
            ["none", "log"] if S.log_possible(series, train_ends) else ["none"])
        refs = ["last", "seasonal"] if season > 1 and window >= season * -(-horizon // season) else ["last"]
        if not any(b > a for a, b in ends):  # no validation span: the plainest choice
            return transforms[0], refs[0], 1.0, []
        table = []
        for transform in transforms:
            for reference in refs:
                pre = self._preprocessor(sset, target, season, window, horizon, transform, reference)
                pre.fit(series, train_ends)
                for alpha in S.LINEAR_ALPHAS:
                    pre.fit_linear(series, train_ends, alpha)
                    _, y, origins = _windows(pre, series, ends)
                    forecast, actual = _decode(pre, series, origins["val"], np.zeros_like(y["val"]))
                    table.append({"transform": transform, "reference": reference, "alpha": alpha,
                                  "val_mae": round(float(np.mean(np.abs(forecast - actual))), 6)})
        best = min(table, key=lambda row: row["val_mae"])
        return best["transform"], best["reference"], best["alpha"], table

    def _preprocessor(self, sset: S.SeriesSet, target: str, season: int, window: int, horizon: int,
                      transform: str, reference: str, alpha: float = 1.0) -> S.SeriesPreprocessor:
        return S.SeriesPreprocessor(target=target, time=sset.time, series_id=self.cfg.get("series_id"),
                                    step=sset.step, covariates=sset.covariates, season=season, window=window,
                                    horizon=horizon, transform=transform, reference=reference, linear_alpha=alpha)

    # --- build ---
    def head(self, n_out: int, y_train: np.ndarray) -> list:
        """One output per step ahead (direct multi-step): the correction to the linear forecast,
        starting at zero, so training starts from the linear forecast."""
        from nnguru.nn.layers import Dense

        return [Dense(n_out, kernel_initializer="zeros")]

    # --- evaluate ---
    def evaluate(self, model, p: Prepared) -> Evaluation:
        series, pre = p.context["series"], p.pre
        before_test = [b for _, b in p.context["ends"]]  # MASE scales: all data before the test span
        metrics: dict[str, Any] = {}
        scored = {}
        for split in ("val", "test"):
            pairs = p.context["origins"][split]
            if pairs:
                forecast, actual = _decode(pre, series, pairs, model.predict(p.x[split]))
                scale = _mase_scales(series, pairs, before_test, pre.season, pre.horizon)
                metrics[split] = forecast_metrics(actual, forecast, scale)
                scored[split] = pairs, forecast, actual, scale
        frame = None
        if "test" in scored:
            pairs, forecast, actual, scale = scored["test"]
            base = _baseline_forecasts(series, pairs, pre.horizon, pre.season)
            metrics["baseline"] = {name: {**forecast_metrics(actual, base[name], scale),
                                          "strategy": BASELINE_STRATEGIES[name]} for name in BASELINES}
            frame = _forecasts_table(pre, series, pairs, forecast, actual, base)
        metrics["protocol"] = {"rolling_origin": True, "horizon": pre.horizon, "season": pre.season,
                               "window": pre.window, "origins": int(len(p.y["test"]))}
        return Evaluation(metrics, plots={"forecasts": frame})

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        from nnguru.report.plots import plot_forecast

        frame = ev.plots.get("forecasts")
        if frame is None:
            return []
        frame.to_csv(run_dir / "forecasts.csv", index=False)
        return [run_dir / "forecasts.csv", plot_forecast(frame, run_dir / "forecast.png")]

    # --- predict ---
    def predict_table(self, model, data: Any, horizon: int | None = None, **source_options: Any) -> pd.DataFrame:
        """Forecasts ``horizon`` steps past the end of each given series, with their timestamps.

        Up to the trained horizon the forecasts are direct; beyond it they are recursive (each
        forecast block is appended to the series and the model forecasts on from there).
        """
        pre = model.preprocessor
        steps = _positive_int(horizon, "--horizon", "the number of steps to forecast") if horizon else pre.horizon
        sset = pre.read(self._raw_table(data, **source_options))
        frames = []
        for s in sset.series:
            values, times, covs = s.values.copy(), s.times, s.covariates
            out: list[float] = []
            while len(out) < steps:
                cur = S.Series(s.id, times, values, covs)
                x, _ = pre.windows(cur, np.array([len(values) - 1]), with_targets=False)
                block = pre.decode(cur, np.array([len(values) - 1]), model.predict(x))[0]
                out.extend(block.tolist())
                times = times.append(S.future_times(times, pre.step, len(block)))
                values = np.concatenate([values, block])
                covs = np.concatenate([covs, np.repeat(covs[-1:], len(block), axis=0)]) if covs.shape[1] else \
                    np.zeros((len(values), 0))
            future = S.future_times(s.times, pre.step, steps)
            frame = pd.DataFrame({"time": future, "step": np.arange(1, steps + 1), "prediction": out[:steps]})
            if pre.series_id:
                frame.insert(0, "series", s.id)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _raw_table(self, data: Any, **source_options: Any) -> pd.DataFrame:
        from nnguru.inference import load_new_data

        if isinstance(data, pd.DataFrame):
            return data
        ds = load_new_data(data, self.cfg, with_target=True, **source_options)
        if ds.y is None:
            raise NNGuruError(f"{str(data)!r} has no value column {self.cfg.get('target')!r}: a forecast "
                              "continues the series, so give the series itself (its past values).")
        return ds.X.assign(**{ds.target: ds.y})

    def clean_new(self, ds) -> tuple[Any, dict]:
        return ds, {"rows": {"loaded": len(ds)}}  # the series reader checks and repairs

    def score(self, model, ds) -> dict:
        """Rolling-origin metrics over every origin of the new series, next to the naive baselines."""
        pre = model.preprocessor
        series = pre.read(ds.X.assign(**{pre.target: ds.y})).series
        origins = [pre.origins(0, len(s.values)) for s in series]
        pairs = [(si, int(t)) for si, o in enumerate(origins) for t in o]
        if not pairs:
            raise NNGuruError(f"The new series are shorter than the window ({pre.window}) + horizon "
                              f"({pre.horizon}): there is nothing to score.")
        x = np.concatenate([pre.windows(s, o, with_targets=False)[0] for s, o in zip(series, origins, strict=True)
                            if len(o)])
        forecast, actual = _decode(pre, series, pairs, model.predict(x))
        scale = _mase_scales(series, pairs, [len(s.values) for s in series], pre.season, pre.horizon)
        base = _baseline_forecasts(series, pairs, pre.horizon, pre.season)
        out = forecast_metrics(actual, forecast, scale)
        out["baseline"] = {n: forecast_metrics(actual, base[n], scale) for n in BASELINES}
        return out


BASELINE_STRATEGIES = {
    "naive": "the last observed value",
    "seasonal_naive": "the value one season earlier",
    "seasonal_naive_drift": "the value one season earlier plus the mean seasonal change so far",
}


def _positive_int(value: Any, flag: str, meaning: str) -> int:
    whole = (isinstance(value, (int, np.integer)) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and value.strip().isdigit())
    if not whole or int(value) < 1:
        raise NNGuruError(f"{flag} must be a positive whole number ({meaning}); received {value!r}.")
    return int(value)


def _windows(pre: S.SeriesPreprocessor, series: list[S.Series], ends):
    """Inputs, scaled targets and (series, origin) pairs of every split, all series pooled."""
    x, y, origins = {}, {}, {}
    for split in SPLITS:
        xs, ys, pairs = [], [], []
        for si, (s, (a, b)) in enumerate(zip(series, ends, strict=True)):
            lo, hi = {"train": (0, a), "val": (a, b), "test": (b, len(s.values))}[split]
            o = pre.origins(lo, hi)
            if not len(o):
                continue
            xo, yo = pre.windows(s, o)
            xs.append(xo)
            ys.append(yo)
            pairs += [(si, int(t)) for t in o]
        x[split] = np.concatenate(xs) if xs else np.zeros((0, *pre.input_shape), np.float32)
        y[split] = np.concatenate(ys) if ys else np.zeros((0, pre.horizon), np.float32)
        origins[split] = pairs
    return x, y, origins


def _decode(pre: S.SeriesPreprocessor, series: list[S.Series], pairs: list[tuple[int, int]], out: np.ndarray):
    """Forecasts and actual values (origins x horizon) in the data's units."""
    out = np.asarray(out).reshape(len(pairs), pre.horizon)
    forecast = np.empty_like(out, dtype=np.float64)
    actual = np.empty_like(forecast)
    steps = np.arange(1, pre.horizon + 1)
    for si in sorted({si for si, _ in pairs}):
        rows = np.array([i for i, (sj, _) in enumerate(pairs) if sj == si])
        origins = np.array([pairs[i][1] for i in rows])
        s = series[si]
        forecast[rows] = pre.decode(s, origins, out[rows])
        actual[rows] = s.values[origins[:, None] + steps[None, :]]
    return forecast, actual


def _baseline_forecasts(series: list[S.Series], pairs: list[tuple[int, int]], horizon: int,
                        season: int) -> dict[str, np.ndarray]:
    """Each baseline's forecasts (origins x horizon) from the data up to each origin."""
    per = [baseline_forecasts(series[si].values[:t + 1], horizon, season) for si, t in pairs]
    return {name: np.array([b[name] for b in per]) for name in BASELINES}


def _mase_scales(series: list[S.Series], pairs: list[tuple[int, int]], ends: list[int], season: int,
                 horizon: int) -> np.ndarray:
    """Each forecast's MASE scale: its series' in-sample seasonal-naive MAE on the steps before ``ends``."""
    per_series = [mase_scale(s.values[:end], season) for s, end in zip(series, ends, strict=True)]
    return np.repeat(np.array([per_series[si] for si, _ in pairs])[:, None], horizon, axis=1)


def _forecasts_table(pre: S.SeriesPreprocessor, series: list[S.Series], pairs: list[tuple[int, int]],
                     forecast: np.ndarray, actual: np.ndarray, base: dict[str, np.ndarray]) -> pd.DataFrame:
    """forecasts.csv: one row per (origin, step), the model's forecast next to the baselines'."""
    steps = np.arange(1, pre.horizon + 1)
    rows = [pd.DataFrame({"series": series[si].id, "origin": series[si].times[t], "step": steps,
                          "time": S.future_times(series[si].times[:t + 1], pre.step, pre.horizon),
                          "actual": actual[i], "forecast": forecast[i], **{n: base[n][i] for n in BASELINES}})
            for i, (si, t) in enumerate(pairs)]
    return pd.concat(rows, ignore_index=True)


def _print_report(report: dict, console) -> None:
    f, split, series = report["forecast"], report["split"], report["series"]
    console.rule(f"[bold]1. Data[/] · {report['dataset']} · forecast")
    console.print(f"{series['series']} series, {series['frequency']}, time column {series['time_column']!r}; "
                  f"season {f['season']}, window {f['window']}, horizon {f['horizon']}, transform "
                  f"{f['transform']}, reference {f['reference']}")
    for repair in series.get("repairs", []):
        console.print(f"[yellow]repaired:[/] {repair}")
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    console.rule("[bold]2. Split[/] (in time order)")
    steps = split["steps"]
    console.print(f"train {steps['train']} steps ({split['train']} windows) · validation {steps['val']} steps "
                  f"from {split['val_starts']} ({split['val']} windows) · test {steps['test']} steps from "
                  f"{split['test_starts']} ({split['test']} rolling origins)")
