"""Classification: predict a label. Stratified split, softmax head, accuracy/precision/recall/F1.

Binary tasks have a positive class (``--positive``, else the minority class) and a decision
threshold (0.5, a number, or ``auto``: best F1 on the validation split, never on test). Left
unset, it is ``auto`` when the positive class is rare (under ``RARE_POSITIVE`` of the training
rows): there 0.5 on probabilities fitted to the base rate predicts the positive class too seldom.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnguru.errors import NNGuruError, describe
from nnguru.tasks import register
from nnguru.tasks.base import Evaluation, Prepared, Task

MAX_CLASSES_FOR_INTEGERS = 20  # integer targets with more distinct values are counts/amounts
NUMERIC_MIN_SHARE = 0.9  # a text target that mostly parses as numbers is numbers with a few bad cells
RARE_POSITIVE = 0.2  # a binary task whose positive class is rarer than this chooses its threshold on validation


def numeric_values(y) -> np.ndarray | None:
    """``y`` as float64 when it holds numbers (also as text, as a CSV reader gives them), else None.

    Some values may fail to parse (missing markers such as '?', 'NA') as long as
    NUMERIC_MIN_SHARE of the present values are numbers; the cleaner reports and drops the rest.
    """
    from nnguru.data.columns import to_numeric

    y = np.asarray(y)
    if y.dtype.kind == "b":
        return None
    values, invalid = to_numeric(pd.Series(y if y.dtype.kind in "iuf" else y.astype(object)))
    present = int(values.notna().sum()) + invalid
    if present == 0 or invalid > (1 - NUMERIC_MIN_SHARE) * present:
        return None
    return values.to_numpy(np.float64)


def looks_categorical(y: np.ndarray) -> bool:
    """Text, booleans and integers with few distinct values are labels; other numbers are values."""
    numbers = numeric_values(y)
    if numbers is None:
        return True
    y = numbers
    values = y[~np.isnan(y)] if y.dtype.kind == "f" else y
    if len(values) == 0:
        raise NNGuruError("The target has no values (all missing); choose another target column.")
    integral = y.dtype.kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
    return integral and len(np.unique(values)) <= MAX_CLASSES_FOR_INTEGERS


@register
class Classification(Task):
    name = "classification"
    aliases = ("binary", "multiclass")
    auto_rank = 20
    categorical_target = True
    split_method = "stratified"
    loss = "sparse_categorical_crossentropy"
    history_metrics = ("accuracy",)
    headline = "accuracy"
    summary_metrics = ("accuracy", "precision", "recall", "f1", "roc_auc")
    report_cards = ("accuracy", "f1")
    options = ("positive", "threshold")
    streams = True
    figures = {"confusion_matrix.png": "Confusion matrix (colour: share of the true class)",
               "roc_pr.png": "ROC and precision-recall curves (test)"}

    @classmethod
    def fits(cls, ds) -> bool:
        return ds.y is not None and looks_categorical(ds.y)

    def check_prepared(self, pre, target: str | None) -> None:
        if len(pre.classes) < 2:
            raise NNGuruError(
                f"The target {target or ''!s} has a single class ({pre.classes[0]!r}) in the training "
                "data: there is nothing to learn. Check the target column."
            )

    def n_outputs(self, pre, y_train: np.ndarray) -> int:
        return len(pre.classes)

    def head(self, n_out: int, y_train: np.ndarray) -> list:
        from nnguru.nn.layers import Dense

        return [Dense(n_out, activation="softmax")]

    def loss_spec(self, recipe: dict) -> str | dict:
        """Cross-entropy, with the table recipe's label smoothing (``recipe`` is empty elsewhere)."""
        smoothing = float(recipe.get("label_smoothing") or 0.0)
        return {"name": self.loss, "label_smoothing": smoothing} if smoothing else self.loss

    def class_weight(self, y_train: np.ndarray, n_out: int, counts: np.ndarray | None = None) -> dict | None:
        spec = self.cfg.get("class_weight")
        if spec is None or spec is False:
            return None
        if spec == "balanced":
            counts = np.bincount(y_train, minlength=n_out) if counts is None else np.asarray(counts)
            counts = counts.astype(np.float64)
            return {k: float(counts.sum() / (n_out * c)) if c else 0.0 for k, c in enumerate(counts)}
        if isinstance(spec, dict):
            return {int(k): float(v) for k, v in spec.items()}
        raise NNGuruError(f"class_weight must be 'balanced' or a dict; received {describe(spec)}.")

    @staticmethod
    def baseline(y_train: np.ndarray, y_eval: np.ndarray, classes=None, positive: Any = None) -> dict:
        from nnguru.evaluate.baselines import majority_class

        return majority_class(y_train, y_eval, classes=classes, positive=positive)

    def evaluate(self, model, p: Prepared) -> Evaluation:
        from nnguru.evaluate import classification_metrics, resolve_positive

        classes, y_tr, y_va, y_te = p.pre.classes, p.y["train"], p.y["val"], p.y["test"]
        proba_va = model.predict(p.x["val"]) if len(y_va) else None
        proba_te = model.predict(p.x["test"]) if len(y_te) else None
        metrics: dict[str, Any] = {}
        positive, threshold, plots = self.cfg["positive"], None, {}
        if len(classes) == 2:
            pos_index = resolve_positive(classes, positive, y_tr)
            threshold = self._threshold(y_va, proba_va, pos_index, metrics, self._share(y_tr, pos_index))
            positive = classes[pos_index]
            plots["positive_index"] = pos_index
        if proba_va is not None:
            metrics["val"] = classification_metrics(y_va, proba_va, classes, positive, threshold, y_tr)
        if proba_te is not None:
            metrics["test"] = classification_metrics(y_te, proba_te, classes, positive, threshold, y_tr)
            metrics["baseline"] = self.baseline(y_tr, y_te, classes=classes, positive=positive)
            plots.update(y_true=y_te, proba=proba_te)
        choices = {"positive": positive, "threshold": threshold} if len(classes) == 2 else {}
        if choices:
            metrics["choices"] = {**choices, "threshold_rule": self._threshold_rule(metrics)}
        return Evaluation(metrics, choices, plots)

    @staticmethod
    def _share(y_train: np.ndarray, pos_index: int) -> float:
        y = np.asarray(y_train).reshape(-1)
        return float(np.mean(y == pos_index)) if len(y) else 0.5

    @staticmethod
    def _threshold_rule(metrics: dict) -> str:
        info = metrics.get("threshold") or {}
        return str(info.get("reason") or ("given" if info.get("chosen_on") == "user" else "default 0.5"))

    def evaluate_stream(self, model, p: Prepared) -> Evaluation:
        """``evaluate`` chunk by chunk: confusion counts and summed log-loss give every metric
        exactly; ROC/PR areas, ``--threshold auto`` and the plots use a sample of predictions
        (every row up to ``stream.EVAL_SAMPLE``)."""
        from nnguru.data import stream as st
        from nnguru.evaluate import resolve_positive

        classes, k = p.pre.classes, len(p.pre.classes)
        train_counts = p.context["train_class_counts"]
        metrics: dict[str, Any] = {}
        positive, threshold, plots, pos_index = self.cfg["positive"], None, {}, None
        has_val, has_test = len(p.x["val"]) > 0, len(p.x["test"]) > 0
        if k == 2:
            # as resolve_positive: the given class, else the training minority (index 1 on a tie)
            minority = 0 if train_counts[0] < train_counts[1] else 1
            pos_index = minority if positive is None else resolve_positive(classes, positive)
            share = float(train_counts[pos_index] / max(train_counts.sum(), 1))
            if self._threshold_spec(share) == "auto" and has_val:
                sample = st.classification_counts(model, p.x["val"], pos_index, None, k)["sample"]
                threshold = self._threshold(sample.y, sample.out, pos_index, metrics, share)
            else:
                threshold = self._threshold(None, None, pos_index, metrics, share)
            positive = classes[pos_index]
            plots["positive_index"] = pos_index
        if has_val:
            counts = st.classification_counts(model, p.x["val"], pos_index, threshold, k)
            metrics["val"] = st.classification_metrics_from_counts(counts, classes, pos_index, threshold)
        if has_test:
            counts = st.classification_counts(model, p.x["test"], pos_index, threshold, k)
            metrics["test"] = st.classification_metrics_from_counts(counts, classes, pos_index, threshold)
            base = st.majority_counts(train_counts.astype(np.float64), counts["confusion"].sum(axis=1), pos_index)
            metrics["baseline"] = st.classification_metrics_from_counts(base, classes, pos_index, None)
            if pos_index is not None:  # constant scores: ROC-AUC 0.5, average precision = positive share
                support = counts["confusion"].sum(axis=1)
                metrics["baseline"]["roc_auc"] = 0.5
                metrics["baseline"]["pr_auc"] = float(support[pos_index] / support.sum())
            share = train_counts[base["majority"]] / max(train_counts.sum(), 1)
            metrics["baseline"]["strategy"] = (f"majority class {classes[base['majority']]!s} "
                                               f"(training share {share:.3f})")
            plots.update(y_true=counts["sample"].y, proba=counts["sample"].out)
        choices = {"positive": positive, "threshold": threshold} if k == 2 else {}
        if choices:
            metrics["choices"] = {**choices, "threshold_rule": self._threshold_rule(metrics)}
        return Evaluation(metrics, choices, plots)

    def _threshold_spec(self, positive_share: float) -> object:
        """The configured threshold; unset, ``auto`` for a rare positive class (see RARE_POSITIVE)."""
        spec = self.cfg.get("threshold")
        return "auto" if spec is None and positive_share < RARE_POSITIVE else spec

    def _threshold(self, y_va, proba_va, pos_index: int, metrics: dict,
                   positive_share: float = 0.5) -> float | None:
        from nnguru.evaluate import choose_threshold

        spec = self._threshold_spec(positive_share)
        if spec is None:
            return None
        if spec == "auto":
            if proba_va is None:
                return None
            value, table = choose_threshold(y_va, proba_va, pos_index)
            reason = ("asked for (threshold: auto)" if self.cfg.get("threshold") == "auto" else
                      f"chosen because the positive class is rare ({positive_share:.1%} of the training "
                      f"rows, under {RARE_POSITIVE:.0%}): 0.5 would predict it too seldom")
            metrics["threshold"] = {"value": value, "chosen_on": "validation", "tradeoff": table,
                                    "reason": reason}
            return value
        try:
            value = float(spec)
        except (TypeError, ValueError):
            raise NNGuruError(f"threshold must be 'auto' or a number in (0, 1); received {spec!r}.") from None
        if not 0 < value < 1:
            raise NNGuruError(f"threshold must be in (0, 1); received {value}.")
        metrics["threshold"] = {"value": value, "chosen_on": "user"}
        return value

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        from nnguru.report import save_run_plots

        return save_run_plots(run_dir, metrics=ev.metrics.get("test"), **ev.plots)

    def prediction_columns(self, model, output: np.ndarray) -> dict[str, np.ndarray]:
        pre = model.preprocessor
        idx = (output[:, 0] > 0.5).astype(np.int64) if output.shape[-1] == 1 else output.argmax(-1)
        threshold, positive = self.cfg.get("threshold"), self.cfg.get("positive")
        if isinstance(threshold, float) and output.shape[-1] == 2 and positive in pre.classes:
            pos = list(pre.classes).index(positive)
            idx = np.where(output[:, pos] >= threshold, pos, 1 - pos)
        columns = {"prediction": pre.decode_y(idx)}
        columns.update({f"proba_{cls}": output[:, k] for k, cls in enumerate(pre.classes)})
        return columns

    def score(self, model, ds) -> dict:
        from nnguru.evaluate import classification_metrics

        pre = model.preprocessor
        threshold = self.cfg.get("threshold") if isinstance(self.cfg.get("threshold"), float) else None
        return classification_metrics(pre.encode_y(ds.y), model.predict(ds.X), pre.classes,
                                      self.cfg.get("positive"), threshold)
