"""Anomaly detection: learn what normal rows look like, flag the rows the model cannot reconstruct.

An autoencoder is trained on the normal rows (all rows, or those labelled ``--normal LABEL``); a
row's score is its mean squared reconstruction error, and for tables each feature's share of it
says which columns look wrong. The threshold comes from the validation split: the 99th percentile
of the normal rows' scores, or with ``--contamination P`` the score above which a share P of the
validation rows lies. A label column (``--target``) only evaluates: anomalous = not the ``--normal``
label (default: the majority label). Next to the model, in the same run: scikit-learn's
IsolationForest on the same preprocessed features, with its threshold chosen the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnguru.errors import NNGuruError
from nnguru.tasks import register
from nnguru.tasks.base import Evaluation, Prepared
from nnguru.tasks.reconstruction import Reconstruction, label_values, raw_outputs

NORMAL_QUANTILE = 0.99  # without --contamination: about 1 normal row in 100 is flagged
TOP_FEATURES = 3  # the columns named per row in ``nnguru predict``'s ``top_features``
SHOWN = 16  # the most anomalous test items drawn in the report


def row_errors(model, x: np.ndarray) -> np.ndarray:
    """Squared reconstruction error per input value, flattened per row: (N, features)."""
    if not len(x):
        return np.zeros((0, int(np.prod(x.shape[1:]))), np.float32)
    recon = raw_outputs(model, x)
    return ((recon - x) ** 2).reshape(len(x), -1)


def detection_metrics(is_anomaly: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC-AUC and PR-AUC of the scores, precision/recall/F1 of ``scores > threshold``."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

    flagged = scores > threshold
    out: dict[str, Any] = {"threshold": float(threshold),
                           "flagged_share": float(flagged.mean()) if len(flagged) else 0.0}
    if is_anomaly is None or len(np.unique(is_anomaly)) < 2:
        return out
    p, r, f, _ = precision_recall_fscore_support(is_anomaly, flagged, average="binary", zero_division=0)
    out.update(roc_auc=float(roc_auc_score(is_anomaly, scores)),
               pr_auc=float(average_precision_score(is_anomaly, scores)),
               precision=float(p), recall=float(r), f1=float(f), anomalies=int(is_anomaly.sum()), rows=len(scores))
    return out


@register
class Anomaly(Reconstruction):
    name = "anomaly"
    aliases = ("anomaly_detection", "outliers")
    headline = "roc_auc"
    summary_metrics = ("roc_auc", "pr_auc", "precision", "recall", "f1", "flagged_share")
    report_cards = ("roc_auc", "pr_auc")
    options = ("normal", "contamination")
    figures = {"anomaly_scores.png": "Anomaly scores on the test split (normal vs anomalous where labels are known)",
               "anomalies.png": "The most anomalous test items"}

    # --- options ----------------------------------------------------------------------------
    def check_options(self, n_rows: int, labels: np.ndarray | None) -> None:
        c = self.cfg.get("contamination")
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < float(c) < 0.5):
            raise NNGuruError(f"--contamination must be a share of anomalous rows strictly between 0 and 0.5; "
                              f"received {c!r}. Pass e.g. --contamination 0.05 (5% of rows flagged), or leave "
                              "it out to flag the rows above the 99th percentile of normal scores.")
        normal = self.cfg.get("normal")
        if normal is None:
            return
        if labels is None:
            raise NNGuruError(f"--normal {normal!r} names a label, but the data has no label column. Pass "
                              "--target COLUMN with the labels (a folder of files: class subfolders, or "
                              "--label-from-name REGEX), or leave --normal out to learn from every row.")
        known = sorted(set(labels))
        if self._normal_key() not in known:
            raise NNGuruError(f"--normal {normal!r} is not a label of the target column; its labels are "
                              f"{known[:20]}. Pass one of them, e.g. --normal {known[0]}.")

    def _normal_key(self) -> str:
        return str(label_values([self.cfg["normal"]])[0])

    def normal_label(self, labels: np.ndarray) -> str:
        """``--normal``, else the most frequent label (anomalies are the rare rows)."""
        if self.cfg.get("normal") is not None:
            return self._normal_key()
        values, counts = np.unique(labels, return_counts=True)
        return str(values[np.argmax(counts)])

    def training_rows(self, labels: np.ndarray | None) -> np.ndarray | None:
        if labels is None or self.cfg.get("normal") is None:
            return None  # learn from every row: anomalies are rare enough to be reconstructed badly
        return labels == self._normal_key()

    # --- evaluate ---------------------------------------------------------------------------
    def threshold(self, val_scores: np.ndarray, val_learn: np.ndarray | None, fallback: np.ndarray) -> float:
        """The validation quantile: (1 - contamination) of all validation rows, else the 99th
        percentile of the validation rows used as normal (training scores if there is no validation)."""
        c = self.cfg.get("contamination")
        if c is not None:
            pool = val_scores if len(val_scores) else fallback
            return float(np.quantile(pool, 1 - float(c)))
        normal = val_scores if val_learn is None else val_scores[val_learn]
        return float(np.quantile(normal if len(normal) else fallback, NORMAL_QUANTILE))

    def evaluate(self, model, p: Prepared) -> Evaluation:
        from sklearn.ensemble import IsolationForest

        full, labels, learn = p.context["full"], p.context["labels"], p.context["learn"]
        errors = {split: row_errors(model, full[split]) for split in ("val", "test")}
        scores = {split: e.mean(axis=1) for split, e in errors.items()}
        train_scores = row_errors(model, p.x["train"]).mean(axis=1)
        threshold = self.threshold(scores["val"], learn["val"], train_scores)
        normal = self.normal_label(labels["train"]) if labels["train"] is not None else None
        flags = {s: None if labels[s] is None else labels[s] != normal for s in ("val", "test")}

        forest = IsolationForest(n_estimators=200, random_state=int(self.cfg["seed"]))
        forest.fit(p.x["train"].reshape(len(p.x["train"]), -1))
        iso = {s: -forest.score_samples(full[s].reshape(len(full[s]), -1)) for s in ("val", "test")}
        iso_threshold = self.threshold(iso["val"], learn["val"],
                                       -forest.score_samples(p.x["train"].reshape(len(p.x["train"]), -1)))
        metrics: dict[str, Any] = {}
        if len(scores["val"]):
            metrics["val"] = detection_metrics(flags["val"], scores["val"], threshold)
        metrics["test"] = detection_metrics(flags["test"], scores["test"], threshold)
        metrics["baseline"] = {"isolation_forest": {
            **detection_metrics(flags["test"], iso["test"], iso_threshold),
            "strategy": "scikit-learn IsolationForest(n_estimators=200) on the same preprocessed training "
                        "rows, threshold chosen the same way"}}
        metrics["anomaly"] = {"normal_label": normal, "trained_on": "--normal rows" if self.cfg.get("normal")
                              is not None else "all rows", "contamination": self.cfg.get("contamination"),
                              "threshold_rule": (f"{1 - float(self.cfg['contamination']):g} quantile of validation "
                                                 "scores") if self.cfg.get("contamination") is not None else
                              f"{NORMAL_QUANTILE:g} quantile of normal validation scores"}
        top = np.argsort(-scores["test"])[:SHOWN]
        plots = {"scores": scores["test"], "flags": flags["test"], "threshold": threshold, "top": top,
                 "items": full["test"][top], "errors": errors["test"][top],
                 "features": getattr(p.pre, "feature_names", None), "kind": p.pre.kind}
        return Evaluation(metrics, {"anomaly_threshold": threshold}, plots)

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        from nnguru.report.unsupervised import plot_anomalies, plot_scores

        pl = ev.plots
        return [plot_scores(pl["scores"], pl["flags"], pl["threshold"], run_dir / "anomaly_scores.png"),
                plot_anomalies(pl["items"], pl["errors"], pl["scores"][pl["top"]], pl["features"], pl["kind"],
                               run_dir / "anomalies.png")]

    # --- predict ----------------------------------------------------------------------------
    def prediction_columns(self, model, output: np.ndarray) -> dict[str, np.ndarray]:
        errors = row_errors(model, output)
        scores = errors.mean(axis=1)
        threshold = self.cfg.get("anomaly_threshold")
        if threshold is None:
            raise NNGuruError("The run's config.yaml has no anomaly_threshold: it was not written by a finished "
                              "`nnguru train --task anomaly`. Train it again.")
        columns: dict[str, np.ndarray] = {"score": scores, "is_anomaly": scores > float(threshold)}
        names = getattr(model.preprocessor, "feature_names", None)
        if names and len(names) == errors.shape[1]:
            columns["top_features"] = np.array([top_features(e, names) for e in errors], dtype=object)
        return columns

    def score(self, model, ds) -> dict:
        """``nnguru evaluate``: detection metrics of the saved threshold on new labeled rows."""
        x = model.preprocessor.transform(ds.X)
        scores = row_errors(model, x).mean(axis=1)
        labels = label_values(ds.y)
        normal = self.normal_label(labels)  # --normal, else the most frequent label of these rows
        return detection_metrics(labels != normal, scores, float(self.cfg["anomaly_threshold"]))


def top_features(errors: np.ndarray, names: list[str], k: int = TOP_FEATURES) -> str:
    """The features with the largest share of one row's error: 'Glucose 61%, BMI 20%'."""
    total = float(errors.sum()) or 1.0
    order = np.argsort(-errors)[:k]
    return ", ".join(f"{names[i]} {100 * errors[i] / total:.0f}%" for i in order)
