"""A hand-derived training step for plain stacks of Dense layers (the tutorials' MLPs).

For tiny models on a CPU the autograd engine's bookkeeping costs about as much as the matrix
products themselves. Keras removes such overhead by compiling a graph; here, for the one
architecture every tutorial starts with — ``Flatten``/``Dense``/``Dropout``/``Activation``
layers with relu, tanh, sigmoid or linear activations, trained with softmax cross-entropy or
MSE — the backward pass is written out once: three matrix products per layer and an
element-wise derivative. ``tests/nn/test_fast_dense.py`` checks loss and every gradient against
PyTorch autograd. Anything else (other layers, sample weights, mixed precision, DDP, a GPU)
takes the ordinary autograd step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnguru.nn.layers import Activation, Dense, Dropout, Flatten, Input
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


_MINUS: dict[tuple, torch.Tensor] = {}


def _minus(n: int, like: torch.Tensor) -> torch.Tensor:
    """A cached (n, 1) column of -1/n: the one-hot part of the softmax-CE gradient."""
    key = (n, like.dtype, like.device)
    if key not in _MINUS:
        _MINUS[key] = torch.full((n, 1), -1.0 / n, dtype=like.dtype, device=like.device)
    return _MINUS[key]


def plan(model) -> list | None:
    """The ops of ``model`` as ``("dense", layer, activation) | ("dropout", rate) | ...``, or None."""
    from nnguru.nn.sequential import Sequential

    if type(model) is not Sequential or type(model.loss) not in (SparseCategoricalCrossentropy, MeanSquaredError):
        return None
    ops: list = []
    for layer in model.layers:
        if isinstance(layer, (Input, Flatten)):
            continue
        if isinstance(layer, Dense):
            act = "linear" if layer.skip_activation else layer.activation_name
            ops.append(("dense", layer, act))
        elif isinstance(layer, Dropout):
            ops.append(("dropout", layer.rate))
        elif isinstance(layer, Activation) and ops and ops[-1][0] == "dense" and ops[-1][2] == "linear":
            ops[-1] = ("dense", ops[-1][1], "linear" if layer.skip_activation else layer.activation_name)
        else:
            return None
        if ops[-1][0] == "dense" and ops[-1][2] not in _ACTIVATIONS:
            return None
    if not ops or ops[-1][0] != "dense" or ops[-1][2] != "linear":
        return None  # the output must be the logits (softmax fused into the loss) or a linear head
    if isinstance(model.loss, MeanSquaredError) and model.output_activation != "linear":
        return None
    return ops


def applicable(model, x: torch.Tensor, w: torch.Tensor | None, world: int) -> bool:
    """Decided once per fit: CPU float inputs, no sample weights, no autocast, one process."""
    return (w is None and x.device.type == "cpu" and not model.amp and world == 1 and x.is_floating_point()
            and isinstance(model.optimizer, torch.optim.Optimizer))


def loss_and_grads(ops: list, loss, x: torch.Tensor, y: torch.Tensor, training: bool):
    """Forward, loss and backward; returns (loss, logits, {parameter: gradient})."""
    h = x.reshape(x.shape[0], -1)
    saved = []  # (op, input, output) for the backward pass
    for op in ops:
        if op[0] == "dense":
            layer, act = op[1], op[2]
            z = torch.addmm(layer.bias, h, layer.weight.t()) if layer.bias is not None else h @ layer.weight.t()
            out = z if act == "linear" else (z.relu_() if act == "relu" else z.tanh_() if act == "tanh"
                                             else z.sigmoid_())
            saved.append((op, h, out))
            h = out
        elif training and op[1] > 0:
            mask = torch.empty_like(h).bernoulli_(1 - op[1]).div_(1 - op[1])
            saved.append((op, mask, None))
            h = h * mask
    logits = h
    n = logits.shape[0]
    if isinstance(loss, SparseCategoricalCrossentropy):
        value = F.cross_entropy(logits, y)
        # d mean-CE / d logits = (softmax - one_hot) / n
        grad = torch.softmax(logits, dim=1).div_(n).scatter_add_(1, y[:, None], _minus(n, logits))
    else:
        diff = logits - y
        value = diff.square().mean()
        grad = diff.mul_(2.0 / diff.numel())
    grads: dict[torch.nn.Parameter, torch.Tensor] = {}
    for i in range(len(saved) - 1, -1, -1):
        op, a, out = saved[i]
        if op[0] == "dropout":
            grad = grad * a
            continue
        layer, act = op[1], op[2]
        grad = _derivative(act, out, grad)
        grads[layer.weight] = grad.t() @ a
        if layer.bias is not None:
            grads[layer.bias] = grad.sum(0)
        if i > 0:
            grad = grad @ layer.weight
    return value, logits, grads


def train_step(model, ops: list, x: torch.Tensor, y: torch.Tensor):
    """One optimizer update with the hand-derived gradients; returns (loss, logits) like autograd's."""
    with torch.no_grad():
        value, logits, grads = loss_and_grads(ops, model.loss, x, y, model.training)
        for p, g in grads.items():
            p.grad = g
        model.optimizer_step()
    return value, logits
