"""Forecast metrics against scikit-learn, and the naive baselines by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from nnguru.evaluate.forecast import baseline_forecasts, forecast_metrics, mase_scale


def test_metrics_match_scikit_learn_and_the_definitions():
    rng = np.random.default_rng(0)
    actual = rng.uniform(1, 10, (7, 3))
    forecast = actual + rng.normal(0, 1, (7, 3))
    m = forecast_metrics(actual, forecast, 2.0)
    a, f = actual.ravel(), forecast.ravel()
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(a, f))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(a, f)))
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(a, f))
    assert m["smape"] == pytest.approx(np.mean(2 * np.abs(a - f) / (np.abs(a) + np.abs(f))))
    assert m["mase"] == pytest.approx(m["mae"] / 2.0) and m["n"] == 21


def test_baselines_and_mase_scale_by_hand():
    y = np.array([1.0, 5, 2, 6, 3, 7])  # season 2, rising by 1 per season
    b = baseline_forecasts(y, 3, 2)
    np.testing.assert_allclose(b["naive"], [7, 7, 7])
    np.testing.assert_allclose(b["seasonal_naive"], [3, 7, 3])
    np.testing.assert_allclose(b["seasonal_naive_drift"], [4, 8, 5])  # + 1 per season ahead
    assert mase_scale(y, 2) == pytest.approx(1.0) and mase_scale(y, 1) == pytest.approx(np.mean([4, 3, 4, 3, 4]))
