"""Keras's gradient clipping on nnguru's optimizers, checked against torch.nn.utils' clipping."""

import copy

import pytest
import torch

from nnguru import optim
from nnguru.errors import NNGuruError


def _net_and_grads(scale: float):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    for p in net.parameters():
        p.grad = torch.randn_like(p) * scale
    return net


def _stepped(net, reference_clip, **options):
    """Weights after one SGD step with nnguru's clipping, and after torch's clipping + plain SGD."""
    ref = copy.deepcopy(net)
    for a, b in zip(ref.parameters(), net.parameters(), strict=True):
        a.grad = b.grad.clone()
    opt = optim.get("sgd", net, lr=0.5, **options)
    opt.step()
    reference_clip(list(ref.parameters()))
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.5 * p.grad
    return list(net.parameters()), list(ref.parameters())


@pytest.mark.parametrize("scale", [10.0, 0.01], ids=["clipped", "untouched"])
def test_clipnorm_clips_each_weight_like_clip_grad_norm(scale):
    def per_weight(params):
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], 1.0)

    got, want = _stepped(_net_and_grads(scale), per_weight, clipnorm=1.0)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_global_clipnorm_and_clipvalue_match_torch():
    got, want = _stepped(_net_and_grads(10.0), lambda ps: torch.nn.utils.clip_grad_norm_(ps, 2.0),
                         global_clipnorm=2.0)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    got, want = _stepped(_net_and_grads(10.0), lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5), clipvalue=0.5)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_clipping_runs_in_fit_on_every_step_path():
    import numpy as np

    import nnguru
    from nnguru.layers import Dense

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    nnguru.set_seed(0)
    model = nnguru.Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(2, activation="softmax")])
    model.compile(optimizer={"name": "sgd", "lr": 100.0, "clipnorm": 1e-3}, loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # one step: each weight moves by lr * 1e-3 at most
    moved = [np.linalg.norm(a - b) for a, b in zip(model.get_weights(), before, strict=True)]
    assert max(moved) <= 100.0 * 1e-3 * 1.0001 and max(moved) > 0.05


def test_bad_clipping_options_are_refused():
    net = _net_and_grads(1.0)
    with pytest.raises(NNGuruError, match="only one of clipnorm"):
        optim.get("adam", net, clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(NNGuruError, match="clipnorm must be a positive number; received"):
        optim.get("adam", net, clipnorm=-1)
    with pytest.raises(NNGuruError, match="whole-batch updates"):
        optim.get("lbfgs", net, clipnorm=1.0)
