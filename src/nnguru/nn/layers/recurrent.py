"""Recurrent layers (LSTM, GRU, SimpleRNN) on torch's fused kernels, and Bidirectional.

Keras's semantics, kernel speed: weights start as Keras's do (Glorot kernel, orthogonal recurrent
kernel, zero bias and LSTM's forget-gate bias 1). A mask (``Embedding(mask_zero=True)``) makes
masked steps keep the previous state, so the result equals running the kernel on the unmasked
steps alone: the layer moves them to the front of each sequence and runs the fused kernel on a
packed batch (no Python loop), then maps the outputs back to their steps. Only
``recurrent_dropout`` in training needs a step loop (:meth:`_Recurrent.step_loop`), since the
fused kernel cannot drop the recurrent state; with no dropout that loop equals the kernel. It
also runs an LSTM or GRU whose ``activation`` the kernel lacks (``'relu'``, as the Machine Learning
Mastery forecasting tutorials use).
"""

from __future__ import annotations

import abc

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nnguru import initializers, regularizers
from nnguru.errors import NNGuruError, describe
from nnguru.nn import activations
from nnguru.nn.layers.base import Layer, Shape, deserialize, register, serialize

State = tuple[torch.Tensor, ...]


def _rate(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise NNGuruError(f"{name} must be a number in [0, 1); received {describe(value)}.")
    return float(value)


def _dropout_mask(like: torch.Tensor, shape: tuple[int, ...], rate: float) -> torch.Tensor:
    """Keras's per-sequence dropout mask: one draw per sample and unit, reused at every step."""
    return like.new_empty(shape).bernoulli_(1 - rate).div_(1 - rate)


class _Recurrent(Layer, abc.ABC):
    """LSTM / GRU / SimpleRNN over ``(steps, features)`` with torch's fused kernels.

    The kernels fix the activations (tanh, and sigmoid gates; SimpleRNN also relu); the
    ``loop_activations`` run in the step loop instead, and any other ``activation=`` is refused
    rather than ignored. torch keeps two bias vectors (``b_ih`` and
    ``b_hh``) where Keras's LSTM and SimpleRNN keep one: for those, ``b_hh`` is a constant zero
    buffer, so the weights and ``count_params`` match Keras. (Keras's GRU with its default
    ``reset_after=True`` has both biases, as torch's GRU does.)
    """

    torch_cls: type[nn.RNNBase]
    gates = 4  # blocks of ``units`` in the kernels
    single_bias = True
    lstm = False  # LSTM: a cell state, and the forget gate's bias starts at 1 (Keras's unit_forget_bias)
    activations = ("tanh",)  # what torch's kernel computes for ``activation=``
    loop_activations: tuple[str, ...] = ()  # what the step loop computes instead (slower)
    gate_activation: str | None = "sigmoid"  # Keras's recurrent_activation; None: the layer has none
    takes_mask = True

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, zero_output_for_mask: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise NNGuruError(f"{type(self).__name__}(units=...) must be a positive int; received {describe(units)}.")
        self.units, self.return_sequences = units, bool(return_sequences)
        self.return_state, self.go_backwards = bool(return_state), bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)  # Bidirectional sets it, as Keras does
        self.dropout = _rate(dropout, f"{type(self).__name__}(dropout=...)")
        self.recurrent_dropout = _rate(recurrent_dropout, f"{type(self).__name__}(recurrent_dropout=...)")
        self.activation = self._supported("activation", activation, self.activations + self.loop_activations)
        self.recurrent_activation = (
            None if self.gate_activation is None
            else self._supported("recurrent_activation", recurrent_activation, (self.gate_activation,)))
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = initializers.get(recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer, "recurrent_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")

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
                f"{cls}({arg}={value!r}) is not supported: nnguru's {cls} computes {arg}={choices} "
                f"only. Leave {arg} at its default ({allowed[0]!r}).{hint}"
            )
        return name

    # ---- weights ---------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise NNGuruError(
                f"{type(self).__name__} expects sequences of shape (steps, features); received "
                f"{input_shape}. For a univariate series add a feature axis: x[..., None]."
            )
        options = {"nonlinearity": self.activation} if self.torch_cls is nn.RNN else {}
        self.rnn = self.torch_cls(input_shape[-1], self.units, batch_first=True, **options)
        n = self.gates * self.units
        with torch.no_grad():  # Keras's initial weights, drawn in Keras's (in, gates * units) layout
            self.rnn.weight_ih_l0.copy_(self.kernel_initializer.draw((input_shape[-1], n), (1, 0)))
            self.rnn.weight_hh_l0.copy_(self.recurrent_initializer.draw((self.units, n), (1, 0)))
            self.rnn.bias_ih_l0.copy_(self.bias_initializer((n,)))
            if self.lstm:  # unit_forget_bias; torch's gate order is (i, f, g, o), as Keras's
                self.rnn.bias_ih_l0[self.units:2 * self.units] += 1.0
            self.rnn.bias_hh_l0.copy_(self.bias_initializer((n,)) if not self.single_bias else torch.zeros(n))
        if self.single_bias:  # Keras's one bias: b_hh becomes a zero constant, not a weight
            zero = torch.zeros_like(self.rnn.bias_hh_l0.detach())
            del self.rnn.bias_hh_l0
            self.rnn.register_buffer("bias_hh_l0", zero, persistent=False)
            self.rnn._init_flat_weights()  # the kernel's weight list must point at the buffer
        penalties = {"rnn.weight_ih_l0": self.kernel_regularizer, "rnn.weight_hh_l0": self.recurrent_regularizer,
                     "rnn.bias_ih_l0": self.bias_regularizer}
        if not self.single_bias:  # Keras's GRU bias holds both vectors
            penalties["rnn.bias_hh_l0"] = self.bias_regularizer
        self._regularized.update({k: v for k, v in penalties.items() if v is not None})

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        fold_second_bias(state_dict, prefix, self)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        if self.training and self.dropout:
            x = x * _dropout_mask(x, (x.shape[0], 1, x.shape[2]), self.dropout)
        if (self.training and self.recurrent_dropout) or self.activation not in self.activations:
            rec = (_dropout_mask(x, (x.shape[0], self.units), self.recurrent_dropout)
                   if self.training and self.recurrent_dropout else None)
            seq, state = self.step_loop(x, None if mask is None else mask.bool(), rec)
        elif mask is None:
            seq, state = self.rnn(x)
            state = tuple(s[0] for s in state) if isinstance(state, tuple) else (state[0],)
        else:
            seq, state = self._masked(x, mask.bool())
        out = seq if self.return_sequences else state[0]
        return [out, *state] if self.return_state else out

    def _masked(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, State]:
        """The fused kernel on each sequence's unmasked steps (moved to the front, packed), then
        every step's output: the output at its last unmasked step so far, zeros before the first."""
        steps = x.shape[1]
        lengths = mask.sum(1)
        order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)  # unmasked steps first, in order
        front = x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        packed = pack_padded_sequence(front, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out = pad_packed_sequence(out, batch_first=True, total_length=steps)[0]
        state = tuple(s[0] for s in state) if isinstance(state, tuple) else (state[0],)
        empty = (lengths == 0).unsqueeze(-1)  # nothing unmasked: the state stays at zero
        state = tuple(s.masked_fill(empty, 0.0) for s in state)
        last = mask.long().cumsum(1) - 1  # index among the unmasked steps of the latest one so far
        seq = out.gather(1, last.clamp(min=0).unsqueeze(-1).expand(-1, -1, self.units))
        keep = mask if self.zero_output_for_mask else last >= 0
        return seq * keep.unsqueeze(-1).to(seq.dtype), state

    def step_loop(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                  recurrent_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """One step at a time with the kernel's own weights; ``recurrent_mask`` multiplies the
        previous output where it enters the recurrent product (Keras's recurrent dropout; the
        carried state itself is not dropped). Returns (outputs of every step, final state)."""
        rnn = self.rnn
        xw = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0)
        h = x.new_zeros(x.shape[0], self.units)
        c = h if self.lstm else None
        outs = []
        for t in range(x.shape[1]):
            hw = F.linear(h if recurrent_mask is None else h * recurrent_mask, rnn.weight_hh_l0, rnn.bias_hh_l0)
            h_new, c_new = self.cell(xw[:, t], hw, h, c)
            if mask is not None:
                m = mask[:, t].unsqueeze(-1)
                h_new = torch.where(m, h_new, h)
                c_new = None if c is None else torch.where(m, c_new, c)
                outs.append(h_new * m if self.zero_output_for_mask else h_new)
            else:
                outs.append(h_new)
            h, c = h_new, c_new
        return torch.stack(outs, 1), (h,) if c is None else (h, c)

    @abc.abstractmethod
    def cell(self, xw: torch.Tensor, hw: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None):
        """One step from the input and recurrent products: ``(h, c)`` (c is None without a cell state)."""

    def get_config(self) -> dict:
        config = {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                  "activation": self.activation}
        if self.recurrent_activation is not None:
            config["recurrent_activation"] = self.recurrent_activation
        for key, default in (("return_state", False), ("go_backwards", False), ("dropout", 0.0),
                             ("recurrent_dropout", 0.0), ("zero_output_for_mask", False)):
            if getattr(self, key) != default:
                config[key] = getattr(self, key)
        for key, default in (("kernel_initializer", "glorot_uniform"), ("recurrent_initializer", "orthogonal"),
                             ("bias_initializer", "zeros")):
            value = initializers.serialize(getattr(self, key))
            if value != default:
                config[key] = value
        for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
            if getattr(self, key) is not None:
                config[key] = regularizers.serialize(getattr(self, key))
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
    lstm = True
    loop_activations = ("relu",)

    def cell(self, xw, hw, h, c):
        act = activations.get(self.activation)[1]
        i, f, g, o = (xw + hw).chunk(4, dim=-1)  # torch's gate order, which is also Keras's
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
        return torch.sigmoid(o) * act(c), c


@register
class GRU(_Recurrent):
    """Gated recurrent unit layer, Keras's default ``reset_after=True`` form (two biases)."""

    torch_cls = nn.GRU
    gates = 3
    single_bias = False
    loop_activations = ("relu",)

    def cell(self, xw, hw, h, c):
        xr, xz, xn = xw.chunk(3, dim=-1)
        hr, hz, hn = hw.chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = activations.get(self.activation)[1](xn + r * hn)
        return (1 - z) * n + z * h, None


@register
class SimpleRNN(_Recurrent):
    """Elman RNN, activation 'tanh' (Keras's default) or 'relu'; one bias."""

    torch_cls = nn.RNN
    gates = 1
    activations = ("tanh", "relu")
    gate_activation = None

    def __init__(self, units: int, activation="tanh", **kwargs) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def cell(self, xw, hw, h, c):
        return (torch.tanh if self.activation == "tanh" else torch.relu)(xw + hw), None


_MERGES = {
    "concat": lambda a, b: torch.cat([a, b], dim=-1),
    "sum": torch.add,
    "mul": torch.mul,
    "ave": lambda a, b: (a + b) / 2,
}


@register
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, then merges ('concat', 'sum', 'mul',
    'ave'); twice the parameters. A mask reaches both directions; with ``return_sequences`` the
    backward outputs are flipped back into step order and masked steps output zeros (Keras)."""

    takes_mask = True

    def __init__(self, layer: _Recurrent | dict, merge_mode: str | None = "concat", **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, _Recurrent):
            raise NNGuruError(f"Bidirectional wraps an LSTM, GRU or SimpleRNN layer; received {describe(layer)}.")
        if merge_mode not in _MERGES:
            raise NNGuruError(f"Bidirectional merge_mode must be one of {', '.join(map(repr, _MERGES))}; "
                              f"received {merge_mode!r}.")
        if layer.return_state:
            raise NNGuruError("Bidirectional(layer with return_state=True) is not supported by nnguru; "
                              "wrap a layer without return_state.")
        if self.declared_input_shape is None:
            self.declared_input_shape = layer.declared_input_shape
        config = {**serialize(layer)["config"], "zero_output_for_mask": layer.return_sequences}
        config.pop("input_shape", None)
        self.forward_layer = type(layer).from_config(config)
        self.backward_layer = type(layer).from_config({**config, "go_backwards": not layer.go_backwards})
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences

    def build(self, input_shape: Shape) -> None:
        self.forward_layer.ensure_built(input_shape)
        self.backward_layer.ensure_built(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self.forward_layer.compute_output_shape(input_shape)
        return (*shape[:-1], shape[-1] * 2) if self.merge_mode == "concat" else shape

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        forward = self.forward_layer(x, mask=mask)
        backward = self.backward_layer(x, mask=mask)
        if self.return_sequences:
            backward = backward.flip(1)
        return _MERGES[self.merge_mode](forward, backward)

    def get_config(self) -> dict:
        layer = serialize(self.forward_layer)
        layer["config"].pop("zero_output_for_mask", None)
        return {**super().get_config(), "layer": layer, "merge_mode": self.merge_mode}
