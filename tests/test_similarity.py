"""Similarity search: the embedding (checked against torch), the index, precision@k (checked
against a brute-force NumPy search), and ``nnguru similar`` on a small run, with its bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from nnguru import similarity
from nnguru.cli import main
from nnguru.errors import NNGuruError


def _mlp():
    from nnguru import Sequential
    from nnguru.layers import Dense, Dropout

    model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dropout(0.5),
                        Dense(4, activation="tanh"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embed_is_the_unit_input_of_the_head_sequential():
    model = _mlp()
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    got = similarity.embed(model, x, batch_size=3)  # batches joined in order
    l1, l3 = model.layers[0], model.layers[2]
    with torch.no_grad():  # oracle: torch's own ops on the layers' weights, dropout off
        h = torch.relu(torch.as_tensor(x) @ l1.weight.T + l1.bias)
        h = torch.tanh(h @ l3.weight.T + l3.bias)
    np.testing.assert_allclose(got, _unit(h.numpy()), rtol=1e-5, atol=1e-6)
    layer, name = similarity.head_layer(model)
    assert layer is model.layers[-1] and name == model.layers[-1].name
    assert model.training  # the mode is restored


def test_embed_functional_walks_back_over_weightless_layers():
    from nnguru import Model
    from nnguru.layers import Activation, Dense, Input

    inp = Input(shape=(4,))
    hidden = Dense(6, activation="relu")(inp)
    out = Activation("softmax")(Dense(3)(hidden))
    model = Model(inputs=inp, outputs=out)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    dense = [m for m in model.layers if type(m).__name__ == "Dense"]
    with torch.no_grad():
        h = torch.relu(torch.as_tensor(x) @ dense[0].weight.T + dense[0].bias).numpy()
    np.testing.assert_allclose(similarity.embed(model, x), _unit(h), rtol=1e-5, atol=1e-6)
    assert similarity.head_layer(model)[0] is dense[1]


def test_precision_at_k_matches_brute_force():
    rng = np.random.default_rng(2)
    items, queries = rng.normal(size=(60, 4)), rng.normal(size=(9, 4))
    labels, qlabels = rng.integers(0, 3, 60), rng.integers(0, 3, 9)
    cos = _unit(queries) @ _unit(items).T
    nearest = np.argsort(-cos, axis=1, kind="stable")[:, :5]
    expected = np.mean(labels[nearest] == qlabels[:, None])
    assert similarity.precision_at_k(items, labels, queries, qlabels, 5) == pytest.approx(expected)


def test_index_round_trip_float16(tmp_path, monkeypatch):
    vectors = similarity.normalize(np.random.default_rng(3).normal(size=(10, 3)))
    index = similarity.Index(vectors, [f"f{i}.png" for i in range(10)], np.arange(10) % 2, ["a", "b"], "dense", "image")
    monkeypatch.setattr(similarity, "FLOAT16_ABOVE", 0)  # force the compact form
    index.save(tmp_path)
    back = similarity.load_index(tmp_path)
    assert json.loads((tmp_path / similarity.META).read_text())["dtype"] == "float16"
    np.testing.assert_allclose(back.vectors, vectors, atol=1e-3)
    assert back.ids == index.ids and list(back.label_of(np.array([0, 1]))) == ["a", "b"]


def test_wide_embeddings_are_pca_reduced_and_queries_projected_alike(tmp_path):
    """A 600-wide embedding is stored at MAX_DIM through scikit-learn's PCA (the oracle: the same
    components, mean and renormalization), saved with its projection, and a query of a stored item
    finds that item first."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(4)
    wide = similarity.normalize(rng.normal(size=(300, 600)) + rng.normal(size=(1, 600)))
    stored, center, projection = similarity.reduce(wide, seed=0)
    assert stored.shape == (300, similarity.MAX_DIM) and projection.shape == (600, similarity.MAX_DIM)
    pca = PCA(n_components=similarity.MAX_DIM, svd_solver="randomized", random_state=0).fit(wide)
    np.testing.assert_allclose(stored, similarity.normalize(pca.transform(wide)), atol=1e-4)
    index = similarity.Index(stored, list(range(300)), None, None, "dense", "image", center, projection)
    index.save(tmp_path)
    back = similarity.load_index(tmp_path)
    assert json.loads((tmp_path / similarity.META).read_text())["reduced_from"] == 600
    _, idx = similarity.neighbours(back.vectors, back.project(wide[[7, 42]]), 1)
    assert idx.ravel().tolist() == [7, 42]
    with pytest.raises(NNGuruError, match="embeds to 5 numbers but the stored items to 600"):
        back.project(np.ones((1, 5), np.float32))
    narrow = similarity.normalize(rng.normal(size=(50, 8)))
    assert similarity.reduce(narrow)[1] is None  # narrow embeddings are stored as they are


