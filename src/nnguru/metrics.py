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
from nnguru.nn.metrics import BinaryCrossentropyMetric as BinaryCrossentropy
from nnguru.nn.metrics import CategoricalCrossentropyMetric as CategoricalCrossentropy
from nnguru.nn.metrics import SparseCategoricalCrossentropyMetric as SparseCategoricalCrossentropy

__all__ = ["AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "CategoricalAccuracy", "F1Score", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredError", "Metric", "Precision", "Recall",
           "RootMeanSquaredError", "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "TopKCategoricalAccuracy"]
__getattr__ = module_getattr("metrics", __name__)
