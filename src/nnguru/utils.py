"""Keras's ``utils``: ``to_categorical``, ``set_random_seed``, ``pad_sequences``."""

from __future__ import annotations

import numpy as np

from nnguru import set_seed as set_random_seed
from nnguru.errors import NNGuruError, describe
from nnguru.keras_names import module_getattr
from nnguru.preprocessing.sequence import pad_sequences


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer labels ``y`` (shape ``y.shape + (num_classes,)``; a trailing axis of
    length 1 is dropped first, as in Keras)."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise NNGuruError(f"to_categorical needs integer class labels; received fractional values such as "
                          f"{y[np.mod(y, 1) != 0].flat[0]!r}.")
    if y.dtype.kind not in "biuf":
        raise NNGuruError(f"to_categorical needs integer class labels; received dtype {y.dtype}. Encode the "
                          "labels as 0..K-1 first (e.g. sklearn.preprocessing.LabelEncoder).")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise NNGuruError(f"to_categorical needs labels >= 0; received {int(y.min())}.")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise NNGuruError(f"to_categorical: label {int(y.max())} does not fit num_classes={num_classes} "
                          f"(labels must be 0..{num_classes - 1}).")
    out = np.zeros((*y.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def plot_model(model, *args, **kwargs):
    """Not supported: nnguru draws no architecture graphs (it needs pydot and graphviz)."""
    raise NNGuruError(
        f"plot_model is not supported by nnguru (received {describe(model)}); it would need pydot and "
        "graphviz. Use model.summary() for the layers, shapes and parameter counts."
    )


__all__ = ["pad_sequences", "plot_model", "set_random_seed", "to_categorical"]
__getattr__ = module_getattr("utils", __name__)
