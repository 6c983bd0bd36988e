"""Optimizers by name: ``optimizer="adam"`` in Python, the config file and ``--optimizer``.

``get(spec, model, lr=None, **options)`` returns either a ``torch.optim.Optimizer`` (the loop
does ``zero_grad`` / ``backward`` / ``step``) or a :class:`ModelOptimizer` (the loop calls
``step_batch(model, loss_fn, x, y, w)``; see ``docs/ARCHITECTURE.md``, section Optimizers).

=============  ==========  ===========  ======================================================
name           default lr  batches      choose it when
=============  ==========  ===========  ======================================================
gd             0.1 (1.0    full split   you want the textbook full-batch update (small data,
               with line                deterministic curves); ``line_search=True`` removes
               search)                  the learning rate
sgd            0.01        mini         a baseline, or with momentum + schedule for vision
momentum       0.01        mini         SGD with momentum 0.9
adam           0.001       mini         the default for almost everything
adamw          0.001       mini         you regularise with (decoupled) weight decay
rmsprop        0.001       mini         recurrent networks, non-stationary objectives
adagrad        0.001       mini         sparse features
nadam, adamax  0.001       mini         a Keras program names them (Keras defaults)
adadelta       1.0         mini         the paper's rate (Keras 3's class keeps 0.001)
lbfgs          1.0         full split   small/medium data, smooth loss: fewest steps, no lr
random-search  0.05 (es),  64           gradient-free: optimise accuracy directly, or models
               1.0 (1+λ)                without gradients; small networks only
hessian-free   1.0         6000 (+500   deep or badly conditioned nets (deep autoencoders) on
                           curvature)   large batches (Martens 2010)
=============  ==========  ===========  ======================================================
"""

from __future__ import annotations

from nnguru.optim.base import LossFn, ModelOptimizer, NonFiniteError
from nnguru.optim.gd import GradientDescent
from nnguru.optim.hessian_free import HessianFree
from nnguru.optim.krylov import KrylovResult, cg, minres
from nnguru.optim.lbfgs import LBFGS
from nnguru.optim.random_search import RandomSearch
from nnguru.optim.registry import describe, entry, get, names, register, table
from nnguru.optim.torch_optims import FACTORIES as _TORCH

__all__ = [
    "LBFGS", "GradientDescent", "HessianFree", "KrylovResult", "LossFn", "ModelOptimizer",
    "NonFiniteError", "RandomSearch", "cg", "describe", "entry", "get", "minres", "names",
    "register", "table",
]

register("gd", GradientDescent, default_lr="0.1 (1.0 with line_search)",
         aliases=("gradient-descent", "full-batch-gd", "batch-gd"),
         doc="Full-batch gradient descent w <- w - lr*g over the whole training split; "
             "deterministic, for small data or to study optimisation. line_search=True "
             "(Armijo backtracking) makes it free of lr tuning.")
register("sgd", _TORCH["sgd"],
         doc="Mini-batch SGD (Keras lr 0.01); add momentum=0.9 (and nesterov) plus a "
             "learning-rate schedule for vision models. The baseline.")
register("momentum", _TORCH["momentum"], aliases=("sgd-momentum",),
         doc="SGD with momentum 0.9: faster than plain SGD in ravines; needs lr tuning.")
register("adam", _TORCH["adam"],
         doc="Adam (Keras defaults): the robust default for almost any model and data size.")
register("adamw", _TORCH["adamw"],
         doc="Adam with decoupled weight decay (0.004): prefer it to adam when regularising "
             "larger or over-fitting models.")
register("rmsprop", _TORCH["rmsprop"],
         doc="RMSprop (Keras rho 0.9): per-weight steps; a classic for recurrent networks.")
register("adagrad", _TORCH["adagrad"],
         doc="Adagrad: decaying per-weight steps that favour rare features (sparse inputs); "
             "too cautious for long training.")
register("nadam", _TORCH["nadam"],
         doc="Adam with Nesterov momentum (Keras defaults); offered so Keras programs that "
             "name it run unchanged.")
register("adamax", _TORCH["adamax"],
         doc="Adamax (Keras defaults): Adam with an infinity-norm second moment; offered for "
             "Keras programs that name it.")
register("adadelta", _TORCH["adadelta"],
         doc="Adadelta at its paper's rate 1.0 (Zeiler 2012, PyTorch; Keras 3's Adadelta class keeps "
             "0.001): adam is usually the better choice.")
register("lbfgs", LBFGS, aliases=("l-bfgs",),
         doc="Full-batch L-BFGS with strong-Wolfe line search: small/medium data sets and "
             "smooth losses, fewest steps and no lr to tune (scikit-learn's MLP default).")
register("random-search", RandomSearch, default_lr="0.05 (es), 1.0 (1+lambda)",
         aliases=("random", "es", "evolution-strategies"),
         doc="Gradient-free: OpenAI-ES (antithetic pairs, centred ranks, Adam, sigma relative to "
             "each layer's weights; or method='1+lambda', random search with the 1/5 rule); "
             "optimises accuracy directly (objective='accuracy') or non-differentiable models; "
             "small nets only.")
register("hessian-free", HessianFree, aliases=("hf", "newton-cg", "truncated-newton"),
         doc="Truncated Newton (Martens 2010): Gauss-Newton products + CG (or MINRES) with "
             "Levenberg-Marquardt damping on large batches; deep/badly conditioned nets such "
             "as deep autoencoders, no lr to tune.")
