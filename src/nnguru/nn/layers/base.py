"""The layer protocol: lazy build, configs, argument checking, weights in Keras's layout, masks, penalties."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import torch
from torch import nn

from nnguru import initializers, regularizers
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


def _same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding (extra pixel at the end), so shapes match Keras."""
    out = math.ceil(size / stride)
    span = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes ``perm`` (plain Python: it also runs while building on the meta device)."""
    return tuple(sorted(range(len(perm)), key=lambda i: perm[i]))


# Keras arguments nnguru knows but does not implement: the values that mean "off" (accepted
# silently, as they change nothing) and what to do instead.
_CONSTRAINT = ((None,), "clip or project the weights in a callback's on_batch_end instead")
UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "stateful": ((False,), "feed whole sequences per sample (state is reset every batch), or carry the state "
                           "yourself in a torch module wrapped by nnguru.Model"),
    "unroll": ((False,), "leave it out: nnguru runs torch's fused recurrent kernel, which needs no unrolling"),
    "time_major": ((False,), "pass sequences as (batch, steps, features)"),
    "data_format": ((None, "channels_last"), "keep images channels-last, (height, width, channels), "
                                             "e.g. np.moveaxis(x, 1, -1)"),
    "dtype": ((None, "float32", torch.float32), "train in float32 (CUDA runs use bf16 autocast automatically)"),
    "kernel_constraint": _CONSTRAINT, "bias_constraint": _CONSTRAINT, "recurrent_constraint": _CONSTRAINT,
    "embeddings_constraint": _CONSTRAINT, "beta_constraint": _CONSTRAINT, "gamma_constraint": _CONSTRAINT,
    "use_bias": ((True,), "leave use_bias at True for this layer"),
    "unit_forget_bias": ((True,), "leave it at True (Keras's default: the forget gate's bias starts at 1)"),
    "reset_after": ((True,), "use GRU's default reset_after=True (torch's kernel computes that form)"),
    "implementation": ((1, 2), "leave it out (it only picks Keras's kernel)"),
    "batch_size": ((None,), "pass batch_size to fit() instead"),
}


class Weight(nn.Parameter):
    """A parameter whose ``numpy()`` works as in Keras (``layer.bias.numpy()``): a detached copy on the host."""

    def numpy(self, *, force: bool = False):
        return self.detach().cpu().numpy()


class Layer(nn.Module):
    """Base class: lazy ``build(input_shape)``, ``compute_output_shape`` and ``get_config``.

    Masking (Keras's ``mask_zero``): a layer that makes a mask returns it from ``compute_mask``;
    one that reads it sets ``takes_mask`` and accepts ``forward(x, mask=...)``; one that leaves
    the time axis alone sets ``supports_masking`` so the mask passes through. :func:`call_layer`
    is the one place that applies these rules, for ``Sequential`` and functional models alike.

    Weights made with :meth:`add_weight` live in torch's layout (so forward is one torch call) and
    are seen in Keras's through ``layer.kernel`` / ``layer.get_weights()``; those views are
    read-only copies in spirit: write with ``layer.set_weights([...])``.

    Keyword arguments no layer of the class takes raise :class:`NNGuruError` here, the one place
    every layer passes through, naming the argument and the valid ones.
    """

    supports_masking = False  # the mask passes through unchanged (element-wise layers)
    takes_mask = False  # forward(x, mask=None) reads the mask (recurrent layers, pooling over time)

    def __init__(self, *, input_shape: Sequence[int] | None = None, input_dim: int | None = None,
                 name: str | None = None, trainable: bool = True, activity_regularizer=None,
                 batch_input_shape: Sequence[int | None] | None = None, **unknown) -> None:
        super().__init__()
        self._check_unknown(unknown)
        self._trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:  # Keras 2: the batch axis first
            input_shape = tuple(batch_input_shape)[1:]
        self.declared_input_shape: Shape | None = tuple(input_shape) if input_shape is not None else None
        self.layer_name = name
        self.built = False
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.activity_regularizer = regularizers.get(activity_regularizer, "activity_regularizer")
        self._activity_loss: torch.Tensor | None = None
        self._keras_layout: dict[str, tuple[int, ...]] = {}  # weight name -> torch axes in Keras's order
        self._regularized: dict[str, regularizers.Regularizer] = {}  # weight name -> penalty

    def _check_unknown(self, unknown: dict) -> None:
        cls = type(self).__name__
        for arg, value in unknown.items():
            if arg in UNSUPPORTED:
                accepted, fix = UNSUPPORTED[arg]
                if any(value is a or (type(value) is type(a) and value == a) for a in accepted):
                    continue
                raise NNGuruError(f"{cls}({arg}={value!r}) is not supported by nnguru; {fix}.")
            raise NNGuruError(
                f"{cls}() got an unknown argument {arg!r} (received {describe(value)}). "
                f"Valid arguments: {', '.join(self.argument_names())}."
            )

    @classmethod
    def argument_names(cls) -> list[str]:
        """Every keyword the class's constructors (up to Layer) accept, in order."""
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or not issubclass(klass, Layer):
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self" and p.name not in names:
                    names.append(p.name)
        return names

    # ---- weights ---------------------------------------------------------------------------
    def add_weight(self, name: str, shape: Sequence[int], initializer="glorot_uniform", regularizer=None,
                   layout: tuple[int, ...] | None = None) -> nn.Parameter:
        """A parameter drawn by ``initializer`` in Keras's ``shape``, stored permuted by ``layout``
        into torch's order (e.g. ``(1, 0)``: a Dense kernel (in, out) becomes torch's (out, in))."""
        value = initializers.get(initializer).draw(tuple(shape), layout)
        if layout is not None:
            self._keras_layout[name] = _inverse(layout)
        param = Weight(value)
        setattr(self, name, param)
        if regularizer is not None:
            self._regularized[name] = regularizer
        return param

    def _weight(self, name: str) -> torch.Tensor | None:
        """A weight by dotted name (``rnn.weight_ih_l0``), or None where it does not exist."""
        obj = self
        for part in name.split("."):
            obj = getattr(obj, part, None)
        return obj

    def keras_view(self, name: str) -> torch.Tensor | None:
        """Weight ``name`` in Keras's layout: a detached view (reads follow training; write with set_weights)."""
        w = getattr(self, name, None)
        if w is None:
            return None
        w = w.detach()
        return w.permute(*self._keras_layout[name]) if name in self._keras_layout else w

    @property
    def weights(self) -> list[torch.Tensor]:
        """Keras's ``layer.weights``: the weights and saved buffers, kernels in Keras's layout
        (detached views; empty until the layer is built)."""
        state = self.state_dict(keep_vars=True)
        return [self.keras_view(k) if k in self._keras_layout else v.detach() for k, v in state.items()]

    def get_weights(self) -> list:
        """The layer's weights and saved buffers as NumPy arrays, kernels in Keras's layout."""
        out = []
        for key in self.state_dict():
            t = self.keras_view(key) if key in self._keras_layout else self.state_dict()[key]
            out.append(t.detach().cpu().numpy().copy())
        return out

    def set_weights(self, weights: Sequence) -> None:
        """The inverse of :meth:`get_weights` (same order, same Keras-layout shapes)."""
        state = self.state_dict()
        if len(weights) != len(state):
            raise NNGuruError(f"{type(self).__name__}.set_weights got {len(weights)} arrays; "
                              f"the layer has {len(state)} ({', '.join(state)}).")
        new = {}
        for (key, old), w in zip(state.items(), weights, strict=True):
            t = torch.as_tensor(w, dtype=old.dtype)
            if key in self._keras_layout:
                t = t.permute(*_inverse(self._keras_layout[key]))
            if tuple(t.shape) != tuple(old.shape):
                want = self.keras_view(key) if key in self._keras_layout else old
                raise NNGuruError(f"{type(self).__name__}.set_weights: {key} needs shape {tuple(want.shape)}; "
                                  f"received {tuple(torch.as_tensor(w).shape)}.")
            new[key] = t.contiguous()
        self.load_state_dict(new)

    def penalty(self) -> torch.Tensor | None:
        """This layer's regularization loss (weights, plus the last training forward's activity)."""
        terms = [reg(w) for name, reg in self._regularized.items() if (w := self._weight(name)) is not None]
        if self._activity_loss is not None:
            terms.append(self._activity_loss)
        return sum(terms[1:], terms[0]) if terms else None

    # ---- building --------------------------------------------------------------------------
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
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
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


class _Kernel(_Activated):
    """A layer with a kernel and an optional bias (Dense, Conv): Keras's initializer and
    regularizer arguments, and ``layer.kernel`` / ``layer.bias`` in Keras's layout."""

    kernel_layout: tuple[int, ...] = (1, 0)  # Keras's kernel axes -> torch's weight axes

    def __init__(self, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs) -> None:
        super().__init__(activation=activation, **kwargs)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")

    def make_kernel(self, keras_shape: Sequence[int], bias_size: int) -> None:
        """``weight`` (torch layout) and ``bias`` from Keras's kernel shape."""
        self.add_weight("weight", keras_shape, self.kernel_initializer, self.kernel_regularizer, self.kernel_layout)
        if self.use_bias:
            self.add_weight("bias", (bias_size,), self.bias_initializer, self.bias_regularizer)
        else:
            self.bias = None

    @property
    def kernel(self) -> torch.Tensor | None:
        """The kernel in Keras's layout (a detached view of ``weight``; write with set_weights)."""
        return self.keras_view("weight")

    def get_config(self) -> dict:
        config = {**super().get_config(), "use_bias": self.use_bias,
                  "kernel_initializer": initializers.serialize(self.kernel_initializer)}
        if self.bias_initializer.get_config() or type(self.bias_initializer) is not initializers.Zeros:
            config["bias_initializer"] = initializers.serialize(self.bias_initializer)
        for key in ("kernel_regularizer", "bias_regularizer"):
            if getattr(self, key) is not None:
                config[key] = regularizers.serialize(getattr(self, key))
        return config


@register
class Input(Layer):
    """Declares the input shape (``Input(shape=(28, 28))``); no computation.

    One name for Keras's two uses: the first layer of a ``Sequential``, and the symbolic input of
    a functional graph (``x = Input(shape=(None,), dtype="int32"); y = Embedding(100, 8)(x)``, see
    ``nnguru.nn.functional``), where None marks a length that only the data knows. ``dtype``
    'string' before a TextVectorization layer is documentation only.
    """

    def __init__(self, shape: Sequence[int], name: str | None = None, dtype=None, batch_size: int | None = None,
                 **kwargs) -> None:
        super().__init__(input_shape=shape, name=name, **kwargs)
        self._dtype = None if dtype is None else str(getattr(dtype, "name", dtype)).replace("torch.", "")

    @property
    def dtype(self) -> str:
        """Keras's ``Input(...).dtype``: the one given, else ``'float32'``."""
        return self._dtype or "float32"

    @property
    def shape(self) -> tuple:
        """Keras's symbolic shape: the batch axis first, as None."""
        return (None, *self.declared_input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def get_config(self) -> dict:
        config = {"shape": list(self.declared_input_shape), "name": self.layer_name}
        if self._dtype is not None:
            config["dtype"] = self._dtype
        return config


def call_layer(layer: nn.Module, x, mask: torch.Tensor | None = None):
    """``(outputs, mask)`` of one layer on ``x``, following the masking rules of :class:`Layer`.

    Raw torch modules take no mask and drop it. A layer's activity regularizer is evaluated here
    on its outputs when gradients are being recorded (a training forward), for the step to add.
    """
    if not isinstance(layer, Layer):
        return layer(x), None
    out = layer(x, mask=mask) if layer.takes_mask and mask is not None else layer(x)
    if layer.activity_regularizer is not None:
        layer._activity_loss = layer.activity_regularizer(out) if torch.is_grad_enabled() else None
    return out, layer.compute_mask(x, mask)


def has_regularizers(model: nn.Module) -> bool:
    """Whether any nnguru layer in ``model`` adds a penalty to the loss."""
    return any(isinstance(m, Layer) and (m._regularized or m.activity_regularizer is not None)
               for m in model.modules())


def regularization_loss(model: nn.Module) -> torch.Tensor | None:
    """Sum of every layer's penalty (Keras's ``sum(model.losses)``), or None when there is none."""
    terms = [p for m in model.modules() if isinstance(m, Layer) and (p := m.penalty()) is not None]
    return sum(terms[1:], terms[0]) if terms else None


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
