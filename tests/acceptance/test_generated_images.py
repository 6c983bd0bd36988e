"""Issue 12's defaults on a generated photo folder of mixed sizes: the input size comes from the
data (median, capped), the model is the spatial-head cnn with shift augmentation, and the run
completes with a test score. Train/eval agreement is checked against its oracle in
tests/nn/test_templates.py; accuracy against a plain PyTorch CNN is measured by
benchmarks/images.py (the generated shapes need ~1,000+ images to be learned by either)."""

from __future__ import annotations

import json
import re

from nnguru.cli import main
from photo_folder import make_photo_folder


def test_default_train_on_a_mixed_size_photo_folder(tmp_path):
    folder = make_photo_folder(tmp_path / "photos", n_per_class=12, n_classes=3, sizes=(60, 160))
    run = tmp_path / "run"
    assert main(["train", str(folder), "--out", str(run), "--epochs", "2", "--quiet"]) == 0
    report = json.loads((run / "data_report.json").read_text())
    assert report["formatting"]["color_mode"] == "RGB" and report["formatting"]["images_to_resize"] > 30
    summary = (run / "model_summary.txt").read_text()
    height, width = map(int, re.search(r"\(None, (\d+), (\d+), 3\)", summary).groups())
    assert max(height, width) == 64 and min(height, width) >= 40  # median of 60..160 px sides, capped at 64
    assert "RandomTranslation" in summary and "Flatten" in summary and "GlobalAveragePooling" not in summary
    assert "RandomFlip" not in summary  # flips are opt-in (--augment flip)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and metrics["epochs_run"] == 2
