"""state_dict round trips: a checkpointed run resumes exactly, without pickling."""

from __future__ import annotations

import io
import json

import pytest
import torch
from optim_helpers import cross_entropy, iris, mlp, run

from nnguru import optim
from nnguru.errors import NNGuruError
from nnguru.optim import ModelOptimizer

OPTIONS = {"hessian-free": {"curvature_batch_size": 64, "max_cg_iters": 10},
           "random-search": {"population": 6}, "lbfgs": {"max_iter": 4}}


def _plain(value) -> None:
    """Only tensors and JSON-able scalars (in dicts/lists) may appear in the state."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (str, int)), k
            _plain(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _plain(v)
    elif not isinstance(value, torch.Tensor):
        json.dumps(value)


@pytest.mark.parametrize("name", optim.names())
def test_state_dict_round_trip_resumes_exactly(name):
    x, y = iris()
    model = mlp((4, 8, 3))
    opt = optim.get(name, model, **OPTIONS.get(name, {}))
    run(opt, model, cross_entropy, x, y, steps=3)

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    if isinstance(opt, ModelOptimizer):
        _plain(opt.state_dict())
    expected = run(opt, model, cross_entropy, x, y, steps=3)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # no arbitrary unpickling needed
    torch.manual_seed(123)  # a fresh process would draw different seeds: state must win
    model2 = mlp((4, 8, 3), seed=5)
    model2.load_state_dict(saved["model"])
    opt2 = optim.get(name, model2, **OPTIONS.get(name, {}))
    opt2.load_state_dict(saved["optimizer"])
    resumed = run(opt2, model2, cross_entropy, x, y, steps=3)
    assert resumed == expected
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(p, q)


def test_loading_another_optimizers_state_is_refused():
    model = mlp((4, 3))
    state = optim.get("gd", model).state_dict()
    with pytest.raises(NNGuruError, match="'gd'"):
        optim.get("hessian-free", model).load_state_dict(state)


def test_lr_edits_through_param_groups_are_saved():
    model = mlp((4, 3))
    opt = optim.get("hessian-free", model)
    opt.param_groups[0]["lr"] = 0.25  # what ReduceLROnPlateau does
    opt2 = optim.get("hessian-free", model)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.lr == 0.25
