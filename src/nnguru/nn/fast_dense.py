"""A hand-derived training step for plain stacks of Dense layers (the tutorials' MLPs).

For tiny models on a CPU the autograd engine's bookkeeping costs about as much as the matrix
products themselves. Keras removes such overhead by compiling a graph; here, for the one
architecture every tutorial starts with — ``Flatten``/``Dense``/``Dropout``/``Activation``
layers with relu, tanh, sigmoid or linear activations, trained with softmax cross-entropy or
MSE — the backward pass is written out once: three matrix products per layer and an
element-wise derivative. ``tests/nn/test_fast_dense.py`` checks loss and every gradient against
PyTorch autograd. ``training/step.py`` decides when this step runs; anything else (other layers,
sample weights, mixed precision, DDP, a GPU) takes the ordinary autograd step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnguru.nn.layers import Activation, Dense, Dropout, Flatten, Input, Layer
from nnguru.nn.losses import MeanSquaredError, SparseCategoricalCrossentropy

_ACTIVATIONS = ("relu", "linear", "tanh", "sigmoid")


def _derivative(name: str, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """d activation / d input, expressed through the activation's output."""
    if name == "relu":
        return torch.ops.aten.threshold_backward(grad, out, 0)  # autograd's own one-kernel relu backward
    if name == "tanh":
        return grad * (1 - out * out)
    if name == "sigmoid":
        return grad * out * (1 - out)
    return grad


def plan(model) -> list | None:
    """The ops of a Sequential ``model`` as ``("dense", layer, activation) | ("dropout", rate)``, or None."""
    if type(model.loss) not in (SparseCategoricalCrossentropy, MeanSquaredError) or \
            (model.loss.classes and not model.loss.logits):
        return None  # cross-entropy on probabilities (nothing fused): autograd's step
    fused = getattr(model, "_fused_layer", None)  # its softmax is the loss's: the step works on logits
    ops: list = []
    for layer in model.layers:
        if isinstance(layer, (Input, Flatten)):
            continue
        if isinstance(layer, Layer) and layer.penalty() is not None:
            return None  # a regularizer's penalty: the hand-derived gradients leave it out
        if isinstance(layer, Dense):
            if not all(p.requires_grad for p in layer.parameters()):
                return None  # a frozen layer (trainable=False): autograd leaves it alone, this step would not
            act = "linear" if layer is fused else layer.activation_name
            ops.append(("dense", layer, act))
        elif isinstance(layer, Dropout):
            ops.append(("dropout", layer.rate))
        elif isinstance(layer, Activation) and ops and ops[-1][0] == "dense" and ops[-1][2] == "linear":
            ops[-1] = ("dense", ops[-1][1], "linear" if layer is fused else layer.activation_name)
        else:
            return None
        if ops[-1][0] == "dense" and ops[-1][2] not in _ACTIVATIONS:
            return None
    if not ops or ops[-1][0] != "dense" or ops[-1][2] != "linear":
        return None  # the output must be the logits (softmax fused into the loss) or a linear head
    if isinstance(model.loss, MeanSquaredError) and model.output_activation != "linear":
        return None
    return ops


def applicable(model, x: torch.Tensor, w: torch.Tensor | None) -> bool:
    """The data side, decided once per fit: CPU float inputs, no sample weights, no autocast."""
    return w is None and x.device.type == "cpu" and not model.amp and x.is_floating_point()


class DenseStep:
    """The gradients of one fit's steps: forward, loss, backward into persistent gradient buffers.

    Built once per fit from ``plan(model)`` by ``training/step.py``, which adds the optimizer's
    update. Each Dense layer becomes a record (weight and its transposed view, bias, activation,
    gradient buffers), so a step touches no module attributes; the gradient buffers are attached
    as the parameters' ``.grad`` and every step overwrites them in place (``out=``), so the
    optimizer sees the same tensors every time.
    """

    def __init__(self, model, ops: list) -> None:
        self.model = model
        self.cross_entropy = isinstance(model.loss, SparseCategoricalCrossentropy)
        self.grads: dict[torch.nn.Parameter, torch.Tensor] = {}
        self.records: list[tuple] = []  # ("dense", W, W.t(), b, act, dW, db) | ("dropout", rate)
        for op in ops:
            if op[0] == "dropout":
                self.records.append(op)
                continue
            layer, act = op[1], op[2]
            for p in (layer.weight, layer.bias):
                if p is not None:
                    self.grads[p] = torch.zeros_like(p, memory_format=torch.contiguous_format)
            # W.t() is a view: it follows the optimizer's in-place updates of W.
            self.records.append(("dense", layer.weight, layer.weight.t(), layer.bias, act, self.grads[layer.weight],
                                 None if layer.bias is None else self.grads[layer.bias]))
        self._minus: dict[int, torch.Tensor] = {}

    def attach(self) -> None:
        for p, g in self.grads.items():
            p.grad = g

    def minus(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """A column of -1/n: the one-hot part of the mean softmax-CE gradient (one per batch size)."""
        m = self._minus.get(n)
        if m is None:
            m = self._minus[n] = torch.full((n, 1), -1.0 / n, dtype=like.dtype, device=like.device)
        return m

    def loss_and_grads(self, x: torch.Tensor, y: torch.Tensor, training: bool):
        """Forward, loss and backward (call under ``torch.no_grad()``); returns (loss, logits), fills ``self.grads``."""
        h = x if x.dim() == 2 else x.reshape(x.shape[0], -1)
        saved = []  # (record, input, output or dropout mask) for the backward pass
        for rec in self.records:
            if rec[0] == "dense":
                _, _, wt, b, act, _, _ = rec
                z = torch.addmm(b, h, wt) if b is not None else h @ wt
                out = z if act == "linear" else (z.relu_() if act == "relu" else z.tanh_() if act == "tanh"
                                                 else z.sigmoid_())
                saved.append((rec, h, out))
                h = out
            elif training and rec[1] > 0:
                mask = torch.empty_like(h).bernoulli_(1 - rec[1]).div_(1 - rec[1])
                saved.append((rec, mask, None))
                h = h * mask
        logits = h
        n = logits.shape[0]
        if self.cross_entropy:
            logp = torch.log_softmax(logits, dim=1)
            value = F.nll_loss(logp, y)
            # d mean-CE / d logits = (softmax - one_hot) / n, and softmax = exp(log_softmax)
            grad = logp.exp_().div_(n).scatter_add_(1, y.unsqueeze(1), self.minus(n, logits))
        else:
            diff = logits - y
            value = diff.square().mean()
            grad = diff.mul_(2.0 / diff.numel())
        for i in range(len(saved) - 1, -1, -1):
            rec, a, out = saved[i]
            if rec[0] == "dropout":
                grad = grad * a
                continue
            _, w, _, b, act, dw, db = rec
            grad = _derivative(act, out, grad)
            torch.mm(grad.t(), a, out=dw)
            if db is not None:
                torch.sum(grad, 0, out=db)
            if i > 0:
                grad = grad @ w
        return value, logits
