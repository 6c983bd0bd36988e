"""Fixes from the planted-fault benchmark (benchmarks/guru_faults.py, network faults)."""

import pytest
from sklearn.datasets import load_digits

from nnguru import guru, initializers
from nnguru.training.monitor import NetworkMonitor
from planted_models import digits_mlp

X, Y = load_digits(return_X_y=True)
X, Y = (X[:480] / 16.0).astype("float32"), Y[:480]


def _diagnose(model, scale=1.0, epochs=4):
    mon = NetworkMonitor(every=3)
    h = model.fit(X * scale, Y, epochs=epochs, batch_size=32, verbose=0, callbacks=[mon])
    return guru.diagnose(history=h.history, monitor=mon.result(), n_classes=10)


@pytest.mark.parametrize("model_kwargs, scale, cause", [
    ({"init": initializers.RandomNormal(0, 1.5)}, 1.0, "bad_initialization"),
    ({}, 1000.0, "unnormalized_input"),
], ids=["huge-init", "inputs-x1000"])
def test_a_bad_start_is_not_read_as_a_too_high_rate(model_kwargs, scale, cause):
    # the loss starts far above the prior's because of the weights/inputs, before any update:
    # lowering the rate (lr_too_high's advice) would not fix it
    codes = [f.code for f in _diagnose(digits_mlp(**model_kwargs), scale)]
    assert cause in codes and "lr_too_high" not in codes


def test_the_same_history_without_the_network_cause_still_reads_lr_too_high():
    # the oracle for the test above: the curve rule itself fires on these runs
    model = digits_mlp(init=initializers.RandomNormal(0, 1.5))
    h = model.fit(X, Y, epochs=4, batch_size=32, verbose=0)
    assert "lr_too_high" in {f.code for f in guru.diagnose(history=h.history, n_classes=10)}


def test_unnormalized_inputs_explain_underfitting_as_the_other_network_findings_do():
    # a loss that barely leaves the prior's: underfitting from the curves alone ("more capacity"),
    # but with inputs in the hundreds the cause is the scale, and its remedy is standardizing
    loss = [2.3, 2.2, 2.15, 2.12, 2.1, 2.09, 2.08, 2.07]
    history = {"loss": loss, "val_loss": [v + 0.02 for v in loss], "accuracy": [0.15] * 8,
               "val_accuracy": [0.14] * 8}
    assert [f.code for f in guru.diagnose(history=history, n_classes=10)] == ["underfitting"]
    monitor = {"layers": [{"name": "dense", "params": 650}], "samples": [],
               "input": {"features": 64, "max_rms": 480.0, "max_abs_mean": 400.0, "max_std": 250.0,
                         "max_abs": 1000.0, "worst_features": [3], "worst_rms": [480.0]}}
    codes = [f.code for f in guru.diagnose(history=history, n_classes=10, monitor=monitor)]
    assert codes == ["unnormalized_input"]
