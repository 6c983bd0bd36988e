"""Keras's functional API: ``Input`` -> layers called on symbolic tensors -> ``Model(inputs, outputs)``.

    title = Input(shape=(None,), name="title")                 # a token sequence of any length
    tags = Input(shape=(12,), name="tags")
    x = concatenate([LSTM(32)(Embedding(1000, 64)(title)), tags])
    model = Model([title, tags], [Dense(1, name="priority")(x), Dense(4, name="department")(x)])

Calling a layer on a symbolic tensor (``KerasTensor``) records a ``Node`` and returns a new
symbolic tensor whose shape the layer infers; nothing is computed. ``Model(...)`` on symbolic
tensors returns a ``Functional`` model that runs the recorded graph in ``forward``.

The training loop works on one input tensor and one target tensor per batch, so a ``Functional``
keeps that contract: several inputs are packed side by side into one float32 tensor (lengths of
variable axes first) and unpacked at the start of ``forward``; several outputs are flattened and
concatenated, and one composite loss slices each output and its target (a weighted sum), with
per-output losses and metrics under Keras's log keys (``priority_loss``, ``department_accuracy``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nnguru.errors import NNGuruError, describe
from nnguru.nn import losses
from nnguru.nn import metrics as metrics_mod
from nnguru.nn.layers import Dropout, Embedding, Input, Layer, _Activated, call_layer, deserialize, serialize
from nnguru.nn.merging import _Merge
from nnguru.nn.model import Model, check_finite, to_numpy, weight_count

# Variable (None) axes are built and checked with these stand-in lengths: two, so that output axes
# that follow the input's length are told apart from fixed ones, and a layer whose weights or
# padding depend on the length is caught.
PLACEHOLDERS = (32, 37)
FLOAT32_EXACT = 2**24  # float32 holds every integer below this exactly (packed token ids)
PROB_EPS = 1e-7  # Keras's epsilon: probabilities are clipped before their log in a loss

_node_ids = itertools.count()


class KerasTensor:
    """A symbolic tensor: its shape (``dims`` excludes the batch axis; None is a length only the
    data knows), dtype, and the ``Node`` that produced it. Keras's ``x.shape`` has the batch axis."""

    __slots__ = ("dims", "dtype", "node")

    def __init__(self, dims: tuple, dtype: str, node: Node) -> None:
        self.dims, self.dtype, self.node = tuple(dims), dtype, node

    @property
    def shape(self) -> tuple:
        return (None, *self.dims)

    @property
    def name(self) -> str | None:
        return _name_of(self.node.layer)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, from {type(self.node.layer).__name__}>"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise NNGuruError(
            f"{getattr(func, '__name__', func)} cannot run on a symbolic tensor: in a functional graph only "
            "nnguru layers and models can be called on Input(...) and on layer outputs. Use a layer for it "
            "(Activation, Add, Concatenate, Reshape, ...) or write a Layer subclass."
        )


