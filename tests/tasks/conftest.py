"""Fixtures of the task tests (the series themselves are in series_data.py)."""

from __future__ import annotations

import pytest
from series_data import monthly_series


@pytest.fixture
def monthly_csv(tmp_path):
    path = tmp_path / "monthly.csv"
    monthly_series().to_csv(path, index=False)
    return path
