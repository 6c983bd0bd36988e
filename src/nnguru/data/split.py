"""Three-way train / validation / test split: stratified and seeded by default.

The test split is carved out first and never looked at again until the final evaluation; when
the data ships an official test set (``split_hint``), that set is the test split.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from nnguru.errors import NNGuruError

# A class with fewer members cannot be in train, validation and test at once: its rows all train,
# so the other classes stay stratified (one lone image no longer turns stratification off for all).
MIN_CLASS_TO_SPLIT = 3


def train_only_classes(y: np.ndarray | None) -> dict[str, int]:
    """Classes too small to split (label -> count): :func:`three_way_split` puts them in train."""
    if y is None:
        return {}
    labels, counts = np.unique(np.asarray(y, dtype=str), return_counts=True)
    if len(labels) < 2:
        return {}
    return {str(k): int(n) for k, n in zip(labels, counts, strict=True) if n < MIN_CLASS_TO_SPLIT}


def _can_stratify(y: np.ndarray | None, n_take: int) -> bool:
    """Stratify only when every class has at least 2 members and the split can hold each class."""
    if y is None:
        return False
    _, counts = np.unique(y, return_counts=True)
    return len(counts) > 1 and counts.min() >= 2 and n_take >= len(counts)


def three_way_split(
    n: int,
    y: np.ndarray | None = None,
    *,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
    stratify: bool = True,
    split_hint: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the train, validation and test rows (default 70/15/15).

    ``y`` given and ``stratify`` true keeps class proportions in every part; the rows of classes
    under :data:`MIN_CLASS_TO_SPLIT` members all go to train (see :func:`train_only_classes`).
    ``split_hint`` rows marked "test" form the test split; validation is then drawn from the rest.
    """
    rare = train_only_classes(y) if stratify and split_hint is None else {}
    if rare:
        pinned = np.isin(np.asarray(y, dtype=str), list(rare))
        kept = np.flatnonzero(~pinned)
        train, val, test = three_way_split(len(kept), np.asarray(y)[kept], val_frac=val_frac, test_frac=test_frac,
                                           seed=seed, stratify=stratify)
        return np.sort(np.concatenate([kept[train], np.flatnonzero(pinned)])), kept[val], kept[test]
    for name, frac in (("val_frac", val_frac), ("test_frac", test_frac)):
        if not 0.0 <= frac < 1.0:
            raise NNGuruError(f"{name} must be in [0, 1); received {frac!r}. The default is 0.15.")
    if val_frac + test_frac >= 1.0:
        raise NNGuruError(f"val_frac + test_frac must leave rows to train on; received {val_frac} + {test_frac}.")
    index = np.arange(n)
    if split_hint is not None and np.any(split_hint == "test"):
        test = index[split_hint == "test"]
        rest = index[split_hint != "test"]
        val_of_rest = val_frac / (1.0 - test_frac) if test_frac < 1 else val_frac
        val_of_rest = min(val_frac, val_of_rest) if val_frac else 0.0
    else:
        if test_frac > 0:
            n_test = max(1, round(n * test_frac))
            strat = y if stratify and _can_stratify(y, n_test) else None
            rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=strat)
        else:
            rest, test = index, index[:0]
        val_of_rest = val_frac / (1.0 - test_frac)
    if val_frac > 0:
        n_val = max(1, round(len(rest) * val_of_rest))
        if n_val >= len(rest):
            raise NNGuruError(
                f"Only {n} rows: too few to split into train/validation/test "
                f"({1 - val_frac - test_frac:.0%}/{val_frac:.0%}/{test_frac:.0%}). Provide more data."
            )
        y_rest = None if y is None else y[rest]
        strat = y_rest if stratify and _can_stratify(y_rest, n_val) else None
        train, val = train_test_split(rest, test_size=n_val, random_state=seed + 1, stratify=strat)
    else:
        train, val = rest, rest[:0]
    if len(train) == 0:
        raise NNGuruError(f"No rows left to train on after splitting {n} rows; provide more data.")
    return np.sort(train), np.sort(val), np.sort(test)
