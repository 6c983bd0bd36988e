"""Convolution, pooling, upsampling and padding layers over channels-last data (Keras's layout).

Inputs are ``(steps, channels)`` sequences or ``(height, width, channels)`` images; each layer
permutes to torch's channels-first view for the one torch call and back. 'same' padding is
TensorFlow's (the odd pixel goes at the end), so output shapes and values match Keras.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, _Kernel, _pair, _same_padding, register


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise NNGuruError(f"{what} must be {' or '.join(repr(a) for a in allowed)}; received {value!r}.")
    return value


@register
class Conv2D(_Kernel):
    """2-D convolution over channels-last images ``(H, W, C)``; Keras kernel ``(kh, kw, in, filters)``."""

    kernel_layout = (3, 2, 0, 1)

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", dilation_rate=1,
                 activation=None, use_bias: bool = True, **kwargs) -> None:
        super().__init__(activation=activation, use_bias=use_bias, **kwargs)
        self.padding = _choice(padding, ("valid", "same"), "Conv2D padding")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if self.dilation_rate != (1, 1) and self.strides != (1, 1):
            raise NNGuruError("Conv2D: strides > 1 together with dilation_rate > 1 is not allowed (as in Keras); "
                              f"received strides={self.strides}, dilation_rate={self.dilation_rate}.")

    def _span(self, i: int) -> int:
        return (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise NNGuruError(
                f"Conv2D expects images of shape (height, width, channels); received {input_shape}. "
                "Add a channel axis (e.g. x[..., None]) or a Reshape layer."
            )
        self.make_kernel((*self.kernel_size, input_shape[-1], self.filters), self.filters)
        self._pads = None
        if self.padding == "same":
            ph = _same_padding(input_shape[0], self.kernel_size[0], self.strides[0], self.dilation_rate[0])
            pw = _same_padding(input_shape[1], self.kernel_size[1], self.strides[1], self.dilation_rate[1])
            self._pads = (*pw, *ph)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        h, w, _ = input_shape
        if self.padding == "same":
            oh, ow = math.ceil(h / self.strides[0]), math.ceil(w / self.strides[1])
        else:
            oh = (h - self._span(0)) // self.strides[0] + 1
            ow = (w - self._span(1)) // self.strides[1] + 1
        if oh <= 0 or ow <= 0:
            raise NNGuruError(
                f"Conv2D kernel {self.kernel_size} does not fit inputs of shape {input_shape}; "
                "use padding='same' or a smaller kernel."
            )
        return (oh, ow, self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)  # NHWC view in channels_last memory format: no copy
        pads, padding = self._pads, 0
        if pads is not None and pads[0] == pads[1] and pads[2] == pads[3]:
            pads, padding = None, (pads[2], pads[0])  # symmetric: the convolution pads, no padded copy
        if pads is not None and any(pads):
            x = F.pad(x, pads)
        y = F.conv2d(x, self.weight, self.bias, self.strides, padding, self.dilation_rate)
        return self.activate(y.permute(0, 2, 3, 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "dilation_rate": list(self.dilation_rate)}


@register
class Conv2DTranspose(_Kernel):
    """Transposed 2-D convolution (learned upsampling); Keras kernel ``(kh, kw, filters, in)``.

    Output sizes follow Keras: 'valid' gives ``in * stride + max(kernel - stride, 0)``, 'same'
    gives ``in * stride``. Computed as torch's full transposed convolution, then cropped (or
    zero-extended) to that window, which is what TensorFlow's gradient-of-convolution computes.
    """

    kernel_layout = (3, 2, 0, 1)

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", dilation_rate=1,
                 activation=None, use_bias: bool = True, output_padding=None, **kwargs) -> None:
        super().__init__(activation=activation, use_bias=use_bias, **kwargs)
        if output_padding is not None:
            raise NNGuruError("Conv2DTranspose(output_padding=...) is not supported by nnguru; leave it None "
                              "(Keras's default output size) and crop or pad with Cropping2D/ZeroPadding2D.")
        self.padding = _choice(padding, ("valid", "same"), "Conv2DTranspose padding")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")

    def _window(self, size: int, i: int) -> tuple[int, int]:
        """(crop at the start, output length) along axis ``i``."""
        k, s = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1, self.strides[i]
        if self.padding == "valid":
            return 0, size * s + max(k - s, 0)
        return max(k - s, 0) // 2, size * s

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise NNGuruError(f"Conv2DTranspose expects images of shape (height, width, channels); "
                              f"received {input_shape}.")
        self.make_kernel((*self.kernel_size, self.filters, input_shape[-1]), self.filters)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self._window(input_shape[0], 0)[1], self._window(input_shape[1], 1)[1], self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        y = F.conv_transpose2d(x.permute(0, 3, 1, 2), self.weight, None, self.strides, dilation=self.dilation_rate)
        (th, oh), (tw, ow) = self._window(h, 0), self._window(w, 1)
        y = F.pad(y, (-tw, ow - (y.shape[3] - tw), -th, oh - (y.shape[2] - th)))  # negative pads crop
        if self.bias is not None:
            y = y + self.bias[:, None, None]
        return self.activate(y.permute(0, 2, 3, 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "dilation_rate": list(self.dilation_rate)}


@register
class Conv1DTranspose(_Kernel):
    """Transposed 1-D convolution over ``(steps, channels)``; Keras kernel ``(k, filters, in)``.

    Output length as Keras: 'valid' gives ``steps * stride + max(kernel - stride, 0)``, 'same'
    ``steps * stride``; computed as :class:`Conv2DTranspose` does (full transposed convolution, cropped).
    """

    kernel_layout = (2, 1, 0)

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, padding: str = "valid",
                 dilation_rate: int = 1, activation=None, use_bias: bool = True, output_padding=None,
                 **kwargs) -> None:
        super().__init__(activation=activation, use_bias=use_bias, **kwargs)
        if output_padding is not None:
            raise NNGuruError("Conv1DTranspose(output_padding=...) is not supported by nnguru; leave it None "
                              "(Keras's default output length).")
        self.padding = _choice(padding, ("valid", "same"), "Conv1DTranspose padding")
        self.filters, self.kernel_size, self.strides = int(filters), _int(kernel_size), _int(strides)
        self.dilation_rate = _int(dilation_rate)

    def _window(self, steps: int) -> tuple[int, int]:
        """(crop at the start, output length)."""
        k, s = (self.kernel_size - 1) * self.dilation_rate + 1, self.strides
        if self.padding == "valid":
            return 0, steps * s + max(k - s, 0)
        return max(k - s, 0) // 2, steps * s

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise NNGuruError(f"Conv1DTranspose expects (steps, channels); received {input_shape}.")
        self.make_kernel((self.kernel_size, self.filters, input_shape[-1]), self.filters)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self._window(input_shape[0])[1], self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose1d(x.transpose(1, 2), self.weight, self.bias, self.strides, dilation=self.dilation_rate)
        start, length = self._window(x.shape[1])
        y = F.pad(y, (-start, length - (y.shape[2] - start)))  # negative pads crop
        return self.activate(y.transpose(1, 2))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate}


@register
class Conv1D(_Kernel):
    """1-D convolution over sequences ``(steps, channels)``; Keras kernel ``(k, in, filters)``."""

    kernel_layout = (2, 1, 0)

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, padding: str = "valid",
                 dilation_rate: int = 1, activation=None, use_bias: bool = True, **kwargs) -> None:
        super().__init__(activation=activation, use_bias=use_bias, **kwargs)
        self.padding = _choice(padding, ("valid", "same", "causal"), "Conv1D padding")
        self.filters, self.kernel_size, self.strides = int(filters), _int(kernel_size), _int(strides)
        self.dilation_rate = _int(dilation_rate)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise NNGuruError(f"Conv1D expects (steps, channels); received {input_shape}.")
        self.make_kernel((self.kernel_size, input_shape[-1], self.filters), self.filters)
        span = (self.kernel_size - 1) * self.dilation_rate
        if self.padding == "same":
            self._pads = _same_padding(input_shape[0], self.kernel_size, self.strides, self.dilation_rate)
        elif self.padding == "causal":
            self._pads = (span, 0)
        else:
            self._pads = (0, 0)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        steps, span = input_shape[0], (self.kernel_size - 1) * self.dilation_rate + 1
        out = math.ceil(steps / self.strides) if self.padding == "same" else (
            (steps + (span - 1 if self.padding == "causal" else 0) - span) // self.strides + 1)
        return (out, self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.transpose(1, 2), self._pads) if any(self._pads) else x.transpose(1, 2)
        y = F.conv1d(x, self.weight, self.bias, self.strides, dilation=self.dilation_rate)
        return self.activate(y.transpose(1, 2))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate}


def _int(value) -> int:
    """Keras accepts ``3`` or ``(3,)`` for 1-D sizes."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int):
        raise NNGuruError(f"Expected an int (or a 1-tuple); received {describe(value)}.")
    return value


