"""A run's configuration: the defaults an expert would pick, then a YAML/dict config, then flags.

``config.yaml`` in a run directory holds the fully resolved result (every ``None`` below replaced
by what the run chose), so ``nnguru train DATA --config config.yaml`` reruns it.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
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
    # auto: the optimizer's own batch (32, Keras's, for mini-batch methods; random-search 64,
    # hessian-free 6000; gd and lbfgs take the whole training split each step)
    "batch_size": "auto",
    "seed": 0,
    "val_frac": 0.15,
    "test_frac": 0.15,
    "early_stopping": True,
    "patience": None,  # None: 10 epochs on small data, 5 on large
    # wall-clock limit of training: seconds or "90s" / "10m" / "1h"; "auto": pipeline.AUTO_TIME_BUDGET_S
    # when epochs is not given (results in minutes, issue 12); "none": no limit
    "time_budget": "auto",
    "class_weight": None,  # None | "balanced" (classification)
    "dropout": None,  # None: the template's default
    "hidden_scale": 1.0,  # width multiplier of the template
    "augment": None,  # images: None (shift) | none | shift | flip (nnguru.nn.templates.AUGMENTATIONS)
    "lr_decay": None,  # None: the template's (budget for the cnn, nnguru.nn.templates.LR_DECAY) | none | budget
    "missing": "fill",  # fill (median / most frequent + indicator) | drop
    "placeholder_zeros": "flag",  # flag | missing (implausible zeros, e.g. a glucose of 0, become missing)
    "column_types": None,  # {column: numeric|categorical|text|datetime|path|identifier|ignore}
    "drop_outliers": False,
    "sep": None,
    "header": None,  # None: detected
    "columns": None,
    "label_from_name": None,
    "allow_outside_paths": False,  # files named by the data are read only from inside its folder
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
    # without labels (tasks anomaly, cluster); the label column (--target) only evaluates
    "normal": None,  # anomaly: the label of the normal rows to train on (default: every row)
    "contamination": None,  # anomaly: share of rows to flag, in (0, 0.5) (default: 99th pct of normal scores)
    "clusters": None,  # cluster: the number of clusters (default: best silhouette over 2..10)
    "anomaly_threshold": None,  # learned by an anomaly run (validation quantile), used by predict
    "cluster_model": None,  # learned by a cluster run (micro-cluster centres of the code), used by predict
    "auto_fix": False,
    "auto_fix_rounds": 3,  # rounds of diagnose -> strongest finding's remedy -> retrain
    "auto_fix_only": None,  # None: every finding may act; else the finding codes allowed to
    "drop_train_rows": None,  # training-split positions left out (auto-fix: suspected label errors)
    "drop_leaked": False,  # auto-fix (leakage): validation/test samples that repeat a training one left out
    "tensorboard": False,
    "device": "auto",
    "verbose": "auto",
    "checkpoint_every": None,  # None: a checkpoint at each epoch's end; N: also every N steps
    # tables larger than memory (nnguru.data.stream): true | false | auto (CSV/Parquet files over
    # stream_threshold_mb, by default 1 GiB or an eighth of the available memory, whichever is less)
    "stream": "auto",
    "stream_threshold_mb": None,
    "shuffle_buffer": None,  # rows mixed across chunks when streaming (default 65536)
    # the network monitor (training/monitor.py): gradients, activations, updates, sampled in fit
    "monitor": True,
    "monitor_every": "auto",  # auto: sampled within a 3% time budget; N: every N steps
    # transfer learning (nnguru.transfer): a trained run, model folder or checkpoint to start from
    "base": None,
    "freeze_epochs": None,  # None: up to 20 epochs training the new head alone (stopped early) before unfreezing
    "l2sp": None,  # with base: L2-SP factor on the reused weights' distance from the base's (training/l2sp.py)
    # the guru's network remedies (guru/remedies.py NETWORK_REMEDIES; nn/adjust.py); None: as built
    "activation": None,  # hidden layers' activation, e.g. relu, leaky_relu
    "batch_norm": None,  # true: BatchNormalization between each hidden Dense/Conv and its activation
    "kernel_initializer": None,  # hidden layers' initializer, e.g. he_normal (the output: glorot_uniform)
    "bias_initializer": None,  # hidden layers' bias initializer, e.g. zeros
    "normalize_inputs": None,  # true: a Normalization layer first, adapted on the training split
    "output_activation": None,  # auto (what the loss expects) or an activation name for the last layer
    "clipnorm": None,  # clip each weight's gradient to this norm (Keras's clipnorm)
    "lr_scale": None,  # multiply the learning rate (given or the optimizer's default)
    # tables with the mlp template: overrides of TABLE_DEFAULTS (below), e.g. {"ensemble": 1}
    "tabular": None,
}
# The mlp's recipe for tables (after RealMLP, Holzmüller et al. 2024, and TabM, Gorishniy et al. 2025),
# each choice measured against the previous default in benchmarks/tables.py (RESULTS.md, "Table defaults").
TABLE_DEFAULTS: dict[str, Any] = {
    "scaling": "robust",  # median/IQR + smooth clipping (standard: mean/std): skewed columns, outliers
    "binary": "signed",  # a two-category column is one -1/+1 feature (onehot: two 0/1 columns)
    "feature_scale": True,  # a learned scale per input feature before the first Dense layer
    "label_smoothing": 0.1,  # classification: targets 0.9/0.1-ish, so confident rows stop pulling
    "beta_2": 0.95,  # Adam's second-moment decay when the optimizer is the default adam (Keras: 0.999)
    "lr_schedule": "cosine",  # the learning rate decays to 0 over the epochs (constant: Keras's)
    "ensemble": 1,  # k > 1: k members sharing the mlp, averaged before the head (TabM-mini; nn/layers/ensemble.py)
    "init": "keras",  # the Dense layers' parametrization: keras (Glorot) or ntk (RealMLP's; with NTK_LR)
}
SOURCE_OPTIONS = ("sep", "header", "columns", "label_from_name", "column_types", "allow_outside_paths")


def resolve_config(config: dict | str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Defaults, then the YAML/dict config, then explicit arguments (the flag wins), validated.

    One validation (:func:`validate`) for the Python API, the config file and the CLI, so a value
    is accepted or refused the same way wherever it was written.
    """
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
        resolved.update({k: v for k, v in config.items() if v is not None})  # null: the default
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise NNGuruError(f"Unknown options {unknown}. Valid options: {', '.join(sorted(DEFAULTS))}.")
    resolved.update({k: v for k, v in overrides.items() if v is not None})
    return validate(resolved)


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


