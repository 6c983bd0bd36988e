"""Keras's merge layers: ``Concatenate``, ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum``, ``Dot``, and their function forms (``concatenate([a, b])``).

A merge layer is called on a list of tensors (real or symbolic, see ``nn/functional.py``). Shapes
exclude the batch axis; None is a length only the data knows and matches any length. Masks (from
``Embedding(mask_zero=True)``) are combined: a step is kept only where every input keeps it.
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers import Layer, Shape, register


def _same(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


class _Merge(Layer, abc.ABC):
    """Base: ``forward(list of tensors)``; ``ensure_built`` takes the list of input shapes."""

    min_inputs, max_inputs = 2, None

    def _label(self) -> str:
        return f"{type(self).__name__} layer" + (f" {self.layer_name!r}" if self.layer_name else "")

    def _check_count(self, shapes: Sequence) -> None:
        n = len(shapes) if isinstance(shapes, (list, tuple)) else 0
        ok = n >= self.min_inputs and (self.max_inputs is None or n <= self.max_inputs)
        if not ok or not all(isinstance(s, (list, tuple)) for s in shapes):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise NNGuruError(f"{self._label()} must be called on a list of {want} tensors; received "
                              f"{describe(shapes)}. Example: {type(self).__name__.lower()}([x1, x2]).")

    def ensure_built(self, input_shape) -> Shape:  # a list of shapes
        shapes = [tuple(s) for s in input_shape]
        self._check_count(shapes)
        out = self.compute_output_shape(shapes)
        if not self.built:
            self.built, self.input_shape, self.output_shape = True, shapes, out
        return out

    def compute_output_shape(self, input_shape) -> Shape:
        shapes = [tuple(s) for s in input_shape]
        first = shapes[0]
        for other in shapes[1:]:
            if len(other) != len(first) or not all(_same(a, b) for a, b in zip(first, other, strict=True)):
                raise NNGuruError(
                    f"{self._label()} needs inputs of one shape; received shapes {first} and {other} "
                    "(batch axis excluded). Reshape or project one input (e.g. with Dense) to match."
                )
        return tuple(next((d for d in dims if d is not None), None) for dims in zip(*shapes, strict=True))

    def compute_mask(self, x, mask):
        masks = [m for m in (mask or []) if m is not None]
        return functools.reduce(torch.logical_and, masks) if masks else None

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)):
            self._check_count(inputs)
        return self.merge(list(inputs))

    @abc.abstractmethod
    def merge(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """The merged tensor of ``xs`` (shapes already checked); each merge layer's own rule."""


@register
class Add(_Merge):
    """Element-wise sum (a residual connection: ``add([x, block(x)])``)."""

    def merge(self, xs):
        return functools.reduce(torch.add, xs)


@register
class Subtract(_Merge):
    """``x1 - x2`` (exactly two inputs)."""

    max_inputs = 2

    def merge(self, xs):
        return xs[0] - xs[1]


@register
class Multiply(_Merge):
    """Element-wise product (gating)."""

    def merge(self, xs):
        return functools.reduce(torch.mul, xs)


@register
class Average(_Merge):
    """Element-wise mean."""

    def merge(self, xs):
        return functools.reduce(torch.add, xs) / len(xs)


@register
class Maximum(_Merge):
    """Element-wise maximum."""

    def merge(self, xs):
        return functools.reduce(torch.maximum, xs)


@register
class Minimum(_Merge):
    """Element-wise minimum."""

    def merge(self, xs):
        return functools.reduce(torch.minimum, xs)


def _axis(axis: int, rank: int, label: str) -> int:
    """Keras counts the batch axis: ``axis=-1`` is the last, ``axis=1`` the first after the batch.
    Returns the index into a shape without the batch axis."""
    index = rank + axis if axis < 0 else axis - 1
    if not 0 <= index < rank:
        raise NNGuruError(f"{label}: axis={axis} does not exist for inputs with {rank} axes after the batch "
                          f"axis; use -1 (the last) .. {rank} or -{rank} .. -1.")
    return index