def _pool_same(x: torch.Tensor, pool: Sequence[int], strides: Sequence[int], kind: str) -> torch.Tensor:
    """TensorFlow's 'same' pooling on a channels-first tensor: padded cells are ignored (max
    pads with -inf; average divides by the number of real cells in each window)."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(pool), reversed(strides), strict=True):
        pads += list(_same_padding(size, k, s))
    pool_fn = F.max_pool2d if x.dim() == 4 else F.max_pool1d
    if kind == "max":
        return pool_fn(F.pad(x, pads, value=-math.inf), pool, strides)
    avg_fn = F.avg_pool2d if x.dim() == 4 else F.avg_pool1d
    ones = F.pad(torch.ones_like(x[:1, :1]), pads)
    return avg_fn(F.pad(x, pads), pool, strides) / avg_fn(ones, pool, strides)


class _Pool2D(Layer):
    kind: str

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = _choice(padding, ("valid", "same"), f"{type(self).__name__} padding")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise NNGuruError(
                f"{type(self).__name__} expects (height, width, channels); received {input_shape}."
            )
        h, w, c = input_shape
        if self.padding == "same":
            return (math.ceil(h / self.strides[0]), math.ceil(w / self.strides[1]), c)
        return ((h - self.pool_size[0]) // self.strides[0] + 1, (w - self.pool_size[1]) // self.strides[1] + 1, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            y = _pool_same(x, self.pool_size, self.strides, self.kind)
        else:
            y = (F.max_pool2d if self.kind == "max" else F.avg_pool2d)(x, self.pool_size, self.strides)
        return y.permute(0, 2, 3, 1)

    def get_config(self) -> dict:
        config = {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides)}
        return {**config, "padding": self.padding} if self.padding != "valid" else config


@register
class MaxPooling2D(_Pool2D):
    """Max over ``pool_size`` windows of channels-last images."""

    kind = "max"


@register
class AveragePooling2D(_Pool2D):
    """Mean over ``pool_size`` windows of channels-last images."""

    kind = "avg"


class _Pool1D(Layer):
    kind: str

    def __init__(self, pool_size: int = 2, strides: int | None = None, padding: str = "valid", **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = _int(pool_size)
        self.strides = _int(strides) if strides is not None else self.pool_size
        self.padding = _choice(padding, ("valid", "same"), f"{type(self).__name__} padding")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.padding == "same":
            return (math.ceil(input_shape[0] / self.strides), input_shape[1])
        return ((input_shape[0] - self.pool_size) // self.strides + 1, input_shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        if self.padding == "same":
            y = _pool_same(x, (self.pool_size,), (self.strides,), self.kind)
        else:
            y = (F.max_pool1d if self.kind == "max" else F.avg_pool1d)(x, self.pool_size, self.strides)
        return y.transpose(1, 2)

    def get_config(self) -> dict:
        config = {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}
        return {**config, "padding": self.padding} if self.padding != "valid" else config


@register
class MaxPooling1D(_Pool1D):
    """Max over windows of ``(steps, channels)`` sequences."""

    kind = "max"


@register
class AveragePooling1D(_Pool1D):
    """Mean over windows of ``(steps, channels)`` sequences."""

    kind = "avg"


class _GlobalPool(Layer):
    """Reduces every axis but the batch and the channels: ``(..., C) -> (C,)``."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)


