"""Streaming metrics, accumulated on the training device, with Keras's names and classes.

Each batch adds to small tensors (counts, a confusion matrix, a score histogram) without a host
sync, so metrics cost almost nothing in the training step; ``result()`` syncs once per epoch.
During ``fit`` a metric sees what the loss sees: logits when ``Model.compile`` fused the last
softmax/sigmoid into the loss (``loss.logits``), else the model's outputs. Thresholds follow
(0.5 on probabilities is 0 on logits), so every metric reports what Keras reports.

A metric is named like its history key: ``metrics=['accuracy']`` logs ``accuracy`` and
``val_accuracy``; ``SparseCategoricalAccuracy()`` logs ``sparse_categorical_accuracy``.
"""

from __future__ import annotations

import abc
import math

import torch

from nnguru.errors import NNGuruError, describe
from nnguru.nn.losses import BinaryCrossentropy, CategoricalCrossentropy, Loss, SparseCategoricalCrossentropy


def _reads_logits(loss: Loss | None) -> bool:
    return bool(getattr(loss, "logits", False))


def _threshold(threshold: float, loss: Loss | None) -> float:
    """A probability threshold on the scale the metric receives (logit(t) for logits)."""
    if not _reads_logits(loss):
        return threshold
    return math.log(threshold / (1 - threshold)) if 0 < threshold < 1 else (math.inf if threshold >= 1 else -math.inf)


def predicted_classes(outputs: torch.Tensor, loss: Loss | None, threshold: float = 0.5) -> torch.Tensor:
    """Class indices: argmax for several outputs, ``p > threshold`` (``logit > logit(t)``) for one."""
    if outputs.dim() == 2 and outputs.shape[-1] == 1:
        return (outputs[:, 0] > _threshold(threshold, loss)).long()
    return outputs.argmax(dim=-1)


def true_classes(y: torch.Tensor, loss: Loss | None) -> torch.Tensor:
    if isinstance(loss, CategoricalCrossentropy):
        return y.argmax(dim=-1)
    if isinstance(loss, BinaryCrossentropy) or (y.is_floating_point() and y.dim() == 2 and y.shape[1] == 1):
        return (y.reshape(len(y), -1)[:, 0] > 0.5).long()
    return y.reshape(-1).long() if y.dim() > 1 and y.shape[-1] == 1 else y


def probabilities(outputs: torch.Tensor, loss: Loss | None) -> torch.Tensor:
    """What the model's last layer gives: the fused activation put back on logits."""
    if not _reads_logits(loss):
        return outputs
    if outputs.dim() == 2 and outputs.shape[-1] > 1 and getattr(loss, "output_activation", None) == "softmax":
        return outputs.softmax(dim=-1)
    return outputs.sigmoid()


class Metric(abc.ABC):
    """Accumulate with ``update(outputs, y)``; read with ``result()``; clear with ``reset()``.

    ``Model.compile`` binds the metric to the loss and output width (``bind``). ``state`` is a
    device tensor (summed over batches without a host sync); ``count`` the number of samples
    seen, a host integer since batch sizes are known on the host. Keras's ``update_state(y_true,
    y_pred)`` / ``reset_state()`` work too, for metrics used on their own.
    """

    needs_classes = False
    default_name = "metric"

    def __init__(self, name: str | None = None, dtype=None) -> None:
        self.name = str(name or self.default_name)
        self.loss: Loss | None = None
        self.n_outputs = 1
        self.state: torch.Tensor | None = None
        self.count = 0

    def bind(self, loss: Loss | None, n_outputs: int) -> Metric:
        self.loss, self.n_outputs = loss, int(n_outputs)
        return self

    def reset(self) -> None:
        self.state, self.count = None, 0

    def update(self, outputs: torch.Tensor, y: torch.Tensor) -> None:
        value = self.batch_state(outputs, y)
        self.state = value if self.state is None else self.state + value
        self.count += len(y)

    @abc.abstractmethod
    def batch_state(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """This batch's contribution to ``state``."""

    def result(self) -> float:
        """Mean of ``state`` per sample (override for other reductions)."""
        if self.state is None or self.count == 0:
            return float("nan")
        return float(self.state) / self.count

    # Keras's names, for a metric used outside fit (y_pred: what the model returns)
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is not None:
            raise NNGuruError(f"{type(self).__name__}.update_state: sample_weight is not supported outside fit; "
                              "pass sample_weight to fit/evaluate instead.")
        y_pred = torch.as_tensor(y_pred, dtype=torch.float32)
        if y_pred.dim() == 1:
            y_pred = y_pred[:, None]
        if self.n_outputs == 1 and y_pred.shape[-1] != 1:
            self.n_outputs = int(y_pred.shape[-1])
        y_true = torch.as_tensor(y_true)
        if y_true.is_floating_point() and y_true.dim() == 1 and not self.needs_classes:
            y_true = y_true[:, None]
        self.update(y_pred, y_true)

    def reset_state(self) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Keras's ``'accuracy'``: the loss decides what it means (sparse, categorical or binary)."""

    needs_classes = True
    default_name = "accuracy"

    def batch_state(self, outputs, y):
        return (predicted_classes(outputs, self.loss) == true_classes(y, self.loss)).sum()


class SparseCategoricalAccuracy(Metric):
    """Argmax of the outputs against integer labels."""

    needs_classes = True
    default_name = "sparse_categorical_accuracy"

    def batch_state(self, outputs, y):
        return (outputs.argmax(dim=-1) == y.reshape(len(y)).long()).sum()


class CategoricalAccuracy(Metric):
    """Argmax of the outputs against the argmax of one-hot targets."""

    needs_classes = True
    default_name = "categorical_accuracy"

    def batch_state(self, outputs, y):
        return (outputs.argmax(dim=-1) == y.argmax(dim=-1)).sum()


class BinaryAccuracy(Metric):
    """Each output ``p > threshold`` against 0/1 targets; averaged over outputs, then samples."""

    needs_classes = True
    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, dtype=None, threshold: float = 0.5) -> None:
        super().__init__(name, dtype)
        self.threshold = float(threshold)

    def batch_state(self, outputs, y):
        hit = (outputs > _threshold(self.threshold, self.loss)) == (y.reshape(outputs.shape) > 0.5)
        return hit.float().reshape(len(outputs), -1).mean(1).sum()


