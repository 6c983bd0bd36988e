"""TensorBoard event files, only when the optional ``tensorboard`` package is installed."""

from __future__ import annotations

import sys

import pytest

from nnguru.errors import NNGuruError
from nnguru.report import TensorBoardLogger, tensorboard_available, write_history

HISTORY = {"loss": [1.0, 0.5, float("nan")], "val_loss": [1.1, 0.7, 0.6],
           "accuracy": [0.5, 0.7, 0.8], "lr": [1e-3] * 3, "seconds": [0.1] * 3}


def test_missing_tensorboard_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    assert not tensorboard_available()
    with pytest.raises(NNGuruError, match="pip install tensorboard"):
        write_history(HISTORY, tmp_path)


def test_history_becomes_event_files(tmp_path):
    pytest.importorskip("tensorboard", reason="optional: pip install tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = write_history(HISTORY, tmp_path)
    events = EventAccumulator(str(logdir))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/validation", "accuracy/train",
                                             "lr"}
    assert [(e.step, e.value) for e in events.Scalars("loss/train")] == [(1, 1.0), (2, 0.5)]
    logger = TensorBoardLogger(tmp_path / "cb")
    logger.on_epoch_end(0, {"loss": 0.3, "val_loss": 0.4})
    logger.on_train_end()
    assert any((tmp_path / "cb" / "tensorboard").iterdir())
