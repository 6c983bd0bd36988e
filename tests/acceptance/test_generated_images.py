"""Issue 12 on a generated photo folder: the default `nnguru train` learns, and validation (eval
mode) follows training instead of sitting at chance. Small and fast; the full comparison with a
plain PyTorch CNN is benchmarks/images.py."""

from __future__ import annotations

import csv
import json

from photo_folder import make_photo_folder

from nnguru.cli import main


def test_default_train_on_generated_photos_validation_follows_training(tmp_path):
    folder = make_photo_folder(tmp_path / "photos", n_per_class=40, n_classes=3, size=(40, 40), sizes=None)
    run = tmp_path / "run"
    assert main(["train", str(folder), "--out", str(run), "--epochs", "8", "--quiet"]) == 0
    with (run / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    train_acc = [float(r["accuracy"]) for r in history]
    val_acc = [float(r["val_accuracy"]) for r in history]
    metrics = json.loads((run / "metrics.json").read_text())
    assert max(train_acc) > 0.6
    # eval-mode scores track training: no run of epochs at chance while training climbs
    assert max(val_acc) >= 0.6 and metrics["test"]["accuracy"] >= 0.5
    assert json.loads((run / "data_report.json").read_text())["formatting"]["color_mode"] == "RGB"
