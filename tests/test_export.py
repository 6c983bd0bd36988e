"""ONNX / torch.export files agree with nnguru's predictions (onnxruntime is the oracle's runner)."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest

import nnguru
from nnguru import Model, Sequential
from nnguru.errors import NNGuruError
from nnguru.export import export_model, run_onnx, run_pt2
from nnguru.layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    concatenate,
)
from nnguru.nn import templates

pytest.importorskip("onnxruntime")
TOL = 1e-4


def _check(model, x, tmp_path, name="m"):
    """Exports ``model`` and returns |onnx - predict| on a batch size other than the traced one."""
    info = export_model(model, tmp_path / f"{name}.onnx")
    arrays = x if isinstance(x, list) else [x]
    got = run_onnx(tmp_path / f"{name}.onnx", arrays)
    want = model.predict(x)
    want = np.concatenate([w.reshape(len(w), -1) for w in want], axis=1) if isinstance(want, list) else want
    assert got.shape == want.shape
    return info, float(np.abs(got - want).max())


@pytest.mark.parametrize("name,shape", [("mlp", (6,)), ("cnn", (12, 12, 1)), ("rnn", (7, 2)), ("conv1d", (7, 2))])
def test_every_template_exports_and_agrees(name, shape, tmp_path):
    model = templates.build(name, shape, [Dense(3, activation="softmax")], 100)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(9, *shape)).astype(np.float32)
    info, diff = _check(model, x, tmp_path)
    assert diff <= TOL and info["inputs"][0]["shape"] == ["batch", *shape]


def test_keras_api_models_export_trained(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    cnn = Sequential([Input(shape=(8, 8, 1)), Conv2D(4, 3, activation="relu"), BatchNormalization(),
                      MaxPooling2D(2), Flatten(), Dense(3, activation="softmax")])
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    cnn.fit(x, y, epochs=1, verbose=0)  # moving statistics that differ from the initial ones
    assert _check(cnn, x[:5], tmp_path, "cnn")[1] <= TOL
    seq = rng.normal(size=(6, 5, 3)).astype(np.float32)
    rec = Sequential([Input(shape=(5, 3)), LSTM(6, return_sequences=True), GRU(4), Dense(1, activation="sigmoid")])
    rec.compile(optimizer="adam", loss="binary_crossentropy")
    assert _check(rec, seq, tmp_path, "rec")[1] <= TOL
    mlp = Sequential([Flatten(input_shape=(4, 2)), Dense(5, activation="relu"), Dense(2)])
    mlp.compile(optimizer="adam", loss="mse")
    assert _check(mlp, rng.normal(size=(3, 4, 2)).astype(np.float32), tmp_path, "mlp")[1] <= TOL


def test_functional_model_with_two_inputs(tmp_path):
    a, b = Input(shape=(6,), name="a"), Input(shape=(3,), name="b")
    out = Dense(2, activation="softmax")(concatenate([Dense(4, activation="relu")(a), b]))
    model = Model(inputs=[a, b], outputs=out)
    rng = np.random.default_rng(2)
    x = [rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)]
    info, diff = _check(model, x, tmp_path)
    assert diff <= TOL and [i["name"] for i in info["inputs"]] == ["a", "b"]


def test_pt2_format(tmp_path):
    model = Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(2, activation="softmax")])
    x = np.random.default_rng(3).normal(size=(7, 4)).astype(np.float32)
    export_model(model, tmp_path / "m.pt2", format="pt2")
    assert np.abs(run_pt2(tmp_path / "m.pt2", [x]) - model.predict(x)).max() <= TOL


def test_affine_preprocessing_is_folded_into_the_graph(tmp_path):
    """A trained run's bundle takes raw rows: the graph on raw values equals predict on raw values."""
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    run = nnguru.train((x, y), out=tmp_path / "run", epochs=1, verbose=0, monitor=False)
    model = run.model
    info = export_model(model, tmp_path / "w.onnx")
    assert info["preprocessing"]["folded"] and info["preprocessing"]["graph_input"] == "raw values"
    raw = x[:11].astype(np.float32)
    assert np.abs(run_onnx(tmp_path / "w.onnx", [raw]) - model.predict(raw)).max() <= TOL
    side = json.loads((tmp_path / "w.preprocess.json").read_text())
    assert side["folded_into_graph"] and len(side["affine"]["scale"]) == 13


def test_export_run_checks_on_the_test_split(tmp_path):
    from nnguru.export import export_run

    nnguru.train("builtin:iris", out=tmp_path / "iris", epochs=1, verbose=0, monitor=False)
    info = export_run(tmp_path / "iris")
    assert info["agrees"] and info["rows"] > 10 and "test split" in info["checked_on"]
    assert json.loads((tmp_path / "iris" / "export.json").read_text())["max_abs_diff"] <= TOL
    with pytest.raises(NNGuruError, match="already exists"):
        export_run(tmp_path / "iris")


def test_refusals(tmp_path, monkeypatch):
    masked = Sequential([Input(shape=(6,)), Embedding(10, 4, mask_zero=True), LSTM(3), Dense(1)])
    with pytest.raises(NNGuruError, match="mask_zero"):
        export_model(masked, tmp_path / "m.onnx")
    with pytest.raises(NNGuruError, match="Unknown export format 'tflite'.*onnx"):
        export_model(masked, tmp_path / "m.tflite", format="tflite")
    real = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.startswith("onnx"):
            raise ImportError(name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    model = Sequential([Input(shape=(2,)), Dense(1)])
    with pytest.raises(NNGuruError, match=r"pip install 'nnguru\[export\]'"):
        export_model(model, tmp_path / "m.onnx")


def test_cli_export_exit_codes(tmp_path, capsys):
    from nnguru.cli import main

    assert main(["export", str(tmp_path / "missing")]) == 2
    assert "not an nnguru run directory" in capsys.readouterr().err
