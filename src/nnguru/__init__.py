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

import random

__version__ = "0.1.0"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (Keras's ``keras.utils.set_random_seed``)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


set_random_seed = set_seed


def __getattr__(name: str):
    # Lazy imports keep `nnguru --help` fast and avoid importing torch until it is needed.
    if name in ("Sequential",):
        from nnguru.nn.sequential import Sequential

        return Sequential
    if name == "Model":
        from nnguru.nn.model import Model

        return Model
    if name == "load_model":
        from nnguru.bundle import load_model

        return load_model
    if name in ("train", "Run", "load_run"):
        from nnguru import api

        return getattr(api, name)
    if name in ("layers", "callbacks", "datasets", "optim"):
        import importlib

        return importlib.import_module(f"nnguru.{name}")
    raise AttributeError(f"module 'nnguru' has no attribute {name!r}")


__all__ = ["Model", "Run", "Sequential", "load_model", "load_run", "set_seed", "train"]
