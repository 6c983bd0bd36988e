"""Planted network faults are found; healthy runs produce no network finding (false alarms fail)."""


import pytest
from sklearn.datasets import load_digits

import nnguru
from nnguru import guru, initializers, losses
from nnguru.guru.network_rules import NETWORK_CODES
from nnguru.training.monitor import NetworkMonitor
from planted_models import digits_mlp

X, Y = load_digits(return_X_y=True)
X, Y = (X[:480] / 16.0).astype("float32"), Y[:480]


def _codes(act="relu", depth=2, init="glorot_uniform", bias="zeros", scale=1.0, opt="adam",
           loss="sparse_categorical_crossentropy", last="softmax"):
    model = digits_mlp(act, depth, init, bias, opt, loss, last)
    mon = NetworkMonitor(every=3)
    model.fit(X * scale, Y, epochs=2, batch_size=32, verbose=0, callbacks=[mon])
    return {f.code for f in guru.diagnose(history={}, monitor=mon.result())}


@pytest.mark.parametrize("kwargs", [{}, {"act": "tanh"}, {"act": "sigmoid"}, {"depth": 4}],
                         ids=["relu", "tanh", "sigmoid", "deeper"])
def test_healthy_networks_raise_no_network_finding(kwargs):
    assert not _codes(**kwargs) & set(NETWORK_CODES)


@pytest.mark.parametrize("kwargs, code", [
    ({"act": "sigmoid", "depth": 10}, "vanishing_gradients"),
    ({"opt": {"name": "sgd", "lr": 50.0}}, "exploding_gradients"),
    ({"bias": initializers.Constant(-5.0)}, "dead_units"),
    ({"scale": 1000.0}, "unnormalized_input"),
    ({"init": initializers.RandomNormal(0, 1.5)}, "bad_initialization"),
    ({"act": "tanh", "init": initializers.RandomNormal(0, 1.5)}, "saturation"),
    ({"loss": losses.SparseCategoricalCrossentropy(from_logits=True)}, "output_loss_mismatch"),
    ({"last": None}, "output_loss_mismatch"),
], ids=["vanishing", "exploding", "dead", "unnormalized", "init", "saturation", "logits", "linear-out"])
def test_planted_faults_are_found(kwargs, code):
    assert code in _codes(**kwargs)


def test_nonfinite_finding_names_the_layer():
    monitor = {"layers": [{"name": "dense", "params": 10}], "samples": [],
               "nonfinite": {"epoch": 1, "step": 7, "where": "forward", "layer": "dense"}}
    (f,) = guru.diagnose(history={}, monitor=monitor)
    assert f.code == "nonfinite" and "'dense'" in f.summary and "step 7" in f.summary


def test_healthy_pipeline_run_has_no_network_finding(tmp_path):
    run = nnguru.train("builtin:iris", out=tmp_path / "r", epochs=5, verbose=0)
    assert (tmp_path / "r" / "monitor.json").is_file()
    assert not {f.code for f in run.diagnosis} & set(NETWORK_CODES)