@register
class GlobalAveragePooling2D(_GlobalPool):
    """Mean over height and width: ``(H, W, C) -> (C,)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))


@register
class GlobalMaxPooling2D(_GlobalPool):
    """Max over height and width: ``(H, W, C) -> (C,)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(1, 2))


@register
class GlobalAveragePooling1D(_GlobalPool):
    """Mean over time: ``(steps, channels) -> (channels,)``; with a mask, over the unmasked steps
    only (a sequence with none gives zeros, where Keras would give NaN)."""

    takes_mask = True

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return x.mean(dim=1)
        m = mask.to(x.dtype).unsqueeze(-1)
        return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


@register
class GlobalMaxPooling1D(_GlobalPool):
    """Max over time: ``(steps, channels) -> (channels,)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=1)


@register
class UpSampling2D(Layer):
    """Repeats rows and columns ``size`` times ('nearest') or resizes bilinearly (half-pixel
    centres, as TensorFlow's resize)."""

    def __init__(self, size=(2, 2), interpolation: str = "nearest", **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = _pair(size, "size")
        self.interpolation = _choice(interpolation, ("nearest", "bilinear"), "UpSampling2D interpolation")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise NNGuruError(f"UpSampling2D expects (height, width, channels); received {input_shape}.")
        return (input_shape[0] * self.size[0], input_shape[1] * self.size[1], input_shape[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.interpolation == "nearest":
            return x.repeat_interleave(self.size[0], dim=1).repeat_interleave(self.size[1], dim=2)
        y = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=self.size, mode="bilinear", align_corners=False)
        return y.permute(0, 2, 3, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


def _two_sided(value, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's forms: ``n``, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""
    if isinstance(value, int):
        return (value, value), (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, int) for v in value):
            return (value[0], value[0]), (value[1], value[1])
        if all(isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(i, int) for i in v) for v in value):
            return (tuple(value[0]), tuple(value[1]))
    raise NNGuruError(f"{name} must be an int, a pair of ints or a pair of pairs ((top, bottom), (left, right)); "
                      f"received {describe(value)}.")


@register
class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around channels-last images."""

    def __init__(self, padding=(1, 1), **kwargs) -> None:
        super().__init__(**kwargs)
        self.padding = _two_sided(padding, "ZeroPadding2D padding")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        (t, b), (le, r) = self.padding
        return (input_shape[0] + t + b, input_shape[1] + le + r, input_shape[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (t, b), (le, r) = self.padding
        return F.pad(x, (0, 0, le, r, t, b))

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


@register
class Cropping2D(Layer):
    """Removes rows and columns at the borders of channels-last images."""

    def __init__(self, cropping=((0, 0), (0, 0)), **kwargs) -> None:
        super().__init__(**kwargs)
        self.cropping = _two_sided(cropping, "Cropping2D cropping")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        (t, b), (le, r) = self.cropping
        h, w = input_shape[0] - t - b, input_shape[1] - le - r
        if h <= 0 or w <= 0:
            raise NNGuruError(f"Cropping2D{self.cropping} leaves nothing of inputs of shape {input_shape}.")
        return (h, w, input_shape[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (t, b), (le, r) = self.cropping
        return x[:, t:x.shape[1] - b, le:x.shape[2] - r]

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}
