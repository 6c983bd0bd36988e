"""Keras's weight penalties: ``Dense(64, kernel_regularizer=l2(1e-4))``.

A regularizer maps a weight tensor to a scalar that the training step adds to the loss (Keras
reports the loss with the penalty included; so does nnguru). Keras's formulas, no factor 1/2:
``L1: l1 * sum(|w|)``, ``L2: l2 * sum(w**2)``. Defaults are Keras's: ``L1()``/``l1()`` and
``L2()``/``l2()`` use 0.01; ``L1L2()`` uses 0 and 0, while the function ``l1_l2()`` uses 0.01 and
0.01 (Keras 2's helper, which tutorials call).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from nnguru.errors import NNGuruError, describe


class Regularizer(ABC):
    """Base class: ``reg(weight) -> scalar tensor``; ``get_config`` makes it JSON."""

    @abstractmethod
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        """The penalty (a scalar tensor) for weight ``w``; subclasses define it."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)


def _factor(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise NNGuruError(f"The regularization factor {name} must be a number >= 0; received {describe(value)}.")
    return float(value)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        total = w.new_zeros(())
        if self.l1:
            total = total + self.l1 * w.abs().sum()
        if self.l2:
            total = total + self.l2 * w.square().sum()
        return total

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)``."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)`` (no 1/2, as Keras)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


l1 = L1
l2 = L2


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:  # noqa: F811 - Keras's argument names
    """Keras's helper: both penalties, 0.01 each by default."""
    return L1L2(l1=l1, l2=l2)


REGULARIZERS: dict[str, type[Regularizer]] = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1_l2": l1_l2}


def get(identifier, arg: str = "regularizer") -> Regularizer | None:
    """None, a Keras name ('l1', 'l2', 'l1_l2'), a ``{"class_name", "config"}`` dict or a Regularizer."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict) and identifier.get("class_name") in REGULARIZERS:
        return REGULARIZERS[identifier["class_name"]].from_config(dict(identifier.get("config", {})))
    raise NNGuruError(
        f"{arg} must be None, 'l1', 'l2', 'l1_l2' or an nnguru.regularizers object such as l2(1e-4); "
        f"received {describe(identifier)}."
    )


def serialize(reg: Regularizer | None) -> dict | None:
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}
