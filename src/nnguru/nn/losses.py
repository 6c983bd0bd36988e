"""Loss registry, with Keras's classes, names and ``from_logits`` semantics.

A classification loss reads either probabilities (``from_logits=False``, Keras's default: the
last layer is a softmax/sigmoid) or logits. Computing it on probabilities is slow and numerically
fragile, so when the last layer's activation is the loss's own, ``Model.compile`` lets the loop
skip that activation while it computes the loss (``Model.loss_outputs``) and the loss takes the
fused form (``cross_entropy`` on logits, ``binary_cross_entropy_with_logits``); ``model(x)`` and
``predict`` still return the probabilities. ``Loss.logits`` records which form compile chose.
When nothing can be fused (a wrapped torch module), probabilities are clipped to
``[EPSILON, 1 - EPSILON]`` as Keras does. Each loss also validates and converts targets before
training starts.
"""

from __future__ import annotations

import abc

import numpy as np
import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]
REDUCTIONS = ("sum_over_batch_size", "auto")  # Keras's default; the mean over the batch


class Loss(abc.ABC):
    """``loss(outputs, y, w) -> scalar``: mean over the batch, optional per-sample weights ``w``."""

    name: str = "loss"
    output_activation: str | None = None  # the activation whose logits the loss can read instead
    classes: bool = False  # targets are classes (class indices or one-hot), outputs their scores
    from_logits: bool = False  # what the user declared (Keras's argument)
    logits: bool = False  # what the loss receives while training: set by Model.compile

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None) -> None:
        if reduction not in REDUCTIONS:
            raise NNGuruError(
                f"{type(self).__name__}(reduction=...) supports {' or '.join(map(repr, REDUCTIONS))} (the mean "
                f"over the batch, as Keras's default); received {describe(reduction)}. Reduce the "
                "per-sample values yourself with a custom loss function for other reductions."
            )
        if name is not None:
            self.name = str(name)

    @abc.abstractmethod
    def elementwise(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape (N,)."""

    def compute(self, outputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """The mean loss of a batch: model ``outputs`` (what compile chose: see ``logits``), targets
        ``y`` as ``prepare_targets`` made them, optional per-sample weights ``w``. The training loop,
        the steps and the optimizers call this; ``loss(y_true, y_pred)`` is Keras's public form."""
        per_sample = self.elementwise(outputs, y)
        if per_sample.dim() > 1:  # outputs with more axes (an autoencoder's images): Keras means over them
            per_sample = per_sample.reshape(per_sample.shape[0], -1).mean(dim=1)
        if w is None:
            return per_sample.mean()
        return (per_sample * w).sum() / per_sample.shape[0]  # Keras's sum_over_batch_size

    def __call__(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        """Keras's ``loss_fn(y_true, y_pred, sample_weight=None)``: targets first, then predictions
        (arrays or tensors) read as the loss's ``from_logits`` declares; returns a scalar tensor."""
        pred = y_pred if isinstance(y_pred, torch.Tensor) else torch.as_tensor(np.asarray(y_pred, dtype=np.float32))
        pred = pred.float()
        if pred.dim() == 1:
            pred = pred[:, None]
        true = y_true.detach().cpu().numpy() if isinstance(y_true, torch.Tensor) else np.asarray(y_true)
        y = self.prepare_targets(true, pred.shape[-1]).to(pred.device)
        w = None if sample_weight is None else torch.as_tensor(np.asarray(sample_weight, dtype=np.float32),
                                                               device=pred.device).reshape(-1)
        compiled = self.logits
        self.logits = self.from_logits  # what the caller declared, whatever compile chose for training
        try:
            return self.compute(pred, y, w)
        finally:
            self.logits = compiled

    @abc.abstractmethod
    def prepare_targets(self, y: np.ndarray, n_outputs: int) -> torch.Tensor:
        """Check targets against the model's output width and convert them to a tensor."""

    def get_config(self) -> dict:
        return {"name": type(self).name}  # the registry's name, whatever the instance is called


def _check_finite(y: np.ndarray, what: str = "y") -> None:
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise NNGuruError(
            f"Targets {what} contain {bad} NaN/inf values. Drop or fill those rows before training."
        )


def _numeric(y: np.ndarray, loss: str) -> np.ndarray:
    if y.dtype.kind not in "biuf":
        raise NNGuruError(
            f"{loss} needs numeric targets; received dtype {y.dtype} (e.g. {describe(y.flat[0])}). "
            "Encode labels as integers 0..K-1 (nnguru.train does this for you)."
        )
    return y


def _log_probabilities(p: torch.Tensor) -> torch.Tensor:
    """Keras's cross-entropy on probabilities: rescale rows to sum 1, clip, log."""
    return (p / p.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON).log()


class _Probabilistic(Loss):
    """A loss on class probabilities or, with ``from_logits=True``, on logits."""

    classes = True

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = self.logits = bool(from_logits)

    def get_config(self) -> dict:
        return {**super().get_config(), **({"from_logits": True} if self.from_logits else {})}


class SparseCategoricalCrossentropy(_Probabilistic):
    """Integer class labels ``0..K-1`` against K probabilities (or logits).

    ``label_smoothing=e`` (an nnguru extension; Keras has it on ``CategoricalCrossentropy``) scores
    against ``(1 - e) * one_hot + e / K``, as ``torch.nn.functional.cross_entropy`` does: the model
    stops pushing logits apart once it is confident, which regularizes small tables.
    """

    name = "sparse_categorical_crossentropy"
    output_activation = "softmax"

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__(from_logits=from_logits, reduction=reduction, name=name)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise NNGuruError(f"label_smoothing must be in [0, 1); received {label_smoothing!r}. "
                              "Use e.g. 0.1, or 0 for none.")
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> dict:
        config = super().get_config()
        return {**config, "label_smoothing": self.label_smoothing} if self.label_smoothing else config

    def elementwise(self, outputs, y):
        e = self.label_smoothing
        if self.logits:
            return F.cross_entropy(outputs, y, reduction="none", label_smoothing=e)
        logp = _log_probabilities(outputs)
        nll = F.nll_loss(logp, y, reduction="none")
        return nll if not e else (1 - e) * nll - e * logp.mean(dim=-1)

    def compute(self, outputs, y, w=None):
        if w is None and self.logits:  # fast path: one fused kernel
            return F.cross_entropy(outputs, y, label_smoothing=self.label_smoothing)
        return super().compute(outputs, y, w)

    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            hint = (" They look one-hot encoded: use loss='categorical_crossentropy', or pass "
                    "y.argmax(axis=1).") if y.ndim == 2 and y.shape[1] == n_outputs else ""
            raise NNGuruError(
                f"sparse_categorical_crossentropy expects one integer label per sample (shape (N,)); "
                f"received y of shape {y.shape}.{hint}"
            )
        _check_finite(y)
        if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
            raise NNGuruError(
                "sparse_categorical_crossentropy expects integer class labels; received fractional "
                f"values such as {y[np.mod(y, 1) != 0][0]!r}. For regression use loss='mse'."
            )
        if len(y) and (y.min() < 0 or y.max() >= n_outputs):
            raise NNGuruError(
                f"Labels must be in 0..{n_outputs - 1} for a model with {n_outputs} output units; "
                f"received labels from {int(y.min())} to {int(y.max())}. Make the last layer "
                f"Dense({int(y.max()) + 1}) or re-encode the labels."
            )
        return torch.as_tensor(y.astype(np.int64))


class CategoricalCrossentropy(_Probabilistic):
    """One-hot (or probability) targets of width K against K probabilities (or logits)."""

    name = "categorical_crossentropy"
    output_activation = "softmax"

    def elementwise(self, outputs, y):
        if self.logits:
            return F.cross_entropy(outputs, y, reduction="none")
        return -(y * _log_probabilities(outputs)).sum(dim=-1)

    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            hint = (" They look like integer labels: use loss='sparse_categorical_crossentropy'."
                    if y.ndim == 1 else "")
            raise NNGuruError(
                f"categorical_crossentropy expects one-hot targets of shape (N, {n_outputs}); "
                f"received shape {y.shape}.{hint}"
            )
        _check_finite(y)
        return torch.as_tensor(y.astype(np.float32))


class BinaryCrossentropy(_Probabilistic):
    """0/1 targets against one probability (or logit) per output (binary or multi-label)."""

    name = "binary_crossentropy"
    output_activation = "sigmoid"

    def elementwise(self, outputs, y):
        if self.logits:
            return F.binary_cross_entropy_with_logits(outputs, y, reduction="none").mean(dim=-1)
        return F.binary_cross_entropy(outputs.clamp(EPSILON, 1 - EPSILON), y, reduction="none").mean(dim=-1)

    def compute(self, outputs, y, w=None):
        if w is None and self.logits:
            return F.binary_cross_entropy_with_logits(outputs, y)
        return super().compute(outputs, y, w)

    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape[-1] != n_outputs:  # more axes are fine (per-pixel targets of an autoencoder)
            raise NNGuruError(
                f"binary_crossentropy expects targets of shape (N, {n_outputs}) with values in [0, 1]; "
                f"received shape {y.shape}. For K classes use sparse_categorical_crossentropy."
            )
        _check_finite(y)
        if len(y) and (y.min() < 0 or y.max() > 1):
            raise NNGuruError(
                f"binary_crossentropy expects targets in [0, 1]; received values from {y.min()} to "
                f"{y.max()}. Encode the two classes as 0 and 1."
            )
        return torch.as_tensor(y.astype(np.float32))


class _Regression(Loss):
    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name).astype(np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim == 2 or y.shape[-1] != n_outputs:  # keep the axes of image-shaped targets
            y = y.reshape(len(y), -1)
        if y.shape[-1] != n_outputs:
            raise NNGuruError(
                f"{self.name} expects targets with {n_outputs} value(s) per sample (the model's "
                f"output width); received shape {y.shape}."
            )
        _check_finite(y)
        return torch.as_tensor(y)


class MeanSquaredError(_Regression):
    name = "mse"

    def elementwise(self, outputs, y):
        return (outputs - y).square().mean(dim=-1)

    def compute(self, outputs, y, w=None):
        return F.mse_loss(outputs, y) if w is None else super().compute(outputs, y, w)


class MeanAbsoluteError(_Regression):
    name = "mae"

    def elementwise(self, outputs, y):
        return (outputs - y).abs().mean(dim=-1)


class Huber(_Regression):
    name = "huber"

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.delta = float(delta)

    def elementwise(self, outputs, y):
        return F.huber_loss(outputs, y, reduction="none", delta=self.delta).mean(dim=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "delta": self.delta}


class Custom(Loss):
    """A Keras-style loss function ``fn(y_true, y_pred) -> per-sample (or scalar) loss``.

    Targets are passed as float tensors of the outputs' shape (class labels as they are); the
    outputs are what the model returns (nothing is fused), so the function sees what it would in Keras.
    """

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def elementwise(self, outputs, y):
        value = self.fn(y, outputs)
        if not isinstance(value, torch.Tensor):
            raise NNGuruError(f"The loss function {self.name!r} returned {describe(value)}; it must return a "
                              "torch tensor computed from y_pred with torch operations (so it can be differentiated).")
        return value.reshape(len(outputs), -1).mean(dim=1) if value.dim() else value.expand(len(outputs))

    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name)
        _check_finite(y)
        return torch.as_tensor(y.astype(np.float32) if y.dtype.kind == "f" or y.dtype == bool else y)

    def get_config(self) -> dict:
        raise NNGuruError(f"The custom loss function {self.name!r} cannot be stored in a model file; save the "
                          "weights (model.save_weights) and compile again after loading.")


LOSSES: dict[str, type[Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
}


def register(name: str, cls: type[Loss]) -> None:
    LOSSES[name] = cls


def get(spec: str | Loss | dict) -> Loss:
    """Resolve a loss name, config dict, instance, Keras loss function (``nnguru.losses.mse``) or
    your own function ``fn(y_true, y_pred)``."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()  # loss=SparseCategoricalCrossentropy, the class itself (Keras accepts it too)
    registered = getattr(spec, "nnguru_loss", None)  # nnguru.losses.sparse_categorical_crossentropy, ...
    if isinstance(registered, str) and registered in LOSSES:
        return LOSSES[registered]()
    if callable(spec) and not isinstance(spec, (str, dict)):
        return Custom(spec)
    if isinstance(spec, dict):
        options = dict(spec)
        name = str(options.pop("name", "")).lower()
        if name not in LOSSES:
            raise NNGuruError(f"Unknown loss {name!r}. Valid names: {', '.join(sorted(LOSSES))}.")
        return LOSSES[name](**options)
    if isinstance(spec, str) and spec.lower() in LOSSES:
        return LOSSES[spec.lower()]()
    raise NNGuruError(
        f"Unknown loss {spec!r}. Valid names: {', '.join(sorted(LOSSES))}."
    )
