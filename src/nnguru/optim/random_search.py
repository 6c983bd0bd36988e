"""Gradient-free training of the weights by random search.

Two classic methods, both needing only evaluations of the objective, so they can optimise what
gradients cannot see, such as accuracy itself (``objective="accuracy"``):

* ``method="es"`` (the default) -- OpenAI-ES (Salimans et al. 2017, "Evolution strategies as a
  scalable alternative to reinforcement learning"): evaluate ``theta +- sigma * s * eps_i`` for
  ``population / 2`` antithetic pairs, turn the scores into centred ranks (the scale of the
  objective, outliers and ties on a piecewise-constant accuracy do not matter), estimate the
  gradient of the Gaussian-smoothed objective from them, add an L2 term (``weight_decay``, the
  paper's 0.005) and take an Adam step of ``lr``. ``s`` is each weight's scale: the RMS of its
  tensor at the start, so ``sigma`` (0.1) and ``lr`` (0.05) are shares of each layer's own weight
  size; one absolute sigma (0.2, this module's earlier default) was a 100% perturbation of a
  512-input layer's weights, whose estimate pushed the loss of builtin:digits' default network
  up (3.4 -> 16.8). Step-size adaptation: when most antithetic pairs tie (a plateau of accuracy)
  ``sigma`` grows by 1.5x per step, and relaxes back (/1.1 per step) to the configured value.
* ``method="1+lambda"`` -- the classic random search: a (1+lambda) evolution strategy with
  ``population`` children ``theta + sigma * s * eps_i``; the best replaces the parent if it is
  at least as good (ties are accepted so the search can drift across accuracy plateaus), and
  ``sigma`` follows Rechenberg's 1/5 success rule (grows when more than a fifth of the children
  are at least as good as the parent, shrinks otherwise).

ES is the default: its estimate pools every member's score into one update, so progress per
step grows with the population, while (1+lambda) keeps one winner and stalls once a random
direction rarely improves the loss (on digits' 67,000-weight network it stalled at loss 3.1).
Batches of 64 with a population of 40: the cost of a step is population x batch forward passes,
and more, cheaper steps beat fewer on larger batches (on digits, per CPU second: batch 32 and 128
and a population of 200 on batch 16 all learned slower; ``benchmarks/RESULTS.md``).

All candidates of one step are scored on the same batch with the same Dropout masks (common
random numbers), so the comparison between them is fair. Cost per step: ``population`` forward
passes, no backward pass; they run as ``torch.func.vmap``-ed calls (one batched matmul per layer)
when the model allows it (BatchNorm too: each member gets its own copy of the running
statistics), one by one otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, vmap

from nnguru.errors import NNGuruError
from nnguru.optim.base import (
    Batch,
    LossFn,
    ModelOptimizer,
    NonFiniteError,
    assign,
    call,
    check_choice,
    check_positive,
    flatten,
    generator,
    new_seed,
    same_randomness,
    trainable,
    unflatten,
)

METHODS = ("es", "1+lambda")
# OpenAI-ES defaults (see the module docstring for where each comes from).
POPULATION = 40
SIGMA = 0.1
LR = 0.05
WEIGHT_DECAY = 0.005
BATCH_SIZE = 64
CHUNK = 50  # population members per vmap-ed call: bounds the memory of one call
OBJECTIVES = ("loss", "accuracy")


def accuracy(outputs: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
    """Accuracy from logits: argmax for several outputs, ``> 0`` for a single logit."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        correct = (outputs.reshape(-1) > 0) == (y.reshape(-1) > 0.5)
    else:
        target = y.argmax(-1) if y.ndim == outputs.ndim else y.reshape(-1)
        correct = outputs.argmax(-1) == target
    correct = correct.to(outputs.dtype)
    if w is None:
        return correct.mean()
    w = w.reshape(-1).to(outputs.dtype)
    return (correct * w).sum() / w.sum()


def centered_ranks(scores: Tensor) -> Tensor:
    """Ranks scaled to [-0.5, 0.5], ties sharing their mean rank (fitness shaping)."""
    n = scores.numel()
    order = torch.argsort(scores, stable=True)
    ranks = torch.empty(n, dtype=scores.dtype, device=scores.device)
    ranks[order] = torch.arange(n, dtype=scores.dtype, device=scores.device)
    uniq, inverse = torch.unique(scores, return_inverse=True)
    mean_rank = torch.zeros(len(uniq), dtype=scores.dtype, device=scores.device)
    mean_rank.index_add_(0, inverse, ranks)
    mean_rank /= torch.bincount(inverse, minlength=len(uniq)).to(scores.dtype)
    shaped = mean_rank[inverse]
    return shaped / max(n - 1, 1) - 0.5


