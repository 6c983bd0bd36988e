"""Evaluation on the test split (used once), always next to a trivial baseline.

``classification_metrics`` / ``regression_metrics`` produce the ``test`` and ``val`` blocks of
``metrics.json``; ``baseline`` the ``baseline`` block; ``choose_threshold`` the binary decision
threshold for ``--threshold auto`` (chosen on validation, never on test).
"""

from nnguru.evaluate.baselines import baseline
from nnguru.evaluate.metrics import (
    DEFAULT_THRESHOLD,
    choose_threshold,
    classification_metrics,
    regression_metrics,
    resolve_positive,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "baseline",
    "choose_threshold",
    "classification_metrics",
    "regression_metrics",
    "resolve_positive",
]
