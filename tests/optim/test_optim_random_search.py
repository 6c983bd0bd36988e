"""Random search: iris accuracy, optimising accuracy directly, both methods."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import accuracy, cross_entropy, iris, mlp, run

from nnguru import optim
from nnguru.errors import NNGuruError
from nnguru.optim import NonFiniteError, RandomSearch
from nnguru.optim.random_search import accuracy as accuracy_of_logits
from nnguru.optim.random_search import centered_ranks


def test_es_on_the_loss_reaches_090_accuracy_on_iris():
    x, y = iris()
    model = mlp((4, 16, 3), act=torch.nn.ReLU)
    opt = optim.get("random-search", model, seed=0)
    assert isinstance(opt, RandomSearch) and opt.method == "es"
    losses = run(opt, model, cross_entropy, x, y, steps=150)  # Adam steps of 5% of each layer's scale
    assert accuracy(model, x, y) >= 0.90 and losses[-1] < 0.5 * losses[0]


def test_es_sigma_and_steps_are_relative_to_each_layers_weight_scale():
    # a layer initialised 100x larger is perturbed and moved 100x more: same relative search
    x, y = iris()
    model = mlp((4, 16, 3), act=torch.nn.ReLU)
    with torch.no_grad():
        model[2].weight.mul_(100.0)
    opt = optim.get("random-search", model, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    opt.step_batch(model, cross_entropy, x, y, None)
    moved = [float((p.detach() - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt().clamp_min(1e-12))
             for p, b in zip(model.parameters(), before, strict=True)]
    # first Adam step: every weight moves by lr (0.05) times its tensor's RMS scale
    torch.testing.assert_close(torch.tensor([moved[0], moved[2]]), torch.tensor([0.05, 0.05]), rtol=0.05, atol=0)


def test_weight_decay_pulls_weights_towards_zero_without_a_signal():
    # on a constant objective every pair ties: only the L2 term moves the weights
    x, y = iris()
    model = mlp((4, 3))
    opt = optim.get("random-search", model, weight_decay=0.5, adapt_sigma=False, seed=0)
    norm = float(model[0].weight.detach().norm())
    for _ in range(5):
        opt.step_batch(model, lambda o, t, w: (o * 0).sum(), x, y, None)
    assert float(model[0].weight.detach().norm()) < norm
    with pytest.raises(NNGuruError, match="weight_decay"):
        optim.get("random-search", model, weight_decay=-1.0)


def test_optimising_accuracy_directly_improves_accuracy():
    x, y = iris()
    model = mlp((4, 16, 3), act=torch.nn.ReLU)
    start = accuracy(model, x, y)
    opt = optim.get("random_search", model, objective="accuracy", seed=0)
    run(opt, model, cross_entropy, x, y, steps=60)
    assert accuracy(model, x, y) >= max(start + 0.2, 0.90)


def test_one_plus_lambda_with_step_size_adaptation_reaches_090_on_iris():
    x, y = iris()
    model = mlp((4, 16, 3), act=torch.nn.ReLU)
    opt = optim.get("random-search", model, method="1+lambda", seed=0)
    losses = run(opt, model, cross_entropy, x, y, steps=40)
    assert accuracy(model, x, y) >= 0.90
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:], strict=False))  # elitist
    assert opt.sigma != 0.2  # the 1/5 rule moved it


def test_accuracy_of_logits_handles_multiclass_binary_one_hot_and_weights():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert float(accuracy_of_logits(logits, torch.tensor([0, 1, 1]))) == pytest.approx(2 / 3)
    one_hot = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert float(accuracy_of_logits(logits, one_hot)) == pytest.approx(2 / 3)
    single = torch.tensor([[0.5], [-0.2], [1.0]])
    assert float(accuracy_of_logits(single, torch.tensor([1.0, 0.0, 0.0]))) == pytest.approx(2 / 3)
    w = torch.tensor([1.0, 1.0, 2.0])
    assert float(accuracy_of_logits(single, torch.tensor([1.0, 0.0, 0.0]), w)) == 0.5


def test_centered_ranks_share_ties_and_span_minus_half_to_half():
    ranks = centered_ranks(torch.tensor([3.0, 1.0, 1.0, 7.0]))
    torch.testing.assert_close(ranks, torch.tensor([1 / 6, -1 / 3, -1 / 3, 0.5]))


def test_nonfinite_loss_stops_with_lr_too_high():
    x, y = iris()
    model = mlp((4, 3))
    with torch.no_grad():
        model[0].bias.fill_(float("inf"))
    with pytest.raises(NonFiniteError) as info:
        optim.get("random-search", model).step_batch(model, cross_entropy, x, y, None)
    assert info.value.code == "lr_too_high"


@pytest.mark.parametrize("options, message", [
    ({"objective": "f1"}, "objective"),
    ({"population": 7}, "even"),
    ({"sigma": -1.0}, "sigma"),
    ({"population": 0}, "population"),
    ({"method": "simulated-annealing"}, "method"),
])
def test_bad_options_are_rejected_with_a_message(options, message):
    with pytest.raises(NNGuruError, match=message):
        optim.get("random-search", mlp((2, 2)), **options)


def test_batchnorm_model_is_scored_in_one_vmap_call_and_still_learns():
    x, y = iris()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = optim.get("random-search", model, method="1+lambda", population=8, seed=0)
    losses = run(opt, model, cross_entropy, x, y, steps=15)
    assert opt._batched  # each member updates its own copy of the running statistics
    assert losses[-1] < losses[0]
    assert model[1].num_batches_tracked.item() == 15  # one ordinary forward per step


@pytest.mark.parametrize("layers", ["dropout", "batchnorm+dropout"])
def test_every_child_is_scored_with_the_parents_dropout_masks(layers):
    # With a vanishing sigma every child is the parent; scored under the parent's masks it ties
    # with it (success 1.0). New masks per child would make half of them "better" by noise alone.
    x, y = iris()
    torch.manual_seed(0)
    norm = [torch.nn.BatchNorm1d(32)] if "batchnorm" in layers else []
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), *norm, torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(32, 3))
    opt = optim.get("random-search", model, method="1+lambda", population=8, sigma=1e-12, seed=0)
    opt.step_batch(model, cross_entropy, x, y, None)
    assert opt._batched  # BatchNorm too: members get their own copies of the buffers
    assert opt.info["success"] == 1.0
