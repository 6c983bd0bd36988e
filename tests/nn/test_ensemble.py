"""Table ensembles (EnsembleExpand/EnsembleMean, TabM-mini style) and the NTK parametrization, checked
against plain torch, and through what a run does downstream: save/load, ONNX, embeddings, --from."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nnguru
from nnguru import Sequential
from nnguru.config import resolve_config
from nnguru.errors import NNGuruError
from nnguru.initializers import RandomSign
from nnguru.layers import Dense, EnsembleExpand, EnsembleMean, FeatureScale, Input
from nnguru.nn import templates


def _ensemble_mlp(k: int = 3, features: int = 5) -> Sequential:
    nnguru.set_seed(0)
    model = Sequential([Input(shape=(features,)), FeatureScale(), EnsembleExpand(k), Dense(8, activation="relu"),
                        Dense(6, activation="relu"), EnsembleMean(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _oracle(model: Sequential, x: torch.Tensor) -> torch.Tensor:
    """The k members computed one at a time with torch's functional ops: member i reads x * r_i through
    the shared Dense layers; the head reads the mean of the members' last hidden layers."""
    scale, expand, d1, d2, _, head = list(model.layers)[-6:]
    hidden = []
    for r in expand.adapter:
        h = F.relu(F.linear(x * scale.scale * r, d1.weight, d1.bias))
        hidden.append(F.relu(F.linear(h, d2.weight, d2.bias)))
    return F.softmax(F.linear(torch.stack(hidden).mean(0), head.weight, head.bias), dim=-1)


def test_members_equal_k_separate_mlps_and_gradients_agree():
    model = _ensemble_mlp()
    with torch.no_grad():  # a learned scale and adapters other than their starting values
        model.layers[-6].scale.copy_(torch.linspace(0.5, 2.0, 5))
        model.layers[-5].adapter.mul_(torch.rand(3, 5) + 0.5)
    x = torch.randn(7, 5)
    ours, want = model(x), _oracle(model, x)
    torch.testing.assert_close(ours, want)
    adapter = model.layers[-5].adapter
    g_ours = torch.autograd.grad(ours[:, 0].sum(), adapter)[0]
    g_want = torch.autograd.grad(want[:, 0].sum(), adapter)[0]
    torch.testing.assert_close(g_ours, g_want)
    assert model.layers[-5].compute_output_shape((5,)) == (3, 5)


def test_random_sign_adapters_are_signs_seeded():
    draw = RandomSign(seed=3)((4, 50))
    assert set(draw.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(draw, RandomSign(seed=3)((4, 50)))
    assert abs(float(draw.mean())) < 0.2


def test_ensemble_saves_loads_and_round_trips_its_config(tmp_path):
    model = _ensemble_mlp()
    x = np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)
    model.fit(x, np.arange(30) % 3, epochs=2, verbose=0)
    model.save(tmp_path / "m")
    back = nnguru.load_model(tmp_path / "m")
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)
    config = EnsembleExpand(4).get_config()
    assert config["members"] == 4 and config["adapter_initializer"] == "random_sign"
    assert EnsembleExpand.from_config(config).members == 4


@pytest.mark.parametrize("members", [0, 2.5, True, "4"])
def test_bad_member_counts_are_refused(members):
    with pytest.raises(NNGuruError, match="positive int"):
        EnsembleExpand(members)


def test_ntk_dense_is_lecun_normal_at_start_with_gradients_scaled_by_fan_in():
    """NTK: y = (x / sqrt(n)) @ W with W ~ N(0, 1): the function of a LeCun-normal layer W / sqrt(n),
    and dL/dW is the standard parametrization's gradient divided by sqrt(n)."""
    nnguru.set_seed(1)
    n = 64
    scale, dense = templates.INITS["ntk"](n, 400)
    x = torch.randn(256, n)
    y = dense(scale(x))
    w = dense.weight.detach()
    assert abs(float(w.std()) - 1.0) < 0.02
    torch.testing.assert_close(y, F.relu(F.linear(x, w / math.sqrt(n), dense.bias)))
    g_ntk = torch.autograd.grad(y.sum(), dense.weight)[0]
    w_std = (w / math.sqrt(n)).requires_grad_(True)
    g_std = torch.autograd.grad(F.relu(F.linear(x, w_std, dense.bias)).sum(), w_std)[0]
    torch.testing.assert_close(g_ntk, g_std / math.sqrt(n))


def test_mlp_template_options_and_refusal():
    head = [Dense(2, activation="softmax")]
    model = templates.build("mlp", (6,), head, 100, feature_scale=True, ensemble=4, init="ntk")
    kinds = [type(m).__name__ for m in model.layers if type(m).__name__ != "Input"]
    assert kinds[:3] == ["FeatureScale", "EnsembleExpand", "Rescaling"]
    assert kinds[-3:] == ["EnsembleMean", "Rescaling", "Dense"]
    assert model(torch.randn(5, 6)).shape == (5, 2)
    plain = [type(m).__name__ for m in templates.build("mlp", (6,), [Dense(2)], 100).layers]
    assert "EnsembleExpand" not in plain and "Rescaling" not in plain
    with pytest.raises(NNGuruError, match="Unknown mlp init 'xavier'"):
        templates.build("mlp", (6,), [Dense(2)], 100, init="xavier")


@pytest.mark.parametrize("tabular", [{"ensemble": 0}, {"ensemble": 2.0}, {"init": "he"}])
def test_recipe_options_are_validated(tabular):
    with pytest.raises(NNGuruError, match="tabular"):
        resolve_config(None, tabular=tabular)


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "wine"
    nnguru.train("builtin:wine", out=out, epochs=3, verbose=0, monitor=False,
                 tabular={"ensemble": 4, "init": "ntk"})
    return out


def test_a_run_with_the_ensemble_survives_downstream(ensemble_run, tmp_path):
    """predict from the bundle, ONNX export, similarity embeddings (the head's input) and --from."""
    pytest.importorskip("onnxruntime")
    from nnguru.export import export_run

    summary = (ensemble_run / "model_summary.txt").read_text()
    assert "ensemble_expand" in summary.lower() and "ensemble_mean" in summary.lower()
    model = nnguru.load_model(ensemble_run / "model")
    assert any(type(m).__name__ == "EnsembleExpand" and m.members == 4 for m in model.layers)
    info = export_run(ensemble_run)
    assert info["agrees"]
    meta = json.loads((ensemble_run / "model" / "embeddings.json").read_text())
    assert meta["head_layer"] and meta["count"] > 50
    moved = nnguru.train("builtin:wine", out=tmp_path / "ft", base=ensemble_run, epochs=2, verbose=0, monitor=False)
    assert moved.metrics["test"]["accuracy"] > 0.3
    record = json.loads((moved.run_dir / "transfer.json").read_text())
    assert "EnsembleExpand" in [r["type"] for r in record["reused"]]
