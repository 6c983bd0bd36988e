"""Shared fixtures: where the real datasets are, and small deterministic data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    return Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture
def shared_datasets() -> Path:
    path = datasets_dir()
    if not path.is_dir():
        pytest.skip(f"shared datasets not found at {path} (set NNGURU_DATASETS to run acceptance tests)")
    return path


@pytest.fixture
def mnist_dir(shared_datasets) -> Path:
    path = shared_datasets / "mnist"
    if not path.is_dir():
        pytest.skip(f"MNIST not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _seed():
    import nnguru

    nnguru.set_seed(0)


@pytest.fixture
def blobs():
    """Three well-separated Gaussian classes in 4-D: any working classifier gets ~100%."""
    rng = np.random.default_rng(0)
    centers = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    y = rng.integers(0, 3, 300)
    x = centers[y] + rng.normal(0, 0.5, (300, 4)).astype(np.float32)
    return x.astype(np.float32), y
