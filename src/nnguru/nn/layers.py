"""Keras-style layers on PyTorch.

Layers follow Keras's conventions so tutorial code runs unchanged: shapes exclude the batch axis,
images are channels-last ``(H, W, C)``, weights use Glorot-uniform and biases start at zero, and a
layer builds its parameters lazily from the first input shape it sees (``input_shape=`` builds
at once, as in Keras 2). Every layer serializes to ``{"class_name", "config"}`` JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnguru.errors import NNGuruError, describe
from nnguru.nn import activations

Shape = tuple[int, ...]
LAYERS: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer loadable from saved architectures by its class name."""
    LAYERS[cls.__name__] = cls
    return cls


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise NNGuruError(f"{name} must be an int or a pair of ints; received {describe(value)}.")


class Layer(nn.Module):
    """Base class: lazy ``build(input_shape)``, ``compute_output_shape`` and ``get_config``.

    Masking (Keras's ``mask_zero``): a layer that makes a mask returns it from ``compute_mask``;
    one that reads it sets ``takes_mask`` and accepts ``forward(x, mask=...)``; one that leaves
    the time axis alone sets ``supports_masking`` so the mask passes through. :func:`call_layer`
    is the one place that applies these rules, for ``Sequential`` and functional models alike.
    """

    supports_masking = False  # the mask passes through unchanged (element-wise layers)
    takes_mask = False  # forward(x, mask=None) reads the mask (recurrent layers, pooling over time)

    def __init__(self, *, input_shape: Sequence[int] | None = None, input_dim: int | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__()
        self._trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (input_dim,)
        self.declared_input_shape: Shape | None = tuple(input_shape) if input_shape is not None else None
        self.layer_name = name
        self.built = False
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None

    def __call__(self, *args, **kwargs):
        # Functional API: a symbolic input (``Input``, a layer's symbolic output, or a list of
        # them) records a graph node instead of computing; a NumPy array becomes a tensor.
        # Real tensors pay one isinstance check (and build the layer on its first call).
        if args and not isinstance(args[0], torch.Tensor):
            from nnguru.nn.functional import call_on_non_tensor

            out = call_on_non_tensor(self, args, kwargs)
            if out is not NotImplemented:
                return out
        elif args and not self.built:  # Keras builds a layer on its first call
            self.ensure_built(tuple(args[0].shape[1:]))
        return super().__call__(*args, **kwargs)

    def build(self, input_shape: Shape) -> None:
        """Create parameters for inputs of ``input_shape`` (no batch axis)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The mask for this layer's output, ``(batch, steps)`` booleans, or None."""
        return mask if self.supports_masking else None

    def ensure_built(self, input_shape: Shape) -> Shape:
        """Build once; later calls check that the shape still fits. Returns the output shape."""
        input_shape = tuple(int(s) for s in input_shape)
        if not self.built:
            # Outside inference mode: weights made inside predict()'s inference_mode would be
            # inference tensors that a later fit() can never update.
            with torch.inference_mode(False):
                self.build(input_shape)
            if not self._trainable:
                self.trainable = False  # weights created after the layer was frozen
            self.built = True
            self.input_shape = input_shape
            self.output_shape = self.compute_output_shape(input_shape)
        return self.output_shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Keras's freeze switch: a frozen layer's weights get no gradient, so fit leaves them as
        they are, and summary() counts them as non-trainable. Takes effect at the next fit."""
        self._trainable = bool(value)
        for p in self.parameters():
            p.requires_grad_(self._trainable)

    def get_config(self) -> dict:
        config = {"name": self.layer_name}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        if not self._trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.get_config().items() if v is not None)


class _Activated(Layer):
    """A layer with an optional fused activation (Dense, Conv)."""

    def __init__(self, activation=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activation_name, self.activation_fn = activations.get(activation)
        self.skip_activation = False  # set by Model.compile when the loss works on logits

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip_activation or self.activation_name == "linear":
            return x
        return self.activation_fn(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation_name}


@register
class Input(Layer):
    """Declares the input shape (``Input(shape=(28, 28))``); no computation.

    One name for Keras's two uses: the first layer of a ``Sequential``, and the symbolic input of
    a functional graph (``x = Input(shape=(None,), dtype="int32"); y = Embedding(100, 8)(x)``, see
    ``nnguru.nn.functional``), where None marks a length that only the data knows.
    """

    def __init__(self, shape: Sequence[int], dtype: str | None = None, name: str | None = None,
                 **kwargs) -> None:
        super().__init__(input_shape=shape, name=name)
        self.dtype = None if dtype is None else str(getattr(dtype, "name", dtype)).replace("torch.", "")

    @property
    def shape(self) -> tuple:
        """Keras's symbolic shape: the batch axis first, as None."""
        return (None, *self.declared_input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def get_config(self) -> dict:
        config = {"shape": list(self.declared_input_shape), "name": self.layer_name}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config


# Keras's names; a zero kernel makes a layer start as "no change" (e.g. a correction to a forecast).
KERNEL_INITIALIZERS = {
    "glorot_uniform": nn.init.xavier_uniform_, "glorot_normal": nn.init.xavier_normal_,
    "he_uniform": nn.init.kaiming_uniform_, "he_normal": nn.init.kaiming_normal_, "zeros": nn.init.zeros_,
}


@register
class Dense(_Activated):
    """Fully connected layer on the last axis: ``activation(x @ W + b)``."""

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise NNGuruError(f"Dense(units=...) must be a positive int; received {describe(units)}.")
        if kernel_initializer not in KERNEL_INITIALIZERS:
            raise NNGuruError(f"Unknown kernel_initializer {kernel_initializer!r}. Valid: "
                              f"{', '.join(KERNEL_INITIALIZERS)}.")
        self.units = units
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 1:
            raise NNGuruError(f"Dense needs inputs with a feature axis; received shape {input_shape}.")
        # torch's (out, in) layout so forward is a single F.linear call
        self.weight = nn.Parameter(torch.empty(self.units, input_shape[-1]))
        KERNEL_INITIALIZERS[self.kernel_initializer](self.weight)
        self.bias = nn.Parameter(torch.zeros(self.units)) if self.use_bias else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(F.linear(x, self.weight, self.bias))

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer}


@register
class Activation(_Activated):
    """Applies a named activation."""

    def __init__(self, activation, **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(x)


@register
class Dropout(Layer):
    """Zeroes a fraction ``rate`` of inputs during training (inverted dropout, as Keras)."""

    def __init__(self, rate: float, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise NNGuruError(f"Dropout rate must be in [0, 1); received {describe(rate)}.")
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.rate, self.training) if self.rate else x

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
class Rescale(Layer):
    """Fixed affine map ``x * scale + offset`` (e.g. back to a regression target's units)."""

    def __init__(self, scale: float = 1.0, offset: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@register
class BatchNormalization(Layer):
    """Normalizes the last (channel) axis with batch statistics; Keras defaults."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs) -> None:
        super().__init__(**kwargs)
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
        moved = x if x.dim() == 2 else x.movedim(-1, 1)
        out = F.batch_norm(moved, self.running_mean, self.running_var, self.weight, self.bias,
                           self.training, 1.0 - self.momentum, self.epsilon)
        return out if x.dim() == 2 else out.movedim(1, -1)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (extra pixel at the end), so shapes match Keras."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@register
class Conv2D(_Activated):
    """2-D convolution over channels-last images ``(H, W, C)``."""

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 activation=None, use_bias: bool = True, **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)
        if padding not in ("valid", "same"):
            raise NNGuruError(f"Conv2D padding must be 'valid' or 'same'; received {padding!r}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.use_bias = use_bias

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise NNGuruError(
                f"Conv2D expects images of shape (height, width, channels); received {input_shape}. "
                "Add a channel axis (e.g. x[..., None]) or a Reshape layer."
            )
        self.weight = nn.Parameter(torch.empty(self.filters, input_shape[-1], *self.kernel_size))
        nn.init.xavier_uniform_(self.weight)
        self.bias = nn.Parameter(torch.zeros(self.filters)) if self.use_bias else None
        self._pads = None
        if self.padding == "same":
            ph = _same_padding(input_shape[0], self.kernel_size[0], self.strides[0])
            pw = _same_padding(input_shape[1], self.kernel_size[1], self.strides[1])
            self._pads = (*pw, *ph)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        h, w, _ = input_shape
        if self.padding == "same":
            oh, ow = math.ceil(h / self.strides[0]), math.ceil(w / self.strides[1])
        else:
            oh = (h - self.kernel_size[0]) // self.strides[0] + 1
            ow = (w - self.kernel_size[1]) // self.strides[1] + 1
        if oh <= 0 or ow <= 0:
            raise NNGuruError(
                f"Conv2D kernel {self.kernel_size} does not fit inputs of shape {input_shape}; "
                "use padding='same' or a smaller kernel."
            )
        return (oh, ow, self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)  # NHWC view in channels_last memory format: no copy
        if self._pads is not None and any(self._pads):
            x = F.pad(x, self._pads)
        y = F.conv2d(x, self.weight, self.bias, self.strides)
        return self.activate(y.permute(0, 2, 3, 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "use_bias": self.use_bias}


class _Pool2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        if padding != "valid":
            raise NNGuruError(f"{type(self).__name__} supports padding='valid' only; received {padding!r}.")
        self.padding = padding

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise NNGuruError(
                f"{type(self).__name__} expects (height, width, channels); received {input_shape}."
            )
        h, w, c = input_shape
        return ((h - self.pool_size[0]) // self.strides[0] + 1, (w - self.pool_size[1]) // self.strides[1] + 1, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides)}


@register
class MaxPooling2D(_Pool2D):
    """Max over ``pool_size`` windows of channels-last images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x.permute(0, 3, 1, 2), self.pool_size, self.strides).permute(0, 2, 3, 1)


@register
class AveragePooling2D(_Pool2D):
    """Mean over ``pool_size`` windows of channels-last images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.permute(0, 3, 1, 2), self.pool_size, self.strides).permute(0, 2, 3, 1)


@register
class GlobalAveragePooling2D(Layer):
    """Mean over height and width: ``(H, W, C) -> (C,)``."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))


@register
class GlobalMaxPooling2D(Layer):
    """Max over height and width: ``(H, W, C) -> (C,)``."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(1, 2))


@register
class Conv1D(_Activated):
    """1-D convolution over sequences ``(steps, channels)`` (time series, audio frames)."""

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, padding: str = "valid",
                 activation=None, use_bias: bool = True, **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)
        if padding not in ("valid", "same", "causal"):
            raise NNGuruError(f"Conv1D padding must be 'valid', 'same' or 'causal'; received {padding!r}.")
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.padding, self.use_bias = padding, use_bias

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise NNGuruError(f"Conv1D expects (steps, channels); received {input_shape}.")
        self.weight = nn.Parameter(torch.empty(self.filters, input_shape[-1], self.kernel_size))
        nn.init.xavier_uniform_(self.weight)
        self.bias = nn.Parameter(torch.zeros(self.filters)) if self.use_bias else None
        if self.padding == "same":
            self._pads = _same_padding(input_shape[0], self.kernel_size, self.strides)
        elif self.padding == "causal":
            self._pads = (self.kernel_size - 1, 0)
        else:
            self._pads = (0, 0)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        steps = input_shape[0]
        out = math.ceil(steps / self.strides) if self.padding == "same" else (
            (steps + (self.kernel_size - 1 if self.padding == "causal" else 0) - self.kernel_size)
            // self.strides + 1)
        return (out, self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.transpose(1, 2), self._pads) if any(self._pads) else x.transpose(1, 2)
        return self.activate(F.conv1d(x, self.weight, self.bias, self.strides).transpose(1, 2))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "use_bias": self.use_bias}


@register
class MaxPooling1D(Layer):
    """Max over windows of ``(steps, channels)`` sequences."""

    def __init__(self, pool_size: int = 2, strides: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size, self.strides = int(pool_size), int(strides or pool_size)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return ((input_shape[0] - self.pool_size) // self.strides + 1, input_shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool1d(x.transpose(1, 2), self.pool_size, self.strides).transpose(1, 2)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


@register
class GlobalAveragePooling1D(Layer):
    """Mean over time: ``(steps, channels) -> (channels,)``."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


@register
class Embedding(Layer):
    """Integer token ids ``(steps,)`` -> vectors ``(steps, output_dim)``."""

    def __init__(self, input_dim: int, output_dim: int, **kwargs) -> None:
        kwargs.pop("input_length", None)  # Keras 2 argument; the length comes from the data
        super().__init__(**kwargs)
        self.vocab, self.output_dim = int(input_dim), int(output_dim)

    def build(self, input_shape: Shape) -> None:
        self.weight = nn.Parameter(torch.empty(self.vocab, self.output_dim).uniform_(-0.05, 0.05))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(x.long(), self.weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.vocab, "output_dim": self.output_dim}


class _Recurrent(Layer):
    """LSTM / GRU / SimpleRNN over ``(steps, features)`` with torch's fused kernels.

    The kernels fix the activations (tanh, and sigmoid gates; SimpleRNN also relu), so any other
    ``activation=`` is refused rather than ignored. torch keeps two bias vectors (``b_ih`` and
    ``b_hh``) where Keras's LSTM and SimpleRNN keep one: for those, ``b_hh`` is a constant zero
    buffer, so the weights and ``count_params`` match Keras. (Keras's GRU with its default
    ``reset_after=True`` has both biases, as torch's GRU does.)
    """

    torch_cls: type[nn.RNNBase]
    single_bias = True
    activations = ("tanh",)  # what torch's kernel computes for ``activation=``
    gate_activation: str | None = "sigmoid"  # Keras's recurrent_activation; None: the layer has none

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 return_sequences: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.return_sequences = int(units), bool(return_sequences)
        self.activation = self._supported("activation", activation, self.activations)
        self.recurrent_activation = (
            None if self.gate_activation is None
            else self._supported("recurrent_activation", recurrent_activation, (self.gate_activation,)))

    def _supported(self, arg: str, value, allowed: tuple[str, ...]) -> str:
        try:
            name = activations.get(value)[0]
        except NNGuruError:  # unknown to nnguru (e.g. 'hard_sigmoid'): the layer's own message below
            name = None
        if name not in allowed:
            cls = type(self).__name__
            choices = " or ".join(repr(a) for a in allowed)
            hint = " SimpleRNN also takes activation='relu'." if arg == "activation" and cls != "SimpleRNN" else ""
            raise NNGuruError(
                f"{cls}({arg}={value!r}) is not supported: nnguru's {cls} runs torch's fused kernel, "
                f"which computes {arg}={choices} only. Leave {arg} at its default ({allowed[0]!r}).{hint}"
            )
        return name

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise NNGuruError(
                f"{type(self).__name__} expects sequences of shape (steps, features); received "
                f"{input_shape}. For a univariate series add a feature axis: x[..., None]."
            )
        options = {"nonlinearity": self.activation} if self.torch_cls is nn.RNN else {}
        self.rnn = self.torch_cls(input_shape[-1], self.units, batch_first=True, **options)
        if self.single_bias:  # Keras's one bias: b_hh becomes a zero constant, not a weight
            zero = torch.zeros_like(self.rnn.bias_hh_l0.detach())
            del self.rnn.bias_hh_l0
            self.rnn.register_buffer("bias_hh_l0", zero, persistent=False)
            self.rnn._init_flat_weights()  # the kernel's weight list must point at the buffer

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        fold_second_bias(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return out if self.return_sequences else out[:, -1]

    def get_config(self) -> dict:
        config = {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                  "activation": self.activation}
        if self.recurrent_activation is not None:
            config["recurrent_activation"] = self.recurrent_activation
        return config


def fold_second_bias(state: dict, prefix: str, layer: _Recurrent) -> None:
    """Weights saved before LSTM/SimpleRNN kept one bias hold torch's ``b_hh`` too: add it into
    ``b_ih`` (exact, since the kernel only ever uses their sum), so older models still load."""
    old, ih = prefix + "rnn.bias_hh_l0", prefix + "rnn.bias_ih_l0"
    if layer.single_bias and old in state and ih in state:
        state[ih] = state[ih] + state.pop(old)


def fold_legacy_biases(model: nn.Module, state: dict) -> dict:
    """``fold_second_bias`` for every recurrent layer of ``model``; returns the upgraded copy."""
    state = dict(state)
    for name, module in model.named_modules():
        if isinstance(module, _Recurrent):
            fold_second_bias(state, f"{name}." if name else "", module)
    return state


@register
class LSTM(_Recurrent):
    """Long short-term memory layer (Keras's parameters: one bias of 4 * units)."""

    torch_cls = nn.LSTM


@register
class GRU(_Recurrent):
    """Gated recurrent unit layer, Keras's default ``reset_after=True`` form (two biases)."""

    torch_cls = nn.GRU
    single_bias = False


@register
class SimpleRNN(_Recurrent):
    """Elman RNN, activation 'tanh' (Keras's default) or 'relu'; one bias."""

    torch_cls = nn.RNN
    activations = ("tanh", "relu")
    gate_activation = None

    def __init__(self, units: int, activation="tanh", return_sequences: bool = False, **kwargs) -> None:
        super().__init__(units, activation=activation, return_sequences=return_sequences, **kwargs)


def call_layer(layer: nn.Module, x, mask: torch.Tensor | None = None):
    """``(outputs, mask)`` of one layer on ``x``, following the masking rules of :class:`Layer`.

    Raw torch modules take no mask and drop it.
    """
    if not isinstance(layer, Layer):
        return layer(x), None
    out = layer(x, mask=mask) if layer.takes_mask and mask is not None else layer(x)
    return out, layer.compute_mask(x, mask)


def deserialize(spec: dict) -> Layer:
    """Build a layer from ``{"class_name", "config"}`` (only registered classes: no code runs)."""
    name = spec.get("class_name")
    if name not in LAYERS:
        raise NNGuruError(
            f"Unknown layer {name!r} in the saved architecture. Known layers: {', '.join(sorted(LAYERS))}."
        )
    return LAYERS[name].from_config(dict(spec.get("config", {})))


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
