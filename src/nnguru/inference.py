"""Using a saved run: load it, predict on raw data, score it on new labeled data.

What the predictions look like is the run's task's business (``Task.predict_table``): labels and
class probabilities, values, or forecasts with timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nnguru import tasks
from nnguru.config import SOURCE_OPTIONS
from nnguru.errors import NNGuruError
from nnguru.jsonutil import jsonable
from nnguru.rundir import require_complete


def load_run(run_dir: str | Path):
    """The model (with its preprocessing) and resolved config of a saved run directory."""
    from nnguru.bundle import load_model

    run_dir = require_complete(run_dir)  # an interrupted run has no trustworthy results
    if not (run_dir / "model").is_dir():
        raise NNGuruError(
            f"{str(run_dir)!r} is not an nnguru run directory (no model/ folder). Pass the --out folder "
            "of `nnguru train`."
        )
    model = load_model(run_dir / "model")
    cfg = {}
    if (run_dir / "config.yaml").is_file():
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    return model, cfg


def run_task(cfg: dict):
    """The task object of a saved run's config."""
    if not cfg.get("task"):
        raise NNGuruError("The run directory's config.yaml names no task; it was not written by "
                          "`nnguru train`. Train the model again.")
    return tasks.get(cfg["task"])(cfg)


def load_new_data(spec: Any, cfg: dict, with_target: bool, model: Any = None, **source_options):
    """New data read with the run's source options (less what new rows may rightly lack).

    The columns ``model`` reads as files are read as paths whatever they look like, so they are
    confined to the data's folder like training's (see :mod:`nnguru.data.paths`)."""
    from nnguru.data import sources

    options = {k: cfg.get(k) for k in SOURCE_OPTIONS}
    options["allow_outside_paths"] = None  # trust in training data does not extend to new data: ask again
    target = cfg.get("target") if with_target else None
    if options["column_types"]:
        # training's overrides, less those new data may rightly lack: the target, ignored columns
        options["column_types"] = {c: t for c, t in options["column_types"].items()
                                   if c != cfg.get("target") and t != "ignore"}
    options.update({k: v for k, v in source_options.items() if v is not None})
    trained = getattr(getattr(model, "preprocessor", None), "column_types", None) or {}
    files = {c: t for c, t in trained.items() if t == "path"}
    if files:
        options["column_types"] = {**(options["column_types"] or {}), **files}
    return sources.load(str(spec), target=target, **options)


def predict(run_dir: str | Path, data: Any, **options) -> pd.DataFrame:
    """``nnguru predict RUN_DIR DATA``: apply the saved preprocessing and model to raw data."""
    model, cfg = load_run(run_dir)
    return run_task(cfg).predict_table(model, data, **options)


def evaluate_run(run_dir: str | Path, data: Any, **source_options) -> dict:
    """``nnguru evaluate RUN_DIR DATA``: the test metrics of a saved run on new labeled data."""
    model, cfg = load_run(run_dir)
    task = run_task(cfg)
    ds = load_new_data(data, cfg, with_target=True, model=model, **source_options)
    if ds.y is None:
        raise NNGuruError(
            f"{str(data)!r} has no target column {cfg.get('target')!r}; evaluate needs labeled data "
            "(use `nnguru predict` for unlabeled data)."
        )
    ds, report = task.clean_new(ds)
    return jsonable({"test": task.score(model, ds), "rows": len(ds), "data": str(data),
                     "cleaning": report.get("rows")})
