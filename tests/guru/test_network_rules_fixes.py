"""Fixes from the planted-fault benchmark (benchmarks/guru_faults.py, network faults)."""

import numpy as np
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


# ---- auto-fix: which remedy acts, and which round is kept (benchmarks/guru_faults.py, issue 14) ----
def test_a_network_cause_acts_before_a_curve_symptom_of_the_same_severity():
    from nnguru.guru import Finding, strongest_remedy

    cfg = {"optimizer": "adam", "lr": 1e-3}
    # a 10-layer sigmoid MLP's flat loss also reads lr_too_high; a lower rate would not help
    flat = [Finding("lr_too_high", "warning", {"advised_lr": 1e-4}), Finding("vanishing_gradients", "warning")]
    assert strongest_remedy(flat, cfg)["codes"] == ["vanishing_gradients"]
    assert strongest_remedy(flat[:1], cfg)["changes"] == {"lr": 1e-4}  # alone, the curve finding acts
    # severity still comes first
    worse = [Finding("lr_too_high", "error", {"advised_lr": 1e-4}), Finding("vanishing_gradients", "warning")]
    assert strongest_remedy(worse, cfg)["codes"] == ["lr_too_high"]


@pytest.mark.parametrize("code", ["exploding_gradients", "nonfinite"])
def test_a_gradient_blow_up_under_plain_sgd_switches_to_adam_with_clipping(code):
    from nnguru.guru import Finding, strongest_remedy

    found = [Finding("lr_too_high", "error", {}), Finding(code, "error")]
    assert strongest_remedy(found, {"optimizer": "sgd", "lr": 100.0})["changes"] == {
        "optimizer": "adam", "lr": 1e-3, "clipnorm": 1.0}
    # an adaptive optimizer keeps itself: a 10x lower rate and clipping
    kept = strongest_remedy(found, {"optimizer": "adam", "lr": 0.1})["changes"]
    assert "optimizer" not in kept and kept["lr"] == pytest.approx(0.01) and kept["clipnorm"] == 1.0


def test_the_switch_trains_where_plain_sgd_blew_up():
    # the oracle for the remedy: SGD at lr 50 blows up (the monitor says so); adam + clipping from
    # the same initial weights trains as the default adam run does
    from planted_models import digits_mlp

    def accuracy(model) -> float:
        return float(np.mean(np.argmax(model.predict(X, verbose=0), 1) == Y))

    blown = digits_mlp(opt={"name": "sgd", "lr": 50.0})
    assert "exploding_gradients" in {f.code for f in _diagnose(blown)}
    fixed, plain = digits_mlp(opt={"name": "adam", "lr": 1e-3, "clipnorm": 1.0}), digits_mlp()
    assert not {f.code for f in _diagnose(fixed)} & {"exploding_gradients", "nonfinite", "lr_too_high"}
    _diagnose(plain)
    assert accuracy(fixed) >= accuracy(plain) - 0.05 and accuracy(fixed) > accuracy(blown) + 0.3


def test_rounds_equal_on_validation_keep_the_one_with_fewer_findings():
    # a softmax no longer read as logits retrains to the same weights (tests/nn/test_adjust.py):
    # the same validation loss, and the round that fixed the mismatch is kept
    from pathlib import Path

    from nnguru.guru import Finding
    from nnguru.pipeline import Run, _better_on_val

    def run(loss: float, codes: list[str]) -> Run:
        found = [Finding(c, "warning") for c in codes] or [Finding("healthy", "info")]
        return Run(Path("."), None, {}, {"val": {"loss": loss}}, found, {}, {})

    faulty, fixed = run(0.1720, ["output_loss_mismatch"]), run(0.1720 * (1 + 1e-9), [])
    assert _better_on_val(fixed, faulty, "val_loss_best")
    assert not _better_on_val(faulty, fixed, "val_loss_best")
    # a real difference in loss still decides, whatever the findings
    assert not _better_on_val(run(0.1760, []), faulty, "val_loss_best")
    assert _better_on_val(run(0.1700, ["overfitting"]), fixed, "val_loss_best")
