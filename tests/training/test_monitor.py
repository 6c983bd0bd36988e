"""The network monitor: its numbers against autograd, and a monitored fit equals an unmonitored one."""

import numpy as np
import pytest
import torch

import nnguru
from nnguru import Model, Sequential
from nnguru.errors import NNGuruError
from nnguru.layers import LSTM, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input
from nnguru.training.monitor import NetworkMonitor, check_every


def _data(n=96, d=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1)


def _mlp(d=8):
    nnguru.set_seed(0)
    m = Sequential([Dense(16, activation="relu", input_shape=(d,)), Dropout(0.2),
                    Dense(16, activation="tanh"), Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


def test_monitored_fit_trains_the_same_weights():
    x, y = _data()
    a, b = _mlp(), _mlp()
    nnguru.set_seed(1)
    a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    nnguru.set_seed(1)
    mon = NetworkMonitor(every=1)
    b.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[mon])
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)
    assert len(mon.samples) == 12 and mon.samples[0]["step"] == 0
    # its own cost on both clocks (the overhead benchmark reads the CPU one, which load disturbs less)
    assert mon.cpu_seconds > 0 and mon.result()["cpu_seconds"] == round(mon.cpu_seconds, 4)


def test_gradient_norms_and_activation_shares_match_autograd():
    x, y = _data()
    m = _mlp()
    m.layers[1].rate = 0.0  # no dropout: the oracle pass draws no mask
    mon = NetworkMonitor(every=1000)
    w0 = [p.detach().clone() for p in m.parameters()]
    m.fit(x[:16], y[:16], epochs=1, batch_size=16, verbose=0, shuffle=False, callbacks=[mon])
    oracle = _mlp()
    oracle.layers[1].rate = 0.0
    with torch.no_grad():
        for p, w in zip(oracle.parameters(), w0, strict=True):
            p.copy_(w)
    dense = [layer for layer in oracle.layers if isinstance(layer, Dense)]
    h1 = dense[0](torch.from_numpy(x[:16]))
    h2 = dense[1](h1)
    logits = torch.nn.functional.linear(h2, dense[2].weight, dense[2].bias)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[:16]))
    loss.backward()
    s = mon.samples[0]
    assert s["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for i, layer in enumerate(dense):
        g = torch.sqrt(sum((p.grad ** 2).sum() for p in layer.parameters()))
        assert s["grad_norm"][i] == pytest.approx(float(g), rel=1e-4)
    assert s["dead"][0] == pytest.approx(float(1 - (h1 > 0).any(0).float().mean()))
    assert s["saturated"][1] == pytest.approx(float((h2.abs() > 0.99).float().mean()))
    assert all(r is not None and r > 0 for r in s["update_ratio"])


@pytest.mark.parametrize("kind", ["cnn", "rnn", "functional", "batchnorm"])
def test_monitor_runs_on_cnn_rnn_functional(kind):
    rng = np.random.default_rng(0)
    nnguru.set_seed(0)
    if kind == "cnn":
        x = rng.random((32, 8, 8, 1)).astype("float32")
        m = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), Flatten(),
                        Dense(2, activation="softmax")])
    elif kind == "rnn":
        x = rng.normal(size=(32, 5, 3)).astype("float32")
        m = Sequential([LSTM(4, input_shape=(5, 3)), Dense(2, activation="softmax")])
    elif kind == "batchnorm":
        x = rng.normal(size=(32, 4)).astype("float32")
        m = Sequential([Dense(8, input_shape=(4,)), BatchNormalization(), Dense(2, activation="softmax")])
    else:
        x = rng.normal(size=(32, 4)).astype("float32")
        inp = Input(shape=(4,))
        m = Model(inputs=inp, outputs=Dense(2, activation="softmax")(Dense(8, activation="relu")(inp)))
    y = (rng.random(32) > 0.5).astype("int64")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mon = NetworkMonitor(every=1)
    m.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[mon])
    r = mon.result()
    assert len(r["samples"]) == 2 and r["layers"]
    assert all(v is not None and np.isfinite(v) for v in r["samples"][0]["grad_norm"] if v is not None)
    assert r["output"]["activation"] == "softmax" and r["nonfinite"] is None
    if kind == "batchnorm":  # the diagnostic pass puts BatchNormalization's moving statistics back
        nnguru.set_seed(0)
        plain = Sequential([Dense(8, input_shape=(4,)), BatchNormalization(), Dense(2, activation="softmax")])
        plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        plain.fit(x, y, epochs=1, batch_size=16, verbose=0)
        for k, v in plain.state_dict().items():
            assert torch.allclose(v.float(), m.state_dict()[k].float(), atol=1e-6), k


def test_nonfinite_is_located_at_the_first_layer_that_overflows():
    x, y = _data()
    m = _mlp()
    with torch.no_grad():
        m.layers[0].weight[0, 0] = 3e38  # the first (relu) layer's matmul overflows to inf
    mon = NetworkMonitor(every=1)
    m.fit(x * 10, y, epochs=1, batch_size=16, verbose=0, callbacks=[mon])
    assert mon.nonfinite["where"] == "forward" and mon.nonfinite["step"] == 0
    assert mon.nonfinite["layer"] == m.layers[0].name


@pytest.mark.parametrize("bad", [0, -3, "0", 1.5, "often", True])
def test_bad_interval_is_refused(bad):
    with pytest.raises(NNGuruError, match="monitor interval"):
        check_every(bad)


def test_cli_refuses_monitor_every_zero(tmp_path):
    from nnguru.cli import main

    assert main(["train", "builtin:iris", "--out", str(tmp_path / "r"), "--monitor-every", "0"]) == 2
    assert not (tmp_path / "r").exists()


def test_auto_sampling_gives_a_short_run_one_sample_per_epoch():
    # a fit of well under a second: 3% of it is less than one cold sample, yet the rules read
    # medians over the run (dead units, saturation, gradient growth)
    x, y = _data()
    mon = NetworkMonitor(every="auto")
    _mlp().fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=[mon])
    assert {s["epoch"] for s in mon.samples} == set(range(1, 7))


def test_auto_sampling_floor_is_bounded(monkeypatch):
    # once the samples have cost AUTO_FLOOR_S, only the 3% budget admits more
    from nnguru.training import monitor as monitor_module

    monkeypatch.setattr(monitor_module, "AUTO_FLOOR_S", 0.0)
    monkeypatch.setattr(monitor_module, "AUTO_BUDGET", 0.0)
    x, y = _data()
    mon = NetworkMonitor(every="auto")
    _mlp().fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=[mon])
    assert [s["step"] for s in mon.samples] == [0]