class SparseTopKCategoricalAccuracy(Metric):
    """The label is among the ``k`` highest outputs."""

    needs_classes = True
    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, dtype=None) -> None:
        super().__init__(name, dtype)
        self.k = int(k)

    def batch_state(self, outputs, y):
        top = outputs.topk(min(self.k, outputs.shape[-1]), dim=-1).indices
        return (top == y.reshape(len(y), 1).long()).any(dim=-1).sum()


class TopKCategoricalAccuracy(SparseTopKCategoricalAccuracy):
    default_name = "top_k_categorical_accuracy"

    def batch_state(self, outputs, y):
        return super().batch_state(outputs, y.argmax(dim=-1))


class _Confusion(Metric):
    """Precision / recall / F1 from a confusion matrix: of class 1 if binary, else macro.

    ``thresholds`` (Keras's argument) applies to one output (binary); default 0.5.
    """

    needs_classes = True
    index = 0

    def __init__(self, thresholds: float | None = None, name: str | None = None, dtype=None) -> None:
        super().__init__(name, dtype)
        if thresholds is not None and not isinstance(thresholds, (int, float)):
            raise NNGuruError(f"{type(self).__name__}(thresholds=...) takes one number in nnguru; "
                              f"received {describe(thresholds)}.")
        self.thresholds = 0.5 if thresholds is None else float(thresholds)

    def batch_state(self, outputs, y):
        k = max(self.n_outputs, 2)
        index = true_classes(y, self.loss) * k + predicted_classes(outputs, self.loss, self.thresholds)
        return torch.bincount(index, minlength=k * k).to(torch.float64)

    def _prf(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k = max(self.n_outputs, 2)
        cm = self.state.reshape(k, k)
        tp = cm.diag()
        precision = tp / cm.sum(0).clamp_min(1)
        recall = tp / cm.sum(1).clamp_min(1)
        f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
        if k == 2:
            return precision[1], recall[1], f1[1]
        return precision.mean(), recall.mean(), f1.mean()

    def result(self):
        if self.state is None:
            return float("nan")
        return float(self._prf()[self.index])


class Precision(_Confusion):
    default_name = "precision"
    index = 0


class Recall(_Confusion):
    default_name = "recall"
    index = 1


class F1Score(_Confusion):
    default_name = "f1_score"
    index = 2


F1 = F1Score


class AUC(Metric):
    """Area under the ROC (or PR) curve, Keras's way: scores bucketed at ``num_thresholds``
    thresholds in [0, 1], the curve summed by the trapezoidal rule.

    One output: binary. Several: every (sample, class) pair counts (micro), labels one-hot.
    """

    needs_classes = True
    default_name = "auc"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", name: str | None = None,
                 dtype=None, **kwargs) -> None:
        super().__init__(name, dtype)
        if str(curve).upper() not in ("ROC", "PR"):
            raise NNGuruError(f"AUC(curve=...) must be 'ROC' or 'PR'; received {describe(curve)}.")
        if kwargs:
            raise NNGuruError(f"AUC options {sorted(kwargs)} are not supported by nnguru; it supports "
                              "num_thresholds and curve.")
        self.num_thresholds, self.curve = int(num_thresholds), str(curve).upper()
        inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self._thresholds = torch.tensor([-1e-7, *inner, 1 + 1e-7], dtype=torch.float32)

    def batch_state(self, outputs, y):
        p = probabilities(outputs, self.loss).float()
        if y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1 and p.shape[-1] > 1):
            y = torch.nn.functional.one_hot(y.reshape(-1).long(), p.shape[-1]) if p.shape[-1] > 1 else y
        positive = (y.reshape(p.shape) > 0.5).reshape(-1)
        thresholds = self._thresholds.to(p.device)
        bucket = torch.bucketize(p.reshape(-1).contiguous(), thresholds)  # scores above thresholds[:bucket]
        n = len(thresholds) + 1
        counts = torch.stack([torch.bincount(bucket[positive], minlength=n),
                              torch.bincount(bucket[~positive], minlength=n)])
        return counts.to(torch.float64)

    def result(self):
        if self.state is None:
            return float("nan")
        # predicted positive at threshold i: scores in buckets above i
        above = self.state.flip(1).cumsum(1).flip(1)[:, 1:len(self._thresholds) + 1]
        tp, fp = above[0], above[1]
        fn, tn = self.state[0].sum() - tp, self.state[1].sum() - fp
        if self.curve == "ROC":
            x, yv = fp / (fp + tn).clamp_min(1e-12), tp / (tp + fn).clamp_min(1e-12)
        else:
            x, yv = tp / (tp + fn).clamp_min(1e-12), tp / (tp + fp).clamp_min(1e-12)
        return float(((x[:-1] - x[1:]) * (yv[:-1] + yv[1:]) / 2).sum())


