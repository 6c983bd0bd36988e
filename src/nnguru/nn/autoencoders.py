"""Autoencoder templates: a network that learns to give back its input through a narrow code.

What the unsupervised tasks train (anomaly detection scores the reconstruction error, clustering
groups the codes): a dense one for tables and text features, a convolutional one for images and
spectrograms, registered by ``nn.templates`` as ``autoencoder`` and ``conv_autoencoder``. The code
layer is named ``code`` so :func:`encode` finds it in a saved model too.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nnguru.errors import NNGuruError
from nnguru.nn.layers import (
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    Reshape,
    ZeroPadding2D,
)
from nnguru.nn.sequential import Sequential

CODE_LAYER = "code"  # the layer whose output is the embedding


def code_size(n_features: int) -> int:
    """A bottleneck a quarter of the input, 2..32 wide: narrow enough that copying is impossible."""
    return int(min(32, max(2, n_features // 4)))


def dense_autoencoder(input_shape, head: list, n_train: int, dropout: float | None = None,
                      hidden_scale: float = 1.0) -> Sequential:
    """Dense encoder (two layers) -> code -> mirrored decoder -> linear reconstruction."""
    n = math.prod(input_shape)
    h = int(min(256, max(32, 2 ** round(math.log2(max(n, 2)) + 1))) * hidden_scale)
    layers: list = [Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(Flatten())
    layers += [Dense(h, activation="relu"), Dense(max(h // 2, 8), activation="relu")]
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(code_size(n), name=CODE_LAYER), Dense(max(h // 2, 8), activation="relu"),
               Dense(h, activation="relu"), Dense(n)]
    if len(input_shape) > 1:
        layers.append(Reshape(input_shape))
    return Sequential(layers, name="autoencoder")


def conv_autoencoder(input_shape, head: list, n_train: int, dropout: float | None = None,
                     hidden_scale: float = 1.0) -> Sequential:
    """Two strided convolutions -> dense code -> two transposed convolutions (images, spectrograms)."""
    if len(input_shape) != 3:
        raise NNGuruError(f"The conv_autoencoder template needs images (height, width, channels); received "
                          f"inputs of shape {tuple(input_shape)}. Use --model autoencoder for tables.")
    h, w, c = input_shape
    ph, pw = -h % 4, -w % 4  # pad to a multiple of 4 so two stride-2 steps come back to the same size
    f = int(16 * hidden_scale)
    code = int(min(32, max(8, (h * w * c) // 32)))
    layers: list = [Input(shape=input_shape)]
    if ph or pw:
        layers.append(ZeroPadding2D(((0, ph), (0, pw))))
    hh, ww = (h + ph) // 4, (w + pw) // 4
    layers += [Conv2D(f, 3, strides=2, padding="same", activation="relu"),
               Conv2D(2 * f, 3, strides=2, padding="same", activation="relu"), Flatten()]
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(code, name=CODE_LAYER), Dense(hh * ww * 2 * f, activation="relu"),
               Reshape((hh, ww, 2 * f)),
               Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu"),
               Conv2DTranspose(c, 3, strides=2, padding="same")]
    if ph or pw:
        layers.append(Cropping2D(((0, ph), (0, pw))))
    return Sequential(layers, name="conv_autoencoder")


def default_template(input_shape) -> str:
    """The autoencoder for this kind of input: convolutional for images/spectrograms, else dense."""
    return "conv_autoencoder" if len(input_shape) == 3 else "autoencoder"


def encode(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The code (embedding) of preprocessed inputs ``x``: the layers up to the one named ``code``."""
    from nnguru.nn.layers import call_layer

    layers = list(getattr(model, "layers", []))
    names = [getattr(layer, "layer_name", None) for layer in layers]
    if CODE_LAYER not in names:
        raise NNGuruError(f"The model has no layer named {CODE_LAYER!r}, so it has no code to embed with; "
                          "train it with an autoencoder template (--model autoencoder or conv_autoencoder).")
    stop = names.index(CODE_LAYER) + 1
    was = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            z, mask = torch.as_tensor(np.asarray(x[start:start + batch_size], dtype=np.float32),
                                      device=model.device), None
            for layer in layers[:stop]:
                z, mask = call_layer(layer, z, mask)
            out.append(z.float().cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
