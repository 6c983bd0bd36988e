"""Issue 13's acceptance: clustering and anomaly detection on real data, next to their references.

The data makers are benchmarks/unsupervised.py's, which prints the figures kept in
benchmarks/RESULTS.md ("Without labels").
"""

from __future__ import annotations

import pytest

import benchmark_module
import nnguru


@pytest.fixture(scope="module")
def bench():
    return benchmark_module.load("unsupervised")


def test_digits_clusters_match_the_labels_better_than_kmeans(tmp_path):
    run = nnguru.train("builtin:digits", task="cluster", out=tmp_path / "run", verbose=0)
    m = run.metrics
    print("digits", m["test"], m["baseline"]["kmeans"], m["cluster"]["k"])
    assert m["test"]["ari"] >= 0.70
    assert m["test"]["ari"] > m["baseline"]["kmeans"]["ari"]


def test_generated_shapes_cluster(bench, tmp_path):
    """A second set, so the method is not judged on digits alone. Here plain k-means does better
    (ARI 0.59 vs 0.48 when measured, see RESULTS.md): the check holds the level, not a win."""
    images, labels = bench.shapes_images()
    m = nnguru.train((images, labels), task="cluster", clusters=3, out=tmp_path / "run", verbose=0).metrics
    print("shapes", m["test"], m["baseline"]["kmeans"])
    assert m["test"]["ari"] >= 0.4


def test_planted_table_outliers(bench, tmp_path):
    m = nnguru.train(bench.planted_table(), target="label", task="anomaly", out=tmp_path / "run", verbose=0).metrics
    print("planted", m["test"], m["baseline"]["isolation_forest"])
    assert m["test"]["roc_auc"] >= 0.95


def test_mnist_held_out_digit_is_anomalous(bench, mnist_dir, tmp_path):
    x, labels = bench.mnist_held_out(digit=0, n=3000)
    m = nnguru.train((x, labels), task="anomaly", normal="normal", epochs=8, out=tmp_path / "run",
                     verbose=0).metrics
    print("mnist 0 held out", m["test"], m["baseline"]["isolation_forest"])
    assert m["test"]["roc_auc"] >= 0.75
    assert m["baseline"]["isolation_forest"]["roc_auc"] is not None


def test_pima_as_anomaly_detection(shared_datasets, tmp_path):
    data = shared_datasets / "pima_indians_diabetes" / "pima-indians-diabetes.csv"
    m = nnguru.train(str(data), target=-1, task="anomaly", out=tmp_path / "run", verbose=0).metrics
    print("pima", m["test"], m["baseline"]["isolation_forest"])
    assert m["anomaly"]["normal_label"] == "0"  # the majority label; diabetes is the rare one
    assert m["test"]["roc_auc"] > 0.55  # reported next to IsolationForest in RESULTS.md
