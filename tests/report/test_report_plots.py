"""Every plot writes a real PNG, including for the awkward inputs of failed runs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnguru.guru import LRFinderResult
from nnguru.report import (
    plot_confusion,
    plot_history,
    plot_lr_finder,
    plot_regression,
    plot_roc_pr,
    save_run_plots,
)
from nnguru.report.plots import history_panels


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_history_plot_panels_and_nonfinite_values(tmp_path: Path):
    h = {"loss": [2.0, 1.0, float("nan"), 0.5], "val_loss": [2.1, 1.2, 1.0, None],
         "accuracy": [0.5, 0.7, 0.8, 0.9], "val_accuracy": [0.5, 0.6, 0.7, 0.7],
         "lr": [1e-3] * 4, "seconds": [1.0] * 4}
    assert history_panels(h) == ["loss", "accuracy"]  # lr/seconds are not curves
    w, h_px = png_size(plot_history(h, tmp_path / "h.png", best_epoch=3))
    assert w > 1.5 * h_px  # two panels side by side
    diverged = {"loss": [1.0, 10.0, 1e6, float("inf")]}
    png_size(plot_history(diverged, tmp_path / "d.png"))  # log axis, no crash
    buf = io.BytesIO()
    plot_history({"loss": [1.0]}, buf)
    png_size(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("k", [2, 10, 40])
def test_confusion_plot_any_number_of_classes(tmp_path: Path, k: int):
    cm = np.random.default_rng(0).integers(0, 20, (k, k))
    cm[0] = 0  # a class absent from the evaluated split
    classes = [f"class with a long name {i}" for i in range(k)]
    png_size(plot_confusion(cm.tolist(), classes, tmp_path / "cm.png"))


def test_roc_pr_plot_including_single_class(tmp_path: Path):
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.1
    png_size(plot_roc_pr(y, rng.random(200) + 0.3 * y, tmp_path / "roc.png"))
    png_size(plot_roc_pr(np.zeros(10), rng.random(10), tmp_path / "roc1.png"))


def test_regression_and_lr_finder_plots(tmp_path: Path):
    rng = np.random.default_rng(0)
    y = rng.normal(size=8000)
    pred = y + rng.normal(size=8000)
    pred[0] = np.nan
    png_size(plot_regression(y, pred, tmp_path / "reg.png"))
    result = LRFinderResult(lrs=list(np.logspace(-6, 0, 30)), losses=list(np.linspace(1, 0.2, 30)),
                            suggestion=1e-3)
    png_size(plot_lr_finder(result, tmp_path / "lr.png"))
    png_size(plot_lr_finder(result.to_dict() | {"suggestion": None}, tmp_path / "lr2.png"))


def test_save_run_plots_writes_the_standard_names(tmp_path: Path):
    rng = np.random.default_rng(0)
    y = (rng.random(50) < 0.3).astype(int)
    proba = np.stack([1 - rng.random(50), rng.random(50)], 1)
    written = save_run_plots(tmp_path, history={"loss": [1.0, 0.5]},
                             metrics={"confusion_matrix": [[20, 5], [5, 20]],
                                      "classes": ["a", "b"]},
                             y_true=y, proba=proba, positive_index=1,
                             lr_finder=LRFinderResult([1e-4, 1e-3], [1.0, 0.8], 1e-4))
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "history.png",
                                               "lr_finder.png", "roc_pr.png"]
    assert save_run_plots(tmp_path) == []  # nothing given, nothing drawn


def test_gradient_norm_plot_draws_weighted_layers_and_survives_gaps(tmp_path: Path):
    from nnguru.report.plots import plot_gradient_norms

    monitor = {"layers": [{"name": "dense", "params": 10}, {"name": "relu", "params": 0},
                          {"name": "out", "params": 4}],
               "samples": [{"step": s, "grad_norm": [g, None, 0.5]} for s, g in
                           ((0, 1.0), (5, float("nan")), (10, 1e-6), (15, float("inf")))]}
    path = plot_gradient_norms(monitor, tmp_path / "g.png")
    with Image.open(path) as im:
        assert im.size[0] > 300
    with pytest.raises(ValueError, match="no sampled weighted layer"):
        plot_gradient_norms({"layers": monitor["layers"], "samples": []}, tmp_path / "none.png")


def test_a_slim_matplotlib_prints_no_font_fallback_lines():
    """mathtext (log-scale ticks) looks up STIX/Computer Modern first; a slim install logs a
    'findfont' line per missing font (21 in the demo) and falls back to DejaVu Sans: not shown."""
    import logging

    import nnguru.report.plots  # noqa: F401

    assert logging.getLogger("matplotlib.font_manager").getEffectiveLevel() >= logging.ERROR
