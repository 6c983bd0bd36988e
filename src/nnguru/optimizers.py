"""Keras's optimizer classes and learning-rate schedules: ``nnguru.optimizers.Adam(learning_rate=1e-3)``.

Each class only records Keras's arguments; ``Model.compile`` turns it into the optimizer of the
same name in nnguru's registry (``nnguru.optim``: torch optimizers with Keras's defaults), so
``compile(optimizer=Adam(1e-3))`` and ``compile(optimizer="adam")`` train identically.
``learning_rate`` may be a schedule (``schedules.ExponentialDecay(...)``): the rate is then set
before every training step from the number of steps taken so far, as Keras does.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from nnguru.errors import NNGuruError, describe
from nnguru.keras_names import module_getattr
from nnguru.optim.clipping import CLIP_OPTIONS
from nnguru.training.callbacks.base import Callback

# Keras options nnguru does not implement: refused with advice rather than silently ignored.
_UNSUPPORTED = {
    "use_ema": "weight averaging (EMA) is not supported.",
    "decay": "Keras 2's decay= is gone in Keras 3 too; pass learning_rate=schedules.InverseTimeDecay(...).",
}


class LearningRateSchedule(ABC):
    """Base class: ``schedule(step) -> learning rate`` (subclass it and define ``__call__``)."""

    @abstractmethod
    def __call__(self, step: int) -> float:
        """The learning rate at optimizer step ``step``; subclasses define it."""

    def get_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class _Decay(LearningRateSchedule):
    """The arguments Keras's exponential and inverse-time decays share."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str | None = None) -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)


class ExponentialDecay(_Decay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division if ``staircase``)."""

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class InverseTimeDecay(_Decay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` steps, ``values[1]`` up to ``boundaries[1]``, ..."""

    def __init__(self, boundaries: list[int], values: list[float], name: str | None = None) -> None:
        if len(values) != len(boundaries) + 1:
            raise NNGuruError(f"PiecewiseConstantDecay needs one more value than boundaries; received "
                              f"{len(boundaries)} boundaries and {len(values)} values.")
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return value
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over ``decay_steps``,
    after an optional linear warm-up to ``warmup_target`` over ``warmup_steps`` (Keras 3)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str | None = None, warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = float(initial_learning_rate), decay_steps, alpha
        self.warmup_target, self.warmup_steps = warmup_target, int(warmup_steps)

    def __call__(self, step: int) -> float:
        start = self.initial_learning_rate
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * step / self.warmup_steps
            start, step = self.warmup_target, step - self.warmup_steps
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)


