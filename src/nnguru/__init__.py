"""nnguru: train neural networks on your own data the way an expert would, and explain what happened.

Keras style::

    from nnguru import Sequential
    from nnguru.layers import Flatten, Dense
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])

One call::

    run = nnguru.train("titanic.csv", target="Survived")
"""

from __future__ import annotations

import random as _random

__version__ = "0.1.0"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (Keras's ``keras.utils.set_random_seed``)."""
    import numpy as np
    import torch

    _random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


set_random_seed = set_seed


# Keras's namespaces, imported on first use: ``import nnguru as keras; keras.layers.Dense``.
_SUBMODULES = ("layers", "callbacks", "datasets", "optim", "models", "losses", "metrics", "optimizers", "utils",
               "preprocessing", "regularizers", "initializers", "random")
# Top-level Keras names nnguru lacks, with what to use instead.
_UNSUPPORTED = {
    "backend": "torch directly (nnguru runs on PyTorch); nnguru.utils.set_random_seed for seeds.",
    "applications": "torchvision.models (pretrained networks) wrapped in nnguru.Model.",
    "mixed_precision": "nothing: nnguru uses bf16 autocast on CUDA devices by itself.",
    "ops": "torch operations.",
    "saving": "model.save(path) and nnguru.load_model(path).",
}


def __getattr__(name: str):
    # Lazy imports keep `nnguru --help` fast and avoid importing torch until it is needed.
    if name in ("Sequential",):
        from nnguru.nn.sequential import Sequential

        return Sequential
    if name == "Model":
        from nnguru.nn.model import Model

        return Model
    if name == "Input":
        from nnguru.layers import Input

        return Input
    if name == "load_model":
        from nnguru.bundle import load_model

        return load_model
    if name in ("train", "Run", "load_run", "tune"):
        from nnguru import api

        return getattr(api, name)
    if name == "keras":  # TensorFlow's spelling: ``import nnguru as tf; tf.keras.layers.Dense``
        import sys

        return sys.modules[__name__]
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"nnguru.{name}")
    if name in _UNSUPPORTED:
        from nnguru.keras_names import UnsupportedKerasName

        raise UnsupportedKerasName(f"keras.{name} is a Keras namespace that nnguru does not support; use "
                                   f"{_UNSUPPORTED[name]}")
    raise AttributeError(f"module 'nnguru' has no attribute {name!r}")


__all__ = ["Input", "Model", "Run", "Sequential", "load_model", "load_run", "set_seed", "train", "tune"]