@dataclass(eq=False)
class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a list for merge layers), producing ``output``."""

    layer: nn.Module
    inputs: tuple[KerasTensor, ...]
    training: bool | None = None
    output: KerasTensor | None = None
    order: int = field(default_factory=lambda: next(_node_ids))  # creation order: a topological order


def _input_tensor(inp: Input) -> KerasTensor:
    """The symbolic tensor of an ``Input`` layer (made once, kept on the layer)."""
    tensor = inp.__dict__.get("_keras_tensor")
    if tensor is None:
        dims = inp.declared_input_shape
        if dims is None or not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                                   for d in dims):
            raise NNGuruError(f"Input(shape=...) must be a tuple of positive ints or None (a length known only "
                              f"from the data), e.g. Input(shape=(None,)); received {describe(dims)}.")
        tensor = KerasTensor(dims, inp.dtype or "float32", Node(inp, ()))
        tensor.node.output = tensor
        inp.__dict__["_keras_tensor"] = tensor
    return tensor


def _is_symbolic(value: Any) -> bool:
    return isinstance(value, (KerasTensor, Input))


def _as_symbolic(value: Any) -> KerasTensor:
    return _input_tensor(value) if isinstance(value, Input) else value


def _contains_symbolic(value: Any) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_symbolic(v) for v in value)
    return _is_symbolic(value)


def is_graph_call(args: tuple, kwargs: dict) -> bool:
    """Whether ``Model(*args, **kwargs)`` asks for a functional model (Keras's dispatch)."""
    return "inputs" in kwargs or "outputs" in kwargs or any(_contains_symbolic(a) for a in args[:2])


def _name_of(layer: nn.Module) -> str | None:
    return layer.layer_name if isinstance(layer, Layer) else getattr(layer, "name", None)


def _label(layer: nn.Module) -> str:
    name = _name_of(layer)
    return f"{type(layer).__name__}" + (f" {name!r}" if name else "")


def snake_case(name: str) -> str:
    """Keras's layer-name stem: ``GlobalAveragePooling1D`` -> ``global_average_pooling1d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---- calling layers on symbolic tensors ------------------------------------------------------
def call_on_non_tensor(layer: nn.Module, args: tuple, kwargs: dict):
    """``layer(*args)`` when the first argument is not a torch tensor: a symbolic tensor (or a list
    of them) records a node; a NumPy array is converted. ``NotImplemented``: call the layer as usual."""
    first = args[0]
    if _contains_symbolic(first) and not isinstance(first, dict):
        return symbolic_call(layer, first, args[1:], kwargs)
    if isinstance(first, np.ndarray) and first.dtype.kind in "biuf" and not isinstance(layer, Model):
        # numbers become a tensor (a Model converts its own inputs; strings go to the layer as they are)
        tensor = torch.as_tensor(first if first.dtype.kind in "iub" else first.astype(np.float32))
        return layer(tensor, *args[1:], **kwargs)
    return NotImplemented


def _on_meta() -> bool:
    """True inside ``with torch.device("meta")`` (the bundle's shapes-only build): no forward probes."""
    return torch.empty(0).device.type == "meta"


def _probe(layer: nn.Module, shapes: list[tuple], dtypes: list[str], listed: bool) -> tuple:
    """Output shape of a real forward pass on zeros (batch of 2, eval mode, no side effects)."""
    p = next(itertools.chain(layer.parameters(), layer.buffers()), None)
    device = p.device if p is not None else torch.device("cpu")
    xs = [torch.zeros((2, *s), device=device, dtype=torch.long if d.startswith(("int", "uint")) else torch.float32)
          for s, d in zip(shapes, dtypes, strict=True)]
    was = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            out = layer(xs if listed else xs[0])
    finally:
        layer.train(was)
    return tuple(out.shape[1:])


def _infer_shape(layer: nn.Module, inputs: Sequence[KerasTensor], listed: bool) -> tuple:
    """Build ``layer`` if needed and return its output shape for these symbolic inputs.

    A None axis is built with a stand-in length, then checked with a second one by a real forward
    pass: a layer that needs the concrete length (Dense or Flatten+Dense over it, a strided 'same'
    convolution) fails that check with a message saying so.
    """
    shapes = [t.dims for t in inputs]
    dtypes = [t.dtype for t in inputs]
    variable = any(d is None for s in shapes for d in s)

    def fill(length: int) -> list[tuple]:
        return [tuple(length if d is None else d for d in s) for s in shapes]

    first, second = fill(PLACEHOLDERS[0]), fill(PLACEHOLDERS[1])
    arg = first if listed else first[0]
    meta = _on_meta()
    if isinstance(layer, _Merge):  # no weights; shapes with None are merged as they are
        return tuple(layer.ensure_built(shapes))
    if isinstance(layer, Layer):
        was_built, before = layer.built, layer.input_shape
        out1 = tuple(layer.ensure_built(arg))
        if was_built:
            out1 = tuple(layer.compute_output_shape(arg))
        if meta or not (variable or (was_built and before != (first if listed else first[0]))):
            return out1
        out2 = tuple(layer.compute_output_shape(second if listed else second[0]))
    elif isinstance(layer, Model):  # a Sequential (or functional) model used as a layer
        if not layer.built:
            layer.build(arg)
        if meta:
            return tuple(layer.output_shape)
        out1 = _probe(layer, first, dtypes, listed)
        if not variable:
            return out1
        out2 = None
    else:
        raise NNGuruError(
            f"{type(layer).__name__} is a raw torch module: only nnguru layers and models can be called on "
            "symbolic tensors. Use the nnguru.layers equivalent, or write an nnguru Layer subclass."
        )
    probe_shapes = second if variable else first
    try:
        probed = _probe(layer, probe_shapes, dtypes, listed)
    except (RuntimeError, ValueError, IndexError, NNGuruError) as exc:
        probed, reason = None, str(exc).splitlines()[0]
    else:
        reason = None
    expected = out2 if out2 is not None else probed
    if probed is None or probed != expected:
        if variable:
            axis = next(i for s in shapes for i, d in enumerate(s) if d is None)
            raise NNGuruError(
                f"{_label(layer)} needs the size of axis {axis + 1} of its input "
                f"(shape {_shape_text(shapes, listed)}), "
                "which the Input leaves as None (a length only the data knows)"
                + (f" ({reason})" if reason else "") + ". Give the Input a fixed shape (pad the sequences to one "
                "length), or pool over that axis first (e.g. GlobalAveragePooling1D)."
            )
        raise NNGuruError(
            f"{_label(layer)} was built for inputs of shape {_shape_text([before], False)} and cannot take "
            f"{_shape_text(shapes, listed)}" + (f" ({reason})" if reason else "") + ". A shared layer needs "
            "inputs its weights fit."
        )
    return tuple(None if a != b else a for a, b in zip(out1, expected, strict=True)) if variable else out1


def _shape_text(shapes, listed: bool) -> str:
    text = [f"(None, {', '.join(map(str, s))})" if s else "(None,)" for s in shapes]
    return f"[{', '.join(text)}]" if listed else text[0]


def symbolic_call(layer: nn.Module, x, extra: tuple, kwargs: dict) -> KerasTensor:
    """Record ``layer(x)`` in the graph and return its symbolic output."""
    kwargs = dict(kwargs)
    training = kwargs.pop("training", None)
    kwargs.pop("mask", None)  # masks flow by themselves (Layer.compute_mask)
    if extra or kwargs:
        raise NNGuruError(f"{_label(layer)} called on a symbolic tensor takes its input(s) and training=... "
                          f"only; received extra arguments {describe(list(extra) + list(kwargs))}.")
    listed = isinstance(x, (list, tuple))
    values = list(x) if listed else [x]
    bad = [i for i, v in enumerate(values) if not _is_symbolic(v)]
    if bad:
        raise NNGuruError(f"{_label(layer)} got a list mixing symbolic tensors and other values (item {bad[0]}: "
                          f"{describe(values[bad[0]])}). In a functional graph, call layers on Input(...) and "
                          "on outputs of layers only.")
    if listed != isinstance(layer, _Merge):
        want = "a list of tensors, e.g. concatenate([a, b])" if not listed else "one tensor"
        raise NNGuruError(f"{_label(layer)} takes {want}; received {describe(x)}."
                          + (" Merge the list first with concatenate([...]) or add([...])." if listed else ""))
    if isinstance(layer, Functional) and len(layer.inputs) > 1:
        raise NNGuruError(f"Model {layer.name!r} has {len(layer.inputs)} inputs; only single-input models can "
                          "be called as a layer.")
    inputs = tuple(_as_symbolic(v) for v in values)
    dims = _infer_shape(layer, inputs, listed)
    node = Node(layer, inputs, training)
    node.output = KerasTensor(dims, "float32", node)
    return node.output


# ---- several outputs: one composite loss ------------------------------------------------------
class OutputPart:
    """One output's slice of the concatenated outputs, its target slice, loss and weight.

    Multi-output models compute what their layers compute (no activation is split off), so a
    softmax/sigmoid output is turned back into logits (clipped log, as Keras does for
    probabilities) before a loss or metric that works on logits reads it.
    """

    def __init__(self, name: str, loss: losses.Loss, start: int, width: int, weight: float,
                 probabilities: str | None) -> None:
        self.name, self.loss, self.start, self.width = name, loss, start, width
        if loss.output_activation is not None:
            loss.logits = True  # ``logits()`` below hands the loss logits, whatever its from_logits
        self.weight, self.probabilities = float(weight), probabilities
        self.y_start, self.y_width, self.y_int = 0, width, False  # set from the prepared targets

    def logits(self, outputs: torch.Tensor) -> torch.Tensor:
        out = outputs[:, self.start:self.start + self.width]
        if self.probabilities == "softmax":
            return out.clamp_min(PROB_EPS).log()
        if self.probabilities == "sigmoid":
            p = out.clamp(PROB_EPS, 1 - PROB_EPS)
            return p.log() - (-p).log1p()
        return out

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        t = y[:, self.y_start:self.y_start + self.y_width]
        return t[:, 0].long() if self.y_int else t

    def __call__(self, outputs, y, w=None) -> torch.Tensor:
        return self.loss.compute(self.logits(outputs), self.targets(y), w)


class OutputsLoss(losses.Loss):
    """The weighted sum of each output's loss (Keras's ``loss_weights``)."""

    name = "loss"

    def __init__(self, parts: list[OutputPart]) -> None:
        self.parts = parts

    def elementwise(self, outputs, y):
        return sum(p.weight * p.loss.elementwise(p.logits(outputs), p.targets(y)) for p in self.parts)

    def compute(self, outputs, y, w=None):
        return sum(p.weight * p(outputs, y, w) for p in self.parts)

    def prepare_targets(self, y, n_outputs):
        return torch.as_tensor(np.ascontiguousarray(y, dtype=np.float32))  # checked per output by _y_array

    def get_config(self) -> dict:
        return {p.name: p.loss.get_config() for p in self.parts}


class OutputMetric(metrics_mod.Metric):
    """A metric of one output (log key ``<output>_<metric>``), on that output's slice."""

    def __init__(self, name: str, part: OutputPart, inner: metrics_mod.Metric) -> None:
        self.part, self.inner = part, inner
        super().__init__(name)
        self.bind(part.loss, inner.n_outputs)

    state = property(lambda self: self.inner.state, lambda self, v: setattr(self.inner, "state", v))
    count = property(lambda self: self.inner.count, lambda self, v: setattr(self.inner, "count", v))

    def update(self, outputs, y):
        self.inner.update(self.part.logits(outputs), self.part.targets(y))

    def batch_state(self, outputs, y):
        return self.inner.batch_state(self.part.logits(outputs), self.part.targets(y))

    def result(self):
        return self.inner.result()


class OutputLossMetric(metrics_mod.Metric):
    """One output's own loss (log key ``<output>_loss``), without sample weights."""

    def __init__(self, part: OutputPart) -> None:
        super().__init__(f"{part.name}_loss")
        self.bind(part.loss, part.width)
        self.part = part

    def batch_state(self, outputs, y):
        return self.part(outputs, y).detach().double() * len(y)


# ---- the model ---------------------------------------------------------------------------------
def _flatten_io(value: Any, what: str) -> tuple[str, list[str] | None, list]:
    """(structure, dict keys, items) of Model(inputs=...) / outputs=...: one, a list, or a dict."""
    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) for k in value):
            raise NNGuruError(f"Model({what}=...) as a dict needs string keys and at least one tensor; "
                              f"received {describe(value)}.")
        return "dict", list(value), list(value.values())
    if isinstance(value, (list, tuple)):
        if not value:
            raise NNGuruError(f"Model({what}=...) is empty; pass at least one symbolic tensor.")
        return "list", None, list(value)
    return "single", None, [value]


