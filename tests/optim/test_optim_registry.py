"""optim.get: names, aliases, options, Keras defaults, fused kernels, and bad input."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import mlp

from nnguru import optim
from nnguru.errors import NNGuruError
from nnguru.optim import ModelOptimizer

ALL = ["gd", "sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad", "nadam", "adamax",
       "adadelta", "lbfgs", "random-search", "hessian-free"]


def test_every_optimizer_of_the_issue_is_registered_with_a_when_to_choose_text():
    assert optim.names()[:len(ALL)] == ALL  # others may register more after these
    rows = {r["name"]: r for r in optim.table()}
    for name in ALL:
        assert len(rows[name]["when"]) > 30 and rows[name]["lr"] is not None
        assert name in optim.describe()
    assert "damping" in optim.describe("hf")


@pytest.mark.parametrize("spec, cls", [
    ("Random_Search", optim.RandomSearch), ("HF", optim.HessianFree),
    ("hessian_free", optim.HessianFree), ("L-BFGS", optim.LBFGS),
    ({"name": "sgd", "momentum": 0.9}, torch.optim.SGD), ("ADAM", torch.optim.Adam),
])
def test_names_are_case_insensitive_with_aliases_and_dict_specs(spec, cls):
    assert isinstance(optim.get(spec, mlp((3, 2))), cls)


def test_keras_default_learning_rates_and_hyper_parameters():
    model = mlp((3, 2))
    expected = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-3,
                "lbfgs": 1.0, "hessian-free": 1.0}
    for name, lr in expected.items():
        assert optim.get(name, model).param_groups[0]["lr"] == lr
    assert optim.get("adam", model).defaults["eps"] == 1e-7
    assert optim.get("rmsprop", model).defaults["alpha"] == 0.9
    assert optim.get("adamw", model).defaults["weight_decay"] == 0.004
    assert optim.get("momentum", model).defaults["momentum"] == 0.9
    assert optim.get("adadelta", model).defaults["rho"] == 0.95
    assert optim.get("adam", model, lr=0.1).param_groups[0]["lr"] == 0.1
    assert optim.get({"name": "adam", "learning_rate": 0.2}, model).param_groups[0]["lr"] == 0.2


def test_torch_spellings_of_options_are_accepted():
    model = mlp((3, 2))
    adam = optim.get("adam", model, betas=(0.8, 0.9), eps=1e-6)
    assert adam.defaults["betas"] == (0.8, 0.9) and adam.defaults["eps"] == 1e-6
    assert optim.get("rmsprop", model, alpha=0.99).defaults["alpha"] == 0.99


def test_fused_kernels_are_used_on_cpu_where_torch_has_them():
    model = mlp((3, 2))
    for name in ("sgd", "adam", "adamw", "adagrad"):
        assert optim.get(name, model).defaults["fused"] is True, name
    assert optim.get("rmsprop", model).defaults["foreach"] is True


def test_built_optimizers_are_returned_as_is():
    model = mlp((3, 2))
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert optim.get(torch_opt, model) is torch_opt
    hf = optim.HessianFree(model)
    assert optim.get(hf, model) is hf and isinstance(hf, ModelOptimizer)
    with pytest.raises(NNGuruError, match="already built"):
        optim.get(torch_opt, model, lr=0.3)


def test_unknown_name_lists_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(NNGuruError) as info:
        optim.get("adamm", mlp((3, 2)))
    message = str(info.value)
    assert "'adamm'" in message and "Did you mean 'adam'" in message
    for name in ALL:
        assert name in message


def test_option_that_does_not_apply_names_option_optimizer_and_accepted_options():
    with pytest.raises(NNGuruError) as info:
        optim.get("lbfgs", mlp((3, 2)), momentum=0.9)
    message = str(info.value)
    assert "'momentum'" in message and "'lbfgs'" in message
    assert "history_size" in message and "sgd" in message  # who accepts it


@pytest.mark.parametrize("spec, options", [
    ("adam", {"lr": -1.0}), ("adam", {"lr": float("nan")}), ("sgd", {"momentum": -0.5}),
    ("sgd", {"nesterov": True}), ("hf", {"solver": "gmres"}), ("hf", {"damping": 0}),
    ("hf", {"warm_start": 1.5}), ({"momentum": 0.9}, {}), (42, {}),
    ("adam", {"betas": 0.9}), ("gd", {"shrink": 2.0}),
])
def test_bad_values_raise_nnguru_error(spec, options):
    with pytest.raises(NNGuruError):
        optim.get(spec, mlp((3, 2)), **options)


def test_register_a_custom_optimizer_and_its_options_are_checked():
    def nadam(model, lr=0.002, *, momentum_decay=0.004):
        return torch.optim.NAdam(model.parameters(), lr=lr, momentum_decay=momentum_decay)

    optim.register("nadam-test", nadam, doc="NAdam, registered by a test.")
    try:
        assert isinstance(optim.get("NADAM_test", mlp((3, 2))), torch.optim.NAdam)
        with pytest.raises(NNGuruError, match="momentum_decay"):
            optim.get("nadam-test", mlp((3, 2)), beta=1)
        with pytest.raises(NNGuruError, match="already registered"):
            optim.register("nadam-test", nadam, doc="again")
    finally:
        from nnguru.optim import registry

        registry._ENTRIES.pop("nadam-test")
        registry._LOOKUP.pop("nadam-test")


def test_model_without_trainable_parameters_is_rejected():
    model = mlp((3, 2))
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(NNGuruError, match="no trainable parameters"):
        optim.get("hf", model)
