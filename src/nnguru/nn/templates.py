"""Default models per data kind, sized from the data.

The guides' advice, encoded: an MLP for tables and text features, a small CNN for images and
spectrograms; dropout when data is scarce; the output layer and loss follow the task. For
regression a fixed ``Rescale`` layer maps the network's ~N(0, 1) outputs to the target's scale,
so training starts near the mean and the loss is reported in the target's own units.
"""

from __future__ import annotations

import math

from nnguru.errors import NNGuruError
from nnguru.nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    Rescale,
)
from nnguru.nn.sequential import Sequential

TEMPLATES = ("auto", "mlp", "cnn")


def _hidden_units(n_features: int, n_train: int) -> int:
    """Wider for more features and more data; 32..256, a power of two."""
    guess = math.sqrt(max(n_features, 1)) * 16 * (1.5 if n_train > 5000 else 1.0)
    return int(2 ** min(8, max(5, round(math.log2(guess)))))


def head(task: str, n_outputs: int, y_mean: float = 0.0, y_std: float = 1.0) -> list:
    if task == "classification":
        return [Dense(n_outputs, activation="softmax")]
    return [Dense(n_outputs), Rescale(scale=y_std, offset=y_mean)]


def mlp(input_shape, task: str, n_outputs: int, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0, **head_kw) -> Sequential:
    n_features = math.prod(input_shape)
    h = int(_hidden_units(n_features, n_train) * hidden_scale)
    rate = dropout if dropout is not None else (0.2 if n_train < 20000 else 0.1)
    layers = [Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(Flatten())
    layers += [Dense(h, activation="relu"), Dropout(rate), Dense(max(h // 2, 16), activation="relu"),
               Dropout(rate), *head(task, n_outputs, **head_kw)]
    return Sequential(layers, name="mlp")


def cnn(input_shape, task: str, n_outputs: int, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0, **head_kw) -> Sequential:
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
               Dropout(dropout if dropout is not None else 0.3), *head(task, n_outputs, **head_kw)]
    return Sequential(layers, name="cnn")


def check(name: str) -> None:
    if name not in TEMPLATES:
        raise NNGuruError(f"Unknown model template {name!r}. Valid: {', '.join(TEMPLATES)}.")


def build(name: str, input_shape, task: str, n_outputs: int, n_train: int, **kwargs) -> Sequential:
    """The template ``name`` ('auto' picks cnn for images/spectrograms, else mlp)."""
    check(name)
    if name == "auto":
        name = "cnn" if len(input_shape) == 3 else "mlp"
    return (cnn if name == "cnn" else mlp)(tuple(input_shape), task, n_outputs, n_train, **kwargs)
