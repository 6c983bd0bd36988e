"""Default models per data kind, sized from the data: a registry of templates.

The guides' advice, encoded: an MLP for tables, text features and short windows of a series, a
small CNN for images and spectrograms, a GRU or a 1-D CNN for sequences (windows of a series);
dropout when data is scarce. Every template ends with the head its task gives it (the output
layers: softmax for classes, a rescaled linear layer for values, one output per forecast step).

Add one with ``register_template("name")`` on a function ``(input_shape, head, n_train, dropout,
hidden_scale) -> Sequential``; ``--model name`` then selects it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from nnguru.errors import NNGuruError
from nnguru.nn.autoencoders import conv_autoencoder, dense_autoencoder
from nnguru.nn.layers import (
    GRU,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)
from nnguru.nn.sequential import Sequential

_TEMPLATES: dict[str, Callable[..., Sequential]] = {}


def register_template(name: str) -> Callable:
    """Decorator: register a template builder under ``name``."""
    def add(builder: Callable[..., Sequential]) -> Callable[..., Sequential]:
        _TEMPLATES[name] = builder
        return builder
    return add


def names() -> list[str]:
    return ["auto", *_TEMPLATES]


def _hidden_units(n_features: int, n_train: int) -> int:
    """Wider for more features and more data; 32..256, a power of two."""
    guess = math.sqrt(max(n_features, 1)) * 16 * (1.5 if n_train > 5000 else 1.0)
    return int(2 ** min(8, max(5, round(math.log2(guess)))))


@register_template("mlp")
def mlp(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0) -> Sequential:
    n_features = math.prod(input_shape)
    h = int(_hidden_units(n_features, n_train) * hidden_scale)
    rate = dropout if dropout is not None else (0.2 if n_train < 20000 else 0.1)
    layers = [Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(Flatten())
    layers += [Dense(h, activation="relu"), Dropout(rate), Dense(max(h // 2, 16), activation="relu"),
               Dropout(rate), *head]
    return Sequential(layers, name="mlp")


@register_template("cnn")
def cnn(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0) -> Sequential:
    if len(input_shape) != 3:
        raise NNGuruError(f"The cnn template needs images (height, width, channels); got {input_shape}.")
    h, w, _ = input_shape
    f = int(32 * hidden_scale)
    layers: list = [Input(shape=input_shape)]
    # Shrink big images cheaply first, then two conv blocks; stop pooling at ~4x4.
    while min(h, w) > 64:
        layers += [Conv2D(f // 2, 3, strides=2, padding="same", activation="relu")]
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    for filters in (f, 2 * f):
        layers += [Conv2D(filters, 3, padding="same", activation="relu"), BatchNormalization()]
        if min(h, w) >= 8:
            layers.append(MaxPooling2D(2))
            h, w = h // 2, w // 2
    layers += [GlobalAveragePooling2D() if min(h, w) > 8 else Flatten(),
               Dense(int(128 * hidden_scale), activation="relu"),
               Dropout(dropout if dropout is not None else 0.3), *head]
    return Sequential(layers, name="cnn")


def _sequence_shape(input_shape, template: str) -> tuple[int, int]:
    if len(input_shape) != 2:
        raise NNGuruError(f"The {template} template needs sequences (steps, features); got {input_shape}. "
                          "Use it for forecasting (task forecast), or pick --model mlp.")
    return input_shape[0], input_shape[1]


@register_template("rnn")
def rnn(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0) -> Sequential:
    """A GRU reads the window step by step; its last state feeds the head."""
    _sequence_shape(input_shape, "rnn")
    units = int(32 * hidden_scale)
    rate = dropout if dropout is not None else (0.1 if n_train < 20000 else 0.0)
    return Sequential([Input(shape=input_shape), GRU(units), Dropout(rate), *head], name="rnn")


@register_template("conv1d")
def conv1d(input_shape, head: list, n_train: int, dropout: float | None = None,
           hidden_scale: float = 1.0) -> Sequential:
    """Two causal 1-D convolutions over the window (no step sees a later one), pooled, then the head."""
    _sequence_shape(input_shape, "conv1d")
    f = int(32 * hidden_scale)
    rate = dropout if dropout is not None else (0.1 if n_train < 20000 else 0.0)
    return Sequential([Input(shape=input_shape), Conv1D(f, 3, padding="causal", activation="relu"),
                       Conv1D(f, 3, padding="causal", activation="relu"), GlobalAveragePooling1D(),
                       Dropout(rate), *head], name="conv1d")


# the unsupervised tasks' templates (nn/autoencoders.py): they reconstruct their input
register_template("autoencoder")(dense_autoencoder)
register_template("conv_autoencoder")(conv_autoencoder)


def check(name: str) -> None:
    if name not in names():
        raise NNGuruError(f"Unknown model template {name!r}. Valid: {', '.join(names())}.")


def build(name: str, input_shape, head: list, n_train: int, **kwargs) -> Sequential:
    """The template ``name`` ending in ``head`` ('auto' picks cnn for images/spectrograms, else mlp)."""
    check(name)
    if name == "auto":
        name = "cnn" if len(input_shape) == 3 else "mlp"
    return _TEMPLATES[name](tuple(input_shape), head, n_train, **kwargs)