# ---- validation: one table, applied to the merged options ---------------------------------------
class _Invalid(Exception):
    """Raised by a checker with what the option must be (``expected``); resolve_config words it."""

    def __init__(self, expected: str, message: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.message = message  # a whole message, where "must be ..." does not say it


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_int(value: Any) -> int | None:
    """A whole number given as an int, an integral float (10.0) or a string of digits ("10"); else None."""
    if _is_int(value):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return int(value) if math.isfinite(value) and float(value).is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    """A finite real given as a number or an unambiguous numeric string ("1e-3": YAML 1.1 reads it so)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def _whole(low: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        out = _as_int(value)
        if out is None or out < low:
            raise _Invalid("a positive whole number" if low == 1 else f"a whole number >= {low}")
        return out
    return check


def _real(low: float, high: float | None = None, *, low_open: bool = True,
          high_open: bool = True) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        out = _as_float(value)
        left = "(" if low_open else "["
        if high is None:
            expected = f"a number > {low:g}" if low_open else f"a number >= {low:g}"
        else:
            expected = f"a number in {left}{low:g}, {high:g}{')' if high_open else ']'}"
        if out is None or (out <= low if low_open else out < low):
            raise _Invalid(expected)
        if high is not None and (out >= high if high_open else out > high):
            raise _Invalid(expected)
        return out
    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Invalid("one of " + ", ".join(repr(c) for c in choices))
        return value
    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false (a boolean)")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value


def _path(value: Any) -> Any:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise _Invalid("a path or builtin:NAME")
    return value


def _target(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value
    if _is_int(value):
        return int(value)
    raise _Invalid("a column name or a position (an int such as -1 for the last column)")


def _optimizer(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, dict) and isinstance(value.get("name", ""), str):
        return value
    raise _Invalid("an optimizer name such as 'adam', or a mapping {name: adam, lr: 0.001, ...}")


def _class_weight(value: Any) -> Any:
    if value == "balanced" or isinstance(value, dict):
        return value
    raise _Invalid("'balanced' or a mapping {class: weight}")


def _threshold(value: Any) -> Any:
    if value == "auto":
        return value
    out = _as_float(value)
    if out is None or not 0 < out < 1:
        raise _Invalid("'auto' or a number in (0, 1)")
    return out


def _column_types(value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, (str, int)) and isinstance(v, str)
                                              for k, v in value.items()):
        raise _Invalid("a mapping {column: type} of strings")
    return value


def _columns(value: Any) -> list:
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, str) for c in value):
        raise _Invalid("a list of column names")
    return list(value)


def _monitor_every(value: Any) -> Any:
    if value == "auto":
        return value
    out = _as_int(value)
    if out is None or out < 1:
        raise _Invalid("'auto' or a positive whole number of steps")
    return out


def _activation(value: Any) -> str:
    from nnguru.nn.activations import ACTIVATIONS

    if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
        raise _Invalid("an activation name: " + ", ".join(sorted(ACTIVATIONS)))
    return value.lower()


def _output_activation(value: Any) -> str:
    return "auto" if value == "auto" else _activation(value)


def _initializer(value: Any) -> str:
    from nnguru.initializers import NAMES

    names = sorted(NAMES)
    if not isinstance(value, str) or value.lower() not in names:
        raise _Invalid("an initializer name: " + ", ".join(names))
    return value.lower()


def _regex(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("a regular expression whose group 1 is the label")
    try:
        re.compile(value)
    except re.error as exc:
        raise _Invalid(f"a valid regular expression (this one fails: {exc})") from None
    return value


def _finding_codes(value: Any) -> list[str]:
    """Finding codes the guru knows (its rules and remedies), as a list."""
    from nnguru.guru.remedies import REMEDIES
    from nnguru.guru.rules import RULES

    codes = value.split(",") if isinstance(value, str) else value
    if not isinstance(codes, (list, tuple)) or not all(isinstance(c, str) for c in codes):
        raise _Invalid("a list of finding codes")
    known = sorted(set(RULES) | set(REMEDIES))
    unknown = [c.strip() for c in codes if c.strip() not in known]
    if unknown:
        raise _Invalid("", (f"auto_fix_only (--auto-fix-only) names unknown finding code(s) "
                            f"{unknown}. Known codes: {', '.join(known)}."))
    return [c.strip() for c in codes]


def _row_positions(value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(_is_int(v) and v >= 0 for v in value):
        raise _Invalid("a list of whole numbers >= 0")
    return [int(v) for v in value]


def _batch_size(value: Any) -> Any:
    if value == "auto":
        return value
    try:
        return _whole(1)(value)
    except _Invalid:
        raise _Invalid("a positive whole number or 'auto'") from None


def _stream(value: Any) -> Any:
    if value == "auto" or isinstance(value, bool):
        return value
    raise _Invalid("true, false or 'auto'")


def _time_budget(value: Any) -> Any:
    """'auto', 'none' (or false: no limit), or a duration, kept as seconds so config.yaml reruns as is."""
    if value == "auto" or value is False or value == "none":
        return "none" if value is False else value
    from nnguru.training.callbacks.time_budget import parse_duration

    try:
        return parse_duration(value)
    except NNGuruError:
        raise _Invalid("a positive duration (90, 90s, 10m, 1.5h, 1h30m), 'auto' or 'none'") from None


def _verbose(value: Any) -> Any:
    if value == "auto" or isinstance(value, bool) or (_is_int(value) and value >= 0):
        return value
    raise _Invalid("'auto' or a whole number >= 0")


def _tabular(value: Any) -> dict:
    """A mapping of TABLE_DEFAULTS keys to values of the same kind."""
    if not isinstance(value, dict):
        raise _Invalid("a mapping of table recipe options")
    unknown = sorted(set(value) - set(TABLE_DEFAULTS))
    if unknown:
        raise _Invalid("a mapping of table recipe options",
                       f"tabular {value!r} has unknown key(s) {unknown}. Use keys among: "
                       f"{', '.join(TABLE_DEFAULTS)}.")
    choices = {"scaling": ("robust", "standard"), "binary": ("signed", "onehot"),
               "lr_schedule": ("cosine", "constant"), "init": ("keras", "ntk")}
    for key, allowed in choices.items():
        if key in value and value[key] not in allowed:
            raise _Invalid("a mapping of table recipe options",
                           f"tabular {value!r}: {key} must be one of {list(allowed)}. Use one of them.")
    members = value.get("ensemble", 1)
    if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= 32:
        raise _Invalid("a mapping of table recipe options",
                       f"tabular {value!r}: ensemble must be a whole number of members from 1 to 32 (1: one "
                       f"network); received {members!r}. Use e.g. 4.")
    return dict(value)


def table_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """TABLE_DEFAULTS with the run's ``tabular`` overrides."""
    return {**TABLE_DEFAULTS, **(cfg.get("tabular") or {})}


DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device(value: Any) -> str:
    """A device name, and one this machine has: a run must not fail (or fall back) after the data is read."""
    if not isinstance(value, str):
        value = str(value) if type(value).__name__ == "device" else value  # a torch.device from Python
    if value in ("auto", "cpu"):
        return value
    import torch

    available = ["cpu"]
    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available += ["cuda"] + [f"cuda:{i}" for i in range(n_cuda)] if n_cuda else []
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.append("mps")
    if value not in available:
        known = isinstance(value, str) and DEVICE_PATTERN.fullmatch(value)
        found = f"{n_cuda} CUDA GPU(s)" if n_cuda else "no CUDA GPU"
        what = ("is not available on this machine" if known else
                "is not a device name ('cpu', 'cuda', 'cuda:N' with N a GPU index, 'mps' or 'auto')")
        shown = repr(value) if isinstance(value, str) else describe(value)
        raise _Invalid("a device this machine has", (
            f"device (--device) {shown} {what}: PyTorch {torch.__version__} sees {found}. Devices "
            f"here: {', '.join(repr(d) for d in available)}. Use one of them, or auto to use a GPU when there "
            "is one."))
    return value


# option -> (checker returning the value to use, hint for the fix). ``None`` always means "the default"
# (resolve_config drops it), so the checkers only see values the user gave.
OPTION_RULES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "data": (_path, "e.g. data.csv or builtin:iris"),
    "target": (_target, "e.g. --target species, or --target -1 for the last column"),
    "task": (_text, "e.g. classification, regression, forecast or auto"),
    "model": (_text, "a template name, e.g. auto, mlp, cnn, rnn or conv1d"),
    "optimizer": (_optimizer, "e.g. adam or sgd"),
    "lr": (_real(0.0), "e.g. 0.001; leave it out for the optimizer's default"),
    "epochs": (_whole(1), "e.g. 50; leave it out to choose from the data size"),
    "batch_size": (_batch_size, "e.g. 32, or auto (the default: the optimizer's own batch size)"),
    "seed": (_whole(0), "e.g. 0 (the default)"),
    # 0 is a choice: no validation split (no early stopping), or no test split (a final model)
    "val_frac": (_real(0.0, 1.0, low_open=False), "e.g. 0.15 (the default)"),
    "test_frac": (_real(0.0, 1.0, low_open=False), "e.g. 0.15 (the default)"),
    "early_stopping": (_bool, "true or false"),
    "patience": (_whole(1), "e.g. 10; leave it out to choose from the data size"),
    "time_budget": (_time_budget, "e.g. --time-budget 10m; none for no limit"),
    "class_weight": (_class_weight, "e.g. balanced"),
    "dropout": (_real(0.0, 1.0, low_open=False), "e.g. 0.2; leave it out for the template's default"),
    "hidden_scale": (_real(0.0), "e.g. 2.0 for twice as wide (default 1.0)"),
    "augment": (_choice("none", "shift", "flip"),
                "none, shift (the default for images) or flip (shifts and horizontal flips; not for digits or text)"),
    "lr_decay": (_choice("none", "budget"), "budget (linear to 0 over the epochs or time budget) or none"),
    "missing": (_choice("fill", "drop"), "fill (the default) or drop"),
    "placeholder_zeros": (_choice("flag", "missing"), "flag (the default) or missing"),
    "column_types": (_column_types, "e.g. --column-type Pclass=categorical"),
    "drop_outliers": (_bool, "true or false"),
    "sep": (_text, "e.g. ',' ';' or 'whitespace'"),
    "header": (_bool, "true or false"),
    "columns": (_columns, "e.g. --columns a,b,c"),
    "label_from_name": (_regex, "e.g. '^(\\d+)_'"),
    "allow_outside_paths": (_bool, "true or false"),
    "positive": (lambda value: value, ""),  # any label of the data
    "threshold": (_threshold, "e.g. 0.3, or auto to choose it on validation"),
    "time": (_text, "the name of the time column"),
    "series_id": (_text, "the name of the column naming each series"),
    "horizon": (_whole(1), "e.g. 12 (the default is 1)"),
    "window": (_whole(1), "e.g. 24; leave it out to choose it from the season"),
    "season": (_whole(1), "e.g. 12; leave it out to find it from the autocorrelation"),
    "transform": (_choice("none", "log"), "none or log; leave it out to choose on validation"),
    "test_steps": (_whole(1), "e.g. 24; leave it out to use --test-frac"),
    "clusters": (_whole(2), "e.g. 10; leave it out to choose it by silhouette"),
    "contamination": (_real(0.0, 0.5), "e.g. 0.05 (5% of rows flagged), or leave it out"),
    "auto_fix": (_bool, "true or false"),
    "auto_fix_rounds": (_whole(1), "e.g. 3 (the default); leave out --auto-fix for no rounds"),
    "auto_fix_only": (_finding_codes, "e.g. --auto-fix-only lr_too_high,overfitting"),
    "drop_train_rows": (_row_positions, "a list of training-split positions, e.g. [3, 17]"),
    "drop_leaked": (_bool, "true or false"),
    "tensorboard": (_bool, "true or false"),
    "device": (_device, "e.g. --device cpu, or auto to use a GPU when there is one"),
    "verbose": (_verbose, "auto, 0 (quiet), 1 or 2"),
    "checkpoint_every": (_whole(1), "e.g. 50 (steps); leave it out for a checkpoint at each epoch's end"),
    "stream": (_stream, "--stream, --no-stream, or auto (stream CSV/Parquet files over the threshold)"),
    "stream_threshold_mb": (_real(0.0), "e.g. 512; leave it out for min(1 GiB, available memory / 8)"),
    "shuffle_buffer": (_whole(1), "e.g. 65536 (the default)"),
    "monitor": (_bool, "true or false"),
    "monitor_every": (lambda value: _monitor_every(value), "auto, or e.g. 50 (steps between samples)"),
    "base": (_path, "a run directory, e.g. --from runs/mnist04"),
    "freeze_epochs": (_whole(0), "e.g. 5 (epochs training the new head alone); 0 fine-tunes everything at once"),
    "l2sp": (_real(0.0, low_open=False), "e.g. 0.01 (a number >= 0; leave it out for none)"),
    "activation": (_activation, "e.g. relu or leaky_relu; leave it out to keep the model's"),
    "batch_norm": (_bool, "true or false"),
    "kernel_initializer": (_initializer, "e.g. he_normal or glorot_uniform"),
    "bias_initializer": (_initializer, "e.g. zeros"),
    "normalize_inputs": (_bool, "true or false"),
    "output_activation": (_output_activation, "auto (what the loss expects), or e.g. softmax"),
    "clipnorm": (_real(0.0), "e.g. 1.0"),
    "lr_scale": (_real(0.0), "e.g. 0.1 for a 10x lower learning rate"),
    "tabular": (lambda value: _tabular(value), "a mapping, e.g. {scaling: standard, label_smoothing: 0}"),
}
# The command-line spelling of options whose flag is not --<option with dashes> (None: no flag).
FLAGS: dict[str, str | None] = {
    "data": "DATA", "placeholder_zeros": "--zeros-as-missing", "column_types": "--column-type",
    "header": "--header/--no-header", "hidden_scale": None, "verbose": "--quiet",
    "early_stopping": "--early-stopping/--no-early-stopping", "drop_outliers": "--drop-outliers",
    "auto_fix": "--auto-fix/--no-auto-fix", "tensorboard": "--tensorboard/--no-tensorboard",
    "stream": "--stream/--no-stream", "monitor": "--monitor/--no-monitor", "tabular": None,
}


