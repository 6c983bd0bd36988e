"""Cheap ensembling for tables: k members sharing one MLP, trained in one pass (TabM-mini style).

``EnsembleExpand(k)`` turns each row into k copies, each multiplied by its member's own learned
per-feature adapter (initialized to random signs, as TabM's first adapter is: Gorishniy et al., ICLR
2025); the Dense layers that follow act on the last axis, so all k members share their weights and
run as one batched matmul. ``EnsembleMean`` averages the members' last hidden layers before the
task's head: with a linear head that is the average of the members' logits, and the head's input
(what similarity search embeds, what transfer cuts at) stays one vector per row.

    Input(F) -> FeatureScale -> EnsembleExpand(k) -> Dense ... Dense  -> EnsembleMean -> head
      (B, F)                     (B, k, F)           (B, k, h)            (B, h)
"""

from __future__ import annotations

import torch

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, register


@register
class EnsembleExpand(Layer):
    """``x[:, None, :] * r`` with one learned adapter ``r`` (k, features) per member."""

    def __init__(self, members: int, adapter_initializer="random_sign", **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(members, int) or isinstance(members, bool) or members < 1:
            raise NNGuruError(f"EnsembleExpand(members=...) must be a positive int (e.g. 4); received "
                              f"{describe(members)}.")
        self.members = members
        self.adapter_initializer = adapter_initializer

    def build(self, input_shape: Shape) -> None:
        self.add_weight("adapter", (self.members, int(input_shape[-1])), self.adapter_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.members, input_shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-2) * self.adapter

    def get_config(self) -> dict:
        from nnguru import initializers

        init = initializers.serialize(initializers.get(self.adapter_initializer))
        return {**super().get_config(), "members": self.members, "adapter_initializer": init}


@register
class EnsembleMean(Layer):
    """The mean over the members' axis (the second-to-last): (..., k, h) -> (..., h)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 2:
            raise NNGuruError(f"EnsembleMean needs inputs of shape (..., members, features); received shape "
                              f"{tuple(input_shape)}. Put it after EnsembleExpand and the layers it feeds.")
        return (*input_shape[:-2], input_shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-2)
