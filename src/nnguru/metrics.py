"""Keras's metrics: ``metrics=[nnguru.metrics.AUC(), "accuracy"]``; history keys are the metrics' names."""

from __future__ import annotations

from nnguru.keras_names import module_getattr
from nnguru.nn.metrics import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    Metric,
    Precision,
    Recall,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)

__all__ = ["AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "F1Score", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredError", "Metric", "Precision", "Recall",
           "RootMeanSquaredError", "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "TopKCategoricalAccuracy"]
__getattr__ = module_getattr("metrics", __name__)