class Functional(Model):
    """A model built from a graph of layers: ``Model(inputs, outputs)`` (see the module docstring)."""

    # Keras's ``model.inputs``/``outputs`` are the symbolic tensors themselves here (plain attributes,
    # set in __init__), not the shapes a Sequential reports.
    inputs: list | None = None
    outputs: list | None = None

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None) -> None:
        super().__init__(name=name or "functional")
        if inputs is None or outputs is None:
            raise NNGuruError("Model(inputs, outputs) needs both: the Input(...) tensors and the tensors the "
                              "layers computed from them.")
        self._in_struct, in_keys, ins = _flatten_io(inputs, "inputs")
        self._out_struct, out_keys, outs = _flatten_io(outputs, "outputs")
        for what, items in (("inputs", ins), ("outputs", outs)):
            for i, t in enumerate(items):
                if not _is_symbolic(t):
                    raise NNGuruError(
                        f"Model({what}=...) needs symbolic tensors (from Input(...) and layers called on "
                        f"them); {what}[{i}] is {describe(t)}. To train a torch module use Model(module); "
                        "data goes to fit(), not to Model()."
                    )
        ins, outs = [_as_symbolic(t) for t in ins], [_as_symbolic(t) for t in outs]
        for i, t in enumerate(ins):
            if not isinstance(t.node.layer, Input):
                raise NNGuruError(f"Model(inputs=...) takes the tensors made by Input(...); inputs[{i}] was made by "
                                  f"{_label(t.node.layer)}. Pass the Input it comes from.")
        if len({id(t) for t in ins}) != len(ins):
            raise NNGuruError("Model(inputs=...) lists the same Input twice; pass each input once.")
        nodes = self._trace(ins, outs)
        for key, t in zip(in_keys or [], ins, strict=False):  # Keras: a dict's keys name the inputs
            if t.node.layer.layer_name not in (None, key):
                raise NNGuruError(f"Model(inputs=...) names an Input {key!r}, but that Input is named "
                                  f"{t.node.layer.layer_name!r}; use one name.")
            t.node.layer.layer_name = key
        self.inputs, self.outputs, self._nodes = ins, outs, [n for n in nodes if n.inputs]
        self.layers = nn.ModuleList(self._name_layers(nodes))
        self.input_names = [t.node.layer.layer_name for t in ins]
        self.output_names = out_keys or self._unique([_name_of(t.node.layer) for t in outs])
        multi_in, multi_out = len(ins) > 1, len(outs) > 1
        self.input_shape = [t.dims for t in ins] if multi_in else ins[0].dims
        self.output_shape = [t.dims for t in outs] if multi_out else outs[0].dims
        if multi_out:
            variable = [n for n, t in zip(self.output_names, outs, strict=True) if None in t.dims]
            if variable:
                raise NNGuruError(f"Outputs {variable} have an axis of unknown length (None); a model with several "
                                  "outputs needs fixed output shapes. Pool over that axis or fix the Input's shape.")
        self._n_free = sum(d is None for t in ins for d in t.dims) if multi_in else 0
        self._parts: list[OutputPart] | None = None  # set by compile when a composite loss is needed
        self._plan = self._make_plan()

    # ---- graph construction ----------------------------------------------------------------
    def _trace(self, ins: list[KerasTensor], outs: list[KerasTensor]) -> list[Node]:
        """Every node the outputs depend on, in creation (topological) order; checks connectivity."""
        reached: dict[int, Node] = {}
        used_inputs: set[int] = set()
        for k, out in enumerate(outs):
            stack, mine = [out], set()
            while stack:
                node = stack.pop().node
                if id(node) in mine:
                    continue
                mine.add(id(node))
                reached[id(node)] = node
                stack.extend(node.inputs)
                if not node.inputs:
                    if all(node.output is not t for t in ins):
                        raise NNGuruError(
                            f"Graph disconnected: output {k} depends on the Input "
                            f"{node.layer.layer_name or '(unnamed)'} "
                            f"{node.output.shape}, which is not in Model(inputs=...). Add it to the inputs, or "
                            "compute that output from the listed inputs only."
                        )
                    used_inputs.add(id(node.output))
        unused = [i for i, t in enumerate(ins) if id(t) not in used_inputs]
        if unused:
            i = unused[0]
            raise NNGuruError(
                f"Disconnected input: no output depends on inputs[{i}] (Input {ins[i].node.layer.layer_name or ''} "
                f"{ins[i].shape}). Connect it to an output through layers, or leave it out of Model(inputs=...)."
            )
        return sorted(reached.values(), key=lambda n: n.order)

    @staticmethod
    def _unique(names: list) -> list[str]:
        seen: dict[str, int] = {}
        out = []
        for n in names:
            n = str(n)
            out.append(n if n not in seen else f"{n}_{seen[n]}")
            seen[n] = seen.get(n, 0) + 1
        return out

    def _name_layers(self, nodes: list[Node]) -> list[nn.Module]:
        """The model's layers in topological order, each with a Keras-style name (``dense_1``)."""
        layers: list[nn.Module] = []
        for node in nodes:
            if all(node.layer is not m for m in layers):
                layers.append(node.layer)
        taken = {_name_of(m) for m in layers if _name_of(m)}
        for m in layers:
            if isinstance(m, Layer) and not m.layer_name:
                stem = "input_layer" if isinstance(m, Input) else snake_case(type(m).__name__)
                name = next(c for c in itertools.chain([stem], (f"{stem}_{i}" for i in itertools.count(1)))
                            if c not in taken)
                m.layer_name = name
                taken.add(name)
        names = [_name_of(m) for m in layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise NNGuruError(f"Layer names must be unique within a model; {dup} name more than one layer. "
                              "Give each layer its own name=... (or none, for an automatic one).")
        return layers

    def _make_plan(self) -> list[tuple]:
        """(layer, input slots, listed, output slot, training) per node; slots index a value list."""
        slot = {id(t): i for i, t in enumerate(self.inputs)}
        plan = []
        for node in self._nodes:
            slot[id(node.output)] = len(slot)
            plan.append((node.layer, [slot[id(t)] for t in node.inputs], isinstance(node.layer, _Merge),
                         slot[id(node.output)], node.training))
        self._out_slots = [slot[id(t)] for t in self.outputs]
        self._n_slots = len(slot)
        return plan

    # ---- running ---------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Built at construction: the Inputs fix the shapes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list = [None] * self._n_slots
        xs = self._unpack(x) if len(self.inputs) > 1 else [x]
        for i, v in enumerate(xs):
            values[i] = (v, None)
        for layer, ins, listed, out_slot, training in self._plan:
            if listed:
                args = [values[i] for i in ins]
                inp, mask = [a[0] for a in args], [a[1] for a in args]
                mask = mask if any(m is not None for m in mask) else None
            else:
                inp, mask = values[ins[0]]
            if training is not None and training != layer.training:  # layer(x, training=False)
                was = layer.training
                layer.train(training)
                try:
                    values[out_slot] = call_layer(layer, inp, mask)
                finally:
                    layer.train(was)
            else:
                values[out_slot] = call_layer(layer, inp, mask)
        outs = [values[i][0] for i in self._out_slots]
        if len(outs) == 1:
            return outs[0]
        return torch.cat([o.reshape(len(o), -1).to(torch.float32) for o in outs], dim=1)

    def _unpack(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Packed (N, lengths + flattened inputs) -> one tensor per input."""
        n, offset = x.shape[0], self._n_free
        free = iter([int(v) for v in x[0, :offset].tolist()] if n and offset else [1] * offset)
        xs = []
        for t in self.inputs:
            shape = tuple(next(free) if d is None else d for d in t.dims)
            size = math.prod(shape)
            xs.append(x[:, offset:offset + size].reshape(n, *shape))
            offset += size
        return xs

    # ---- data ------------------------------------------------------------------------------
    def _split(self, value: Any, names: list[str], what: str, kind: str) -> list:
        """One item per input/output from a dict keyed by name, a list, or (one of them) a single array."""
        n = len(names)
        if isinstance(value, dict):
            if set(value) != set(names):
                raise NNGuruError(f"{what} is a dict with keys {sorted(map(str, value))}, but the model's {kind}s are "
                                  f"named {names}. Pass one array per {kind} name.")
            return [value[k] for k in names]
        if isinstance(value, (list, tuple)) and (n > 1 or (len(value) == 1 and not isinstance(value[0], (list, tuple))
                                                           and np.ndim(value[0]) >= 1)):
            if len(value) != n:
                raise NNGuruError(f"The model has {n} {kind}s ({', '.join(names)}); {what} is a list of {len(value)} "
                                  f"arrays. Pass one array per {kind}, in that order, or a dict keyed by {kind} name.")
            return list(value)
        if n > 1:
            raise NNGuruError(f"The model has {n} {kind}s ({', '.join(names)}); {what} is one array "
                              f"{describe(value)}. Pass a list of {n} arrays or a dict keyed by {kind} name.")
        return [value]

    def _x_array(self, x: Any, name: str = "x") -> np.ndarray:
        """Input arrays checked against each Input; several inputs packed into one float32 array."""
        if self.preprocessor is not None:
            x = self.preprocessor.transform(x)
        arrays = []
        for key, t, part in zip(self.input_names, self.inputs, self._split(x, self.input_names, name, "input"),
                                strict=True):
            label = name if len(self.inputs) == 1 else f"{name}[{key!r}]"
            arr = to_numpy(part, label)
            if arr.ndim == 1 and t.dims == (1,):
                arr = arr[:, None]
            if arr.ndim != len(t.dims) + 1 or any(d is not None and d != a for d, a in zip(t.dims, arr.shape[1:],
                                                                                           strict=True)):
                want = ", ".join("?" if d is None else str(d) for d in t.dims)
                raise NNGuruError(f"Input {label} has shape {arr.shape}, but the model's Input {key!r} expects "
                                  f"(N, {want}) (samples first; ? is any length). Reshape the data or change "
                                  "Input(shape=...).")
            integer = arr.dtype.kind in "iub"
            if not (integer and self._integer_input(t)) and arr.dtype != np.float32:
                arr = arr.astype(np.float32)
            check_finite(arr, label)
            arrays.append(arr)
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            counts = dict(zip(self.input_names, lengths, strict=True))
            raise NNGuruError(f"Found input arrays with inconsistent numbers of samples: {counts}. "
                              "Pass one row per sample in every input.")
        if len(arrays) == 1:
            return arrays[0]
        return self._pack(arrays, name)

    def _pack(self, arrays: list[np.ndarray], name: str) -> np.ndarray:
        n = len(arrays[0])
        for key, arr in zip(self.input_names, arrays, strict=True):
            if arr.dtype.kind in "iu" and arr.size and int(np.abs(arr).max()) >= FLOAT32_EXACT:
                raise NNGuruError(
                    f"Input {name}[{key!r}] holds integers up to {int(np.abs(arr).max()):,}; a model with several "
                    f"inputs packs them into one float32 tensor, which holds integers exactly only below 2**24 = "
                    f"{FLOAT32_EXACT:,}. Re-encode the ids below that (e.g. a smaller vocabulary)."
                )
        free = [a for arr, t in zip(arrays, self.inputs, strict=True)
                for a, d in zip(arr.shape[1:], t.dims, strict=True) if d is None]
        cols = [np.full((n, len(free)), free, dtype=np.float32)] if free else []
        cols += [arr.reshape(n, -1).astype(np.float32, copy=False) for arr in arrays]
        return np.concatenate(cols, axis=1)

    def _integer_input(self, t: KerasTensor) -> bool:
        """Integer arrays stay integers for an int Input or one read by an Embedding (token ids)."""
        return t.dtype.startswith(("int", "uint")) or any(
            isinstance(n.layer, Embedding) and any(i is t for i in n.inputs) for n in self._nodes)

    def _takes_integer_input(self) -> bool:
        return len(self.inputs) == 1 and self._integer_input(self.inputs[0])

    def _y_array(self, y: Any) -> np.ndarray:
        items = self._split(y, self.output_names, "y", "output")
        if self._parts is None:
            return super()._y_array(items[0])
        prepared, start = [], 0
        for part, item in zip(self._parts, items, strict=True):
            try:
                t = part.loss.prepare_targets(to_numpy(item, f"y[{part.name!r}]"), part.width)
            except NNGuruError as exc:
                raise NNGuruError(f"Targets for output {part.name!r}: {exc}") from None
            t = t.reshape(len(t), -1)
            part.y_start, part.y_width, part.y_int = start, t.shape[1], not t.is_floating_point()
            start += t.shape[1]
            prepared.append(t.numpy().astype(np.float32))
        lengths = {p.name: len(a) for p, a in zip(self._parts, prepared, strict=True)}
        if len(set(lengths.values())) > 1:
            raise NNGuruError(f"Found target arrays with inconsistent numbers of samples: {lengths}. Pass one target "
                              "per sample for every output.")
        return np.concatenate(prepared, axis=1)

    def _sample_weights(self, y, class_weight, sample_weight):
        if class_weight is not None and len(self.outputs) > 1:
            raise NNGuruError("class_weight is not supported for models with several outputs (as in Keras); "
                              "pass sample_weight=... instead.")
        return super()._sample_weights(y, class_weight, sample_weight)

    # ---- compile ---------------------------------------------------------------------------
    def _fusable_layer(self) -> _Activated | None:
        """The layer making the single output, when its softmax/sigmoid may be split off safely:
        it is called once, and no other node reads its output (or a Dropout's in between)."""
        if len(self.outputs) != 1:
            return None
        consumers: dict[int, int] = {}
        calls: dict[int, int] = {}
        for n in self._nodes:
            calls[id(n.layer)] = calls.get(id(n.layer), 0) + 1
            for t in n.inputs:
                consumers[id(t)] = consumers.get(id(t), 0) + 1
        node = self.outputs[0].node
        while isinstance(node.layer, Dropout) and calls[id(node.layer)] == 1 and node.inputs \
                and consumers.get(id(node.inputs[0]), 0) == 1 and node.inputs[0].node.inputs:
            node = node.inputs[0].node  # Dropout is the identity at inference
        layer = node.layer
        if not isinstance(layer, _Activated) or calls.get(id(layer), 0) != 1 or consumers.get(id(node.output), 0) > 0:
            return None
        return layer

    def _final_activation(self):
        """Model's hook (see ``Model._fuse_output_activation``): the single output's layer when its
        softmax/sigmoid can be skipped while the loss is computed, and that output's activation.
        Several outputs have a composite loss, which reads each output itself."""
        if len(self.outputs) != 1:
            return None, None
        layer = self.outputs[0].node.layer
        fusable = self._fusable_layer()
        if fusable is not None:
            return fusable, fusable.activation_name
        return None, (layer.activation_name if isinstance(layer, _Activated) else None)

    def _needs_parts(self, loss_weights) -> bool:
        """A composite loss for several outputs, loss weights, or a softmax/sigmoid that cannot be
        split off (its layer is shared): otherwise the single output is treated as Sequential's."""
        if len(self.outputs) > 1 or loss_weights is not None:
            return True
        node = self.outputs[0].node
        return isinstance(node.layer, _Activated) and node.layer.activation_name in ("softmax", "sigmoid") \
            and self._fusable_layer() is None

    def _per_output(self, spec: Any, what: str, default: Any = None) -> list:
        names = self.output_names
        if isinstance(spec, dict):
            unknown = sorted(set(map(str, spec)) - set(names))
            if unknown:
                raise NNGuruError(f"compile({what}=...) names outputs {unknown} that the model does not have; its "
                                  f"outputs are {names}.")
            missing = [n for n in names if n not in spec]
            if missing and default is None:
                raise NNGuruError(f"compile({what}=...) has no entry for outputs {missing}; give every output one "
                                  f"(outputs: {names}).")
            return [spec.get(n, default) for n in names]
        if isinstance(spec, (list, tuple)):
            if len(spec) != len(names):
                raise NNGuruError(f"compile({what}=...) is a list of {len(spec)}, but the model has {len(names)} "
                                  f"outputs ({names}); give one per output, or a dict keyed by output name.")
            return list(spec)
        return [spec] * len(names)

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, **optimizer_options) -> None:
        """Keras's compile; ``loss``, ``metrics`` and ``loss_weights`` may be given per output (a list
        in output order or a dict keyed by output name)."""
        for m in self.layers:
            if isinstance(m, _Activated):
                m.skip_activation = False  # a previous compile may have split one off
        if loss is None:
            return super().compile(optimizer, loss, metrics, **optimizer_options)  # Model's message
        if not self._needs_parts(loss_weights):
            self._parts = None
            single_loss = self._per_output(loss, "loss")[0]
            nested = isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple)) for m in metrics)
            single_metrics = self._per_output(metrics, "metrics", default=[])[0] if isinstance(metrics, dict) \
                or nested else metrics
            return super().compile(optimizer, single_loss, single_metrics, **optimizer_options)
        weights = [1.0 if w is None else w for w in self._per_output(loss_weights, "loss_weights", default=1.0)]
        bad = [w for w in weights if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w)]
        if bad:
            raise NNGuruError(f"compile(loss_weights=...) must be numbers; received {describe(bad[0])}.")
        parts, start = [], 0
        for name, t, spec, w in zip(self.output_names, self.outputs, self._per_output(loss, "loss"), weights,
                                    strict=True):
            try:
                part_loss = losses.get(spec)
            except NNGuruError as exc:
                raise NNGuruError(f"Output {name!r}: {exc}") from None
            layer, width = t.node.layer, math.prod(t.dims)
            act = getattr(layer, "activation_name", None) if isinstance(layer, _Activated) else None
            probabilities = act if act in ("softmax", "sigmoid") and act == part_loss.output_activation else None
            parts.append(OutputPart(name, part_loss, start, width, w, probabilities))
            start += width
        self._parts = parts
        super().compile(optimizer, OutputsLoss(parts), None, **optimizer_options)
        self._compile_args["metrics"] = metrics
        if loss_weights is not None:
            self._compile_args["loss_weights"] = loss_weights
        self.compiled_metrics = self._make_metrics(metrics)

    def _make_metrics(self, spec: Any) -> list[metrics_mod.Metric]:
        if self._parts is None:
            return super()._make_metrics(list(spec or []))
        multi = len(self._parts) > 1
        out: list[metrics_mod.Metric] = [OutputLossMetric(p) for p in self._parts] if multi else []
        if isinstance(spec, str):
            spec = [spec]
        nested = isinstance(spec, (list, tuple)) and any(isinstance(s, (list, tuple)) for s in spec)
        per_output = self._per_output(spec, "metrics", default=[]) if isinstance(spec, dict) or nested \
            else [list(spec or [])] * len(self._parts)
        for part, names in zip(self._parts, per_output, strict=True):
            for m in [names] if isinstance(names, str) else list(names or []):
                try:
                    inner = metrics_mod.get(m, part.loss, part.width)
                except NNGuruError as exc:
                    raise NNGuruError(f"Output {part.name!r}: {exc}") from None
                out.append(OutputMetric(f"{part.name}_{m}" if multi else str(m), part, inner))
        return out

    # ---- predict ---------------------------------------------------------------------------
    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0):
        """Like Keras: one array per output (a list, or a dict when the outputs were given as one)."""
        flat = super().predict(x, batch_size=batch_size, verbose=verbose)
        if len(self.outputs) == 1:
            return flat
        parts, start = [], 0
        for t in self.outputs:
            width = math.prod(t.dims)
            parts.append(flat[:, start:start + width].reshape(len(flat), *t.dims))
            start += width
        return dict(zip(self.output_names, parts, strict=True)) if self._out_struct == "dict" else parts

    # ---- introspection ---------------------------------------------------------------------
    @property
    def input(self):
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self):
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)

    def get_layer(self, name: str | None = None, index: int | None = None) -> nn.Module:
        """A layer by name or position (Keras's ``get_layer``)."""
        if index is not None:
            if not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
                raise NNGuruError(f"get_layer(index={index!r}): the model has {len(self.layers)} layers.")
            return self.layers[index]
        for m in self.layers:
            if _name_of(m) == name:
                return m
        raise NNGuruError(f"No layer named {name!r}. Layers: {[_name_of(m) for m in self.layers]}.")

    def _nodes_of(self, layer: nn.Module) -> list[Node]:
        if isinstance(layer, Input):
            return [_input_tensor(layer).node]
        return [n for n in self._nodes if n.layer is layer]

    def summary_rows(self) -> list[tuple[str, str, int]]:
        rows = []
        for m in self.layers:
            shapes = {n.output.dims for n in self._nodes_of(m)}
            shape = _shape_text([next(iter(shapes))], False) if len(shapes) == 1 else "multiple"
            kind = "InputLayer" if isinstance(m, Input) else type(m).__name__
            rows.append((f"{_name_of(m)} ({kind})", shape, weight_count(m)))
        return rows

    # ---- serialization ---------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's functional config: layers with their configs and inbound nodes
        (``[layer_name, node_index, tensor_index, kwargs]``), and the input and output references."""

        def ref(t: KerasTensor) -> list:
            return [_name_of(t.node.layer), self._nodes_of(t.node.layer).index(t.node), 0]

        layers = []
        for m in self.layers:
            if isinstance(m, Layer):
                spec = serialize(m)
            elif type(m).__name__ in MODEL_CLASSES:
                spec = {"class_name": type(m).__name__, "config": m.get_config()}
            else:
                raise NNGuruError(f"Layer {_name_of(m)!r} ({type(m).__name__}) cannot be stored as JSON.")
            spec["name"] = _name_of(m)
            spec["inbound_nodes"] = [] if isinstance(m, Input) else [
                [[*ref(t), {} if n.training is None else {"training": n.training}] for t in n.inputs]
                for n in self._nodes_of(m)]
            layers.append(spec)
        return {"name": self.name, "layers": layers,
                "input_layers": [ref(t) for t in self.inputs], "output_layers": [ref(t) for t in self.outputs],
                "output_names": list(self.output_names), "outputs_as": self._out_struct,
                "inputs_as": self._in_struct}

    @classmethod
    def from_config(cls, config: dict, where: str = "model.json") -> Functional:
        """Rebuild the graph from ``get_config``'s JSON, checking every field (registered layer
        classes only: no code runs). Errors name the field: an unknown layer, a reference to a
        layer or node that does not exist, a cycle."""
        return _GraphReader(config, where).model(cls)


MODEL_CLASSES: dict[str, Any] = {}  # models that may sit inside a functional model (filled below)


class _GraphReader:
    """Validates a functional config and replays its layer calls in dependency order."""

    def __init__(self, config: Any, where: str) -> None:
        self.where = where
        self.config = self._need(config, dict, "architecture", "a mapping")
        self.specs = self._need(config.get("layers"), list, "architecture.layers", "a non-empty list")
        if not self.specs:
            self._fail("architecture.layers", "a non-empty list", self.specs)

    def _fail(self, field_name: str, want: str, got: Any) -> None:
        raise NNGuruError(f"{self.where}: field {field_name!r} must be {want}; received {describe(got)}. "
                          "Save the model again.")

    def _need(self, value: Any, kind: type, field_name: str, want: str) -> Any:
        if not isinstance(value, kind):
            self._fail(field_name, want, value)
        return value

    def _ref(self, value: Any, field_name: str, calls: dict[str, int]) -> tuple[str, int]:
        ok = isinstance(value, list) and len(value) >= 2 and isinstance(value[0], str) \
            and isinstance(value[1], int) and not isinstance(value[1], bool)
        if not ok:
            self._fail(field_name, "a reference [layer_name, node_index, tensor_index]", value)
        name, index = value[0], value[1]
        if name not in calls:
            raise NNGuruError(f"{self.where}: field {field_name!r} refers to layer {name!r}, which is not in "
                              "'architecture.layers' (a dangling reference). Save the model again.")
        if not 0 <= index < calls[name]:
            raise NNGuruError(f"{self.where}: field {field_name!r} refers to node {index} of layer {name!r}, which "
                              f"has {calls[name]} node(s) (a dangling reference). Save the model again.")
        return name, index

    def model(self, cls: type[Functional]) -> Functional:
        layers: dict[str, nn.Module] = {}
        calls: dict[str, int] = {}
        for i, spec in enumerate(self.specs):
            f = f"architecture.layers[{i}]"
            self._need(spec, dict, f, "{class_name, config, name, inbound_nodes}")
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                self._fail(f"{f}.name", "a non-empty string", name)
            if name in layers:
                raise NNGuruError(f"{self.where}: field '{f}.name' repeats the layer name {name!r}; names must be "
                                  "unique. Save the model again.")
            self._need(spec.get("inbound_nodes"), list, f"{f}.inbound_nodes", "a list of nodes")
            kind = spec.get("class_name")
            try:
                if kind in MODEL_CLASSES:
                    inner = spec.get("config")
                    self._need(inner, dict, f"{f}.config", "a mapping")
                    layer = (MODEL_CLASSES[kind].from_config(inner, self.where) if kind == "Functional"
                             else MODEL_CLASSES[kind].from_config(inner))
                else:
                    layer = deserialize({"class_name": kind, "config": self._need(spec.get("config", {}), dict,
                                                                                   f"{f}.config", "a mapping")})
            except NNGuruError as exc:
                raise NNGuruError(f"{self.where}: field '{f}' ({kind}) cannot be built: {exc}") from None
            except (TypeError, KeyError, ValueError) as exc:
                raise NNGuruError(f"{self.where}: field '{f}.config' of {kind} is malformed ({exc}). Save the model "
                                  "again.") from None
            if isinstance(layer, Layer):
                layer.layer_name = name
            else:
                layer.name = name
            if isinstance(layer, Input):
                try:
                    _input_tensor(layer)
                except NNGuruError as exc:
                    raise NNGuruError(f"{self.where}: field '{f}.config' is invalid: {exc}") from None
            layers[name] = layer
            calls[name] = 1 if isinstance(layer, Input) else len(spec["inbound_nodes"])
        # Every reference must point at a layer and node that exist, before anything is called.
        pending = []
        for i, spec in enumerate(self.specs):
            layer = layers[spec["name"]]
            if isinstance(layer, Input):
                if spec["inbound_nodes"]:
                    self._fail(f"architecture.layers[{i}].inbound_nodes", "empty for an Input", spec["inbound_nodes"])
                continue
            for k, node in enumerate(spec["inbound_nodes"]):
                f = f"architecture.layers[{i}].inbound_nodes[{k}]"
                self._need(node, list, f, "a list of references")
                if not node:
                    self._fail(f, "a non-empty list of references", node)
                refs = [self._ref(r, f"{f}[{j}]", calls) for j, r in enumerate(node)]
                kwargs = node[0][3] if len(node[0]) > 3 else {}
                if not isinstance(kwargs, dict) or set(kwargs) - {"training"} or \
                        kwargs.get("training") not in (None, True, False):
                    self._fail(f"{f}[0][3]", "{} or {'training': bool}", kwargs)
                pending.append(((spec["name"], k), refs, kwargs.get("training")))
        tensors: dict[tuple[str, int], KerasTensor] = {
            (name, 0): _input_tensor(m) for name, m in layers.items() if isinstance(m, Input)}
        while pending:
            ready = [p for p in pending if all(r in tensors for r in p[1])]
            if not ready:
                stuck = sorted({p[0][0] for p in pending})
                raise NNGuruError(f"{self.where}: field 'architecture.layers' has a cycle: layers {stuck} wait on "
                                  "each other's outputs. A functional model is an acyclic graph; save the model again.")
            for key, refs, training in ready:
                layer = layers[key[0]]
                args = [tensors[r] for r in refs]
                kwargs = {} if training is None else {"training": training}
                tensors[key] = layer(args if isinstance(layer, _Merge) else args[0], **kwargs)
            pending = [p for p in pending if p[0] not in tensors]
        ins = self._refs("input_layers", calls, tensors)
        outs = self._refs("output_layers", calls, tensors)
        out_names = self.config.get("output_names")
        if self.config.get("outputs_as") == "dict":
            if not isinstance(out_names, list) or len(out_names) != len(outs) or not all(isinstance(n, str)
                                                                                         for n in out_names):
                self._fail("architecture.output_names", f"a list of {len(outs)} names", out_names)
            outputs: Any = dict(zip(out_names, outs, strict=True))
        else:
            outputs = outs[0] if self.config.get("outputs_as") == "single" else outs
        inputs = ins[0] if self.config.get("inputs_as") == "single" else ins
        model = cls(inputs, outputs, name=self.config.get("name"))
        model.layers = nn.ModuleList([layers[s["name"]] for s in self.specs if any(layers[s["name"]] is m
                                                                                    for m in model.layers)])
        return model

    def _refs(self, key: str, calls: dict, tensors: dict) -> list[KerasTensor]:
        refs = self._need(self.config.get(key), list, f"architecture.{key}", "a non-empty list of references")
        if not refs:
            self._fail(f"architecture.{key}", "a non-empty list of references", refs)
        return [tensors[self._ref(r, f"architecture.{key}[{i}]", calls)] for i, r in enumerate(refs)]


def _register_models() -> None:
    from nnguru.nn.sequential import Sequential

    MODEL_CLASSES.update({"Sequential": Sequential, "Functional": Functional})


_register_models()
