"""Activation registry: Keras names -> tensor functions.

Names (not callables) are what architectures store in JSON, so a model file never holds code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


ACTIVATIONS: dict[str, Activation] = {
    "linear": _identity,
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: F.softmax(x, dim=-1),
    "tanh": torch.tanh,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # Keras 3's default negative slope
    "gelu": F.gelu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "silu": F.silu,
    "swish": F.silu,
    "relu6": F.relu6,
    "log_softmax": lambda x: F.log_softmax(x, dim=-1),
}


def register(name: str, fn: Activation) -> None:
    """Add an activation usable by name in layers (and in saved architectures)."""
    ACTIVATIONS[name] = fn


def get(activation: str | Activation | None) -> tuple[str, Activation]:
    """Resolve ``activation`` to ``(name, fn)``; ``None`` means linear, as in Keras."""
    if activation is None:
        return "linear", _identity
    if isinstance(activation, str):
        key = activation.lower()
        if key not in ACTIVATIONS:
            raise NNGuruError(
                f"Unknown activation {activation!r}. Valid names: {', '.join(sorted(ACTIVATIONS))}; "
                "or pass a callable tensor -> tensor."
            )
        return key, ACTIVATIONS[key]
    if callable(activation):
        return getattr(activation, "__name__", "custom"), activation
    raise NNGuruError(f"activation must be a name or a callable; received {describe(activation)}.")
