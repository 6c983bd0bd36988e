"""Issue 13's similarity acceptance on real data (figures in benchmarks/RESULTS.md, "Similarity search")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import nnguru
from nnguru.datasets import load_mnist


def test_mnist_embedding_beats_raw_pixel_search(mnist_dir, tmp_path):
    (x, y), _ = load_mnist(mnist_dir)
    pick = np.random.default_rng(0).choice(len(x), 6000, replace=False)  # a subsample keeps it quick
    run = nnguru.train((x[pick], y[pick]), out=tmp_path / "mnist", model="mlp", epochs=3, verbose=0)
    sim = run.metrics["similarity"]
    print("mnist similarity:", sim)
    assert sim["embedding"]["precision_at_5"] > sim["preprocessed_features"]["precision_at_5"]


def test_spoken_digits_nearest_recordings_share_the_digit(shared_datasets, tmp_path):
    folder = shared_datasets / "free_spoken_digit_dataset" / "recordings"
    run = nnguru.train(str(folder), out=tmp_path / "fsdd", label_from_name=r"^(\d+)_", verbose=0)
    # held-out recordings: the official test files (repetition 0-4), one per speaker and digit
    test = sorted(p for p in folder.glob("*.wav") if p.stem.split("_")[2] == "0")
    found = run.similar([str(p) for p in test], k=5)
    digit = found["query"].map(lambda s: Path(s).name.split("_")[0])
    same = (found["label"].astype(str) == digit).to_numpy().reshape(-1, 5)
    print(f"spoken digits: {same.mean():.3f} of the 5 nearest share the digit; {run.metrics['similarity']}")
    assert (same.sum(axis=1) >= 3).mean() >= 0.9  # mostly the same digit, for nearly every recording
    assert not set(found["item"]) & {str(p) for p in test}  # neighbours come from training only