def option_name(key: str) -> str:
    """``batch_size (--batch-size)``: the config/Python name with the flag, as users may write either."""
    flag = FLAGS.get(key, "--" + key.replace("_", "-"))
    return f"{key} ({flag})" if flag else key


def validate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Check every option against OPTION_RULES; returns ``cfg`` with numbers as numbers (``"1e-3"``).

    A wrong value is refused, never clamped or rounded: a silently changed option trains a model the
    user did not ask for.
    """
    out = dict(cfg)
    for key, (check, hint) in OPTION_RULES.items():
        value = out.get(key)
        if value is None:
            continue
        try:
            out[key] = check(value)
        except _Invalid as exc:
            if exc.message:
                raise NNGuruError(exc.message) from None
            raise NNGuruError(f"{option_name(key)} must be {exc.expected}; received {describe(value)}. "
                              f"Use {hint}.") from None
    if out.get("val_frac") is not None and out.get("test_frac") is not None \
            and out["val_frac"] + out["test_frac"] >= 1:
        raise NNGuruError(
            f"val_frac (--val-frac) + test_frac (--test-frac) must be below 1 to leave rows to train on; "
            f"received {out['val_frac']:g} + {out['test_frac']:g}. Pass smaller fractions, e.g. 0.15 and 0.15."
        )
    return out
