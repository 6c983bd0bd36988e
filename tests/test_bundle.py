"""Model files: safetensors + JSON round trip; corrupt or foreign files give clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnguru
from nnguru import Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def trained(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), BatchNormalization(),
                        MaxPooling2D(2), Flatten(), Dropout(0.1), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m"
    model.save(path)
    return model, x, y, path


def test_round_trip_gives_identical_predictions(tmp_path):
    model, x, y, path = trained(tmp_path)
    loaded = nnguru.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))
    meta = json.loads((path / "model.json").read_text())
    assert meta["versions"]["torch"] and meta["architecture"]["layers"][0]["class_name"] == "Conv2D"
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pt"))


def test_a_layer_used_twice_saves_and_checkpoints(tmp_path):
    """Its weights appear under two state_dict keys sharing storage, which safetensors refuses."""
    from nnguru.training.checkpoint import load_checkpoint, save_checkpoint

    shared = Dense(4, activation="relu")
    model = Sequential([Dense(4, input_shape=(4,)), shared, shared, Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((32, 4)).astype(np.float32)
    model.fit(x, (x[:, 0] > 0.5).astype(np.int64), epochs=1, verbose=0)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(nnguru.load_model(tmp_path / "m").predict(x), model.predict(x))
    save_checkpoint(tmp_path / "ck.safetensors", model, model.optimizer)
    assert load_checkpoint(tmp_path / "ck.safetensors", model, model.optimizer)["epoch"] == 0


def test_corrupted_weights(tmp_path):
    _, _, _, path = trained(tmp_path)
    (path / "weights.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(NNGuruError, match="truncated or not a safetensors file"):
        nnguru.load_model(path)


def test_foreign_and_missing_files(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.json").write_text(json.dumps({"format": "keras"}))
    with pytest.raises(NNGuruError, match="not an nnguru model file"):
        nnguru.load_model(foreign)
    (foreign / "model.json").write_text("{not json")
    with pytest.raises(NNGuruError, match="corrupt"):
        nnguru.load_model(foreign)
    with pytest.raises(NNGuruError, match="does not exist"):
        nnguru.load_model(tmp_path / "nothing")
    pickle_file = tmp_path / "model.pkl"
    pickle_file.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(NNGuruError, match="not an nnguru model"):
        nnguru.load_model(tmp_path)


def test_weights_from_another_architecture(tmp_path):
    _, _, _, path = trained(tmp_path)
    other = Sequential([Dense(2, input_shape=(3,))])
    other.save(tmp_path / "other")
    (path / "weights.safetensors").write_bytes((tmp_path / "other" / "weights.safetensors").read_bytes())
    with pytest.raises(NNGuruError, match="do not fit the saved architecture"):
        nnguru.load_model(path)


def test_save_refuses_foreign_folder(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))])
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(NNGuruError, match="Refusing to save"):
        model.save(tmp_path)


# ---- malformed bundles: refused before anything is allocated, naming the file and the field -----
def small_bundle(tmp_path):
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = tmp_path / "run" / "model"  # a run directory's bundle, for `nnguru predict`
    model.save(path)
    return path, json.loads((path / "model.json").read_text())


def write_meta(path, meta):
    (path / "model.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("units", [10**7, 10**12])
def test_huge_units_in_model_json_fail_fast_without_allocating(tmp_path, units):
    import time

    path, meta = small_bundle(tmp_path)
    meta["architecture"]["layers"][0]["config"]["units"] = units
    write_meta(path, meta)
    t0 = time.perf_counter()
    with pytest.raises(NNGuruError, match="do not fit the saved architecture") as info:
        nnguru.load_model(path)
    assert time.perf_counter() - t0 < 2.0
    assert "model.json" in str(info.value) and str(units) in str(info.value)


def test_nan_weights_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    path, _ = small_bundle(tmp_path)
    tensors = load_file(path / "weights.safetensors")
    first = sorted(tensors)[0]
    tensors[first][0] = float("nan")
    save_file(tensors, path / "weights.safetensors")
    with pytest.raises(NNGuruError, match="NaN or infinite") as info:
        nnguru.load_model(path)
    assert first in str(info.value) and "weights.safetensors" in str(info.value)


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.pop("architecture"), "architecture.layers"),
    (lambda m: m["architecture"].pop("layers"), "architecture.layers"),
    (lambda m: m["architecture"].__setitem__("layers", "dense"), "architecture.layers"),
    (lambda m: m["architecture"]["layers"][0].pop("class_name"), "architecture.layers[0]"),
    (lambda m: m["architecture"]["layers"][1].__setitem__("class_name", "Evil"), "Unknown layer 'Evil'"),
    (lambda m: m["architecture"]["layers"][0]["config"].__setitem__("units", "four"), "architecture.layers[0]"),
    (lambda m: m["architecture"]["layers"][0]["config"].__setitem__("bogus", 1), "architecture.layers[0]"),
    (lambda m: m["architecture"]["layers"][0].__setitem__("config", [1]), "architecture.layers[0]"),
    (lambda m: m.__setitem__("input_shape", ["x"]), "input_shape"),
    (lambda m: m.__setitem__("class_name", "MyModel"), "class_name"),
    (lambda m: m.__setitem__("class_name", "Functional"), "architecture.layers[0].name"),  # no graph fields
    (lambda m: m["compile"].pop("loss"), "compile"),
    (lambda m: m.__setitem__("compile", {"optimizer": "adam", "loss": "nope", "metrics": []}), "compile"),
    (lambda m: m.__setitem__("output_activation", 3), "output_activation"),
])
def test_malformed_model_json_names_the_file_and_field(tmp_path, edit, words):
    path, meta = small_bundle(tmp_path)
    edit(meta)
    write_meta(path, meta)
    with pytest.raises(NNGuruError) as info:
        nnguru.load_model(path)
    assert words in str(info.value)
    assert "model.json" in str(info.value) or "Unknown layer" in str(info.value)


@pytest.mark.parametrize("cut", [lambda b: b[: len(b) // 2], lambda b: b[:-1], lambda b: b[:6],
                                 lambda b: (10**12).to_bytes(8, "little") + b[8:], lambda b: b"PK\x03\x04" + b])
def test_truncated_or_foreign_weight_file(tmp_path, cut):
    path, _ = small_bundle(tmp_path)
    data = (path / "weights.safetensors").read_bytes()
    (path / "weights.safetensors").write_bytes(cut(data))
    with pytest.raises(NNGuruError, match="truncated or not a safetensors file"):
        nnguru.load_model(path)


def test_cli_predict_with_a_malformed_bundle_exits_2(tmp_path, capsys):
    from nnguru.cli import main

    path, meta = small_bundle(tmp_path)
    meta["architecture"]["layers"][0]["config"]["units"] = 10**12
    write_meta(path, meta)
    data = tmp_path / "x.csv"
    data.write_text("a,b,c\n1,2,3\n")
    out = tmp_path / "p.csv"
    assert main(["predict", str(path.parent), str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "model.json" in err and "internal error" not in err and not out.exists()


def test_a_registered_layer_that_meta_tensors_do_not_support_still_loads(tmp_path):
    import torch

    from nnguru.nn.layers import register

    @register
    class ScaledByData(Dense):  # reads a tensor's value while building: impossible on the meta device
        def build(self, input_shape):
            super().build(input_shape)
            self.factor = float(torch.ones(1).sum().item())

    model = Sequential([ScaledByData(2, input_shape=(3,))])
    model.save(tmp_path / "m")
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_array_equal(nnguru.load_model(tmp_path / "m").predict(x), model.predict(x))
