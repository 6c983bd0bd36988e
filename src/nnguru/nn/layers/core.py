"""Core layers: Dense, activations as layers, dropout and noise, reshaping, normalization, Embedding."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnguru import initializers, regularizers
from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, _Activated, _Kernel, register


@register
class Dense(_Kernel):
    """Fully connected layer on the last axis: ``activation(x @ kernel + bias)``.

    The weight is kept in torch's (out, in) layout so forward is one ``F.linear`` call;
    ``layer.kernel`` is the (in, out) view Keras shows.
    """

    supports_masking = True

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs) -> None:
        super().__init__(activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise NNGuruError(f"Dense(units=...) must be a positive int; received {describe(units)}.")
        self.units = units

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 1:
            raise NNGuruError(f"Dense needs inputs with a feature axis; received shape {input_shape}.")
        self.make_kernel((input_shape[-1], self.units), self.units)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(F.linear(x, self.weight, self.bias))

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@register
class Activation(_Activated):
    """Applies a named activation."""

    supports_masking = True

    def __init__(self, activation, **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(x)


@register
class Softmax(_Activated):
    """Softmax over ``axis``. On the last axis it is the 'softmax' activation, so a following
    cross-entropy loss fuses it (logits inside, probabilities from predict), as Activation does."""

    supports_masking = True

    def __init__(self, axis: int = -1, **kwargs) -> None:
        if not isinstance(axis, int):
            raise NNGuruError(f"Softmax(axis=...) must be an int; received {describe(axis)}.")
        fn = None
        if axis != -1:
            def fn(x: torch.Tensor) -> torch.Tensor:
                return F.softmax(x, dim=axis)
            fn.__name__ = f"softmax_axis{axis}"
        super().__init__(activation="softmax" if axis == -1 else fn, **kwargs)
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(x)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("activation")
        return {**config, "axis": self.axis}


class _Elementwise(Layer):
    """An activation as a layer: shape and mask pass through."""

    supports_masking = True


@register
class ReLU(_Elementwise):
    """Keras's ReLU: ``max_value`` caps, ``x < threshold`` gives ``negative_slope * (x - threshold)``."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise NNGuruError(f"ReLU(max_value=...) must be >= 0 or None; received {describe(max_value)}.")
        if negative_slope < 0:
            raise NNGuruError(f"ReLU(negative_slope=...) must be >= 0; received {describe(negative_slope)}.")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.negative_slope == 0 and self.threshold == 0:
            y = F.relu(x)
        else:
            y = torch.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
        return y if self.max_value is None else y.clamp(max=self.max_value)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


@register
class LeakyReLU(_Elementwise):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras's default 0.3; Keras 2 called it ``alpha``)."""

    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope if alpha is None else alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register
