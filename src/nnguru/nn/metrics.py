"""Streaming metrics, accumulated on the training device.

Each batch adds to small tensors (counts, a confusion matrix) without a host sync, so metrics
cost almost nothing in the training step; ``result()`` syncs once per epoch. The loss decides how
outputs become predictions (argmax of logits, logit > 0, raw values).
"""

from __future__ import annotations

import abc

import torch

from nnguru.errors import NNGuruError
from nnguru.nn.losses import BinaryCrossentropy, CategoricalCrossentropy, Loss


def predicted_classes(outputs: torch.Tensor, loss: Loss) -> torch.Tensor:
    """Class indices from logits: argmax for softmax losses, logit > 0 for sigmoid ones."""
    if isinstance(loss, BinaryCrossentropy) and outputs.shape[-1] == 1:
        return (outputs[:, 0] > 0).long()
    return outputs.argmax(dim=-1)


def true_classes(y: torch.Tensor, loss: Loss) -> torch.Tensor:
    if isinstance(loss, CategoricalCrossentropy):
        return y.argmax(dim=-1)
    if isinstance(loss, BinaryCrossentropy):
        return (y[:, 0] > 0.5).long()
    return y


class Metric(abc.ABC):
    """Accumulate with ``update(outputs, y)``; read with ``result()``; clear with ``reset()``.

    ``state`` is a device tensor (summed over batches without a host sync); ``count`` the number
    of samples seen, a host integer since batch sizes are known on the host.
    """

    needs_classes = False

    def __init__(self, name: str, loss: Loss, n_outputs: int) -> None:
        self.name, self.loss, self.n_outputs = name, loss, n_outputs
        self.state: torch.Tensor | None = None
        self.count = 0

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


class Accuracy(Metric):
    needs_classes = True

    def batch_state(self, outputs, y):
        return (predicted_classes(outputs, self.loss) == true_classes(y, self.loss)).sum()


class _Confusion(Metric):
    """Precision / recall / F1 from a confusion matrix: of class 1 if binary, else macro."""

    needs_classes = True

    def batch_state(self, outputs, y):
        k = max(self.n_outputs, 2)
        index = true_classes(y, self.loss) * k + predicted_classes(outputs, self.loss)
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
    index = 0


class Recall(_Confusion):
    index = 1


class F1(_Confusion):
    index = 2


def _sum_of_sample_means(errors: torch.Tensor) -> torch.Tensor:
    """Each sample's mean error over its outputs, summed over the batch (``result`` divides by N)."""
    return errors.reshape(len(errors), -1).mean(1).sum()


class MAE(Metric):
    def batch_state(self, outputs, y):
        return _sum_of_sample_means((outputs - y).abs())


class MSE(Metric):
    def batch_state(self, outputs, y):
        return _sum_of_sample_means((outputs - y).square())


class RMSE(MSE):
    def result(self):
        return super().result() ** 0.5


METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy, "acc": Accuracy,
    "precision": Precision, "recall": Recall, "f1": F1, "f1_score": F1,
    "mae": MAE, "mean_absolute_error": MAE, "mse": MSE, "mean_squared_error": MSE, "rmse": RMSE,
}


def register(name: str, cls: type[Metric]) -> None:
    METRICS[name] = cls


def get(name: str, loss: Loss, n_outputs: int) -> Metric:
    """Build the metric ``name`` for a model compiled with ``loss`` and ``n_outputs`` units."""
    if not isinstance(name, str) or name.lower() not in METRICS:
        raise NNGuruError(f"Unknown metric {name!r}. Valid names: {', '.join(sorted(METRICS))}.")
    cls = METRICS[name.lower()]
    if cls.needs_classes and not loss.classes:
        raise NNGuruError(
            f"Metric {name!r} needs a classification loss; the model is compiled with {loss.name!r}. "
            "Use 'mae' / 'mse' / 'rmse' for regression."
        )
    return cls(name, loss, n_outputs)
