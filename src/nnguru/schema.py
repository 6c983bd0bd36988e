"""The declared shape of what a run writes: ``data_report.json`` and ``metrics.json``.

Every stage that writes these files writes exactly these keys, and every stage that reads them
(the guru, the report) reads only these keys, so no reader has to guess between spellings.
``total=False`` marks a dict whose keys depend on the data (a table has ``columns``, an array
has ``array``; a regression target has ``summary``, a class target ``class_balance``).

The small readers at the bottom answer the questions several readers ask: which baselines a run
has (one flat baseline or several named ones), which of them is best on a metric, and whether
a metric is better high or low.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NotRequired, TypedDict

# --------------------------------------------------------------------------- data_report.json


class ClassBalance(TypedDict):
    """Class counts of the cleaned data set (all splits), as ``clean.py`` writes them."""

    counts: dict[str, int]
    shares: dict[str, float]
    minority_class: str
    minority_share: float
    warning: str | None


class TargetReport(TypedDict, total=False):
    """The target column: rows dropped for a missing target, then classes or a numeric summary."""

    name: str | None
    missing_rows_dropped: int
    spelling_fixes: dict[str, str]
    type: Literal["classes", "numeric"]
    class_balance: ClassBalance  # type "classes"
    summary: dict[str, float]  # type "numeric": min, median, max


class SplitReport(TypedDict):
    """How the cleaned rows were split (sizes in samples; forecasting: in windows)."""

    method: Literal["stratified", "random", "chronological", "hash"]  # hash: streamed tables
    train: int
    val: int
    test: int
    stratified: bool
    seed: int
    official_test_set: bool
    duplicates_train_test: int  # test samples with an exact copy in train (leakage)
    train_only_classes: NotRequired[dict[str, int]]  # classes too small to split: label -> count, all in train


class DataReport(TypedDict, total=False):
    """``data_report.json``: what cleaning found and did, and the split."""

    dataset: str
    kind: str  # "table" | "image" | "audio" | "array"
    source: dict[str, Any]  # how the data was read (path, format, sep, header, ...)
    rows: dict[str, int]  # loaded, after_cleaning
    warnings: list[str]
    columns: list[dict[str, Any]]  # tables: one entry per column (type, missing, action, ...)
    missing: dict[str, Any]  # tables: strategy, cells, rows_dropped, columns
    missing_rows_dropped: int  # tables with missing="drop"
    corrupt_files: list[dict[str, str]]  # {"file", "reason"}, at most MAX_LISTED
    corrupt_file_count: int  # tables with a path column
    formatting: dict[str, Any]  # image sizes/modes or audio rates/lengths
    placeholder_zeros: dict[str, dict[str, Any]]  # tables: column -> count, share, action
    outliers: dict[str, Any]  # tables: rule, columns, rows_flagged, action
    array: dict[str, Any]  # arrays: shape, dtype, non_finite_samples_dropped
    duplicates: dict[str, Any]  # rows, share, conflicting_labels, action
    target: TargetReport | None
    split: SplitReport
    stream: dict[str, Any]  # streamed tables: chunk size, samples, what was skipped or estimated


# ------------------------------------------------------------------------------- metrics.json


class Metrics(TypedDict, total=False):
    """``metrics.json``. ``baseline`` is one flat dict (a ``strategy`` string and the same metric
    keys as ``test``) or named baselines each holding those keys (forecasting: ``naive``,
    ``seasonal_naive``, ``seasonal_naive_drift``); read it with :func:`baselines`."""

    task: str
    test: dict[str, Any]
    val: dict[str, Any]
    baseline: dict[str, Any]
    epochs_run: int
    train_seconds: float
    threshold: dict[str, Any]  # binary classification with a chosen decision threshold (and why: reason)
    choices: dict[str, Any]  # binary classification: positive class, threshold, threshold_rule
    estimate_seconds: float | None  # the up-front estimate of train_seconds (nnguru.estimate)
    estimate: dict[str, Any] | None  # the whole estimate with actual_seconds, actual_epochs and error
    time_budget: dict[str, Any] | None  # {"seconds", "reached", "best_epoch"} when a budget applied
    similarity: dict[str, Any]  # precision@k of the stored embedding vs preprocessed features (nnguru.similarity)


# ----------------------------------------------------------------------------------- readers

# Metrics where a smaller value is better (errors and losses); every other metric is better high.
# davies_bouldin (clustering) is a ratio of scatter to separation: lower is better too.
LOWER_IS_BETTER = frozenset({"loss", "mae", "mse", "rmse", "mape", "smape", "mase", "davies_bouldin"})
# The name a flat (single, unnamed) baseline gets in :func:`baselines`.
FLAT_BASELINE = "trivial"


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def better(metric: str, a: float, b: float) -> bool:
    """True when score ``a`` is strictly better than ``b`` on ``metric``."""
    return a > b if higher_is_better(metric) else a < b


def baselines(metrics: Metrics | None) -> dict[str, dict[str, Any]]:
    """Named baselines, whichever shape ``metrics["baseline"]`` has: a flat baseline (it has a
    ``strategy``) becomes ``{"trivial": baseline}``; named ones are returned as they are."""
    base = (metrics or {}).get("baseline")
    if not base:
        return {}
    if "strategy" in base:
        return {FLAT_BASELINE: base}
    return {name: values for name, values in base.items() if isinstance(values, dict)}


def best_baseline(named: dict[str, dict[str, Any]], metric: str) -> tuple[str, float] | None:
    """(name, value) of the baseline scoring best on ``metric``; None when none reports it."""
    scored = [(name, float(values[metric])) for name, values in named.items()
              if isinstance(values.get(metric), (int, float)) and math.isfinite(values[metric])]
    if not scored:
        return None
    pick = max if higher_is_better(metric) else min
    return pick(scored, key=lambda item: item[1])


def class_counts(report: DataReport | None) -> dict[str, int] | None:
    """Class counts of the cleaned data, where ``clean.py`` writes them; None for other targets."""
    balance = ((report or {}).get("target") or {}).get("class_balance")
    return dict(balance["counts"]) if balance else None
