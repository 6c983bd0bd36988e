"""Callbacks: Keras semantics through the loop's hooks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from nnguru.errors import NNGuruError
from nnguru.layers import Dense, Dropout
from nnguru.training.checkpoint import load_checkpoint


def small_model(lr=None, optimizer="adam"):
    m = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer if lr is None else {"name": optimizer, "lr": lr},
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin{epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.events.append("batch")
        assert "loss" in logs

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end{epoch}")
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(logs)

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_hook_order(blobs):
    x, y = blobs
    rec = Recorder()
    small_model().fit(x, y, epochs=2, batch_size=100, validation_split=0.1, callbacks=[rec], verbose=0)
    assert rec.events == ["train_begin", "epoch_begin0", "batch", "batch", "batch", "epoch_end0",
                          "epoch_begin1", "batch", "batch", "batch", "epoch_end1", "train_end"]


class Snapshots(Callback):
    """Every epoch's weights, to compare with what a callback kept."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({k: v.clone() for k, v in self.model.state_dict().items()})


def memorizing_noise(blobs):
    """A wide net on pure-noise labels: validation loss bottoms out early, then rises as it memorizes."""
    x, _ = blobs
    y_noise = np.random.default_rng(1).integers(0, 3, len(x))
    m = Sequential([Dense(256, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
    m.compile(optimizer={"name": "adam", "lr": 0.01}, loss="sparse_categorical_crossentropy")
    return m, x, y_noise


def test_early_stopping_restores_best_weights(blobs):
    m, x, y_noise = memorizing_noise(blobs)
    snap = Snapshots()
    es = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    h = m.fit(x, y_noise, epochs=100, batch_size=16, validation_split=0.3, callbacks=[snap, es], verbose=0)
    snapshots = snap.weights
    epochs_run = len(h.history["loss"])
    assert epochs_run < 100 and es.stopped_epoch == epochs_run - 1
    best = int(np.argmin(h.history["val_loss"]))
    assert es.best_epoch == best and epochs_run == best + 4
    for k, v in m.state_dict().items():
        assert torch.equal(v, snapshots[best][k])


def test_early_stopping_unknown_monitor_lists_available(blobs):
    x, y = blobs
    with pytest.raises(NNGuruError, match="monitors 'val_acc'.*Available: .*val_accuracy"):
        small_model().fit(x, y, epochs=2, validation_split=0.2, verbose=0,
                          callbacks=[EarlyStopping(monitor="val_acc")])
    with pytest.raises(NNGuruError, match="no validation data"):
        small_model().fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_reduce_lr_on_plateau_and_scheduler(blobs):
    x, y = blobs
    m = small_model()
    h = m.fit(x, y, epochs=4, verbose=0, callbacks=[ReduceLROnPlateau(monitor="loss", patience=1,
                                                                       min_delta=10.0, factor=0.5)])
    assert h.history["learning_rate"] == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])  # epoch 1 always improves
    m2 = small_model()
    h2 = m2.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: 0.1 / (e + 1))])
    assert h2.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_nonfinite_loss_restores_last_good_weights_and_says_why(blobs):
    x, y = blobs
    m = small_model(lr=1e6, optimizer="sgd")
    h = m.fit(x * 1e3, y, epochs=20, verbose=0)
    assert np.isnan(h.history["loss"][-1]) and len(h.history["loss"]) < 20
    assert "non-finite" in m.stop_reason
    assert all(torch.isfinite(v).all() for v in m.state_dict().values())


def test_terminate_on_nan_stops_at_the_batch(blobs):
    x, y = blobs
    m = small_model(lr=1e6, optimizer="sgd")
    seen = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    m.fit(x * 1e3, y, epochs=5, batch_size=8, verbose=0, callbacks=[Count(), TerminateOnNaN()])
    assert not np.isfinite(seen[-1]) and np.isfinite(seen[:-1]).all()


