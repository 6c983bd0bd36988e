"""Loss registry. Every loss works on the model's raw outputs (logits for classification).

Keras models end in ``softmax``/``sigmoid``; computing the loss on probabilities is slow and
numerically fragile, so ``Model.compile`` splits that activation off and the loss applies the
fused form (``cross_entropy`` on logits, ``binary_cross_entropy_with_logits``). Each loss also
validates and converts targets before training starts.
"""

from __future__ import annotations

import abc

import numpy as np
import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe


class Loss(abc.ABC):
    """``loss(outputs, y, w) -> scalar``: mean over the batch, optional per-sample weights ``w``."""

    name: str = "loss"
    output_activation: str | None = None  # activation fused into the loss (split off the model)
    classes: bool = False  # targets are classes (class indices or one-hot), outputs their scores

    @abc.abstractmethod
    def elementwise(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample loss, shape (N,)."""

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        per_sample = self.elementwise(outputs, y)
        if w is None:
            return per_sample.mean()
        return (per_sample * w).sum() / per_sample.shape[0]  # Keras's sum_over_batch_size

    @abc.abstractmethod
    def prepare_targets(self, y: np.ndarray, n_outputs: int) -> torch.Tensor:
        """Check targets against the model's output width and convert them to a tensor."""

    def get_config(self) -> dict:
        return {"name": self.name}


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


class SparseCategoricalCrossentropy(Loss):
    """Integer class labels ``0..K-1`` against K logits."""

    name = "sparse_categorical_crossentropy"
    output_activation = "softmax"
    classes = True

    def elementwise(self, outputs, y):
        return F.cross_entropy(outputs, y, reduction="none")

    def __call__(self, outputs, y, w=None):
        if w is None:  # fast path: one fused kernel
            return F.cross_entropy(outputs, y)
        return super().__call__(outputs, y, w)

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


class CategoricalCrossentropy(Loss):
    """One-hot (or probability) targets of width K against K logits."""

    name = "categorical_crossentropy"
    output_activation = "softmax"
    classes = True

    def elementwise(self, outputs, y):
        return F.cross_entropy(outputs, y, reduction="none")

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


class BinaryCrossentropy(Loss):
    """0/1 targets against one logit per output (binary or multi-label)."""

    name = "binary_crossentropy"
    output_activation = "sigmoid"
    classes = True

    def elementwise(self, outputs, y):
        return F.binary_cross_entropy_with_logits(outputs, y, reduction="none").mean(dim=-1)

    def __call__(self, outputs, y, w=None):
        if w is None:
            return F.binary_cross_entropy_with_logits(outputs, y)
        return super().__call__(outputs, y, w)

    def prepare_targets(self, y, n_outputs):
        y = _numeric(np.asarray(y), self.name)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape[1] != n_outputs:
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
        y = y.reshape(len(y), -1)
        if y.shape[1] != n_outputs:
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

    def __call__(self, outputs, y, w=None):
        return F.mse_loss(outputs, y) if w is None else super().__call__(outputs, y, w)


class MeanAbsoluteError(_Regression):
    name = "mae"

    def elementwise(self, outputs, y):
        return (outputs - y).abs().mean(dim=-1)


class Huber(_Regression):
    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = float(delta)

    def elementwise(self, outputs, y):
        return F.huber_loss(outputs, y, reduction="none", delta=self.delta).mean(dim=-1)

    def get_config(self) -> dict:
        return {"name": self.name, "delta": self.delta}


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
    """Resolve a loss name, config dict or instance."""
    if isinstance(spec, Loss):
        return spec
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
