"""An interrupted fit resumes exactly: BackupAndRestore carries every callback's state, the history,
the RNGs and the position inside the epoch (Keras's BackupAndRestore semantics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnguru import Sequential
from nnguru.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from nnguru.errors import NNGuruError
from nnguru.layers import Dense, Dropout
from nnguru.training.checkpoint import load_checkpoint


class Interrupt(Exception):
    pass


class KillAt(Callback):
    """Raises after ``at`` batches in all, as a crash would (no on_train_end)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            raise Interrupt


def noisy_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    return x, rng.integers(0, 3, len(x))  # noise labels: validation loss turns up, early stopping fires


def model():
    m = Sequential([Dense(64, activation="relu", input_shape=(4,)), Dropout(0.2), Dense(3, activation="softmax")])
    m.compile(optimizer={"name": "adam", "lr": 0.02}, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def run(tmp, kill_at=None, save_freq=5):
    """One fit with stateful callbacks; with ``kill_at`` it is interrupted, then rerun (fresh objects)."""
    x, y = noisy_data()

    def once(extra, seed):
        torch.manual_seed(0)
        m = model()
        cbs = [EarlyStopping(patience=3, restore_best_weights=True), ReduceLROnPlateau(patience=1, factor=0.5),
               ModelCheckpoint(str(tmp / "best.safetensors"), save_best_only=True),
               CSVLogger(str(tmp / "log.csv")),
               BackupAndRestore(tmp / "backup", save_freq=save_freq), *extra]
        torch.manual_seed(seed)
        h = m.fit(x, y, epochs=40, batch_size=16, validation_split=0.25, callbacks=cbs, verbose=0)
        return m, h, cbs

    if kill_at is not None:
        with pytest.raises(Interrupt):
            once([KillAt(kill_at)], 7)
        assert (tmp / "backup").is_dir()
    return once([], 7 if kill_at is None else 123)  # a resumed run must not depend on the seed at resume


def strip(history):
    return {k: v for k, v in history.items() if k != "seconds"}


@pytest.mark.parametrize("kill_at", [7, 25, 36])  # mid-epoch (between backups and on one), at an epoch's end
def test_interrupted_fit_resumes_exactly(tmp_path, kill_at):
    full_m, full_h, full_cbs = run(tmp_path / "full")
    res_m, res_h, res_cbs = run(tmp_path / "resumed", kill_at)
    es = full_cbs[0]
    assert es.stopped_epoch is not None and es.stopped_epoch < 39  # early stopping did fire
    assert strip(res_h.history) == strip(full_h.history)  # bit-exact, lr (ReduceLROnPlateau) included
    assert min(full_h.logs["lr"]) < max(full_h.logs["lr"])
    assert res_cbs[0].stopped_epoch == es.stopped_epoch and res_cbs[0].best == es.best
    assert res_cbs[2].best == full_cbs[2].best
    for k, v in full_m.state_dict().items():
        assert torch.equal(res_m.state_dict()[k], v), k
    best_full = load_checkpoint(tmp_path / "full" / "best.safetensors", model())
    best_res = load_checkpoint(tmp_path / "resumed" / "best.safetensors", model())
    assert best_full["epoch"] == best_res["epoch"]
    assert (tmp_path / "full" / "log.csv").read_text().count("\n") == \
        (tmp_path / "resumed" / "log.csv").read_text().count("\n") == len(full_h.history["loss"]) + 1
    # delete_checkpoint=True: the backup goes when fit completes; no temporaries anywhere
    assert not (tmp_path / "resumed" / "backup").exists()
    assert not [p for p in (tmp_path / "resumed").rglob("*") if p.name.endswith(".tmp")]


def test_model_checkpoint_every_n_batches_formats_names(tmp_path):
    x, y = noisy_data()
    m = model()
    ck = ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{batch}-{loss:.2f}.safetensors"), save_freq=4)
    m.fit(x, y, epochs=2, batch_size=30, callbacks=[ck], verbose=0)  # 4 batches an epoch
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].startswith("ck-01-4-") and names[1].startswith("ck-02-4-")
    with pytest.raises(NNGuruError, match="save_freq"):
        ModelCheckpoint("x", save_freq=0)
    with pytest.raises(NNGuruError, match="val_acc"):
        model().fit(x, y, epochs=1, callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}"))], verbose=0)


def test_callback_state_round_trips():
    es = EarlyStopping(patience=4)
    es.on_train_begin()
    es.wait, es.best, es.best_epoch = 2, 0.5, 3
    other = EarlyStopping(patience=4)
    other.on_train_begin()
    other.load_state_dict(es.state_dict())
    assert (other.wait, other.best, other.best_epoch) == (2, 0.5, 3)
