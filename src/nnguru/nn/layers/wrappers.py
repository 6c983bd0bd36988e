"""Layers that reshape the time axis around another layer: TimeDistributed and RepeatVector.

Both are what the sequence-to-sequence and CNN-LSTM forecasting tutorials stack between LSTMs:
``LSTM -> RepeatVector(n) -> LSTM(return_sequences=True) -> TimeDistributed(Dense(1))`` and
``TimeDistributed(Conv1D(...))`` over ``(subsequences, steps, features)`` windows.
"""

from __future__ import annotations

import torch

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, call_layer, deserialize, register, serialize


@register
class TimeDistributed(Layer):
    """Applies one layer to every step of ``(steps, ...)`` inputs: the same weights at each step.

    The steps are folded into the batch axis, so the wrapped layer runs once on ``(batch * steps,
    ...)`` (Keras computes the same). Its parameters are the wrapped layer's (``count_params`` as Keras).
    """

    supports_masking = True

    def __init__(self, layer: Layer | dict, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, Layer):
            raise NNGuruError(f"TimeDistributed wraps an nnguru layer (Dense(1), Conv1D(...), ...); "
                              f"received {describe(layer)}.")
        self.layer = layer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:
            raise NNGuruError(f"TimeDistributed expects inputs of shape (steps, ...) with at least one axis "
                              f"after the steps; received {input_shape}. Use the layer without the wrapper.")
        self.layer.ensure_built(input_shape[1:])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *self.layer.compute_output_shape(input_shape[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps = x.shape[:2]
        y, _ = call_layer(self.layer, x.reshape(batch * steps, *x.shape[2:]))
        return y.reshape(batch, steps, *y.shape[1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": serialize(self.layer)}


@register
class RepeatVector(Layer):
    """``(features,)`` -> ``(n, features)``: the vector repeated ``n`` times (an encoder's summary
    fed to a decoder LSTM at each of ``n`` output steps)."""

    def __init__(self, n: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise NNGuruError(f"RepeatVector(n=...) must be a positive int; received {describe(n)}.")
        self.n = n

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 1:
            raise NNGuruError(f"RepeatVector expects vectors of shape (features,); received {input_shape}. "
                              "Flatten() first, or use an LSTM without return_sequences before it.")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}
