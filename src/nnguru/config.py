"""A run's configuration: the defaults an expert would pick, then a YAML/dict config, then flags.

``config.yaml`` in a run directory holds the fully resolved result (every ``None`` below replaced
by what the run chose), so ``nnguru train DATA --config config.yaml`` reruns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nnguru.errors import NNGuruError, describe

DEFAULTS: dict[str, Any] = {
    "data": None,
    "target": None,
    "task": "auto",  # a registered task (nnguru.tasks.names()) or auto (from the data)
    "model": "auto",  # a template (nnguru.nn.templates.names()); auto picks one for the data kind
    "optimizer": "adam",
    "lr": None,  # None: the optimizer's documented default
    "epochs": None,  # None: chosen from the data size, with early stopping
    "batch_size": 32,  # Keras's default; small batches generalize well on small data
    "seed": 0,
    "val_frac": 0.15,
    "test_frac": 0.15,
    "early_stopping": True,
    "patience": None,  # None: 10 epochs on small data, 5 on large
    "class_weight": None,  # None | "balanced" (classification)
    "dropout": None,  # None: the template's default
    "hidden_scale": 1.0,  # width multiplier of the template
    "missing": "fill",  # fill (median / most frequent + indicator) | drop
    "placeholder_zeros": "flag",  # flag | missing (implausible zeros, e.g. a glucose of 0, become missing)
    "column_types": None,  # {column: numeric|categorical|text|datetime|path|identifier|ignore}
    "drop_outliers": False,
    "sep": None,
    "header": None,  # None: detected
    "columns": None,
    "label_from_name": None,
    "positive": None,  # binary: the positive class (default: the minority class)
    "threshold": None,  # None (0.5) | "auto" (best F1 on validation) | a float
    # forecasting (task forecast); None: chosen from the data
    "time": None,  # the time column (default: the one datetime column)
    "series_id": None,  # a column naming the series when the file holds several
    "horizon": 1,  # steps ahead forecast from each origin (direct multi-step outputs)
    "window": None,  # past steps the model sees (default: at least two seasons)
    "season": None,  # season length in steps (default: from the autocorrelation)
    "transform": None,  # none | log (default: chosen on validation)
    "test_steps": None,  # length of the test span (default: test_frac of the series, >= 3 horizons)
    "auto_fix": False,
    "tensorboard": False,
    "device": "auto",
    "verbose": "auto",
}
SOURCE_OPTIONS = ("sep", "header", "columns", "label_from_name", "column_types")


def resolve_config(config: dict | str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Defaults, then the YAML/dict config, then explicit arguments (the flag wins)."""
    resolved = dict(DEFAULTS)
    if isinstance(config, (str, Path)):
        path = Path(config)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise NNGuruError(f"Could not read the config file {str(path)!r}: {exc}") from None
        config = loaded
    if config is not None:
        if not isinstance(config, dict):
            raise NNGuruError(f"The config must be a mapping of option: value; received {describe(config)}.")
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise NNGuruError(
                f"Unknown config keys {unknown}. Valid keys: {', '.join(sorted(DEFAULTS))}."
            )
        resolved.update(config)
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise NNGuruError(f"Unknown options {unknown}. Valid options: {', '.join(sorted(DEFAULTS))}.")
    resolved.update({k: v for k, v in overrides.items() if v is not None})
    return resolved


def check_names(cfg: dict) -> None:
    """Refuse an unknown task, optimizer or template name before the data is loaded and reported."""
    from nnguru import tasks
    from nnguru.nn import templates
    from nnguru.optim import registry

    tasks.check(cfg["task"])
    opt = cfg["optimizer"]
    if isinstance(opt, dict) and "name" in opt:
        opt = opt["name"]
    if isinstance(opt, str):
        registry.entry(opt)
    if isinstance(cfg["model"], str):
        templates.check(cfg["model"])