@register
class Concatenate(_Merge):
    """Joins tensors along ``axis`` (default: the last, the features)."""

    min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool) or axis == 0:
            raise NNGuruError(f"Concatenate(axis=...) must be a non-zero int (0 is the batch axis); "
                              f"received {describe(axis)}.")
        self.axis = axis

    def compute_output_shape(self, input_shape) -> Shape:
        shapes = [tuple(s) for s in input_shape]
        first = shapes[0]
        k = _axis(self.axis, len(first), self._label())
        for other in shapes[1:]:
            if len(other) != len(first) or not all(
                    i == k or _same(a, b) for i, (a, b) in enumerate(zip(first, other, strict=True))):
                raise NNGuruError(
                    f"{self._label()} (axis={self.axis}) needs inputs whose shapes agree except on the "
                    f"concatenation axis; received shapes {first} and {other} (batch axis excluded)."
                )
        joined = None if any(s[k] is None for s in shapes) else sum(s[k] for s in shapes)
        merged = list(super().compute_output_shape([s[:k] + (1,) + s[k + 1:] for s in shapes]))
        merged[k] = joined
        return tuple(merged)

    def compute_mask(self, x, mask):
        if not mask or all(m is None for m in mask):
            return None
        # Joining along time (axis 1 of (batch, steps, features)): the masks join too.
        if x and x[0].dim() >= 3 and _axis(self.axis, x[0].dim() - 1, "") == 0:
            return torch.cat([m if m is not None else torch.ones(t.shape[:2], dtype=torch.bool, device=t.device)
                              for t, m in zip(x, mask, strict=True)], dim=1)
        return super().compute_mask(x, mask)

    def merge(self, xs):
        return torch.cat(xs, dim=self.axis if self.axis < 0 else self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


@register
class Dot(_Merge):
    """Dot product along ``axes`` of two inputs (Keras's ``batch_dot``); ``normalize=True`` gives
    the cosine similarity. Two vectors give ``(1,)``; ``(n, d)`` and ``(m, d)`` with ``axes=2`` give
    ``(n, m)``."""

    min_inputs = max_inputs = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) and a != 0 for a in pair):
            raise NNGuruError(f"Dot(axes=...) must be a non-zero int or a pair of them (0 is the batch "
                              f"axis); received {describe(axes)}.")
        self.axes, self.normalize = pair, bool(normalize)

    def _indices(self, shapes) -> tuple[int, int]:
        return _axis(self.axes[0], len(shapes[0]), self._label()), _axis(self.axes[1], len(shapes[1]), self._label())

    def compute_output_shape(self, input_shape) -> Shape:
        a, b = (tuple(s) for s in input_shape)
        i, j = self._indices((a, b))
        if not _same(a[i], b[j]):
            raise NNGuruError(f"{self._label()} (axes={list(self.axes)}) contracts axes of different sizes: "
                              f"received shapes {a} and {b} (batch axis excluded).")
        out = a[:i] + a[i + 1:] + b[:j] + b[j + 1:]
        return out or (1,)

    def compute_mask(self, x, mask):
        return None

    def merge(self, xs):
        a, b = xs
        i, j = self._indices((a.shape[1:], b.shape[1:]))
        if self.normalize:
            a, b = F.normalize(a, dim=i + 1), F.normalize(b, dim=j + 1)
        a, b = a.movedim(i + 1, -1), b.movedim(j + 1, 1)
        rest_a, rest_b = a.shape[1:-1], b.shape[2:]
        out = torch.bmm(a.reshape(len(a), math.prod(rest_a), a.shape[-1]),
                        b.reshape(len(b), b.shape[1], math.prod(rest_b)))
        shape = (*rest_a, *rest_b) or (1,)
        return out.reshape(len(out), *shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def concatenate(inputs: Sequence, axis: int = -1, **kwargs):
    """``Concatenate(axis=axis)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs: Sequence, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence, **kwargs):
    return Minimum(**kwargs)(inputs)


def dot(inputs: Sequence, axes, normalize: bool = False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
