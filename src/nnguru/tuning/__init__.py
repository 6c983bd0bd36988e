"""Hyperparameter search (``nnguru tune``, ``nnguru.tune``): :mod:`.space` says what may change and
builds the models, :mod:`.search` runs the Optuna study on data prepared once and retrains the best.

(A package named ``tuning``, not ``tune``: a submodule ``nnguru.tune`` would shadow the function
``nnguru.tune``, as ``training/`` avoids shadowing ``nnguru.train``.)
"""

from nnguru.tuning.search import tune

__all__ = ["tune"]
