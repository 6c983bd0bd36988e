"""``Sequential``: a Keras-style stack of layers.

Built as soon as the input shape is known (``input_shape=`` on the first layer, an ``Input``
layer, or the first batch ``fit`` sees), so ``summary()`` works before training as in Keras.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from nnguru.errors import NNGuruError, describe
from nnguru.nn import fast_dense
from nnguru.nn.layers import Embedding, Input, Layer, call_layer, deserialize, serialize
from nnguru.nn.model import Model, auto_name, final_activation, weight_count


class Sequential(Model):
    """``Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'), Dense(10, activation='softmax')])``.

    Layers are nnguru layers or any ``torch.nn.Module`` (a model with raw torch modules trains
    and predicts, but only pure nnguru layers can be saved as a JSON architecture).
    """

    def __init__(self, layers: Iterable[nn.Module] | None = None, name: str | None = None) -> None:
        super().__init__(name=name or "sequential")
        self.layers = nn.ModuleList()
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: nn.Module) -> None:
        if not isinstance(layer, nn.Module):
            raise NNGuruError(
                f"Only instances of nnguru.layers.Layer or torch.nn.Module can be added to a "
                f"Sequential model. Received: {describe(layer)}."
            )
        auto_name(layer)  # Keras's default names: dense, dense_1, ... (model.get_layer("dense_1"))
        if self.built and isinstance(layer, Layer):
            layer.ensure_built(self.output_shape)
            self.output_shape = layer.output_shape
        self.layers.append(layer)
        first = self.layers[0]
        declared = first.declared_input_shape if isinstance(first, Layer) else None
        # A None axis (input_shape=(None, steps, features)) is known only from the data: fit builds then.
        if not self.built and declared is not None and None not in declared:
            self._build_shape(declared)
        if self._compile_args is not None:
            self._fuse_output_activation()

    def pop(self) -> nn.Module:
        """Remove and return the last layer (Keras's ``model.pop()``); the model's output shape follows."""
        if not self.layers:
            raise NNGuruError("Sequential.pop(): the model has no layers to remove.")
        layer = self.layers[-1]
        del self.layers[-1]
        if self.built:
            self.output_shape = self.layers[-1].output_shape if self.layers else self.input_shape
        if self._compile_args is not None:
            self._fuse_output_activation()
        return layer

    def build(self, input_shape) -> None:
        """Build for inputs of ``input_shape``. Keras's form names the batch axis first as None
        (``model.build((None, 3))``); nnguru's leaves it out (``build((3,))``); both work."""
        input_shape = tuple(input_shape)
        if input_shape and input_shape[0] is None:
            input_shape = input_shape[1:]
        self._build_shape(input_shape)

    def _build_shape(self, input_shape) -> None:
        with torch.inference_mode(False):  # weights must stay trainable, whatever mode the caller is in
            self._build_layers(tuple(int(s) for s in input_shape))

    def _build_layers(self, shape: tuple[int, ...]) -> None:
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Layer):
                try:
                    shape = layer.ensure_built(shape)
                except NNGuruError as exc:
                    raise NNGuruError(f"Layer {i} ({type(layer).__name__}): {exc}") from None
            else:
                with torch.no_grad():
                    was = layer.training
                    layer.eval()
                    shape = tuple(layer(torch.zeros((2, *shape), device=self.device)).shape[1:])
                    layer.train(was)
        self.output_shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_shape is None:  # Keras builds on the first call: model(x) before fit/predict
            self.build(x.shape[1:])
        mask = None
        for layer in self.layers:
            x, mask = call_layer(layer, x, mask)
        return x

    use_fast_dense = True  # hand-derived steps for plain Dense stacks (nnguru.nn.fast_dense)

    def fast_dense_plan(self) -> list | None:
        """This stack as ``fast_dense`` ops, or None; asked once per fit by ``training/step.py``.

        Only a plain ``Sequential``: a subclass may change ``forward``, which the ops would not follow.
        """
        if not self.use_fast_dense or type(self) is not Sequential:
            return None
        return fast_dense.plan(self)

    def _final_activation(self):
        return final_activation(list(self.layers))

    def _takes_integer_input(self) -> bool:
        first = next((layer for layer in self.layers if not isinstance(layer, Input)), None)
        return isinstance(first, Embedding)

    def _host_encoder(self):
        first = next((layer for layer in self.layers if not isinstance(layer, Input)), None)
        return first if hasattr(first, "encode_host") else None

    def summary_rows(self):
        rows = []
        for i, layer in enumerate(self.layers):
            shape = getattr(layer, "output_shape", None)
            shape_text = f"(None, {', '.join(map(str, shape))})" if shape else "?"
            name = (getattr(layer, "layer_name", None) or getattr(layer, "name", None)
                    or f"{type(layer).__name__.lower()}_{i}")
            rows.append((f"{name} ({type(layer).__name__})", shape_text,
                         weight_count(layer)))
        return rows

    def get_config(self) -> dict:
        bad = [type(layer).__name__ for layer in self.layers if not isinstance(layer, Layer)]
        if bad:
            raise NNGuruError(
                f"This Sequential holds raw torch modules ({', '.join(bad)}) whose architecture cannot "
                "be stored as JSON. Use nnguru.layers equivalents to get a loadable model file."
            )
        return {"name": self.name, "layers": [serialize(layer) for layer in self.layers],
                "input_shape": list(self.input_shape) if self.input_shape else None}

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        model = cls([deserialize(spec) for spec in config["layers"]], name=config.get("name"))
        if not model.built and config.get("input_shape"):
            model.build(config["input_shape"])
        return model