def _positive(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise NNGuruError(f"{name} must be a positive number; received {describe(value)}.")


def _non_negative(name: str, value: Any) -> None:
    """Keras takes ``learning_rate=0.0`` (a LearningRateScheduler then sets the rate each epoch)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise NNGuruError(f"{name} must be a number >= 0; received {describe(value)}.")


class ScheduleHook(Callback):
    """Sets the optimizer's learning rate from a schedule before each training step.

    Its step count lives on with the model, so a second ``fit`` continues the schedule (Keras's
    ``optimizer.iterations``).
    """

    def __init__(self, schedule: LearningRateSchedule) -> None:
        super().__init__()
        self.schedule, self.iterations, self.optimizer = schedule, 0, None

    def attach(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self._apply()

    def _apply(self) -> None:
        lr = float(self.schedule(self.iterations))
        for group in getattr(self.optimizer, "param_groups", []):
            group["lr"] = lr

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._apply()
        self.iterations += 1


class Optimizer:
    """A Keras optimizer's arguments; ``Model.compile`` builds the registry's optimizer from them."""

    registry_name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    default_lr: ClassVar[float] = 0.001

    def __init__(self, learning_rate: float | LearningRateSchedule | None = None, **kwargs: Any) -> None:
        legacy = kwargs.pop("lr", None)  # Keras 2's name
        if legacy is not None:
            if learning_rate is not None:
                raise NNGuruError(f"{type(self).__name__}: give the learning rate once (learning_rate= or lr=).")
            learning_rate = legacy
        self.name = kwargs.pop("name", None) or type(self).__name__.lower()
        for key in list(kwargs):
            if key in _UNSUPPORTED and kwargs[key] not in (None, False, 0, 0.0):
                raise NNGuruError(f"{type(self).__name__}({key}={kwargs[key]!r}): {_UNSUPPORTED[key]}")
            if key in _UNSUPPORTED or (key == "weight_decay" and kwargs[key] is None):
                kwargs.pop(key)
        for key in CLIP_OPTIONS:  # clipnorm & co: checked and applied by nnguru.optim (optim/clipping.py)
            if kwargs.get(key, 0) is None:
                kwargs.pop(key)
        unknown = sorted(set(kwargs) - set(self.defaults) - {"weight_decay", *CLIP_OPTIONS})
        if unknown:
            raise NNGuruError(f"{type(self).__name__} got unknown options {unknown}; it accepts learning_rate, "
                              f"{', '.join(self.defaults)}, weight_decay.")
        self.learning_rate = self.default_lr if learning_rate is None else learning_rate
        if not isinstance(self.learning_rate, LearningRateSchedule) and not callable(self.learning_rate):
            _non_negative("learning_rate", self.learning_rate)
        self.options = kwargs

    def nnguru_optimizer_spec(self) -> tuple[dict, ScheduleHook | None]:
        """(registry spec for ``nnguru.optim.get``, the schedule hook or None)."""
        schedule = self.learning_rate if callable(self.learning_rate) else None
        lr = float(schedule(0)) if schedule is not None else float(self.learning_rate)
        return {"name": self.registry_name, "lr": lr, **self.options}, (
            ScheduleHook(schedule) if schedule is not None else None)

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate, **self.options}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r}, {self.options})"


def _optimizer(class_name: str, registry_name: str, doc: str, default_lr: float = 0.001) -> type[Optimizer]:
    """A Keras optimizer class whose options (and defaults) are the registry optimizer's own."""
    from nnguru.optim.torch_optims import FACTORIES

    params = inspect.signature(FACTORIES[registry_name]).parameters
    defaults = {k: p.default for k, p in list(params.items())[2:]}  # after (model, lr)
    return type(class_name, (Optimizer,), {"registry_name": registry_name, "defaults": defaults,
                                           "default_lr": default_lr, "__doc__": doc, "__module__": __name__})


SGD = _optimizer("SGD", "sgd", "SGD(learning_rate=0.01, momentum=0.0, nesterov=False)", default_lr=0.01)
Adam = _optimizer("Adam", "adam", "Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)")
AdamW = _optimizer("AdamW", "adamw", "AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999)")
RMSprop = _optimizer("RMSprop", "rmsprop", "RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)")
Adagrad = _optimizer("Adagrad", "adagrad", "Adagrad(learning_rate=0.001, initial_accumulator_value=0.1)")
Nadam = _optimizer("Nadam", "nadam", "Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)")
Adamax = _optimizer("Adamax", "adamax", "Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)")
Adadelta = _optimizer("Adadelta", "adadelta", "Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7)")


class schedules:  # noqa: N801 - Keras's namespace: nnguru.optimizers.schedules.ExponentialDecay
    LearningRateSchedule = LearningRateSchedule
    ExponentialDecay = ExponentialDecay
    InverseTimeDecay = InverseTimeDecay
    PiecewiseConstantDecay = PiecewiseConstantDecay
    CosineDecay = CosineDecay


def get(identifier: Any) -> Optimizer:
    """``optimizers.get("adam")`` -> ``Adam()``, as in Keras."""
    classes = {c.registry_name: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta)}
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in classes:
        return classes[identifier.lower()]()
    raise NNGuruError(f"Unknown optimizer {identifier!r}; valid: {', '.join(classes)}.")


__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LearningRateSchedule", "Nadam",
           "Optimizer", "RMSprop", "get", "schedules"]
__getattr__ = module_getattr("optimizers", __name__)
