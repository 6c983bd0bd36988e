"""``Model``: Keras's compile / fit / evaluate / predict / summary / save over any ``nn.Module``.

``Model(torch_module)`` trains a plain PyTorch module through the same ``fit``; ``Sequential``
(a subclass) builds Keras-style layers. Inputs are validated before anything trains, with
messages that name the input, the value received and the fix.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nnguru.errors import NNGuruError, describe
from nnguru.nn import activations, losses
from nnguru.nn import metrics as metrics_mod
from nnguru.nn.layers import Dropout, Input, Layer, _Activated
from nnguru.nn.saving import save_model
from nnguru.training import loop
from nnguru.training.batches import BatchStream, is_batch_source
from nnguru.training.callbacks import Callback, History
from nnguru.training.step import plain_train_step

DEFAULT_BATCH = 32  # Keras's default batch size
WEIGHTS_FORMAT = "nnguru-weights-1"
# Keras model attributes nnguru lacks, and what to use instead (AttributeError with this advice).
UNSUPPORTED_MODEL_ATTRIBUTES = {
    "to_json": "use model.save(path) (safetensors + JSON) and nnguru.load_model(path).",
    "to_yaml": "use model.save(path) (safetensors + JSON) and nnguru.load_model(path).",
    "export": "use `nnguru export RUN_DIR --format onnx` or torch.onnx.export(model, ...).",
    "fit_generator": "pass the generator to fit(generator, steps_per_epoch=...) (as Keras 2.1+ does).",
    "evaluate_generator": "pass the generator to evaluate(generator, steps=...).",
    "predict_generator": "pass the generator to predict(generator, steps=...).",
    "reset_metrics": "metrics are reset at the start of every epoch and evaluate call.",
    "make_train_function": "override model.train_step(x, y, w) instead (the one escape hatch).",
    "compute_loss": ("call model.loss(y_true, y_pred) as in Keras, or model.loss.compute(outputs, y, w) "
                     "(outputs from model(x) inside model.loss_outputs())."),
    "quantize": "quantize the torch module with torch.ao.quantization.",
}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Arrays, tensors, DataFrames and nested lists -> ndarray, or a clear error."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise NNGuruError(f"{name} could not be turned into an array ({exc}); received {describe(x)}.") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float32)
        except (ValueError, TypeError):
            raise NNGuruError(
                f"{name} holds non-numeric values (e.g. {describe(arr.flat[0])}). Encode them as numbers, "
                "or use nnguru.train(...), which preprocesses raw tables, text and files."
            ) from None
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Cheap check first (one sum); the detailed scan only when it fails, as scikit-learn does."""
    if arr.dtype.kind != "f" or np.isfinite(arr.sum(dtype=np.float64)):
        return
    bad = ~np.isfinite(arr)
    rows = np.unique(np.nonzero(bad.reshape(len(arr), -1))[0])
    raise NNGuruError(
        f"Input {name} contains {int(np.isnan(arr).sum())} NaN and {int(np.isinf(arr).sum())} infinite "
        f"values (first rows: {rows[:5].tolist()}). Fill or drop them first (e.g. np.nan_to_num, "
        "or nnguru.train(...), which cleans tables and reports what it did)."
    )


def weight_count(module: nn.Module) -> int:
    """Parameters plus saved buffers (moving statistics, Normalization's mean and variance), as
    Keras counts weights; constant buffers that are not saved (a zero bias) are not counted."""
    buffers = sum(b.numel() for m in module.modules() for n, b in m._buffers.items()
                  if b is not None and n not in m._non_persistent_buffers_set)
    return sum(p.numel() for p in module.parameters()) + buffers


_NAME_COUNTS: dict[str, int] = {}  # Keras's session-wide default names: dense, dense_1, dense_2, ...


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(layer: nn.Module) -> str:
    """Give ``layer`` Keras's default name if it has none (``dense``, ``dense_1``, ...) and return it.

    nnguru layers keep it as ``layer_name`` (saved with the model); ``layer.name`` reads it.
    """
    given = getattr(layer, "layer_name", None) if isinstance(layer, Layer) else getattr(layer, "name", None)
    if not isinstance(given, str) or not given:
        base = "input_layer" if isinstance(layer, Input) else _snake_case(type(layer).__name__)
        count = _NAME_COUNTS.get(base, 0)
        _NAME_COUNTS[base] = count + 1
        given = base if count == 0 else f"{base}_{count}"
        if isinstance(layer, Layer):
            layer.layer_name = given
    if not isinstance(getattr(type(layer), "name", None), property):
        layer.name = given
    return given


# Raw torch modules whose outputs a loss can interpret (a Sequential may end in one).
_TORCH_OUTPUTS: dict[type, str] = {nn.Softmax: "softmax", nn.Sigmoid: "sigmoid", nn.Linear: "linear"}