def test_checkpoint_resume_is_exact(blobs, tmp_path):
    x, y = blobs
    torch.manual_seed(0)
    full = small_model()
    state0 = {k: v.clone() for k, v in full.state_dict().items()}
    ck = ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}.safetensors"))
    torch.manual_seed(1)
    full.fit(x, y, epochs=4, verbose=0, callbacks=[ck])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ck-0{i}.safetensors" for i in range(1, 5)]
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporaries
    # resume from epoch 2 in a fresh model: the end state equals the uninterrupted run's
    resumed = small_model()
    resumed.load_state_dict(state0)
    torch.manual_seed(1)
    resumed.fit(x, y, epochs=4, verbose=0, resume_from=str(tmp_path / "ck-02.safetensors"))
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v)
    meta = load_checkpoint(tmp_path / "ck-04.safetensors", small_model())
    assert meta["epoch"] == 4
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(NNGuruError, match="not a readable nnguru checkpoint"):
        load_checkpoint(tmp_path / "bad.safetensors", small_model())


def test_checkpoint_save_best_only(blobs, tmp_path):
    """The file holds the best epoch's weights, not the last: validation worsens after the best."""
    m, x, y_noise = memorizing_noise(blobs)
    snap = Snapshots()
    path = tmp_path / "best.safetensors"
    ck = ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    h = m.fit(x, y_noise, epochs=15, batch_size=16, validation_split=0.3, verbose=0,
              callbacks=[snap, ck]).history
    snapshots = snap.weights
    best = int(np.argmin(h["val_loss"]))
    assert best < len(h["val_loss"]) - 1 and min(h["val_loss"][best + 1:]) > h["val_loss"][best]
    meta = load_checkpoint(path, m)
    assert meta["epoch"] == best + 1 and meta["extra"]["logs"]["val_loss"] == h["val_loss"][best]
    for k, v in m.state_dict().items():
        assert torch.equal(v, snapshots[best][k]), k


def test_csv_logger(blobs, tmp_path):
    x, y = blobs
    small_model().fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(str(tmp_path / "log.csv"))])
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and "accuracy" in rows[0]


def test_plain_progress_line_per_epoch(blobs, capsys):
    x, y = blobs
    small_model().fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_optimizer_nonfinite_error_stops_cleanly(blobs):
    """A ModelOptimizer that refuses a non-finite step: the run stops, weights stay finite, it says why."""
    from nnguru.optim.base import NonFiniteError

    x, y = blobs
    m = small_model()
    calls = []
    original = m.train_step

    def failing_step(xb, yb, wb):
        calls.append(1)
        if len(calls) > 12:
            raise NonFiniteError("the curvature became non-finite; raise damping", code="damping")
        return original(xb, yb, wb)

    m.train_step = failing_step
    h = m.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert np.isnan(h.history["loss"][-1]) and len(h.history["loss"]) == 2
    assert "raise damping" in m.stop_reason
    assert all(torch.isfinite(v).all() for v in m.state_dict().values())


@pytest.mark.parametrize("optimizer", ["adam", "gd", "hessian-free", "random-search"])
def test_resume_with_dropout_is_exact_whatever_the_seed_at_resume(blobs, tmp_path, optimizer):
    # Dropout masks come from the RNG: the checkpoint's RNG state (and the optimizers' own
    # per-step seeds) must replay them, whatever the global seed is when the run resumes.
    x, y = blobs

    def model():
        m = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dropout(0.3), Dense(3, activation="softmax")])
        m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        return m

    torch.manual_seed(0)
    full = model()
    state0 = {k: v.clone() for k, v in full.state_dict().items()}
    full.fit(x, y, epochs=3, batch_size=64, verbose=0,
             callbacks=[ModelCheckpoint(str(tmp_path / "ck-{epoch}.safetensors"))])
    resumed = model()
    resumed.load_state_dict(state0)
    torch.manual_seed(99)
    resumed.fit(x, y, epochs=3, batch_size=64, verbose=0, resume_from=str(tmp_path / "ck-1.safetensors"))
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)