class ELU(_Elementwise):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""

    def __init__(self, alpha: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


@register
class PReLU(_Elementwise):
    """Leaky ReLU with a learned slope per input value (``shared_axes`` share it, e.g. ``[1, 2]`` for
    one slope per image channel; axes count from 1, as in Keras)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, shared_axes: Sequence[int] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer, "alpha_initializer")
        self.alpha_regularizer = regularizers.get(alpha_regularizer, "alpha_regularizer")
        self.shared_axes = None if shared_axes is None else [int(a) for a in (
            [shared_axes] if isinstance(shared_axes, int) else shared_axes)]

    def build(self, input_shape: Shape) -> None:
        shape = list(input_shape)
        for axis in self.shared_axes or []:
            if not 1 <= axis <= len(shape):
                raise NNGuruError(f"PReLU shared_axes {self.shared_axes} do not fit inputs of shape {input_shape} "
                                  f"(axes count from 1 to {len(shape)}).")
            shape[axis - 1] = 1
        self.add_weight("alpha", shape, self.alpha_initializer, self.alpha_regularizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) - self.alpha * F.relu(-x)

    def get_config(self) -> dict:
        config = {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                  "shared_axes": self.shared_axes}
        if self.alpha_regularizer is not None:
            config["alpha_regularizer"] = regularizers.serialize(self.alpha_regularizer)
        return config


@register
class Dropout(Layer):
    """Zeroes a fraction ``rate`` of inputs during training (inverted dropout, as Keras)."""

    supports_masking = True

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise NNGuruError(f"Dropout rate must be in [0, 1); received {describe(rate)}.")
        if noise_shape is not None:
            raise NNGuruError(f"{type(self).__name__}(noise_shape=...) is not supported by nnguru; use "
                              "SpatialDropout1D / SpatialDropout2D to drop whole channels.")
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.rate, self.training) if self.rate else x

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class _SpatialDropout(Dropout):
    """Drops whole channels (the last axis) per sample: one mask over all steps/pixels."""

    rank: int  # non-batch axes of the input, channels last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.rate):
            return x
        keep = x.new_empty((x.shape[0], *([1] * (x.dim() - 2)), x.shape[-1])).bernoulli_(1 - self.rate)
        return x * keep / (1 - self.rate)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != self.rank:
            raise NNGuruError(f"{type(self).__name__} expects inputs with {self.rank} axes besides the batch "
                              f"(channels last); received {input_shape}.")


@register
class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of ``(steps, channels)`` sequences."""

    rank = 2


@register
class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole channels of ``(height, width, channels)`` images."""

    rank = 3


@register
class GaussianNoise(Layer):
    """Adds N(0, stddev) noise during training only (a regularizer)."""

    supports_masking = True

    def __init__(self, stddev: float, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(stddev, (int, float)) or stddev < 0:
            raise NNGuruError(f"GaussianNoise(stddev=...) must be a number >= 0; received {describe(stddev)}.")
        self.stddev = float(stddev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.randn_like(x) * self.stddev if self.training and self.stddev else x

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}


@register
class GaussianDropout(Layer):
    """Multiplies by N(1, rate / (1 - rate)) noise during training only."""

    supports_masking = True

    def __init__(self, rate: float, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise NNGuruError(f"GaussianDropout rate must be in [0, 1); received {describe(rate)}.")
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.rate):
            return x
        return x * (1 + torch.randn_like(x) * math.sqrt(self.rate / (1 - self.rate)))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


@register
class Flatten(Layer):
    """Flattens all but the batch axis (channels-last order, as Keras)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


@register
class Reshape(Layer):
    """Reshapes to ``target_shape`` (no batch axis)."""

    def __init__(self, target_shape: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if math.prod(input_shape) != math.prod(self.target_shape):
            raise NNGuruError(
                f"Reshape{self.target_shape} cannot take inputs of shape {input_shape}: "
                f"{math.prod(input_shape)} values vs {math.prod(self.target_shape)}."
            )
        return self.target_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register
class Rescaling(Layer):
    """Fixed affine map ``x * scale + offset`` (e.g. ``Rescaling(1/255)`` for pixels); ``scale`` and
    ``offset`` may be per-channel lists."""

    supports_masking = True

    def __init__(self, scale: float | Sequence[float], offset: float | Sequence[float] = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = self._number(scale, "scale"), self._number(offset, "offset")

    def _number(self, value, name: str) -> float | list[float]:
        try:
            return float(value) if not isinstance(value, (list, tuple)) else [float(v) for v in value]
        except (TypeError, ValueError):
            raise NNGuruError(f"{type(self).__name__}({name}=...) must be a number or a list of numbers; "
                              f"received {describe(value)}.") from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale if isinstance(self.scale, float) else x.new_tensor(self.scale)
        offset = self.offset if isinstance(self.offset, float) else x.new_tensor(self.offset)
        return x * scale + offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@register
class Rescale(Rescaling):
    """nnguru's older name for :class:`Rescaling` (scale defaults to 1); saved models use it."""

    def __init__(self, scale: float = 1.0, offset: float = 0.0, **kwargs) -> None:
        super().__init__(scale=scale, offset=offset, **kwargs)


@register
class BatchNormalization(Layer):
    """Normalizes the last (channel) axis with batch statistics; Keras defaults.

    Frozen (``trainable = False``) it runs in inference mode, as in Keras: it normalizes with its
    moving statistics and leaves them alone, so a frozen pretrained body is not disturbed by the
    new data's batches (the transfer-learning rule of the Keras guide)."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, axis: int = -1, **kwargs) -> None:
        super().__init__(**kwargs)
        if axis != -1:
            raise NNGuruError(f"BatchNormalization(axis={axis!r}) is not supported by nnguru; it normalizes the "
                              "last (channel) axis of channels-last inputs (axis=-1).")
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape: Shape) -> None:
        c = input_shape[-1]
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last -> channels-first view; torch's momentum is Keras's (1 - momentum)
        # positive dims: torch's ONNX (TorchScript) exporter writes movedim(-1, 1) as an invalid Transpose
        last = x.dim() - 1
        moved = x if x.dim() == 2 else x.movedim(last, 1)
        out = F.batch_norm(moved, self.running_mean, self.running_var, self.weight, self.bias,
                           self.training and self._trainable, 1.0 - self.momentum, self.epsilon)
        return out if x.dim() == 2 else out.movedim(1, last)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


@register
class Embedding(Layer):
    """Integer token ids ``(steps,)`` -> vectors ``(steps, output_dim)``.

    ``mask_zero=True``: id 0 is padding; the layer emits a mask that recurrent layers and
    GlobalAveragePooling1D read (Keras's semantics), so padded steps change nothing.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero: bool = False, input_length: int | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)  # input_length (Keras 2): the length comes from the data
        if not isinstance(input_dim, int) or input_dim <= 0 or not isinstance(output_dim, int) or output_dim <= 0:
            raise NNGuruError(f"Embedding(input_dim, output_dim) must be positive ints; received "
                              f"{describe(input_dim)} and {describe(output_dim)}.")
        self.vocab, self.output_dim = int(input_dim), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.get(embeddings_initializer, "embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, "embeddings_regularizer")

    def build(self, input_shape: Shape) -> None:
        self.add_weight("weight", (self.vocab, self.output_dim), self.embeddings_initializer,
                        self.embeddings_regularizer)

    @property
    def embeddings(self) -> torch.Tensor:
        """Keras's name for the (input_dim, output_dim) table (a detached view)."""
        return self.weight.detach()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return x != 0 if self.mask_zero else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(x.long(), self.weight)

    def get_config(self) -> dict:
        config = {**super().get_config(), "input_dim": self.vocab, "output_dim": self.output_dim,
                  "mask_zero": self.mask_zero}
        init = initializers.serialize(self.embeddings_initializer)
        if init != {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05}}:
            config["embeddings_initializer"] = init
        if self.embeddings_regularizer is not None:
            config["embeddings_regularizer"] = regularizers.serialize(self.embeddings_regularizer)
        return config
