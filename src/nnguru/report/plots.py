"""The pictures an expert looks at first, as small PNGs.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot): no global backend
switch, no window, and nothing left open between calls. Every function takes a file path (or a
binary file object) and returns it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm

# A slim matplotlib install lacks the STIX and Computer Modern fonts that mathtext (log-scale tick
# labels) asks for first; it logs one "findfont" line per font, then draws with DejaVu Sans, which
# has every glyph a report uses. Those lines are not the user's concern: only errors are shown.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

# Pixel density: sharp on screens and small enough to embed a handful in one HTML file.
DPI = 110
# One panel's size in inches: readable labels at DPI without dominating the page.
PANEL_W, PANEL_H = 4.2, 3.2
# The history plot shows the loss and at most this many metrics, side by side.
MAX_HISTORY_PANELS = 4
# A loss spanning more than this ratio (a diverged run) is drawn on a log axis.
LOG_SCALE_RATIO = 100.0
# Confusion matrices print counts in the cells up to this many classes.
MAX_ANNOTATED_CLASSES = 25
# Scatter plots draw at most this many points (a fixed random subset) to stay light.
MAX_SCATTER_POINTS = 5000
# Class names are cut to this many characters on the axes.
MAX_LABEL_CHARS = 14
# The range-test plot shows losses up to the start plus this many times the total descent.
LR_PLOT_HEADROOM = 0.5
TRAIN_COLOR, VAL_COLOR, BEST_COLOR = "#1f77b4", "#ff7f0e", "#2ca02c"
NON_CURVE_KEYS = {"lr", "seconds", "epoch", "time"}

PathLike = str | Path | IO[bytes]


def _save(fig: Figure, path: PathLike) -> PathLike:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return Path(path) if isinstance(path, str) else path


def _clean(values: Sequence[Any]) -> np.ndarray:
    """Floats with None and ±inf as NaN, so matplotlib leaves gaps instead of failing."""
    a = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    return a


def _short(label: Any) -> str:
    text = str(label)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def history_panels(history: dict[str, Sequence[Any]]) -> list[str]:
    """Curve names to draw: ``loss`` first, then metrics that have values (no lr/time)."""
    names = [k for k in history if not k.startswith("val_") and k not in NON_CURVE_KEYS
             and len(history[k]) and np.isfinite(_clean(history[k])).any()]
    names.sort(key=lambda k: (k != "loss", list(history).index(k)))
    return names[:MAX_HISTORY_PANELS]


def plot_history(
    history: dict[str, Sequence[Any]], path: PathLike, best_epoch: int | None = None
) -> PathLike:
    """Loss and metric curves, train vs validation, with the best epoch marked.

    ``best_epoch`` is 1-based (as on the x axis); by default the epoch of the lowest
    validation loss. Non-finite values leave gaps; a diverged loss gets a log axis.
    """
    names = history_panels(history) or ["loss"]
    if best_epoch is None and "val_loss" in history:
        vl = _clean(history["val_loss"])
        if np.isfinite(vl).any():
            best_epoch = int(np.nanargmin(vl)) + 1
    fig = Figure(figsize=(PANEL_W * len(names), PANEL_H))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        train = _clean(history.get(name, []))
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, marker="o", ms=2.5, color=TRAIN_COLOR, label="train")
        val = _clean(history.get(f"val_{name}", []))
        if len(val) and np.isfinite(val).any():
            ax.plot(np.arange(1, len(val) + 1), val, marker="o", ms=2.5, color=VAL_COLOR,
                    label="validation")
        if best_epoch is not None and 1 <= best_epoch <= max(len(train), len(val)):
            ax.axvline(best_epoch, color=BEST_COLOR, ls="--", lw=1,
                       label=f"best epoch {best_epoch}")
            if len(val) >= best_epoch and np.isfinite(val[best_epoch - 1]):
                ax.plot([best_epoch], [val[best_epoch - 1]], "o", color=BEST_COLOR, ms=6)
        both = np.concatenate([train, val]) if len(val) else train
        finite = both[np.isfinite(both)]
        if (name == "loss" and len(finite) and finite.min() > 0
                and finite.max() / finite.min() > LOG_SCALE_RATIO):
            ax.set_yscale("log")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        if len(epochs) <= 12:
            ax.set_xticks(epochs if len(epochs) else [1])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_confusion(cm: Sequence[Sequence[int]], classes: Sequence[Any], path: PathLike) -> PathLike:
    """Confusion matrix (rows: true class, columns: predicted), coloured by share of each row.

    Row shares make a rare class's errors as visible as a common one's; cells show counts.
    """
    m = np.asarray(cm, dtype=np.float64)
    k = len(m)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    side = float(np.clip(0.45 * k + 2.2, 3.6, 12.0))
    fig = Figure(figsize=(side + 0.8, side))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    labels = [_short(c) for c in classes]
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    if k <= MAX_ANNOTATED_CLASSES:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    return _save(fig, path)


def plot_roc_pr(y_true: Sequence[Any], proba_pos: Sequence[float], path: PathLike) -> PathLike:
    """ROC and precision-recall curves of a binary task (``y_true``: 1/True = positive).

    The PR panel carries the positive rate as its chance line: on rare positives that line is
    low, which is why PR says more than ROC there.
    """
    y = np.asarray(y_true).astype(bool).reshape(-1)
    s = np.nan_to_num(np.asarray(proba_pos, dtype=np.float64).reshape(-1), nan=0.0)
    fig = Figure(figsize=(PANEL_W * 2, PANEL_H + 0.4))
    roc, pr = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if 0 < y.sum() < len(y):
        fpr, tpr, _ = skm.roc_curve(y, s)
        roc.plot(fpr, tpr, color=TRAIN_COLOR, label=f"AUC {skm.roc_auc_score(y, s):.3f}")
        prec, rec, _ = skm.precision_recall_curve(y, s)
        pr.step(rec, prec, where="post", color=TRAIN_COLOR,
                label=f"AP {skm.average_precision_score(y, s):.3f}")
        pr.axhline(y.mean(), color="grey", ls=":", label=f"chance {y.mean():.3f}")
    else:
        for ax in (roc, pr):
            ax.text(0.5, 0.5, "undefined: only one class present", ha="center", va="center")
    roc.plot([0, 1], [0, 1], color="grey", ls=":", label="chance")
    roc.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate",
            xlim=(0, 1), ylim=(0, 1.02))
    pr.set(title="Precision-recall", xlabel="recall", ylabel="precision", xlim=(0, 1),
           ylim=(0, 1.02))
    for ax in (roc, pr):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right" if ax is roc else "lower left")
    return _save(fig, path)


def plot_regression(y_true: Sequence[float], y_pred: Sequence[float], path: PathLike) -> PathLike:
    """Predicted vs actual (on the diagonal = perfect) and residuals vs predicted (no pattern =
    the model missed nothing systematic). Several targets are pooled."""
    yt = np.asarray(y_true, dtype=np.float64).reshape(-1)
    yp = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    ok = np.isfinite(yt) & np.isfinite(yp)
    yt, yp = yt[ok], yp[ok]
    if len(yt) > MAX_SCATTER_POINTS:
        keep = np.random.default_rng(0).choice(len(yt), MAX_SCATTER_POINTS, replace=False)
        yt, yp = yt[keep], yp[keep]
    fig = Figure(figsize=(PANEL_W * 2, PANEL_H + 0.4))
    a, b = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    alpha = 0.6 if len(yt) < 500 else 0.25
    a.scatter(yt, yp, s=8, alpha=alpha, color=TRAIN_COLOR)
    if len(yt):
        lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
        a.plot([lo, hi], [lo, hi], color="grey", ls=":", label="perfect")
        a.legend(fontsize=8)
    a.set(title="Predicted vs actual", xlabel="actual", ylabel="predicted")
    b.scatter(yp, yt - yp, s=8, alpha=alpha, color=VAL_COLOR)
    b.axhline(0, color="grey", ls=":")
    b.set(title="Residuals", xlabel="predicted", ylabel="actual - predicted")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_lr_finder(result: Any, path: PathLike) -> PathLike:
    """The range test's smoothed loss against the learning rate (log axis), suggestion marked.

    ``result`` is an ``LRFinderResult`` or its ``to_dict()``.
    """
    d = result if isinstance(result, dict) else result.to_dict()
    lrs, losses = np.asarray(d.get("lrs", []), float), _clean(d.get("losses", []))
    fig = Figure(figsize=(PANEL_W * 1.4, PANEL_H))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(lrs, losses, color=TRAIN_COLOR, label="smoothed loss")
    suggestion = d.get("suggestion")
    if suggestion:
        ax.axvline(suggestion, color=BEST_COLOR, ls="--", label=f"suggested lr {suggestion:.2g}")
    ax.set_xscale("log")
    finite = losses[np.isfinite(losses)]
    if len(finite):
        # The divergence at the end would flatten the useful part: cap the axis a little above
        # the starting loss.
        low, start = float(finite.min()), float(finite[0])
        # ...or, for a curve that never falls, a quarter of its level: its noise stays in view.
        headroom = max(LR_PLOT_HEADROOM * (start - low), 0.25 * abs(start), 1e-12)
        top = min(float(finite.max()), start + headroom) if finite.max() > start else start + headroom
        ax.set_ylim(low - 0.05 * (top - low + 1e-12), top)
    ax.set(title="Learning-rate range test", xlabel="learning rate", ylabel="loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


# File names in the run directory; the HTML report places these in their sections.
HISTORY_PNG = "history.png"
CONFUSION_PNG = "confusion_matrix.png"
ROC_PR_PNG = "roc_pr.png"
REGRESSION_PNG = "regression.png"
LR_FINDER_PNG = "lr_finder.png"
FORECAST_PNG = "forecast.png"
# Forecast plots show this many series at most (one panel each).
MAX_FORECAST_PANELS = 4


def plot_forecast(forecasts: Any, path: PathLike) -> PathLike:
    """Actual values on the test span, the model's and the baselines' forecasts for each step ahead.

    ``forecasts`` is the forecasts table (columns series, origin, step, time, actual, forecast and
    one per baseline). The 1-step-ahead forecasts form one line per method; for longer horizons the
    forecasts from the test span's first origin are drawn too, as a full trajectory.
    """
    frame = forecasts
    ids = list(dict.fromkeys(frame["series"]))[:MAX_FORECAST_PANELS]
    fig = Figure(figsize=(PANEL_W * 2, (PANEL_H + 0.4) * len(ids)))
    baselines = [c for c in ("seasonal_naive", "seasonal_naive_drift", "naive") if c in frame.columns]
    for i, sid in enumerate(ids):
        ax = fig.add_subplot(len(ids), 1, i + 1)
        part = frame[frame["series"] == sid]
        first = part[part["step"] == 1].sort_values("time")
        actual = part.drop_duplicates("time").sort_values("time")
        ax.plot(actual["time"], actual["actual"], color="black", lw=1.6, label="actual")
        ax.plot(first["time"], first["forecast"], color=TRAIN_COLOR, lw=1.4, label="model, 1 step ahead")
        for name, style in zip(baselines, (":", "--", "-."), strict=False):
            ax.plot(first["time"], first[name], color="grey", ls=style, lw=1.0, label=name.replace("_", " "))
        if part["step"].max() > 1:
            origin = part["origin"].min()
            path_ = part[part["origin"] == origin].sort_values("step")
            ax.plot(path_["time"], path_["forecast"], color=VAL_COLOR, lw=1.4,
                    label=f"model, {int(part['step'].max())} steps from the first origin")
        ax.set(title=f"Test span{f' · series {sid}' if sid else ''}", ylabel="value")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def save_run_plots(
    run_dir: str | Path,
    *,
    history: dict[str, Sequence[Any]] | None = None,
    best_epoch: int | None = None,
    metrics: dict[str, Any] | None = None,
    y_true: np.ndarray | None = None,
    proba: np.ndarray | None = None,
    y_pred: np.ndarray | None = None,
    positive_index: int | None = None,
    lr_finder: Any = None,
) -> list[Path]:
    """Write the standard plots of a run that apply, with the standard names.

    Classification: pass ``metrics`` (the test metrics dict, for the confusion matrix) and, for
    binary tasks, ``y_true`` (class indices), ``proba`` (N, 2) and ``positive_index`` for ROC/PR.
    Regression: ``y_true`` and ``y_pred``. Returns the paths written.
    """
    run_dir = Path(run_dir)
    written: list[Path] = []
    if history and history.get("loss"):
        written.append(plot_history(history, run_dir / HISTORY_PNG, best_epoch=best_epoch))
    if metrics and metrics.get("confusion_matrix"):
        written.append(plot_confusion(metrics["confusion_matrix"], metrics.get("classes")
                                      or range(len(metrics["confusion_matrix"])),
                                      run_dir / CONFUSION_PNG))
    if proba is not None and y_true is not None and positive_index is not None:
        p = np.asarray(proba)
        scores = p[:, positive_index] if p.ndim == 2 and p.shape[1] > 1 else p.reshape(-1)
        written.append(plot_roc_pr(np.asarray(y_true) == positive_index, scores,
                                   run_dir / ROC_PR_PNG))
    if y_pred is not None and y_true is not None:
        written.append(plot_regression(y_true, y_pred, run_dir / REGRESSION_PNG))
    if lr_finder is not None:
        written.append(plot_lr_finder(lr_finder, run_dir / LR_FINDER_PNG))
    return written


# The gradient-norm plot draws at most this many layers (the weighted ones, input side first).
MAX_MONITOR_LAYERS = 12


def plot_gradient_norms(monitor: dict[str, Any], path: PathLike) -> PathLike:
    """Per-layer gradient norms over the monitor's sampled steps (``monitor.json``), log axis.

    Lines that fall apart by orders of magnitude show vanishing gradients; a line that climbs
    shows explosion. Layers without weights are left out.
    """
    layers = monitor.get("layers") or []
    samples = monitor.get("samples") or []
    weighted = [i for i, layer in enumerate(layers) if layer.get("params")][:MAX_MONITOR_LAYERS]
    if not samples or not weighted:
        raise ValueError("monitor.json has no sampled weighted layer to plot")
    steps = np.array([s.get("step", k) for k, s in enumerate(samples)], dtype=np.float64) + 1
    fig = Figure(figsize=(PANEL_W * 1.6, PANEL_H))
    ax = fig.add_subplot(1, 1, 1)
    for i in weighted:
        norms = _clean([(s.get("grad_norm") or [None] * len(layers))[i] for s in samples])
        norms[norms <= 0] = np.nan
        ax.plot(steps, norms, marker="o", ms=2, lw=1, label=_short(layers[i].get("name", i)))
    if np.isfinite(ax.get_ylim()).all():
        ax.set_yscale("log")
    ax.set_xlabel("training step (sampled)")
    ax.set_ylabel("gradient norm")
    ax.set_title("gradient norm per layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(weighted) > 6 else 1)
    return _save(fig, path)
