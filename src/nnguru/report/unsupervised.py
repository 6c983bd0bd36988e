"""Figures of the tasks that learn without labels: anomaly scores, the most anomalous items, and
the clusters' 2-D projection. Same conventions as :mod:`nnguru.report.plots` (Agg, no pyplot)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nnguru.report.plots import DPI, MAX_SCATTER_POINTS, PANEL_H, PANEL_W, _save, _short

NORMAL_COLOR, ANOMALY_COLOR = "#1f77b4", "#d62728"
MAX_TABLE_FEATURES = 4  # columns named per row in the table of the most anomalous rows
MAX_LEGEND = 12  # labels listed in the projection's legend


def _plain(cells: list[list[str]]) -> list[list[str]]:
    """Cells as literal text: a "$" in a word or value would start matplotlib's mathtext."""
    return [[str(c).replace("$", r"\$") for c in row] for row in cells]


def plot_scores(scores: np.ndarray, is_anomaly: np.ndarray | None, threshold: float, path: Path) -> Path:
    """Histogram of scores (log axis: errors are skewed), split by label where known, with the threshold."""
    fig = Figure(figsize=(PANEL_W * 1.4, PANEL_H), dpi=DPI)
    ax = fig.add_subplot()
    values = np.log10(np.maximum(scores, 1e-12))
    bins = np.linspace(values.min(), values.max(), 40) if len(values) else 10
    if is_anomaly is None:
        ax.hist(values, bins=bins, color=NORMAL_COLOR, alpha=0.8, label="all rows")
    else:
        ax.hist(values[~is_anomaly], bins=bins, color=NORMAL_COLOR, alpha=0.6, label="normal")
        ax.hist(values[is_anomaly], bins=bins, color=ANOMALY_COLOR, alpha=0.6, label="anomalous")
    ax.axvline(np.log10(max(threshold, 1e-12)), color="k", linestyle="--", label="threshold")
    ax.set_xlabel("log10 reconstruction error")
    ax.set_ylabel("rows")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_anomalies(items: np.ndarray, errors: np.ndarray, scores: np.ndarray, features: Sequence[str] | None,
                   kind: str | None, path: Path) -> Path:
    """Images (and spectrograms) as thumbnails; rows as a table of score and the worst features."""
    if items.ndim == 4:
        n = len(items)
        cols = min(8, max(n, 1))
        rows = max(1, -(-n // cols))
        fig = Figure(figsize=(1.3 * cols, 1.5 * rows), dpi=DPI)
        for i in range(n):
            ax = fig.add_subplot(rows, cols, i + 1)
            img = items[i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else np.clip(img, 0, 1), cmap="gray",
                      origin="lower" if kind == "audio" else "upper", aspect="auto")
            ax.set_title(f"{scores[i]:.3g}", fontsize=7)
            ax.axis("off")
        return _save(fig, path)
    names = list(features) if features is not None and len(features) == errors.shape[1] else \
        [f"f{j}" for j in range(errors.shape[1])]
    cells = []
    for e, s in zip(errors, scores, strict=True):
        order = np.argsort(-e)[:MAX_TABLE_FEATURES]
        total = float(e.sum()) or 1.0
        cells.append([f"{s:.3g}", ", ".join(f"{_short(names[j])} {100 * e[j] / total:.0f}%" for j in order)])
    fig = Figure(figsize=(PANEL_W * 2, 0.3 * (len(cells) + 2)), dpi=DPI)
    ax = fig.add_subplot()
    ax.axis("off")
    if cells:
        cells = _plain(cells)
        table = ax.table(cellText=cells, colLabels=["score", "features with the largest error (share)"],
                         loc="center", colWidths=[0.15, 0.85], cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
    return _save(fig, path)


def plot_clusters(points: np.ndarray, clusters: np.ndarray, labels: np.ndarray | None, path: Path) -> Path:
    """The embedding projected on its 2 principal axes, coloured by cluster (and by label where known)."""
    rng = np.random.default_rng(0)
    keep = rng.choice(len(points), MAX_SCATTER_POINTS, replace=False) if len(points) > MAX_SCATTER_POINTS \
        else np.arange(len(points))
    panels = [("cluster", clusters)] + ([("label", labels)] if labels is not None else [])
    fig = Figure(figsize=(PANEL_W * len(panels), PANEL_H * 1.1), dpi=DPI)
    for k, (title, values) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        kinds = list(np.unique(values[keep]))
        for j, v in enumerate(kinds):
            m = values[keep] == v
            ax.scatter(points[keep][m, 0], points[keep][m, 1], s=4, alpha=0.7, color=f"C{j % 10}",
                       label=_short(v) if j < MAX_LEGEND else None)
        ax.set_title(f"coloured by {title}", fontsize=9)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.legend(fontsize=6, markerscale=2, loc="best")
    return _save(fig, path)


def plot_cluster_summary(summary, path: Path) -> Path:
    """A table per cluster: size, share, the rows nearest its centre and its most frequent label."""
    columns = [c for c in ("cluster", "size", "share", "top_label", "purity", "typical_rows") if c in summary]
    cells = [[", ".join(map(str, v)) if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)
              for v in row] for row in summary[columns].itertuples(index=False)]
    fig = Figure(figsize=(PANEL_W * 2, 0.3 * (len(cells) + 2)), dpi=DPI)
    ax = fig.add_subplot()
    ax.axis("off")
    if cells:
        cells = _plain(cells)
        table = ax.table(cellText=cells, colLabels=[c.replace("_", " ") for c in columns], loc="center",
                         cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
    return _save(fig, path)
