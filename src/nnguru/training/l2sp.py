"""L2-SP: weight decay towards the starting point (Li, Grandvalet & Davoine, ICML 2018).

Fine-tuning a pretrained body on a few labelled examples lets its weights wander wherever those few
examples pull them. Plain L2 pulls them towards zero, which throws the pretraining away; L2-SP pulls
them towards the pretrained values instead: ``factor * sum((w - w0)**2)`` joins the loss for every
anchored weight, so the body moves only as far as the new data pays for.

The penalty rides on each layer's own regularization slot (``Layer.penalty``, what
``kernel_regularizer=`` uses), so the reported loss includes it as Keras includes ``model.losses``.
It is not saved with the model (a saved layer keeps only the regularizers it was built with), and
:func:`detach` restores what the layer had.
"""

from __future__ import annotations

import torch

from nnguru.errors import NNGuruError, describe
from nnguru.regularizers import Regularizer


class StartingPoint(Regularizer):
    """``factor * sum((w - anchor)**2)``, plus the penalty the weight already had (``inner``)."""

    def __init__(self, anchor: torch.Tensor, factor: float, inner: Regularizer | None = None) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
            raise NNGuruError(f"The L2-SP factor must be a number >= 0; received {describe(factor)}.")
        self.anchor, self.factor, self.inner = anchor.detach().clone(), float(factor), inner

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        total = self.factor * (w - self.anchor.to(w.device, w.dtype)).square().sum()
        return total if self.inner is None else total + self.inner(w)

    def get_config(self) -> dict:  # never serialized with a model (see the module docstring)
        return {"factor": self.factor}


def attach(layers, factor: float) -> int:
    """Anchor every weight of ``layers`` at its current value; returns how many values are anchored."""
    count = 0
    if factor <= 0:
        return 0
    for layer in layers:
        slots = getattr(layer, "_regularized", None)
        if slots is None:
            continue
        for name, w in layer.named_parameters():
            if not w.requires_grad:
                continue
            slots[name] = StartingPoint(w, factor, slots.get(name))
            count += w.numel()
    return count


def detach(layers) -> None:
    """Remove the penalties :func:`attach` added, keeping the layers' own regularizers."""
    for layer in layers:
        slots = getattr(layer, "_regularized", None) or {}
        for name, reg in list(slots.items()):
            if isinstance(reg, StartingPoint):
                if reg.inner is None:
                    del slots[name]
                else:
                    slots[name] = reg.inner
