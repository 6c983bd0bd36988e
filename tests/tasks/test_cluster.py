"""Clustering: separable blobs found with K chosen by silhouette, files, predict, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import nnguru
from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.tasks.cluster import Cluster, cluster_metrics


def blob_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n, n_features=6, centers=3, cluster_std=1.0, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(6)])
    frame["group"] = [f"g{v}" for v in y]
    return frame


@pytest.fixture(scope="module")
def blob_run(tmp_path_factory):
    nnguru.set_seed(0)
    return nnguru.train(blob_frame(), target="group", task="cluster", epochs=30,
                        out=tmp_path_factory.mktemp("cluster") / "run", verbose=0)


def test_blobs_are_found_with_k_by_silhouette(blob_run):
    m = blob_run.metrics
    assert m["cluster"]["k"] == 3 and m["cluster"]["chosen_by"] == "silhouette"
    assert m["test"]["ari"] >= 0.95 and m["test"]["nmi"] >= 0.9
    assert {"silhouette", "davies_bouldin", "ari", "nmi"} <= set(m["baseline"]["kmeans"])
    files = {p.name for p in blob_run.run_dir.iterdir()}
    assert {"assignments.csv", "clusters.json", "clusters.png", "cluster_summary.png"} <= files
    assignments = pd.read_csv(blob_run.run_dir / "assignments.csv")
    assert sorted(assignments["row"]) == list(range(300))  # every row, once
    assert set(assignments["split"]) == {"train", "val", "test"}


def test_predict_assigns_rows_as_the_run_did(blob_run):
    frame = blob_frame()
    assignments = pd.read_csv(blob_run.run_dir / "assignments.csv")
    predicted = blob_run.predict_table(frame.drop(columns="group"))
    assert (predicted["cluster"].to_numpy() == assignments["cluster"].to_numpy()).all()


def test_embed_is_the_code_layer(blob_run):
    model, task = blob_run.model, Cluster(blob_run.config)
    x = model.preprocessor.transform(blob_frame().drop(columns="group").head(5))
    with torch.no_grad():  # the oracle: the torch layers up to the code, applied by hand
        z = torch.as_tensor(x)
        for layer in model.layers:
            z = layer(z)
            if layer.layer_name == "code":
                break
    codes = task.embed(model, x)
    assert codes.shape == (5, model.get_layer("code").units)
    unit = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)  # stored and searched at unit length
    np.testing.assert_allclose(codes, unit, rtol=1e-5, atol=1e-6)


def test_cluster_metrics_match_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    points, assigned, labels = rng.normal(size=(50, 3)), rng.integers(0, 3, 50), rng.integers(0, 2, 50)
    m = cluster_metrics(points, assigned, labels, 0)
    assert m["silhouette"] == pytest.approx(skm.silhouette_score(points, assigned))
    assert m["davies_bouldin"] == pytest.approx(skm.davies_bouldin_score(points, assigned))
    assert m["ari"] == pytest.approx(skm.adjusted_rand_score(labels, assigned))


@pytest.mark.parametrize("argv, words", [
    (["--clusters", "1"], ["--clusters", "received 1", "2"]),
    (["--clusters", "500"], ["--clusters 500", "training rows", "smaller --clusters"]),
])
def test_bad_cluster_counts_exit_2(tmp_path, capsys, argv, words):
    path = tmp_path / "data.csv"
    blob_frame(60).drop(columns="group").to_csv(path, index=False)
    code = main(["train", str(path), "--task", "cluster", "--epochs", "1", "--out", str(tmp_path / "run"), *argv])
    out = capsys.readouterr()
    assert code == 2
    assert all(w in out.err + out.out for w in words), out.err + out.out
    assert not (tmp_path / "run").exists()


def test_other_templates_are_refused(tmp_path):
    with pytest.raises(NNGuruError, match="--model 'mlp' cannot learn cluster"):
        nnguru.train(blob_frame(60).drop(columns="group").to_numpy(), task="cluster", model="mlp", epochs=1,
                     out=tmp_path / "r", verbose=0)


def test_without_labels(tmp_path):
    frame = blob_frame(120).drop(columns="group")
    run = nnguru.train(frame, task="cluster", clusters=3, epochs=2, out=tmp_path / "run", verbose=0)
    assert "ari" not in run.metrics["test"] and "silhouette" in run.metrics["test"]
    assert run.metrics["cluster"]["chosen_by"] == "--clusters"
    assert set(run.predict_table(frame)["cluster"]) <= {0, 1, 2}
