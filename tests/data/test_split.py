"""The three-way split: sizes, stratification, seeding, official test sets."""

from __future__ import annotations

import numpy as np
import pytest

from nnguru.data.split import three_way_split
from nnguru.errors import NNGuruError


def test_default_70_15_15_stratified_and_disjoint():
    y = np.array([0] * 900 + [1] * 100)
    tr, va, te = three_way_split(1000, y)
    assert (len(tr), len(va), len(te)) == (700, 150, 150)
    assert len(set(tr) | set(va) | set(te)) == 1000
    for part in (tr, va, te):
        assert y[part].mean() == pytest.approx(0.1, abs=0.01)


def test_seeded():
    y = np.arange(100) % 3
    a = three_way_split(100, y, seed=1)
    b = three_way_split(100, y, seed=1)
    c = three_way_split(100, y, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_split_hint_is_the_test_set():
    hint = np.array(["train"] * 80 + ["test"] * 20)
    tr, va, te = three_way_split(100, np.arange(100) % 2, split_hint=hint)
    assert te.tolist() == list(range(80, 100)) and len(va) + len(tr) == 80


def test_rare_class_falls_back_to_random_split():
    y = np.array([0] * 50 + [1])
    tr, va, te = three_way_split(51, y)
    assert len(tr) + len(va) + len(te) == 51


def test_bad_fractions():
    with pytest.raises(NNGuruError, match="val_frac"):
        three_way_split(10, val_frac=1.5)
    with pytest.raises(NNGuruError, match="too few"):
        three_way_split(2, val_frac=0.3, test_frac=0.3)
