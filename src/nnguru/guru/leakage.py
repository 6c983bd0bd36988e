"""Count test samples that also occur in the training data (the ``leakage`` rule's input)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def _row_digests(X: pd.DataFrame | np.ndarray) -> list[bytes]:
    """One digest per sample, equal exactly when the samples are identical."""
    if isinstance(X, pd.DataFrame):
        hashed = pd.util.hash_pandas_object(X.reset_index(drop=True), index=False)
        return [int(h).to_bytes(8, "little") for h in hashed.to_numpy()]
    a = np.ascontiguousarray(np.asarray(X).reshape(len(X), -1))
    if a.dtype == object:
        return [hashlib.blake2b(repr(row.tolist()).encode(), digest_size=16).digest() for row in a]
    a = a + 0 if np.issubdtype(a.dtype, np.floating) else a  # -0.0 and 0.0 hash alike
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in a]


def count_leakage(X_train: pd.DataFrame | np.ndarray, X_test: pd.DataFrame | np.ndarray) -> int:
    """How many test samples have an exact copy among the training samples.

    Compare raw features (before preprocessing, target excluded): identical inputs in both splits
    let a model score by memory. Tables compare all columns; arrays compare whole samples.
    """
    if len(X_train) == 0 or len(X_test) == 0:
        return 0
    if isinstance(X_train, pd.DataFrame) and isinstance(X_test, pd.DataFrame):
        X_test = X_test[list(X_train.columns)] if set(X_train.columns) <= set(X_test.columns) \
            else X_test
    seen = set(_row_digests(X_train))
    return sum(d in seen for d in _row_digests(X_test))
