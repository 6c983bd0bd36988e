"""Small generated series for the task tests: monthly multiplicative (airline-like), daily with a weekly cycle."""

from __future__ import annotations

import numpy as np
import pandas as pd


def monthly_series(n: int = 156, seed: int = 0) -> pd.DataFrame:
    """Trend x season x noise, like the airline data: a log transform makes it additive."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 100 * np.exp(0.01 * t)
    season = 1 + 0.25 * np.sin(2 * np.pi * t / 12) + 0.1 * np.cos(4 * np.pi * t / 12)
    values = level * season * np.exp(rng.normal(0, 0.02, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m"),
                         "sales": np.round(values, 2)})


def daily_series(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A weekly cycle on an AR(1) level: the last value alone forecasts it poorly."""
    rng = np.random.default_rng(seed)
    level = np.zeros(n)
    for i in range(1, n):
        level[i] = 0.9 * level[i - 1] + rng.normal(0, 1.0)
    weekly = np.array([0, 1, 2, 2.5, 3, 6, 5])[np.arange(n) % 7]
    return pd.DataFrame({"date": pd.date_range("2018-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                         "load": np.round(50 + 2 * level + 3 * weekly, 3)})
