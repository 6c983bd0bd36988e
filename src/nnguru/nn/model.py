"""``Model``: Keras's compile / fit / evaluate / predict / summary / save over any ``nn.Module``.

``Model(torch_module)`` trains a plain PyTorch module through the same ``fit``; ``Sequential``
(a subclass) builds Keras-style layers. Inputs are validated before anything trains, with
messages that name the input, the value received and the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nnguru.errors import NNGuruError, describe
from nnguru.nn import activations, losses
from nnguru.nn import metrics as metrics_mod
from nnguru.nn.saving import save_model
from nnguru.training import loop
from nnguru.training.callbacks import Callback, History
from nnguru.training.step import plain_train_step

DEFAULT_BATCH = 32  # Keras's default batch size


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


class Model(nn.Module):
    """A trainable model. Subclass it and define ``forward``, or wrap any ``nn.Module``."""

    def __init__(self, module: nn.Module | None = None, name: str | None = None) -> None:
        super().__init__()
        if module is not None and not isinstance(module, nn.Module):
            raise NNGuruError(f"Model(...) wraps a torch.nn.Module; received {describe(module)}.")
        self.module = module
        self.name = name or type(self).__name__.lower()
        self.optimizer: Any = None
        self.loss: losses.Loss | None = None
        self.compiled_metrics: list[metrics_mod.Metric] = []
        self.output_activation = "linear"
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
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[str] | None = None,
                **optimizer_options) -> None:
        """Choose optimizer (name, dict or object), loss and metrics, as in Keras."""
        if loss is None:
            raise NNGuruError(
                "compile() needs a loss, e.g. loss='sparse_categorical_crossentropy' for integer "
                f"class labels or loss='mse' for regression. Valid names: {', '.join(sorted(losses.LOSSES))}."
            )
        if isinstance(metrics, str):
            metrics = [metrics]
        self.loss = losses.get(loss)
        self._compile_args = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or []),
                              "optimizer_options": optimizer_options}
        from nnguru import optim

        # Resolve the optimizer now on a throwaway parameter: a typo fails here, not mid-fit.
        optim.get(optimizer, nn.Linear(1, 1), **optimizer_options)
        self._fuse_output_activation()
        self.optimizer = None
        if self.built:
            self._finish_compile()

    def _last_activation_layer(self):
        return None  # Sequential knows its layers; a wrapped module's outputs are taken as logits

    def _fuse_output_activation(self) -> None:
        """Split a final softmax/sigmoid off the model when the loss applies it on logits."""
        layer = self._last_activation_layer()
        if layer is None:
            self.output_activation = self.loss.output_activation or "linear"
            return
        layer.skip_activation = False
        if self.loss.output_activation and layer.activation_name in ("softmax", "sigmoid", "linear"):
            layer.skip_activation = True
            self.output_activation = (
                self.loss.output_activation if layer.activation_name == "linear" else layer.activation_name
            )
        else:
            self.output_activation = "linear"

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
        n_out = self.output_shape[-1] if self.output_shape else 1
        self.compiled_metrics = [metrics_mod.get(m, self.loss, n_out) for m in args["metrics"]]

    def _require_compiled(self, what: str) -> None:
        if self._compile_args is None:
            raise NNGuruError(f"Call model.compile(optimizer=..., loss=..., metrics=...) before {what}().")

    # ---- data ------------------------------------------------------------------------------
    def _x_array(self, x: Any, name: str = "x") -> np.ndarray:
        """Model-ready float32 inputs; raw rows/files/arrays go through the attached preprocessor."""
        if self.preprocessor is not None:
            x = self.preprocessor.transform(x)
        arr = to_numpy(x, name)
        if arr.ndim == 0:
            raise NNGuruError(f"Input {name} must have a batch axis; received a scalar {describe(x)}.")
        integer_input = arr.dtype.kind in "iub" and self._takes_integer_input()
        if not integer_input and arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        check_finite(arr, name)
        if self.built and tuple(arr.shape[1:]) != self.input_shape:
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

    def _tensors(self, x: np.ndarray, y: np.ndarray | None, w: np.ndarray | None, name: str) -> loop.TensorData:
        if y is not None and len(y) != len(x):
            raise NNGuruError(
                f"Found input variables with inconsistent numbers of samples: x has {len(x)}, "
                f"y{name} has {len(y)}. Pass one target per sample."
            )
        dev = self.device
        yt = self.loss.prepare_targets(y, self.output_shape[-1]) if y is not None else None
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
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: list[Callback] | None = None,
            validation_split: float = 0.0, validation_data: tuple | None = None, shuffle: bool = True,
            class_weight: dict | None = None, sample_weight: Any = None, initial_epoch: int = 0,
            validation_batch_size: int | None = None, resume_from: str | None = None) -> History:
        """Train for ``epochs``; returns ``History`` (``history.history[key]`` per epoch, Keras keys)."""
        self._require_compiled("fit")
        if not isinstance(epochs, int) or epochs < 1:
            raise NNGuruError(f"epochs must be a positive int; received {describe(epochs)}.")
        if hasattr(x, "batches"):  # a table streamed in chunks (nnguru.data.stream.TableSplit)
            return self._fit_stream(x, validation_data, batch_size=batch_size, epochs=epochs, verbose=verbose,
                                    callbacks=callbacks, shuffle=shuffle, class_weight=class_weight)
        if x is None or y is None:
            raise NNGuruError("fit(x, y) needs both inputs x and targets y.")
        x_arr = self._x_array(x)
        y_arr = self._y_array(y)
        if len(x_arr) == 0:
            raise NNGuruError("Input x is empty (0 samples); fit needs at least one sample.")
        if len(y_arr) != len(x_arr):
            raise NNGuruError(
                f"Found input variables with inconsistent numbers of samples: x has {len(x_arr)}, "
                f"y has {len(y_arr)}. Pass one target per sample."
            )
        if not self.built:
            self.build(x_arr.shape[1:])
        self._finish_compile()
        if self.optimizer is None:
            raise NNGuruError(
                f"Model {self.name!r} has no trainable weights: every layer is frozen (trainable=False), "
                "so fit() has nothing to train. Set trainable = True on the layers to train, or use "
                "evaluate()/predict() only."
            )
        w_arr = self._sample_weights(y_arr, class_weight, sample_weight)

        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise NNGuruError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, w_val).")
            xv = self._x_array(validation_data[0], "x_val")
            yv = self._y_array(validation_data[1])
            wv = to_numpy(validation_data[2], "w_val") if len(validation_data) == 3 else None
            val = self._tensors(xv, yv, wv, "_val")
        elif validation_split:
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

        self.history = loop.fit(
            self, train, val, epochs=epochs, batch_size=int(batch_size), shuffle=shuffle,
            callbacks=list(callbacks or []), verbose=resolve_verbose(verbose), initial_epoch=initial_epoch, seed=seed,
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
                 verbose: int | str = 0, sample_weight: Any = None, return_dict: bool = False):
        """Loss and metrics: a scalar without metrics, else ``[loss, *metrics]`` (Keras's shape)."""
        self._require_compiled("evaluate")
        x_arr = self._x_array(x)
        y_arr = self._y_array(y)
        if not self.built:
            self.build(x_arr.shape[1:])
        self._finish_compile()
        w = None if sample_weight is None else to_numpy(sample_weight, "sample_weight")
        logs = loop.evaluate(self, self._tensors(x_arr, y_arr, w, ""), batch_size or loop.EVAL_BATCH)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0) -> np.ndarray:
        """Outputs as NumPy, with the output activation applied (probabilities for classifiers).

        With an attached preprocessor that maps outputs back to the data's units (forecasting's
        windows), raw data gives those: the forecasts from the end of each series.
        """
        x_arr = self._x_array(x)
        if not self.built:
            self.build(x_arr.shape[1:])  # outside inference mode, so fit can still train the weights
        with torch.inference_mode():
            return self._predict_built(x, x_arr, batch_size)

    def _predict_built(self, x: Any, x_arr: np.ndarray, batch_size: int | None) -> np.ndarray:
        was_training = self.training
        self.eval()
        act = activations.get(self.output_activation)[1]
        bs = batch_size or loop.EVAL_BATCH
        outs = []
        for start in range(0, len(x_arr), bs):
            xb = torch.as_tensor(x_arr[start:start + bs]).to(self.device)
            with self.autocast():
                out = self(xb)
            outs.append(act(out.float()).cpu())
        self.train(was_training)
        if not outs:
            return np.zeros((0, *(self.output_shape or ())), dtype=np.float32)
        result = torch.cat(outs).numpy()
        post = getattr(self.preprocessor, "postprocess", None)
        return result if post is None else post(x, result)

    def find_lr(self, x: Any, y: Any, **kwargs):
        """Learning-rate range test (Smith 2017); weights are restored afterwards."""
        self._require_compiled("find_lr")
        x_arr = self._x_array(x)
        if not self.built:
            self.build(x_arr.shape[1:])
        self._finish_compile()
        data = self._tensors(x_arr, self._y_array(y), None, "")
        from nnguru.guru.lr_finder import find_lr

        return find_lr(self, self.loss, data.x, data.y, **kwargs)

    # ---- introspection and persistence -----------------------------------------------------
    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

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
        return [(f"{name} ({type(m).__name__})", "?", sum(p.numel() for p in m.parameters()))
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
        buffers = sum(b.numel() for m in self.modules() for n, b in m._buffers.items()  # saved state only:
                      if b is not None and n not in m._non_persistent_buffers_set)  # not constants
        w1 = max([len("Layer (type)"), *(len(r[0]) for r in rows)]) + 2
        w2 = max([len("Output Shape"), *(len(r[1]) for r in rows)]) + 2
        line = "─" * (w1 + w2 + 12)
        out = [f'Model: "{self.name}"', line, f"{'Layer (type)':<{w1}}{'Output Shape':<{w2}}{'Param #':>10}", line]
        out += [f"{a:<{w1}}{b:<{w2}}{c:>10,}" for a, b, c in rows]
        out += [line, f"Total params: {total + buffers:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable + buffers:,}", line]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def save(self, path: str) -> None:
        """Write a model directory: safetensors weights + JSON (never pickle)."""
        save_model(self, path)

    def get_config(self) -> dict:
        raise NNGuruError(
            f"{type(self).__name__} wraps an arbitrary torch module, whose architecture cannot be "
            "stored as JSON. Save its weights with torch/safetensors, or build the model with "
            "nnguru.Sequential and nnguru.layers to get a loadable model file."
        )

