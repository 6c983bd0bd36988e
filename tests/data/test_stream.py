"""Streamed tables (nnguru.data.stream) against the in-memory path on the same small table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from nnguru.config import resolve_config
from nnguru.data import stream as st
from nnguru.data.preprocess import Preprocessor
from nnguru.errors import NNGuruError


def _table(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n).round(4)
    x2 = rng.normal(2, 3, size=n).round(4)
    color = rng.choice(["red", "green", "Blue", " blue", "violet"], size=n, p=[0.4, 0.3, 0.15, 0.149, 0.001])
    logit = x1 - 0.5 * x2 + (color == "red")
    frame = pd.DataFrame({"x1": x1, "x2": x2, "color": color,
                          "y": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"),
                          "value": (2 * x1 + x2 + rng.normal(size=n)).round(4)})
    frame.loc[rng.random(n) < 0.05, "x1"] = np.nan
    frame.loc[rng.random(n) < 0.03, "color"] = "?"
    frame.loc[rng.random(n) < 0.01, "y"] = ""
    return pd.concat([frame, frame.iloc[:20]], ignore_index=True)  # duplicate rows


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "table.csv"
    _table().to_csv(path, index=False)
    return path


def _open(path, target="y", chunk_rows=256, **options):
    cfg = resolve_config(target=target, **options)
    stream = st.open_table(path, cfg)
    stream.reader.chunk_rows = stream.chunk_rows = chunk_rows  # many chunks: merges are exercised
    return stream, cfg


def _in_memory_train(path, cfg, target):
    """The raw table split by the same hash, cleaned of rows without a target (the oracle's input)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    X, y = raw.drop(columns=[target]), raw[target].to_numpy(dtype=object)
    rows = st.clean_chunk(X, y, cfg, list(X.columns))
    return rows.X[rows.split == 0].reset_index(drop=True), rows.y[rows.split == 0], rows


def test_moments_merge_chunks_like_pandas():
    values = np.random.default_rng(1).normal(1e3, 7.0, size=10_001)
    values[::17] = np.nan
    m = st.Moments()
    for part in np.array_split(values, 13):
        m.add(part)
    present = pd.Series(values).dropna()
    assert m.n == len(present)
    assert m.mean == pytest.approx(present.mean(), rel=1e-9)
    assert m.var == pytest.approx(present.var(ddof=0), rel=1e-9)
    assert (m.low, m.high) == (present.min(), present.max())


def test_hash_split_is_stable_across_chunkings_and_keeps_duplicates_together():
    frame = _table(3000).drop(columns=["y"]).astype(str)
    whole = st.hash_split(st.row_hashes(frame), 0, 0.15, 0.15)
    parts = [frame.iloc[i] for i in np.array_split(np.arange(len(frame)), 7)]
    pieces = np.concatenate([st.hash_split(st.row_hashes(part), 0, 0.15, 0.15) for part in parts])
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(whole[-20:], whole[:20])  # the 20 duplicated rows
    shares = np.bincount(whole, minlength=3) / len(whole)
    assert abs(shares[0] - 0.70) < 0.03 and abs(shares[2] - 0.15) < 0.03
    other_seed = st.hash_split(st.row_hashes(frame), 1, 0.15, 0.15)
    assert (other_seed != whole).mean() > 0.2


def test_streamed_statistics_equal_the_in_memory_preprocessor(csv_path):
    stream, cfg = _open(csv_path)
    stats = st.collect_stats(stream, cfg, categorical=True)
    pre, types = st.build_preprocessor("classification", stream, stats, categorical=True)
    X_train, y_train, _ = _in_memory_train(csv_path, cfg, "y")
    X_train.attrs["column_types"] = types
    oracle = Preprocessor("classification").fit(X_train, y_train)
    assert pre.classes == oracle.classes == ["no", "yes"]
    assert pre.input_shape == oracle.input_shape
    assert pre.to_config()["blocks"] == oracle.to_config()["blocks"]  # categories, rare, fill, indicators
    mine, theirs = pre.state(), oracle.state()
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-9, atol=0, err_msg=key)
    np.testing.assert_allclose(pre.transform(X_train), oracle.transform(X_train), rtol=1e-6, atol=1e-6)


def test_report_counts_what_the_table_holds(csv_path):
    stream, cfg = _open(csv_path)
    stats = st.collect_stats(stream, cfg, categorical=True)
    _, types = st.build_preprocessor("classification", stream, stats, categorical=True)
    report = st.data_report(stream, stats, types, cfg, True, "classification")
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    assert report["rows"]["loaded"] == len(raw)
    assert report["target"]["missing_rows_dropped"] == int((raw["y"] == "").sum())
    missing = {e["name"]: e["missing"] for e in report["columns"]}
    assert missing["x1"] == int((raw["x1"] == "").sum()) and missing["color"] == int((raw["color"] == "?").sum())
    split = report["split"]
    assert split["train"] + split["val"] + split["test"] == report["rows"]["after_cleaning"]
    assert sum(report["target"]["class_balance"]["counts"].values()) == report["rows"]["after_cleaning"]


