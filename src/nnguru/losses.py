"""Keras's losses: ``from nnguru import losses``; ``losses.SparseCategoricalCrossentropy(from_logits=True)``.

Classes and the function names (``losses.sparse_categorical_crossentropy(y_true, y_pred)``,
``losses.mse``, ...) both work in ``compile(loss=...)``; called directly, a function returns the
per-sample loss as a torch tensor, as Keras's do. Your own ``fn(y_true, y_pred)`` works too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from nnguru.keras_names import module_getattr
from nnguru.nn.losses import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    get,
)


def _function(name: str) -> Callable:
    """Keras's functional form of the registered loss ``name``: per-sample values."""
    def loss(y_true, y_pred, from_logits: bool = False) -> torch.Tensor:
        obj = LOSSES[name](from_logits=from_logits) if LOSSES[name].classes else LOSSES[name]()
        outputs = torch.as_tensor(np.asarray(y_pred) if not isinstance(y_pred, torch.Tensor) else y_pred,
                                  dtype=torch.float32)
        if outputs.dim() == 1:
            outputs = outputs[:, None]
        y = y_true if isinstance(y_true, torch.Tensor) else obj.prepare_targets(np.asarray(y_true), outputs.shape[-1])
        return obj.elementwise(outputs, y)

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = f"Keras's ``{name}(y_true, y_pred)``: the per-sample loss."
    loss.nnguru_loss = name  # compile(loss=this) uses the registered loss itself
    return loss


sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy")
categorical_crossentropy = _function("categorical_crossentropy")
binary_crossentropy = _function("binary_crossentropy")
mean_squared_error = mse = MSE = _function("mse")
mean_absolute_error = mae = MAE = _function("mae")
huber = _function("huber")

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "Loss", "MeanAbsoluteError",
           "MeanSquaredError", "SparseCategoricalCrossentropy", "binary_crossentropy", "categorical_crossentropy",
           "get", "huber", "mae", "mean_absolute_error", "mean_squared_error", "mse",
           "sparse_categorical_crossentropy"]
__getattr__ = module_getattr("losses", __name__)
