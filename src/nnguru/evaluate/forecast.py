"""Forecast metrics and the naive baselines every forecast is shown next to.

All functions take ``actual`` and ``forecast`` as arrays of the same shape (origins x steps, or
flat) and pool every (origin, step) pair, as statsforecast's and the M competitions' evaluations do.
MAPE and sMAPE are fractions (as scikit-learn's), not percentages; MAPE skips zero actuals, where
it is undefined. MASE divides by the in-sample seasonal-naive MAE of the data before the test span
(what a model could have known), as statsforecast's evaluations do.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("naive", "seasonal_naive", "seasonal_naive_drift")


def forecast_metrics(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray | float) -> dict[str, float | None]:
    """MAE, RMSE, MAPE, sMAPE and MASE: the mean absolute error over ``scale``, each series' in-sample
    seasonal-naive MAE (:func:`mase_scale`; one value, or one per forecast for several series)."""
    a = np.asarray(actual, dtype=np.float64).reshape(-1)
    f = np.asarray(forecast, dtype=np.float64).reshape(-1)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), np.shape(actual)).reshape(-1)
    err = a - f
    out: dict[str, float | None] = {"n": int(a.size)}
    if a.size == 0:
        return {**out, "mae": None, "rmse": None, "mape": None, "smape": None, "mase": None}
    mae = float(np.mean(np.abs(err)))
    nonzero = a != 0
    denom = np.abs(a) + np.abs(f)
    out.update(
        mae=mae,
        rmse=float(np.sqrt(np.mean(err ** 2))),
        # scikit-learn's mean_absolute_percentage_error over the non-zero actuals (None if there are none)
        mape=float(np.mean(np.abs(err[nonzero]) / np.abs(a[nonzero]))) if nonzero.any() else None,
        smape=float(np.mean(np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0))),
        mase=float(np.mean(np.abs(err) / scale)) if (scale > 0).all() else None,
    )
    return out


def mase_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast (naive when ``season`` is 1) on ``history``."""
    y = np.asarray(history, dtype=np.float64)
    m = season if len(y) > season else 1
    return float(np.mean(np.abs(y[m:] - y[:-m]))) if len(y) > m else 0.0


def baseline_forecasts(history: np.ndarray, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Each baseline's ``horizon`` forecasts from the end of ``history`` (the data up to the origin).

    naive: the last value. seasonal_naive: the value one season earlier (``season`` 1: naive).
    seasonal_naive_drift: the seasonal naive plus the mean seasonal change so far, once per
    season ahead (a seasonal random walk with drift).
    """
    y = np.asarray(history, dtype=np.float64)
    k = np.arange(1, horizon + 1)
    m = season if season > 1 and len(y) >= season else 1
    seasons_ahead = np.ceil(k / m).astype(int)
    seasonal = y[len(y) - 1 + k - m * seasons_ahead]
    drift = float(np.mean(y[m:] - y[:-m])) if len(y) > m else 0.0
    return {"naive": np.full(horizon, y[-1]), "seasonal_naive": seasonal,
            "seasonal_naive_drift": seasonal + seasons_ahead * drift}
