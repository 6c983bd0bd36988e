"""``nnguru.train(data, target=...)``: the whole expert workflow in one call.

    load -> clean (report) -> split -> preprocess (fit on train only) -> model template
    -> fit (early stopping) -> evaluate on test, once, next to baselines -> diagnose -> report
    -> bundle

The public names live here; the work is done by ``nnguru.pipeline`` (the run as stages, each asking
the run's task from ``nnguru.tasks``), ``nnguru.config`` (options and defaults), ``nnguru.rundir``
(the run directory) and ``nnguru.inference`` (using a saved run).
"""

from __future__ import annotations

from nnguru.config import DEFAULTS, SOURCE_OPTIONS, resolve_config
from nnguru.inference import evaluate_run, load_run, predict
from nnguru.pipeline import Run, lr_find, train
from nnguru.rundir import RUN_FILES
from nnguru.similarity import similar
from nnguru.tuning import tune

__all__ = ["DEFAULTS", "RUN_FILES", "SOURCE_OPTIONS", "Run", "evaluate_run", "load_run", "lr_find",
           "predict", "resolve_config", "similar", "train", "tune"]
