"""Search spaces: what ``nnguru tune`` may change, per kind of model, and the models it builds.

The guides' knobs for a model that underperforms — more or fewer hidden layers, more neurons,
another activation, dropout, the learning rate, the batch size, another optimizer, weight decay —
as one Optuna distribution each. A *family* is a registry entry (``register_family``): its default
space, a builder ``(params, input_shape, head) -> Sequential`` and the parameters that reproduce
the default template, so trial 0 of every study is the model ``nnguru train`` would have trained.

A config file overrides any range (``search_space:``): ``{low, high, log}`` for a number, a list
for choices, a single value to fix a parameter, ``null`` to leave it out (the template's value).
Every range is checked before data is loaded.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnguru.errors import NNGuruError, describe


@dataclass(frozen=True)
class Param:
    """One searched parameter: an int or float range (``log``: sampled on a log scale) or choices."""

    name: str
    kind: str  # "int" | "float" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.choices
        return isinstance(value, numbers.Real) and self.low <= value <= self.high

    def to_dict(self) -> dict | list:
        if self.kind == "choice":
            return list(self.choices)
        return {"low": self.low, "high": self.high, "log": self.log}


# ---- what each parameter may be: kind, lowest allowed value, why -------------------------------
def _optimizer_choice(name: Any) -> str:
    from nnguru.optim import registry

    if not isinstance(name, str):
        raise NNGuruError(f"search_space.optimizer: choices must be optimizer names; received {describe(name)}. "
                          "Use e.g. [adam, adamw, rmsprop].")
    registry.entry(name)  # unknown names list the valid ones
    return name


def _activation_choice(name: Any) -> str:
    from nnguru.nn import activations

    if not isinstance(name, str) or name.lower() not in activations.ACTIVATIONS:
        raise NNGuruError(f"search_space.activation: unknown activation {describe(name)}. Valid: "
                          f"{', '.join(sorted(activations.ACTIVATIONS))}. Use e.g. [relu, tanh, gelu].")
    return name.lower()


# name -> (kind, smallest allowed value (numbers), largest allowed (exclusive) or None, fix hint)
RULES: dict[str, tuple[str, float | None, float | None, str]] = {
    "layers": ("int", 1, None, "hidden layers (mlp) or convolution blocks (cnn), e.g. {low: 1, high: 4}"),
    "units": ("int", 1, None, "width of the first hidden layer (mlp) or filters of the first block (cnn), "
                              "e.g. {low: 16, high: 512, log: true}"),
    "dense_units": ("int", 0, None, "width of a hidden Dense layer before the cnn's head, 0 for none (the "
                                    "template's), e.g. [0, 64, 128]"),
    "dropout": ("float", 0.0, 1.0, "a rate in [0, 1), e.g. {low: 0.0, high: 0.5}"),
    "lr": ("float", 0.0, None, "a learning rate > 0, e.g. {low: 1.0e-4, high: 1.0e-2, log: true}"),
    "batch_size": ("int", 1, None, "positive whole numbers, e.g. [16, 32, 64, 128]"),
    "weight_decay": ("float", 0.0, None, "a weight decay > 0, e.g. {low: 1.0e-6, high: 1.0e-2, log: true}"),
    "activation": ("choice", None, None, "activation names, e.g. [relu, tanh, gelu]"),
    "optimizer": ("choice", None, None, "optimizer names, e.g. [adam, adamw, rmsprop]"),
}
CHOICE_CHECKS: dict[str, Callable[[Any], Any]] = {"optimizer": _optimizer_choice,
                                                   "activation": _activation_choice}
# lr and weight_decay must be > 0 (a log scale needs it); the others >= their low
POSITIVE = ("lr", "weight_decay")


# ---- families: the models a search builds ------------------------------------------------------
@dataclass(frozen=True)
class Family:
    name: str
    space: dict[str, Any]  # the default space, in the config file's format
    build: Callable[..., Any]  # (params, input_shape, head, recipe) -> Sequential
    defaults: Callable[[tuple, int], dict]  # (input_shape, n_train) -> the template's own values
    cpu_space: dict[str, Any] | None = None  # narrower ranges where trials train on a CPU


_FAMILIES: dict[str, Family] = {}
COMMON = {
    "dropout": {"low": 0.0, "high": 0.5},
    "lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "batch_size": [16, 32, 64, 128],
    "optimizer": ["adam", "adamw", "rmsprop"],
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
}
# weight decay has no "off" on a log scale: the default trial takes its floor, a negligible penalty
WEIGHT_DECAY_FLOOR = 1e-6


def register_family(name: str, space: dict[str, Any], defaults: Callable[[tuple, int], dict],
                    cpu_space: dict[str, Any] | None = None) -> Callable:
    """Decorator: register a model builder searched over ``space`` (see the module docstring);
    ``cpu_space`` replaces some ranges when the trials run on a CPU."""
    def add(build: Callable) -> Callable:
        _FAMILIES[name] = Family(name, space, build, defaults, cpu_space)
        return build
    return add


def family_for(input_shape: tuple) -> Family:
    """The family for this kind of input: images and spectrograms (H, W, C) a CNN, else an MLP,
    as the ``auto`` template picks."""
    return _FAMILIES["cnn" if len(input_shape) == 3 else "mlp"]


def _mlp_defaults(input_shape: tuple, n_train: int) -> dict:
    from nnguru.nn.templates import _hidden_units

    return {"layers": 2, "units": _hidden_units(math.prod(input_shape), n_train), "activation": "relu",
            "dropout": 0.2 if n_train < 20000 else 0.1}


@register_family("mlp", {"layers": {"low": 1, "high": 4}, "units": {"low": 16, "high": 512, "log": True},
                         "activation": ["relu", "tanh", "gelu", "elu"], **COMMON}, _mlp_defaults)
def build_mlp(params: dict, input_shape: tuple, head: list, recipe: dict | None = None):
    """The mlp template with its knobs free: ``layers`` Dense layers, the first ``units`` wide and
    each next one half as wide (at least 16), as the template narrows towards the head; the table
    recipe's learned feature scale first, as the template has it."""
    from nnguru.nn.layers import Dense, Dropout, FeatureScale, Flatten, Input
    from nnguru.nn.sequential import Sequential

    layers: list = [Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(Flatten())
    if (recipe or {}).get("feature_scale"):
        layers.append(FeatureScale())
    width = int(params["units"])
    for i in range(int(params["layers"])):
        layers += [Dense(width if i == 0 else max(width >> i, 16), activation=params["activation"]),
                   Dropout(float(params["dropout"]))]
    return Sequential([*layers, *head], name="mlp")


def _cnn_defaults(input_shape: tuple, n_train: int) -> dict:
    return {"layers": 1, "units": 16 if min(input_shape[:2]) > 32 else 32, "dense_units": 0,
            "activation": "relu", "dropout": 0.3}


# On a CPU a CNN's epoch grows with filters x convolutions per block and with the number of steps:
# a 3-convolution, 64-filter trial at batch 16 costs ~20x the template's epoch, so one such trial
# would take the time of a whole 20-trial search. There the search keeps to at most twice the
# template's width and depth and to batches of 32 and up (the template's own values stay inside).
CNN_CPU_SPACE = {"layers": {"low": 1, "high": 2}, "units": {"low": 8, "high": 32, "log": True},
                 "dense_units": [0, 32, 64, 128], "batch_size": [32, 64, 128]}


@register_family("cnn", {"layers": {"low": 1, "high": 3}, "units": {"low": 8, "high": 64, "log": True},
                         "dense_units": [0, 64, 128, 256],
                         "activation": ["relu", "gelu", "elu"], **COMMON}, _cnn_defaults, cpu_space=CNN_CPU_SPACE)
def build_cnn(params: dict, input_shape: tuple, head: list, recipe: dict | None = None):
    """The cnn template with its knobs free: its blocks (conv, BatchNorm, activation, 2x2 pooling)
    until the map is at most ``HEAD_SIDE`` a side, each with ``layers`` convolutions of ``units``
    filters doubling per block (capped at 128), then Flatten, Dropout and (``dense_units`` > 0) a
    hidden Dense layer before the head; the template's shift augmentation in front. With the
    defaults it is the template (its head reads the flattened map)."""
    from nnguru.nn.layers import (
        Activation,
        BatchNormalization,
        Conv2D,
        Dense,
        Dropout,
        Flatten,
        Input,
        MaxPooling2D,
        ReLU,
    )
    from nnguru.nn.sequential import Sequential
    from nnguru.nn.templates import BN_MOMENTUM, HEAD_SIDE, augmentation

    h, w, _ = input_shape
    f, act, rate = int(params["units"]), params["activation"], float(params["dropout"])
    layers: list = [Input(shape=input_shape), *augmentation("shift")]
    block = 0
    while min(h, w) > HEAD_SIDE or block == 0:
        for _ in range(int(params["layers"])):
            layers += [Conv2D(min(128, f << block), 3, padding="same", use_bias=False),
                       BatchNormalization(momentum=BN_MOMENTUM), ReLU() if act == "relu" else Activation(act)]
        layers.append(MaxPooling2D(2))
        h, w, block = h // 2, w // 2, block + 1
        if min(h, w) < 2:
            break
    layers += [Flatten(), Dropout(rate)]
    if int(params["dense_units"]) > 0:
        layers += [Dense(int(params["dense_units"]), activation=act), Dropout(rate)]
    layers += head
    return Sequential(layers, name="cnn")


def default_params(family: Family, input_shape: tuple, n_train: int, space: dict[str, Param]) -> dict:
    """The values ``nnguru train`` would use, for the parameters of ``space`` that can hold them
    (trial 0 of a new study)."""
    values = {"lr": 1e-3, "batch_size": 32, "optimizer": "adam", "weight_decay": WEIGHT_DECAY_FLOOR,
              **family.defaults(tuple(input_shape), n_train)}
    return {k: v for k, v in values.items() if k in space and space[k].contains(v)}


# ---- parsing and checking a space ---------------------------------------------------------------
def parse_space(family: Family, overrides: dict | None = None, cpu: bool = False) -> dict[str, Param]:
    """The family's space (its CPU ranges when ``cpu``) with the config file's ``search_space:``
    overrides, checked; an override always wins over the CPU ranges."""
    if overrides is not None and not isinstance(overrides, dict):
        raise NNGuruError(f"search_space must be a mapping of parameter: range; received {describe(overrides)}. "
                          "E.g. search_space: {units: {low: 16, high: 128}, activation: [relu, tanh]}.")
    spec = {**family.space, **((family.cpu_space or {}) if cpu else {}), **(overrides or {})}
    dropped = {k for k, v in spec.items() if v is None}  # ``name: null`` leaves a parameter out
    valid = [k for k in RULES if k in family.space]
    unknown = sorted(set(spec) - set(valid))
    if unknown:
        raise NNGuruError(f"search_space: unknown parameter(s) {unknown} for the {family.name} model. Valid: "
                          f"{', '.join(valid)}.")
    space = {name: _param(name, value) for name, value in spec.items() if name not in dropped}
    _check_weight_decay(space)
    return space


def check_overrides(overrides: dict | None) -> None:
    """The config file's ``search_space:`` checked on its own, before the data (and so the family)
    is known: names any family takes, ranges and choices valid."""
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise NNGuruError(f"search_space must be a mapping of parameter: range; received {describe(overrides)}. "
                          "E.g. search_space: {units: {low: 16, high: 128}, activation: [relu, tanh]}.")
    unknown = sorted(set(overrides) - set(RULES))
    if unknown:
        raise NNGuruError(f"search_space: unknown parameter(s) {unknown}. Valid: {', '.join(RULES)}.")
    for name, value in overrides.items():
        if value is not None:
            _param(name, value)


def _param(name: str, value: Any) -> Param:
    kind, low_ok, high_ok, hint = RULES[name]
    where = f"search_space.{name}"
    if isinstance(value, dict):
        if kind == "choice":
            raise NNGuruError(f"{where} takes a list of choices; received {describe(value)}. Use {hint}.")
        extra = sorted(set(value) - {"low", "high", "log"})
        if extra or "low" not in value or "high" not in value:
            raise NNGuruError(f"{where} must be {{low: ..., high: ...}} (log: true optional); received "
                              f"{describe(value)}. Use {hint}.")
        low, high = (_number(where, value[k], kind, hint) for k in ("low", "high"))
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise NNGuruError(f"{where}.log must be true or false; received {describe(log)}.")
        if low > high:
            raise NNGuruError(f"{where}: low ({low:g}) is greater than high ({high:g}). Swap them, e.g. "
                              f"{{low: {high:g}, high: {low:g}}}.")
        for bound in (low, high):
            _in_bounds(name, where, bound, hint)
        if log and low <= 0:
            raise NNGuruError(f"{where}: a log scale needs low > 0; received low={low:g}. Raise low or drop log.")
        return Param(name, kind, low, high, log)
    values = list(value) if isinstance(value, (list, tuple)) else [value]  # one value fixes it
    if not values:
        raise NNGuruError(f"{where}: the list of choices is empty. Use {hint}.")
    if kind == "choice":
        values = [CHOICE_CHECKS[name](v) for v in values]
    else:
        values = [_number(where, v, kind, hint) for v in values]
        for v in values:
            _in_bounds(name, where, v, hint)
    return Param(name, "choice", choices=tuple(dict.fromkeys(values)))


def _number(where: str, value: Any, kind: str, hint: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (kind == "int" and float(value) != int(value)):
        what = "a whole number" if kind == "int" else "a finite number"
        raise NNGuruError(f"{where} must be {what}; received {describe(value)}. Use {hint}.")
    return int(value) if kind == "int" else float(value)


def _in_bounds(name: str, where: str, value: float, hint: str) -> None:
    _, low_ok, high_ok, _ = RULES[name]
    bad_low = value <= low_ok if name in POSITIVE else value < low_ok
    if bad_low or (high_ok is not None and value >= high_ok):
        need = f"> {low_ok:g}" if name in POSITIVE else f">= {low_ok:g}"
        need += f" and < {high_ok:g}" if high_ok is not None else ""
        raise NNGuruError(f"{where}: {value:g} is out of range; it must be {need}. Use {hint}.")


def _check_weight_decay(space: dict[str, Param]) -> None:
    """Every optimizer choice must take ``weight_decay`` when it is searched."""
    from nnguru.optim import registry

    if "weight_decay" not in space or "optimizer" not in space:
        return
    lacking = [o for o in space["optimizer"].choices if "weight_decay" not in registry.entry(o).options]
    if lacking:
        raise NNGuruError(f"search_space.optimizer: {lacking} take no weight_decay, which the space searches. "
                          "Remove them from the choices, or leave weight_decay out (weight_decay: null).")


def suggest(trial, space: dict[str, Param]) -> dict:
    return {name: p.suggest(trial) for name, p in space.items()}


def describe_space(space: dict[str, Param]) -> dict:
    return {name: p.to_dict() for name, p in space.items()}