def _sum_of_sample_means(errors: torch.Tensor) -> torch.Tensor:
    """Each sample's mean error over its outputs, summed over the batch (``result`` divides by N)."""
    return errors.reshape(len(errors), -1).mean(1).sum()


class MeanAbsoluteError(Metric):
    default_name = "mean_absolute_error"

    def batch_state(self, outputs, y):
        return _sum_of_sample_means((outputs - y.reshape(outputs.shape)).abs())


class MeanSquaredError(Metric):
    default_name = "mean_squared_error"

    def batch_state(self, outputs, y):
        return _sum_of_sample_means((outputs - y.reshape(outputs.shape)).square())


class RootMeanSquaredError(MeanSquaredError):
    default_name = "root_mean_squared_error"

    def result(self):
        return super().result() ** 0.5


class MeanAbsolutePercentageError(Metric):
    """100 * |y - p| / max(|y|, eps), Keras's definition."""

    default_name = "mean_absolute_percentage_error"

    def batch_state(self, outputs, y):
        y = y.reshape(outputs.shape)
        return _sum_of_sample_means(100 * (y - outputs).abs() / y.abs().clamp_min(1e-7))


class _Crossentropy(Metric):
    """The mean of a cross-entropy loss as a metric (Keras's ``metrics.BinaryCrossentropy(...)``):
    early stopping on ``val_binary_crossentropy`` while the model trains on another loss.

    In ``fit`` it reads what the loop hands the metrics (logits when compile fused the final
    softmax/sigmoid, see ``Loss.logits``); used on its own, what ``from_logits`` declares."""

    needs_classes = True
    loss_class: type[Loss]

    def __init__(self, name: str | None = None, dtype=None, from_logits: bool = False) -> None:
        super().__init__(name, dtype)
        self.from_logits = bool(from_logits)

    def batch_state(self, outputs, y):
        inner = self.loss_class(from_logits=self.from_logits)
        inner.logits = _reads_logits(self.loss) if self.loss is not None else self.from_logits
        if isinstance(inner, SparseCategoricalCrossentropy) and y.dim() > 1:
            y = y.reshape(len(y)).long()
        return _sum_of_sample_means(inner.elementwise(outputs, y).reshape(len(y), -1))


class BinaryCrossentropyMetric(_Crossentropy):
    default_name = "binary_crossentropy"
    loss_class = BinaryCrossentropy


class CategoricalCrossentropyMetric(_Crossentropy):
    default_name = "categorical_crossentropy"
    loss_class = CategoricalCrossentropy


class SparseCategoricalCrossentropyMetric(_Crossentropy):
    default_name = "sparse_categorical_crossentropy"
    loss_class = SparseCategoricalCrossentropy


MAE, MSE, RMSE = MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError  # older nnguru names

METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy, "acc": Accuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score, "auc": AUC,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "binary_crossentropy": BinaryCrossentropyMetric, "categorical_crossentropy": CategoricalCrossentropyMetric,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropyMetric,
}


def register(name: str, cls: type[Metric]) -> None:
    METRICS[name] = cls


def get(spec: str | Metric | type, loss: Loss, n_outputs: int) -> Metric:
    """The metric ``spec`` (a name, a ``Metric`` or its class) bound to ``loss`` and ``n_outputs`` units.

    A name keeps its spelling as the history key (``'acc'`` logs ``acc``), as in Keras.
    """
    if isinstance(spec, type) and issubclass(spec, Metric):
        spec = spec()
    if isinstance(spec, Metric):
        metric = spec
    else:
        if not isinstance(spec, str) or spec.lower() not in METRICS:
            raise NNGuruError(f"Unknown metric {spec!r}. Valid names: {', '.join(sorted(METRICS))}; or pass "
                              "a metric object such as nnguru.metrics.AUC().")
        metric = METRICS[spec.lower()](name=spec)
    if metric.needs_classes and not loss.classes:
        raise NNGuruError(
            f"Metric {metric.name!r} needs a classification loss; the model is compiled with {loss.name!r}. "
            "Use 'mae' / 'mse' / 'rmse' for regression."
        )
    return metric.bind(loss, n_outputs)