def final_activation(layers: list[nn.Module]) -> tuple[nn.Module | None, str | None]:
    """(layer whose activation the loop may skip, activation name) at the end of a layer stack.

    Dropout is the identity at inference and is looked through. The name is None when the last
    layer says nothing about its outputs (then the loss reads them as it declares).
    """
    for layer in reversed(layers):
        if isinstance(layer, (Dropout, nn.Dropout)):
            continue
        if isinstance(layer, _Activated):
            return layer, layer.activation_name
        return None, _TORCH_OUTPUTS.get(type(layer))
    return None, None


def read_model_tensors(filepath: str | Path) -> dict[str, torch.Tensor]:
    """The model weights in a ``save_weights`` file, a ``ModelCheckpoint`` file or a model folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from nnguru.nn.saving import WEIGHTS

    path = Path(filepath)
    if path.is_dir() and (path / WEIGHTS).is_file():
        path = path / WEIGHTS
    if not path.is_file():
        raise NNGuruError(f"load_weights: {str(filepath)!r} does not exist (or is a folder without {WEIGHTS}).")
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise NNGuruError(f"load_weights: {str(filepath)!r} is not a safetensors file written by nnguru ({exc}). "
                          "nnguru reads only its own safe formats (never HDF5 or pickle): weights from "
                          "model.save_weights, ModelCheckpoint files or model folders.") from None
    if any(k.startswith("model.") for k in tensors) and any(k.startswith("rng.") for k in tensors):
        return {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}  # a checkpoint
    return tensors


class Model(nn.Module):
    """A trainable model. Subclass it and define ``forward``, wrap any ``nn.Module``, or build a
    graph of layers: ``Model(inputs, outputs)`` (Keras's functional API, ``nn/functional.py``)."""

    def __new__(cls, *args, **kwargs):
        # Keras's dispatch: Model(inputs, outputs) on symbolic tensors is a functional model.
        if cls is Model:
            from nnguru.nn import functional

            if functional.is_graph_call(args, kwargs):
                return super().__new__(functional.Functional)
        return super().__new__(cls)

    def __init__(self, module: nn.Module | None = None, name: str | None = None) -> None:
        super().__init__()
        if module is not None and not isinstance(module, nn.Module):
            raise NNGuruError(f"Model(...) wraps a torch.nn.Module; received {describe(module)}.")
        self.module = module
        self.name = name or type(self).__name__.lower()
        self.optimizer: Any = None
        self.loss: losses.Loss | None = None
        self.compiled_metrics: list[metrics_mod.Metric] = []
        # Applied by predict on top of what the model computes: "linear" (nothing) unless a model
        # file written before nnguru returned Keras's outputs asks for it (see nnguru.bundle).
        self.output_activation = "linear"
        self._fused_layer = None  # the last layer whose softmax/sigmoid the loss reads as logits
        self._schedule = None  # a learning-rate schedule given as learning_rate= (nnguru.optimizers)
        self.history: History | None = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.preprocessor = None  # set by nnguru.train / load_model: raw rows -> arrays
        self.amp = False  # bf16 autocast, switched on for CUDA devices
        self._compile_args: dict | None = None

    # ---- building --------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape: Sequence[int]) -> None:
        """Fix the input shape; for wrapped modules, probe the output shape with a dummy batch."""
        input_shape = tuple(int(s) for s in input_shape)
        if self.module is None and type(self).forward is Model.forward:
            raise NNGuruError("Model() needs a torch.nn.Module to wrap, or a subclass with forward().")
        was_training = self.training
        self.eval()
        with torch.inference_mode(False), torch.no_grad():  # never inference tensors: fit must update them
            probe = torch.zeros((2, *input_shape), device=self.device)
            out = self(probe)
        self.train(was_training)
        self.input_shape, self.output_shape = input_shape, tuple(out.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def autocast(self):
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- compile ---------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[Any] | None = None,
                **optimizer_options) -> None:
        """Choose optimizer (name, dict, ``nnguru.optimizers`` object or torch optimizer), loss
        (name, ``nnguru.losses`` object or function) and metrics (names or ``nnguru.metrics``
        objects), as in Keras."""
        if loss is None:
            raise NNGuruError(
                "compile() needs a loss, e.g. loss='sparse_categorical_crossentropy' for integer "
                f"class labels or loss='mse' for regression. Valid names: {', '.join(sorted(losses.LOSSES))}."
            )
        if isinstance(metrics, (str, metrics_mod.Metric)):
            metrics = [metrics]
        self.loss = losses.get(loss)
        self._schedule = None
        keras_optimizer = getattr(optimizer, "nnguru_optimizer_spec", None)  # nnguru.optimizers.Adam(...)
        if keras_optimizer is not None:
            optimizer, self._schedule = keras_optimizer()
        self._compile_args = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or []),
                              "optimizer_options": optimizer_options}
        from nnguru import optim

        # Resolve the optimizer now on a throwaway parameter: a typo fails here, not mid-fit.
        optim.get(optimizer, nn.Linear(1, 1), **optimizer_options)
        self._fuse_output_activation()
        self.optimizer = None
        if self.built:
            self._finish_compile()

    def _final_activation(self) -> tuple[nn.Module | None, str | None]:
        """(layer whose activation can be skipped, that activation's name) of the model's output.

        The name is ``"linear"`` for outputs that are not probabilities, None when unknown (a
        module with its own forward: its outputs are taken as the loss declares).
        """
        if isinstance(self.module, nn.Sequential):
            return final_activation(list(self.module))
        return None, None

    def _fuse_output_activation(self) -> None:
        """Decide what the loss reads while training, as Keras does, and warn where Keras warns.

        A last softmax/sigmoid matching a ``from_logits=False`` loss is fused: the loop skips it
        (``loss_outputs``) and the loss reads logits. ``from_logits=True`` on such a layer warns and
        also reads the pre-activation logits; a linear last layer's outputs are logits (a
        ``from_logits=False`` loss warns). Otherwise the loss reads what the model returns.
        """
        loss = self.loss
        self._fused_layer = None
        if loss.output_activation is None:  # regression: the loss reads the outputs as they are
            return
        layer, activation = self._final_activation()
        loss.logits = loss.from_logits
        where = f"`{loss.name}` received `from_logits="
        if activation == loss.output_activation:
            if loss.from_logits:
                how = ("the loss is computed on the pre-activation logits" if layer is not None else
                       "it cannot be skipped, so the loss is computed on the probabilities")
                warnings.warn(f"{where}True`, but the output was produced by a {activation} activation and thus "
                              f"does not represent logits; {how}. Was this intended? Pass from_logits=False "
                              "(the default) for a model that ends in softmax/sigmoid.", UserWarning, stacklevel=3)
            if layer is not None:
                self.__dict__["_fused_layer"] = layer  # a reference, not a submodule (no second state_dict entry)
                loss.logits = True
            else:
                loss.logits = False
        elif activation == "linear":
            if not loss.from_logits:
                warnings.warn(f"{where}False` (the default, which expects probabilities), but the model's last "
                              "layer has no softmax/sigmoid, so its outputs are not probabilities; they are "
                              f"treated as logits. Pass loss={type(loss).__name__}(from_logits=True) to say "
                              f"so, or end the model with activation='{loss.output_activation}'.",
                              UserWarning, stacklevel=3)
            loss.logits = True

    @contextlib.contextmanager
    def _outputs(self, logits: bool):
        layer = self._fused_layer
        if layer is None:
            yield
            return
        before = layer.skip_activation
        layer.skip_activation = logits
        try:
            yield
        finally:
            layer.skip_activation = before

    def loss_outputs(self):
        """Context: the model returns what the loss reads (logits of a fused softmax/sigmoid).

        The loop enters it while it computes losses (train steps, evaluation, the lr finder).
        """
        return self._outputs(True)

    def full_outputs(self):
        """Context: the model returns what its last layer computes (Keras's outputs); the default,
        re-entered by ``predict`` and by callbacks that run inside ``fit``."""
        return self._outputs(False)

    @property
    def trainable(self) -> bool:
        return getattr(self, "_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """``model.trainable = False`` freezes every layer (Keras's transfer-learning switch)."""
        self._trainable = bool(value)
        for m in self.modules():
            if m is not self and hasattr(m, "_trainable"):
                m.trainable = value  # nnguru layers remember it for weights they build later
        for p in self.parameters():
            p.requires_grad_(self._trainable)

    def _finish_compile(self) -> None:
        """Create optimizer and metrics once parameters exist (after build).

        An optimizer made from a name holds exactly the trainable parameters: when ``trainable``
        changed since it was made, it is made again (what recompiling does in Keras), so frozen
        weights never move.
        """
        from nnguru import optim

        args = self._compile_args
        trainable = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer is not None and self.optimizer is not args["optimizer"]:  # not one the user built
            held = {id(p) for g in getattr(self.optimizer, "param_groups", []) for p in g["params"]}
            if held != {id(p) for p in trainable}:
                self.optimizer = None
        if self.optimizer is None and trainable:
            self.optimizer = optim.get(args["optimizer"], self, **args["optimizer_options"])
        self.compiled_metrics = self._make_metrics(args["metrics"])
        if self._schedule is not None and self.optimizer is not None:
            self._schedule.attach(self.optimizer)

    def _make_metrics(self, names: list) -> list[metrics_mod.Metric]:
        """The compiled metrics (a multi-output model makes one set per output)."""
        n_out = self.output_shape[-1] if self.output_shape else 1
        return [metrics_mod.get(m, self.loss, n_out) for m in names]

    def _require_compiled(self, what: str) -> None:
        if self._compile_args is None:
            raise NNGuruError(f"Call model.compile(optimizer=..., loss=..., metrics=...) before {what}().")

    # ---- data ------------------------------------------------------------------------------
    def _x_array(self, x: Any, name: str = "x") -> np.ndarray:
        """Model-ready float32 inputs; raw rows/files/arrays go through the attached preprocessor."""
        if self.preprocessor is not None:
            x = self.preprocessor.transform(x)
        encoder = self._host_encoder()
        if encoder is not None:  # e.g. TextVectorization: strings -> ids, before any tensor exists
            x = encoder.encode_host(x)
        arr = to_numpy(x, name)
        if arr.ndim == 0:
            raise NNGuruError(f"Input {name} must have a batch axis; received a scalar {describe(x)}.")
        integer_input = arr.dtype.kind in "iub" and (encoder is not None or self._takes_integer_input())
        if arr.ndim == 1 and not integer_input and (not self.built or self.input_shape == (1,)):
            arr = arr[:, None]  # Keras: (N,) is N samples of one feature
        if not integer_input and arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        check_finite(arr, name)
        # an encoder's output length may follow the data (ids padded to the longest text)
        if self.built and encoder is None and tuple(arr.shape[1:]) != self.input_shape:
            raise NNGuruError(
                f"Input {name} has shape {arr.shape}, but the model expects (N, "
                f"{', '.join(map(str, self.input_shape))}) (samples first). Reshape the data "
                f"(e.g. x.reshape(len(x), {', '.join(map(str, self.input_shape))})) or change the first "
                "layer's input_shape."
            )
        return arr

    def _y_array(self, y: Any) -> np.ndarray:
        """Targets as arrays; raw labels are encoded by the attached preprocessor."""
        if self.preprocessor is not None:
            return self.preprocessor.encode_y(to_numpy(y, "y") if isinstance(y, torch.Tensor) else y)
        return to_numpy(y, "y")

    def _takes_integer_input(self) -> bool:
        return False

    def _host_encoder(self):
        """A first layer with ``encode_host(x) -> ndarray`` that turns raw inputs (strings) into
        arrays on the host, or None; Sequential looks at its first layer."""
        return None

    def _tensors(self, x: np.ndarray, y: np.ndarray | None, w: np.ndarray | None, name: str) -> loop.TensorData:
        if y is not None and len(y) != len(x):
            raise NNGuruError(
                f"Found input variables with inconsistent numbers of samples: x has {len(x)}, "
                f"y{name} has {len(y)}. Pass one target per sample."
            )
        dev = self.device
        yt = self.loss.prepare_targets(y, self.output_shape[-1]) if y is not None else None
        if yt is not None and yt.dim() > 2 and tuple(yt.shape[1:]) != tuple(self.output_shape):
            raise NNGuruError(
                f"Targets y{name} have shape {tuple(y.shape)}, but the model's outputs have shape "
                f"(N, {', '.join(map(str, self.output_shape))}); give one target per output value."
            )
        return loop.TensorData(
            torch.as_tensor(x).to(dev),
            yt.to(dev) if yt is not None else torch.zeros(len(x), device=dev),
            torch.as_tensor(w, dtype=torch.float32).to(dev) if w is not None else None,
        )

    def _sample_weights(self, y: np.ndarray, class_weight, sample_weight) -> np.ndarray | None:
        w = None if sample_weight is None else to_numpy(sample_weight, "sample_weight").astype(np.float32)
        if w is not None and len(w) != len(y):
            raise NNGuruError(f"sample_weight has {len(w)} entries but y has {len(y)}.")
        if class_weight is None:
            return w
        if not isinstance(class_weight, dict):
            raise NNGuruError(
                f"class_weight must be a dict {{class_index: weight}}; received {describe(class_weight)}."
            )
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] > 1:
            labels = labels.argmax(1)
        labels = labels.reshape(-1).astype(np.int64)
        unknown = sorted(set(np.unique(labels).tolist()) - set(map(int, class_weight)))
        if unknown:
            raise NNGuruError(f"class_weight has no weight for classes {unknown}; give every class a weight.")
        table = np.zeros(labels.max() + 1, dtype=np.float32)
        for k, v in class_weight.items():
            if int(k) < len(table):
                table[int(k)] = float(v)
        cw = table[labels]
        return cw if w is None else cw * w

    # ---- fit / evaluate / predict -----------------------------------------------------------
    def _prepare(self, x_arr: np.ndarray) -> None:
        """Build on the first data seen and finish compiling (optimizer, metrics)."""
        if not self.built:
            self.build(x_arr.shape[1:])
        self._finish_compile()

    def _stream(self, source: Any, steps: int | None, where: str) -> BatchStream:
        """A generator/iterator/iterable of ``(x, y[, w])`` batches as the loop's batch stream."""
        def convert(xb, yb, wb):
            x_arr = self._x_array(xb, f"x (a batch from {where})")
            if not self.built:
                self.build(x_arr.shape[1:])
            y_arr = self._y_array(yb)
            w_arr = None if wb is None else to_numpy(wb, "sample_weight").astype(np.float32)
            data = self._tensors(x_arr, y_arr, w_arr, "")
            return data.x, data.y, data.w

        return BatchStream(source, convert, steps=steps, where=where)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: list[Callback] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: dict | None = None, sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1,
            resume_from: str | None = None) -> History:
        """Train for ``epochs``; returns ``History`` (``history.history[key]`` per epoch, Keras keys).

        ``x`` is an array (with targets ``y``) or, as in Keras, a generator, iterator or iterable
        of ``(x, y)`` / ``(x, y, sample_weight)`` batches (``steps_per_epoch`` batches per epoch;
        without it, until the source is exhausted). ``validation_data`` takes either kind too.
        """
        self._require_compiled("fit")
        if validation_freq != 1:
            raise NNGuruError(f"fit(validation_freq={validation_freq!r}) is not supported; nnguru validates "
                              "after every epoch (validation_freq=1).")
        if not isinstance(epochs, int) or epochs < 1:
            raise NNGuruError(f"epochs must be a positive int; received {describe(epochs)}.")
        if hasattr(x, "batches"):  # a table streamed in chunks (nnguru.data.stream.TableSplit)
            return self._fit_stream(x, validation_data, batch_size=batch_size, epochs=epochs, verbose=verbose,
                                    callbacks=callbacks, shuffle=shuffle, class_weight=class_weight)
        for name, value in (("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise NNGuruError(f"{name} must be a positive int or None; received {describe(value)}.")
        if y is None and is_batch_source(x):
            if validation_split:
                raise NNGuruError("validation_split needs arrays x and y; with a generator, pass "
                                  "validation_data=(x_val, y_val) or a validation generator.")
            if class_weight is not None or sample_weight is not None:
                raise NNGuruError("With a generator, yield (x, y, sample_weight) batches instead of passing "
                                  "class_weight or sample_weight.")
            train: loop.TensorData | BatchStream = self._stream(x, steps_per_epoch, "the training generator")
            train.first()  # builds the model from the first batch
            self._finish_compile()
        else:
            if x is None or y is None:
                raise NNGuruError("fit(x, y) needs both inputs x and targets y (or x as a generator of "
                                  "(x, y) batches).")
            x_arr = self._x_array(x)
            y_arr = self._y_array(y)
            if len(x_arr) == 0:
                raise NNGuruError("Input x is empty (0 samples); fit needs at least one sample.")
            if len(y_arr) != len(x_arr):
                raise NNGuruError(
                    f"Found input variables with inconsistent numbers of samples: x has {len(x_arr)}, "
                    f"y has {len(y_arr)}. Pass one target per sample."
                )
            self._prepare(x_arr)
            train = None
        if self.optimizer is None:
            raise NNGuruError(
                f"Model {self.name!r} has no trainable weights: every layer is frozen (trainable=False), "
                "so fit() has nothing to train. Set trainable = True on the layers to train, or use "
                "evaluate()/predict() only."
            )
        val = None
        if validation_data is not None and is_batch_source(validation_data):
            val = self._stream(validation_data, validation_steps, "the validation generator")
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise NNGuruError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, w_val), "
                                  "or a generator of such batches.")
            xv = self._x_array(validation_data[0], "x_val")
            yv = self._y_array(validation_data[1])
            wv = to_numpy(validation_data[2], "w_val") if len(validation_data) == 3 else None
            val = self._tensors(xv, yv, wv, "_val")
        if train is None:
            w_arr = self._sample_weights(y_arr, class_weight, sample_weight)
            if validation_split and val is None:
                if not 0.0 < validation_split < 1.0:
                    raise NNGuruError(f"validation_split must be in (0, 1); received {validation_split!r}.")
                cut = len(x_arr) - max(1, int(len(x_arr) * validation_split))  # Keras: the last rows
                val = self._tensors(x_arr[cut:], y_arr[cut:], None if w_arr is None else w_arr[cut:], "_val")
                x_arr, y_arr = x_arr[:cut], y_arr[:cut]
                w_arr = None if w_arr is None else w_arr[:cut]
            train = self._tensors(x_arr, y_arr, w_arr, "")
        seed = None
        if resume_from is not None:
            from nnguru.training.checkpoint import load_checkpoint

            meta = load_checkpoint(resume_from, self, self.optimizer)
            initial_epoch, seed = int(meta["epoch"]), meta["extra"].get("shuffle_seed")
        batch_size = batch_size or getattr(self.optimizer, "preferred_batch_size", None) or DEFAULT_BATCH
        from nnguru.training.progress import resolve_verbose

        callbacks = list(callbacks or [])
        if self._schedule is not None:
            callbacks.insert(0, self._schedule)  # sets each step's learning rate before the step
        self.history = loop.fit(
            self, train, val, epochs=epochs, batch_size=int(batch_size), shuffle=shuffle,
            callbacks=callbacks, verbose=resolve_verbose(verbose), initial_epoch=initial_epoch, seed=seed,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
        )
        self.history.model = self
        return self.history

    # One update from one batch, (x, y, w) -> (loss, outputs). Override it for custom training (the
    # one escape hatch) and fit calls yours; otherwise fit runs the step that training/step.py
    # chooses, which equals this default (the plain autograd update).
    train_step = plain_train_step

    def _fit_stream(self, split, validation_data, *, batch_size, epochs, verbose, callbacks, shuffle,
                    class_weight) -> History:
        """``fit`` on a streamed split: each torchrun rank reads its shard of the chunks."""
        from nnguru.training.progress import resolve_verbose

        if not self.built:
            self.build(split.input_shape)
        self._finish_compile()
        if getattr(self.optimizer, "full_batch", False):
            raise NNGuruError(f"The optimizer {type(self.optimizer).__name__} takes the whole training split as "
                              "one batch, which a streamed table cannot give. Use adam, sgd or another "
                              "mini-batch optimizer with --stream.")
        rank, world = loop.rank_and_world()
        seed = int(torch.randint(0, 2**62, (1,)).item())
        batch_size = int(batch_size or getattr(self.optimizer, "preferred_batch_size", None) or DEFAULT_BATCH)

        def targets(y: np.ndarray) -> torch.Tensor:
            return self.loss.prepare_targets(y, self.output_shape[-1])

        train = split.batches(batch_size, device=self.device, shuffle=shuffle, seed=seed,
                              class_weight=class_weight, rank=rank, world=world, targets=targets)
        val = None
        if validation_data is not None and len(validation_data[0]):
            val = validation_data[0].batches(loop.EVAL_BATCH, device=self.device, shuffle=False, targets=targets)
        self.history = loop.fit(self, train, val, epochs=epochs, batch_size=batch_size,
                                callbacks=list(callbacks or []), verbose=resolve_verbose(verbose))
        self.history.model = self
        return self.history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: int | str = 0, sample_weight: Any = None, steps: int | None = None,
                 return_dict: bool = False, callbacks: list | None = None):
        """Loss and metrics: a scalar without metrics, else ``[loss, *metrics]`` (Keras's shape).

        ``x`` may be a generator of ``(x, y[, w])`` batches (``steps`` of them at most).
        """
        self._require_compiled("evaluate")
        if y is None and is_batch_source(x):
            data: loop.TensorData | BatchStream = self._stream(x, steps, "the evaluation generator")
            data.first()
            self._finish_compile()
            logs = loop.evaluate(self, data)
        else:
            x_arr = self._x_array(x)
            y_arr = self._y_array(y)
            self._prepare(x_arr)
            w = None if sample_weight is None else to_numpy(sample_weight, "sample_weight")
            bs = batch_size or (DEFAULT_BATCH if steps is not None else loop.EVAL_BATCH)
            logs = loop.evaluate(self, self._tensors(x_arr, y_arr, w, ""), bs, steps=steps)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @property
    def metrics_names(self) -> list[str]:
        """``['loss', *metric names]``: the order of ``evaluate``'s list (Keras's attribute)."""
        if self._compile_args is None:
            return []
        if self.compiled_metrics:
            return ["loss", *(m.name for m in self.compiled_metrics)]
        return ["loss", *(m if isinstance(m, str) else getattr(m, "name", type(m).__name__.lower())
                          for m in self._compile_args["metrics"])]

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False):
        """One update on one batch; returns the batch's loss, or ``[loss, *metrics]`` (Keras)."""
        self._require_compiled("train_on_batch")
        x_arr = self._x_array(x)
        y_arr = self._y_array(y)
        self._prepare(x_arr)
        if self.optimizer is None:
            raise NNGuruError(f"Model {self.name!r} has no trainable weights; train_on_batch has nothing to train.")
        data = self._tensors(x_arr, y_arr, self._sample_weights(y_arr, class_weight, sample_weight), "")
        from nnguru.training.step import choose_step

        self.train()
        with self.loss_outputs():
            if self._schedule is not None:
                self._schedule.on_train_batch_begin(0)
            step = choose_step(self, self.optimizer, self.loss, data.x, data.w)
            loss, out = step.run(data.x, data.y, data.w)
        for m in self.compiled_metrics:
            m.reset()
            m.update(out, data.y)
        return self._batch_result(float(loss), return_dict)

    def _batch_result(self, loss: float, return_dict: bool):
        logs = {"loss": loss, **{m.name: m.result() for m in self.compiled_metrics}}
        if return_dict:
            return logs
        return loss if len(logs) == 1 else list(logs.values())

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False):
        """Loss (and metrics) of one batch, without updating; Keras's shape."""
        return self.evaluate(x, y, batch_size=len(self._x_array(x)), sample_weight=sample_weight,
                             return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """``predict`` on one batch (Keras's name)."""
        return self.predict(x)

    def __call__(self, *args, **kwargs):
        """``model(x)`` as in Keras. On a symbolic tensor (the functional API) the model is a layer of
        the graph. NumPy arrays and lists become tensors on the model's device, and the result comes
        back detached (Keras's ``model(x).numpy()`` works): an input that is no tensor cannot be part
        of a torch autograd graph, so nothing is lost."""
        if args and not isinstance(args[0], torch.Tensor):
            from nnguru.nn.functional import call_on_non_tensor

            out = call_on_non_tensor(self, args, kwargs)
            if out is not NotImplemented:
                return out
            x = args[0]
            if not (isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor)):
                arr = self._x_array(x)
                if not self.built:
                    self.build(arr.shape[1:])
                with torch.no_grad():
                    return super().__call__(torch.as_tensor(arr, device=self.device), *args[1:], **kwargs)
        return super().__call__(*args, **kwargs)

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0,
                steps: int | None = None, callbacks: list | None = None) -> np.ndarray:
        """What the last layer computes, as NumPy: probabilities for a softmax/sigmoid layer, raw
        scores for a linear one (Keras's semantics; the loss never changes them).

        With an attached preprocessor that maps outputs back to the data's units (forecasting's
        windows), raw data gives those: the forecasts from the end of each series.
        """
        if is_batch_source(x):
            return self._predict_stream(x, steps)
        x_arr = self._x_array(x)
        if not self.built:
            self.build(x_arr.shape[1:])  # outside inference mode, so fit can still train the weights
        with torch.inference_mode(), self.full_outputs():
            return self._predict_built(x, x_arr, batch_size)

    def _predict_built(self, x: Any, x_arr: np.ndarray, batch_size: int | None) -> np.ndarray:
        was_training = self.training
        self.eval()
        act = activations.get(self.output_activation)[1]
        bs = batch_size or loop.EVAL_BATCH
        outs = []
        for start in range(0, len(x_arr), bs):
            xb = torch.as_tensor(x_arr[start:start + bs]).to(self.device)
            out = self(xb)  # float32, never autocast: a reloaded model (on any device) predicts the same
            outs.append(act(out.float()).cpu())
        self.train(was_training)
        if not outs:
            return np.zeros((0, *(self.output_shape or ())), dtype=np.float32)
        result = torch.cat(outs).numpy()
        post = getattr(self.preprocessor, "postprocess", None)
        return result if post is None else post(x, result)

    def _predict_stream(self, source: Any, steps: int | None) -> np.ndarray:
        """``predict`` over a generator of ``x`` batches (or ``(x, ...)`` tuples, whose x is used)."""
        outs = []
        for i, item in enumerate(source):
            if steps is not None and i >= steps:
                break
            xb = item[0] if isinstance(item, (tuple, list)) and len(item) in (2, 3) else item
            outs.append(self.predict(xb))
        if not outs:
            raise NNGuruError("predict received a generator that yielded no batches.")
        return np.concatenate(outs)

    def find_lr(self, x: Any, y: Any, **kwargs):
        """Learning-rate range test (Smith 2017); weights are restored afterwards."""
        self._require_compiled("find_lr")
        x_arr = self._x_array(x)
        self._prepare(x_arr)
        data = self._tensors(x_arr, self._y_array(y), None, "")
        from nnguru.guru.lr_finder import find_lr

        with self.loss_outputs():  # the steps read logits, as in fit
            return find_lr(self, self.loss, data.x, data.y, **kwargs)

    # ---- introspection and persistence -----------------------------------------------------
    @property
    def losses(self) -> list[torch.Tensor]:
        """Keras's ``model.losses``: the layers' regularization penalties (``kernel_regularizer=``, ...)
        on the current weights, one tensor per regularized layer; ``sum(model.losses)`` is what fit adds."""
        return [p for m in self.modules() if isinstance(m, Layer) and (p := m.penalty()) is not None]

    def count_params(self) -> int:
        """Keras's count: every weight, trainable or not (BatchNormalization's moving statistics too)."""
        return weight_count(self)

    @property
    def weights(self) -> list[torch.Tensor]:
        """Keras's ``model.weights``: each layer's weights in order (Keras's layout for nnguru layers)."""
        out = []
        for layer in self._layer_list():
            if isinstance(layer, Layer | Model):
                out += layer.weights
            else:
                out += [t.detach() for t in layer.state_dict().values()]
        return out

    def get_weights(self) -> list[np.ndarray]:
        return [v.detach().cpu().numpy().copy() for v in self.state_dict().values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        state = self.state_dict()
        if len(weights) != len(state):
            raise NNGuruError(f"set_weights got {len(weights)} arrays; the model has {len(state)}.")
        new = {}
        for (k, v), w in zip(state.items(), weights, strict=True):
            if tuple(w.shape) != tuple(v.shape):
                raise NNGuruError(f"set_weights: {k} needs shape {tuple(v.shape)}; received {w.shape}.")
            new[k] = torch.as_tensor(w, dtype=v.dtype)
        self.load_state_dict(new)

    def summary_rows(self) -> list[tuple[str, str, int]]:
        """(layer, output shape, parameters) rows; a wrapped module lists its children."""
        children = self.module.named_children() if self.module is not None else self.named_children()
        return [(f"{name} ({type(m).__name__})", "?", weight_count(m))
                for name, m in children]

    def summary(self, print_fn=print) -> str:
        """Keras-like table of layers, output shapes and parameter counts.

        An unbuilt model without weights says so (as Keras does) instead of a table of zeros.
        """
        if not self.built and next(self.parameters(), None) is None:
            text = (f'Model: "{self.name}"\nThis model has not been built yet, so it has no weights to count. '
                    "Call build(input_shape), give the first layer input_shape=... (or start with an Input "
                    "layer), or call fit() or predict() first.")
            if print_fn is not None:
                print_fn(text)
            return text
        rows = self.summary_rows()
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        total = self.count_params()
        w1 = max([len("Layer (type)"), *(len(r[0]) for r in rows)]) + 2
        w2 = max([len("Output Shape"), *(len(r[1]) for r in rows)]) + 2
        line = "─" * (w1 + w2 + 12)
        out = [f'Model: "{self.name}"', line, f"{'Layer (type)':<{w1}}{'Output Shape':<{w2}}{'Param #':>10}", line]
        out += [f"{a:<{w1}}{b:<{w2}}{c:>10,}" for a, b, c in rows]
        out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", line]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def export(self, path: str | Path, format: str = "onnx") -> dict:
        """Write the model as ONNX (or ``format="pt2"``, a ``torch.export`` program) with its output
        activation and a dynamic batch axis, checked in onnxruntime; see :mod:`nnguru.export`."""
        from nnguru.export import export_model

        return export_model(self, path, format)

    def save(self, path: str) -> None:
        """Write a model directory: safetensors weights + JSON (never pickle).

        Keras's names work (``model.save("m.keras")``): the folder then carries that name.
        """
        save_model(self, path)

    def save_weights(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Write the weights as one safetensors file at ``filepath``, whatever its name.

        Keras 3 asks for ``*.weights.h5`` and Keras 2 took checkpoint prefixes; nnguru accepts
        those names (and ``*.safetensors``) but always writes safetensors, never HDF5 or pickle.
        """
        from safetensors.torch import save_file

        from nnguru.training.checkpoint import atomic_write, host_copy

        path = Path(filepath)
        if path.is_dir():
            raise NNGuruError(f"save_weights({str(filepath)!r}): that is a folder; give a file name such as "
                              "'model.weights.h5' or 'model.safetensors'.")
        if path.exists() and not overwrite:
            raise NNGuruError(f"save_weights: {str(filepath)!r} exists and overwrite=False.")
        if not self.built and next(self.parameters(), None) is None:
            raise NNGuruError("save_weights: the model has no weights yet; build it (fit, predict or "
                              "build(input_shape)) first.")
        tensors = {k: host_copy(v) for k, v in self.state_dict().items()}
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": WEIGHTS_FORMAT}))

    def load_weights(self, filepath: str | Path) -> None:
        """Load weights written by ``save_weights``, a ``ModelCheckpoint`` file or a model folder."""
        if not self.built and next(self.parameters(), None) is None:
            raise NNGuruError("load_weights: build the model first (give the first layer input_shape=..., "
                              "call build(input_shape) or predict on one sample), so its weights exist.")
        state = read_model_tensors(filepath)
        own = self.state_dict()
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        bad = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
               if k in state and tuple(state[k].shape) != tuple(v.shape)]
        if missing or extra or bad:
            raise NNGuruError(
                f"The weights in {str(filepath)!r} do not fit this model (missing {missing[:3]}, unexpected "
                f"{extra[:3]}, wrong shape (file vs model) {bad[:3]}). Build the same architecture that saved them."
            )
        self.load_state_dict({k: v.to(own[k].device) for k, v in state.items()})

    def _layer_list(self) -> list[nn.Module]:
        """The layers ``get_layer`` indexes: a Sequential's (no Input, as in Keras 3), else the
        wrapped module's children."""
        layers = getattr(self, "layers", None)
        if isinstance(layers, nn.ModuleList):
            return [layer for layer in layers if not isinstance(layer, Input)]
        root = self.module if self.module is not None else self
        return list(root.children())

    def get_layer(self, name: str | None = None, index: int | None = None) -> nn.Module:
        """A layer by Keras name (``"dense_1"``) or by position (``index``; Input layers not counted)."""
        layers = self._layer_list()
        if (name is None) == (index is None):
            raise NNGuruError("get_layer needs exactly one of name=... or index=...; received "
                              f"name={name!r}, index={index!r}.")
        if index is not None:
            if not isinstance(index, int) or not -len(layers) <= index < len(layers):
                raise NNGuruError(f"get_layer(index={index!r}): the model has {len(layers)} layers "
                                  f"(indices 0..{len(layers) - 1}).")
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name or getattr(layer, "layer_name", None) == name:
                return layer
        names = [getattr(layer, "name", type(layer).__name__) for layer in layers]
        raise NNGuruError(f"No such layer: {name!r}. Existing layers are: {names}.")

    @property
    def inputs(self) -> list[tuple]:
        """``[(None, *input_shape)]`` (Keras's symbolic inputs, as shapes)."""
        return [(None, *self.input_shape)] if self.input_shape is not None else []

    @property
    def outputs(self) -> list[tuple]:
        return [(None, *self.output_shape)] if self.output_shape is not None else []

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            hint = UNSUPPORTED_MODEL_ATTRIBUTES.get(name)
            if hint is None:
                raise
            from nnguru.keras_names import UnsupportedKerasName

            raise UnsupportedKerasName(f"Model.{name} is a Keras model attribute that nnguru does not support; "
                                       f"{hint}") from None

    def get_config(self) -> dict:
        raise NNGuruError(
            f"{type(self).__name__} wraps an arbitrary torch module, whose architecture cannot be "
            "stored as JSON. Save its weights with torch/safetensors, or build the model with "
            "nnguru.Sequential and nnguru.layers to get a loadable model file."
        )