def score_members(model: torch.nn.Module, params: dict[str, Tensor], candidates: Tensor, x: Batch,
                  seed: int) -> Tensor:
    """Outputs of the model at each row of ``candidates`` (k, d), in ``vmap``-ed chunks.

    Every member gets its own copy of the buffers, so BatchNorm in train mode may update its
    running statistics inside ``vmap`` (they are thrown away: the ordinary forward pass of the
    step updates them once). Each chunk runs under the step's seed with ``randomness="same"``:
    every member sees the Dropout masks of the ordinary forward pass (common random numbers).
    """
    buffers = dict(model.named_buffers())
    args = tuple(x) if isinstance(x, (tuple, list)) else (x,)

    def member(vec: Tensor, bufs: dict[str, Tensor]) -> Tensor:
        return functional_call(model, {**unflatten(vec, params), **bufs}, args)

    outs = []
    for chunk in candidates.split(CHUNK):
        bufs = {n: b.unsqueeze(0).repeat(len(chunk), *([1] * b.dim())) for n, b in buffers.items()}
        with same_randomness(seed, candidates.device):
            outs.append(vmap(member, randomness="same")(chunk, bufs))
    return torch.cat(outs)


def weight_scales(params: dict[str, Tensor]) -> Tensor:
    """One scale per weight: the root mean square of its tensor at the start (a zero-initialised
    bias takes the median scale of the non-zero tensors), so ``sigma`` and ``lr`` are relative
    to each layer's own weight scale instead of one absolute size for all layers."""
    rms = [float(p.detach().float().pow(2).mean().sqrt()) if p.numel() else 0.0
           for p in params.values()]
    nonzero = sorted(r for r in rms if r > 0)
    fallback = nonzero[len(nonzero) // 2] if nonzero else 1.0
    return torch.cat([torch.full((p.numel(),), r if r > 0 else fallback)
                      for p, r in zip(params.values(), rms, strict=True)])


class RandomSearch(ModelOptimizer):
    """Gradient-free search over the weights (ES or (1+lambda)). Choose it for objectives
    without useful gradients (accuracy, non-differentiable models) or small networks; on large
    networks it needs far more evaluations than any gradient method."""

    name = "random-search"
    full_batch = False
    preferred_batch_size = BATCH_SIZE
    # A default run gets 5 minutes, not 2: on builtin:digits' default CNN (5,524 weights) ES reached
    # 0.86 test accuracy in the 2-minute command's ~32 epochs and 0.89-0.91 validation accuracy after
    # 25 epochs, still rising (RESULTS "Random search defaults"); a step costs `population` forward
    # passes, so half the batch halves the step but not the time per epoch (measured: 12.5 s either way).
    command_seconds = 300.0

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float | None = None,
        *,
        method: str = "es",
        objective: str = "loss",
        population: int = POPULATION,
        sigma: float = SIGMA,
        weight_decay: float = WEIGHT_DECAY,
        adapt_sigma: bool = True,
        full_batch: bool = False,
        seed: int | None = None,
    ) -> None:
        name = self.name
        method = check_choice("method", method, METHODS, name)
        objective = check_choice("objective", objective, OBJECTIVES, name)
        check_positive("population", population, name, integer=True)
        check_positive("sigma", sigma, name)
        if not isinstance(weight_decay, (int, float)) or isinstance(weight_decay, bool) \
                or not math.isfinite(weight_decay) or weight_decay < 0:
            raise NNGuruError(f"optimizer {name!r}: option 'weight_decay' must be a number >= 0; "
                              f"received {weight_decay!r}. Use 0 to turn it off.")
        if method == "es" and (population < 2 or population % 2):
            raise NNGuruError(f"optimizer {name!r}: method 'es' evaluates antithetic pairs, so "
                              f"'population' must be an even number >= 2; received "
                              f"{population!r}.")
        # lr: the Adam step of ES (relative to each layer's weight scale), and for (1+lambda) the
        # fraction of the way to the winning child (1.0: the classic algorithm).
        lr = (LR if method == "es" else 1.0) if lr is None else lr
        super().__init__(model, lr)
        self.full_batch = bool(full_batch)
        self.method, self.objective = method, objective
        self.population, self.sigma = int(population), float(sigma)
        self.weight_decay = float(weight_decay)
        self.adapt_sigma = bool(adapt_sigma)
        self.sigma0 = float(sigma)  # ES never shrinks sigma below the configured value
        # Drawn at the first step, not here: building a throwaway instance (e.g. to validate
        # options at compile time) must not move the global RNG that initialises the weights.
        self.seed: int | None = None if seed is None else int(seed)
        self.scale: Tensor | None = None  # per-weight scale, fixed at the first step
        self.m: Tensor | None = None  # Adam moments of the ES gradient estimate
        self.v: Tensor | None = None
        self._batched = True  # score the population in one vmap-ed call while the model allows
        self.info: dict[str, Any] = {}

    def step_batch(
        self, model: torch.nn.Module, loss_fn: LossFn, x: Batch, y: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        params = trainable(model)
        theta = flatten([p.detach() for p in params.values()])
        if self.seed is None:
            self.seed = new_seed()
        if self.scale is None:
            self.scale = weight_scales(params).to(theta)
        gen = generator(self.seed, self.steps, theta.device)
        mask_seed = new_seed(gen)

        def scores(outputs: Tensor) -> Tensor:
            """Higher is better, one per member: -loss or accuracy; non-finite is the worst."""
            if self.objective == "accuracy":
                return torch.stack([accuracy(o, y, w) for o in outputs])
            value = -torch.stack([loss_fn(o, y, w) for o in outputs]).to(theta.dtype)
            return torch.where(torch.isfinite(value), value, -math.inf)

        with torch.no_grad(), same_randomness(mask_seed, theta.device):
            outputs = model(*x) if isinstance(x, (tuple, list)) else model(x)
            loss = loss_fn(outputs, y, w)
        if not torch.isfinite(loss):
            raise NonFiniteError(
                f"optimizer {self.name!r}: the loss is {float(loss)} at the current weights; "
                "lower sigma or lr.", code="lr_too_high")

        def fitness(candidates: Tensor) -> Tensor:
            """Scores of the rows of ``candidates`` (k, d), same batch and Dropout masks."""
            with torch.no_grad():
                if self._batched:
                    try:
                        return scores(score_members(model, params, candidates, x, mask_seed))
                    except (RuntimeError, ValueError, NotImplementedError):
                        self._batched = False  # a layer vmap cannot batch: one by one
                return scores(torch.stack([call(model, unflatten(v, params), x, mask_seed)
                                           for v in candidates]))

        noise_count = self.population // 2 if self.method == "es" else self.population
        eps = torch.randn(noise_count, theta.numel(), generator=gen, device=theta.device, dtype=theta.dtype)
        if self.method == "es":
            new_theta = self._es(theta, eps, fitness)
        else:
            parent = float(scores(outputs.unsqueeze(0))[0])
            new_theta = self._one_plus_lambda(theta, eps, fitness, parent)
        if new_theta is not None:
            assign(params, new_theta)
        self.steps += 1
        return loss.detach(), outputs.detach()

    def _es(self, theta: Tensor, eps: Tensor, fitness: Any) -> Tensor:
        """Antithetic ES gradient estimate from centred ranks, then one Adam step, both in units
        of each layer's weight scale (OpenAI-ES, Salimans et al. 2017)."""
        sigma, scale = self.sigma, self.scale
        assert scale is not None
        noise = sigma * scale * eps
        scores = fitness(torch.cat([theta + noise, theta - noise]))
        k = eps.shape[0]
        shaped = centered_ranks(scores)
        # ascent direction of the smoothed objective in scaled coordinates z = theta / scale,
        # turned into a descent gradient with the L2 penalty on z (Salimans et al.'s l2coeff)
        grad = -((shaped[:k] - shaped[k:]) @ eps) / (2 * k * sigma)
        if self.weight_decay:
            grad += self.weight_decay * theta / scale
        b1, b2, step = 0.9, 0.999, self.steps + 1
        if self.m is None or self.v is None:
            self.m, self.v = torch.zeros_like(theta), torch.zeros_like(theta)
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.m / (1 - b1**step)
        v_hat = self.v / (1 - b2**step)
        ties = float((scores[:k] == scores[k:]).to(theta.dtype).mean())
        self.info = {"best": float(scores.max()), "sigma": sigma, "ties": ties}
        if self.adapt_sigma:
            # On a plateau of a piecewise-constant objective most antithetic pairs tie and the
            # estimate carries no information: widen the smoothing until moves change the score,
            # then relax back to the configured sigma (a smooth loss never ties: sigma stays).
            grown = sigma * 1.5 if ties > 0.5 else max(self.sigma0, sigma / 1.1)
            self.sigma = min(grown, 1e3)
        return theta - self.lr * scale * m_hat / (v_hat.sqrt() + 1e-8)

    def _one_plus_lambda(self, theta: Tensor, eps: Tensor, fitness: Any,
                         parent: float) -> Tensor | None:
        """(1+lambda)-ES with the 1/5 success rule on sigma."""
        sigma, scale = self.sigma, self.scale
        assert scale is not None
        children = fitness(theta + sigma * scale * eps)
        best = int(children.argmax())
        success = float((children >= parent).to(theta.dtype).mean())
        self.info = {"best": float(children[best]), "parent": parent, "sigma": sigma,
                     "success": success}
        if self.adapt_sigma:
            # log sigma moves by +1/3 when every child improves, -1/12 when none does: the
            # (1+1) rule of Rechenberg, whose fixed point is a success rate of 1/5.
            self.sigma = min(max(sigma * math.exp((success - 0.2) / 0.8 / 3), 1e-8), 1e3)
        if float(children[best]) >= parent and math.isfinite(float(children[best])):
            return theta + (self.lr * sigma) * scale * eps[best]
        return None

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"sigma": self.sigma, "seed": self.seed}
        if self.scale is not None:
            state["scale"] = self.scale.clone()
        if self.m is not None and self.v is not None:
            state["m"], state["v"] = self.m.clone(), self.v.clone()
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.sigma = float(state["sigma"])
        self.seed = None if state["seed"] is None else int(state["seed"])
        self.scale = state["scale"].clone() if "scale" in state else None
        self.m = state["m"].clone() if "m" in state else None
        self.v = state["v"].clone() if "v" in state else None