@pytest.mark.parametrize("k", [0, -1, 11, 2.5, True])
def test_check_k_refuses_out_of_range(k):
    with pytest.raises(NNGuruError, match=r"--k .* from 1 to 10"):
        similarity.check_k(k, 10)


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    import nnguru

    nnguru.set_seed(0)
    out = tmp_path_factory.mktemp("sim") / "iris"
    return nnguru.train("builtin:iris", out=out, epochs=3, verbose=0)


def test_run_stores_embeddings_and_scores_them(iris_run):
    sim = iris_run.metrics["similarity"]
    assert set(sim["embedding"]) == set(sim["preprocessed_features"]) == {"precision_at_5"}
    assert 0.0 <= sim["embedding"]["precision_at_5"] <= 1.0
    index = similarity.load_index(iris_run.run_dir / "model")
    assert len(index) == iris_run.data_report["split"]["train"] == sim["items"]
    assert all(isinstance(i, int) for i in index.ids) and index.classes is not None
    assert "Similarity search" in (iris_run.run_dir / "report.html").read_text()


def test_similar_cli_and_run_similar(iris_run, tmp_path, capsys):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.drop(columns=["target"])
    index = similarity.load_index(iris_run.run_dir / "model")
    rows = frame.iloc[index.ids[:4]].reset_index(drop=True)  # training rows: each finds itself first
    rows.to_csv(tmp_path / "q.csv", index=False)
    out = tmp_path / "n.csv"
    assert main(["similar", str(iris_run.run_dir), str(tmp_path / "q.csv"), "--k", "3", "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["query", "rank", "item", "distance", "label"]
    assert len(got) == 12 and got["rank"].tolist() == [1, 2, 3] * 4
    first = got[got["rank"] == 1]
    assert first["distance"].max() < 1e-5
    assert np.isin(first["item"], index.ids[:4]).all()  # ties (duplicate rows) may swap ids
    again = iris_run.similar(rows, k=3)
    np.testing.assert_allclose(again["distance"], got["distance"], atol=1e-6)


def _fails(args, capsys, *phrases):
    assert main(args) == 2
    err = capsys.readouterr().err
    for phrase in phrases:
        assert phrase in err, err
    assert "Traceback" not in err


def test_similar_bad_input(iris_run, tmp_path, capsys):
    run = str(iris_run.run_dir)
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(tmp_path / "other.csv", index=False)
    _fails(["similar", run, str(tmp_path / "other.csv")], capsys, "lacks the column(s)", "sepal length (cm)")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _fails(["similar", run, str(tmp_path / "x.png")], capsys, "is an image file", "table rows")
    _fails(["similar", run, str(tmp_path / "other.csv"), "--k", "0"], capsys, "--k 0", "from 1 to")
    n = iris_run.metrics["similarity"]["items"]
    _fails(["similar", run, str(tmp_path / "other.csv"), "--k", str(n + 1)], capsys, f"--k {n + 1}")


def test_similar_refuses_a_bundle_without_embeddings(iris_run, tmp_path, capsys):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(iris_run.run_dir, old)
    (old / "model" / similarity.VECTORS).unlink()
    _fails(["similar", str(old), "whatever.csv"], capsys, "no stored embeddings", "Train it again")


def test_item_ids_are_paths_else_rows_as_loaded():
    from nnguru.data.clean import clean
    from nnguru.data.types import Dataset
    from nnguru.tasks.base import item_ids

    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3]})
    ds = Dataset(X=frame, y=np.array(["x", None, "y", "x"], dtype=object), name="t", kind="table")
    cleaned, _ = clean(ds, task="classification")  # row 1 has no target: dropped
    assert item_ids(cleaned, np.array([0, 1, 2])) == [0, 2, 3]
    files = Dataset(X=pd.DataFrame({"path": ["a.png", "b.png"]}), y=None, name="f", kind="image",
                    info={"path_column": "path"})
    assert item_ids(files, np.array([1])) == ["b.png"]