def _model(n_in: int, n_out: int, loss: str, metrics: list[str]):
    import nnguru
    from nnguru.layers import Dense

    nnguru.set_seed(0)
    model = nnguru.Sequential([Dense(8, activation="relu", input_shape=(n_in,)),
                               Dense(n_out, activation="softmax" if n_out > 1 else None)])
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    return model


def _prepared(path, task_name, target, **options):
    from nnguru import tasks
    from nnguru.tasks.base import Prepared

    stream, cfg = _open(path, target=target, task=task_name, **options)
    task = tasks.get(task_name)({**cfg, "task": task_name})
    from rich.console import Console

    p = task.prepare_stream(stream, Console(quiet=True))
    assert isinstance(p, Prepared)
    return task, p, cfg


def _arrays(split):
    xs, ys = zip(*split.arrays(), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("threshold", [None, "auto"])
def test_streamed_classification_metrics_equal_in_memory_metrics(csv_path, threshold):
    from nnguru.evaluate import classification_metrics
    from nnguru.evaluate.baselines import majority_class

    task, p, _ = _prepared(csv_path, "classification", "y", threshold=threshold)
    model = _model(p.pre.input_shape[0], p.n_out, task.loss, ["accuracy"])
    model.fit(p.x["train"], None, epochs=2, batch_size=64, verbose=0)
    ev = task.evaluate_stream(model, p)
    x_tr, y_tr = _arrays(p.x["train"])
    x_te, y_te = _arrays(p.x["test"])
    t = ev.choices["threshold"]
    if threshold == "auto":  # chosen on every validation row (they fit the sample): the in-memory choice
        x_va, y_va = _arrays(p.x["val"])
        assert t == task._threshold(y_va, model.predict(x_va), 1, {})
    expected = classification_metrics(y_te, model.predict(x_te), p.pre.classes, None, t, y_tr)
    got = ev.metrics["test"]
    for key in ("n", "accuracy", "precision", "recall", "f1", "loss", "roc_auc", "pr_auc", "balanced_accuracy"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
    assert got["confusion_matrix"] == expected["confusion_matrix"]
    for label, row in expected["per_class"].items():
        assert got["per_class"][label] == pytest.approx(row, rel=1e-12), label
    base = majority_class(y_tr, y_te, classes=p.pre.classes)
    for key in ("accuracy", "precision", "recall", "f1", "loss", "roc_auc", "pr_auc"):
        assert ev.metrics["baseline"][key] == pytest.approx(base[key], rel=1e-9), key
    assert ev.metrics["baseline"]["strategy"] == base["strategy"]


def test_streamed_regression_metrics_equal_in_memory_metrics(csv_path):
    from nnguru.evaluate import regression_metrics
    from nnguru.evaluate.baselines import training_mean

    task, p, _ = _prepared(csv_path, "regression", "value")
    model = _model(p.pre.input_shape[0], 1, "mse", ["mae"])
    model.fit(p.x["train"], None, epochs=2, batch_size=64, verbose=0)
    ev = task.evaluate_stream(model, p)
    _, y_tr = _arrays(p.x["train"])
    x_te, y_te = _arrays(p.x["test"])
    expected = regression_metrics(y_te, model.predict(x_te))
    baseline = training_mean(y_tr, y_te)
    for key in ("n", "mae", "rmse", "r2"):
        assert ev.metrics["test"][key] == pytest.approx(expected[key], rel=1e-6), key
        assert ev.metrics["baseline"][key] == pytest.approx(baseline[key], rel=1e-6), key


def test_batches_cover_each_training_row_once_shuffled_per_epoch_and_shard_by_rank(csv_path):
    _, p, _ = _prepared(csv_path, "classification", "y")
    x_all, _ = _arrays(p.x["train"])
    batches = p.x["train"].batches(100, seed=3, buffer_rows=300)
    assert batches.steps == -(-len(x_all) // 100)
    x0, y0, w0 = batches.first()
    assert len(x0) == 100 and w0 is None and not batches.weighted
    first = [b for b in batches.epoch(0)]
    assert len(first) == batches.steps and all(x.dtype == torch.float32 for x, _, _ in first)
    seen = torch.cat([x for x, _, _ in first]).numpy()
    np.testing.assert_array_equal(np.sort(seen, axis=0), np.sort(x_all, axis=0))
    assert not np.array_equal(seen, x_all)  # mixed across chunks
    again = torch.cat([x for x, _, _ in batches.epoch(0)]).numpy()
    other = torch.cat([x for x, _, _ in batches.epoch(1)]).numpy()
    np.testing.assert_array_equal(seen, again)
    assert not np.array_equal(seen, other)
    ranks = [p.x["train"].batches(50, seed=3, rank=r, world=2) for r in range(2)]
    assert ranks[0].steps == ranks[1].steps
    shards = [torch.cat([x for x, _, _ in b.epoch(0)]).numpy() for b in ranks]
    rows = [{r.tobytes() for r in s} for s in shards]
    assert not rows[0] & rows[1]  # disjoint shards (chunk by chunk)


def test_loop_evaluate_on_a_stream_equals_tensor_data(csv_path):
    from nnguru.training.loop import TensorData, evaluate

    _, p, _ = _prepared(csv_path, "classification", "y")
    model = _model(p.pre.input_shape[0], p.n_out, "sparse_categorical_crossentropy", ["accuracy"])
    model.build((p.pre.input_shape[0],))
    model._finish_compile()
    x, y = _arrays(p.x["val"])
    streamed = evaluate(model, p.x["val"].batches(64, shuffle=False, targets=torch.from_numpy))
    in_memory = evaluate(model, TensorData(torch.from_numpy(x), torch.from_numpy(y)), batch_size=64)
    assert streamed == pytest.approx(in_memory, rel=1e-6)


def test_train_stream_end_to_end_close_to_in_memory(tmp_path, csv_path):
    import nnguru

    common = dict(target="y", epochs=4, verbose=0, overwrite=True)
    streamed = nnguru.train(str(csv_path), out=tmp_path / "s", stream=True, **common)
    in_memory = nnguru.train(str(csv_path), out=tmp_path / "m", stream=False, **common)
    assert abs(streamed.metrics["test"]["accuracy"] - in_memory.metrics["test"]["accuracy"]) < 0.08
    report = json.loads((tmp_path / "s" / "data_report.json").read_text())
    assert report["split"]["method"] == "hash" and report["stream"]["skipped"]
    assert len(streamed.history["loss"]) == 4 and (tmp_path / "s" / "report.html").exists()
    preds = streamed.predict(pd.read_csv(csv_path).head(5).drop(columns=["y"]))
    assert set(preds) <= {"yes", "no"}


def test_parquet_streams_by_row_group_and_auto_threshold_picks_streaming(tmp_path):
    import nnguru

    path = tmp_path / "t.parquet"
    _table(800).to_parquet(path, row_group_size=200)
    run = nnguru.train(str(path), target="value", out=tmp_path / "r", epochs=2, verbose=0,
                       stream_threshold_mb=0.001)
    assert run.data_report["split"]["method"] == "hash" and run.data_report["source"]["format"] == "parquet"
    assert set(run.metrics["test"]) >= {"mae", "rmse", "r2"}


def test_stream_refuses_what_it_cannot_stream(tmp_path, csv_path):
    import nnguru

    with pytest.raises(NNGuruError, match="--stream reads CSV/TSV/Parquet"):
        nnguru.train("builtin:iris", stream=True, out=tmp_path / "a")
    with pytest.raises(NNGuruError, match="--drop-outliers"):
        nnguru.train(str(csv_path), target="y", stream=True, drop_outliers=True, out=tmp_path / "b")
    series = tmp_path / "series.csv"
    pd.DataFrame({"date": pd.date_range("2000-01-01", periods=60, freq="MS").strftime("%Y-%m-%d"),
                  "units": np.arange(60.0)}).to_csv(series, index=False)
    with pytest.raises(NNGuruError, match="forecast"):
        nnguru.train(str(series), target="units", task="forecast", stream=True, out=tmp_path / "c")
    assert not any((tmp_path / d).exists() for d in "abc")


def test_csv_reader_detects_like_the_loader_and_skips_ragged_rows(tmp_path):
    from nnguru.data.sources import read_delimited

    path = tmp_path / "semi.txt"
    lines = [f'{i};"a; {i % 3}";{i * 0.5}' for i in range(40)]
    path.write_text("\n".join(lines[:10] + ["1;2"] + lines[10:]) + "\n")
    reader = st.TableReader(path, chunk_rows=7)
    frames = [f for _, f in reader.frames()]
    assert max(len(f) for f in frames) == 7 and reader.skipped_rows == 1
    loaded, info = read_delimited(path)
    assert not info["header"] and info["short_rows_padded"]["count"] == 1
    streamed = pd.concat(frames, ignore_index=True)
    assert list(streamed.columns) == list(loaded.columns) == ["c0", "c1", "c2"]
    pd.testing.assert_frame_equal(streamed, loaded.drop(index=10).reset_index(drop=True), check_dtype=False)
