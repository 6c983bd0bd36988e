"""Layers for tables: a learned scale per input feature (RealMLP's "scaling layer").

An MLP's first Dense layer mixes all features at once; a separate diagonal scale lets each feature's
importance be learned directly (a feature can be turned up or down without rotating the rest), which
RealMLP (Holzmüller et al., NeurIPS 2024) found to help on tables. It starts at 1: the identity.
"""

from __future__ import annotations

import torch

from nnguru.nn.layers.base import Layer, Shape, register


@register
class FeatureScale(Layer):
    """``x * s`` with one learned ``s`` per feature (the last axis), initialized to 1."""

    def build(self, input_shape: Shape) -> None:
        self.add_weight("scale", (int(input_shape[-1]),), "ones")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
