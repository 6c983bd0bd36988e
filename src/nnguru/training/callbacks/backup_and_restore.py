"""BackupAndRestore: a ``fit`` that was interrupted resumes where it stopped when run again (Keras).

The backup is one atomic file holding the whole training state (``training.checkpoint.save_state``):
weights, optimizer, every callback's state, the history so far, the RNG states, the shuffle seed
and the position inside the epoch (with the epoch's running loss and metric sums), so the resumed
run ends with exactly the uninterrupted run's history and weights. ``nnguru train --resume`` uses
the same callback inside the run directory.
"""

from __future__ import annotations

from pathlib import Path

from nnguru.errors import NNGuruError
from nnguru.training.callbacks.base import Callback
from nnguru.training.checkpoint import load_state, remove_stale_temps, save_state

STATE_FILE = "training_state.safetensors"


class BackupAndRestore(Callback):
    """``backup_dir``: where the backup lives; ``save_freq``: ``'epoch'`` or every N batches (a
    backup is also written at each epoch's end, so a finished or early-stopped fit is known as
    such); ``delete_checkpoint``: remove the backup once ``fit`` completes (Keras's default)."""

    is_backup = True  # the loop hands its state to callbacks that have this

    def __init__(self, backup_dir: str | Path, save_freq: str | int = "epoch",
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise NNGuruError(f"BackupAndRestore save_freq must be 'epoch' or a positive number of batches; "
                              f"received {save_freq!r}.")
        self.backup_dir, self.save_freq, self.delete_checkpoint = Path(backup_dir), save_freq, delete_checkpoint
        self.is_main = True

    @property
    def path(self) -> Path:
        return self.backup_dir / STATE_FILE

    def due(self, epoch: int, step: int, steps: int) -> bool:
        """Whether to back up after ``step`` (0-based) of ``epoch``, counting batches across epochs."""
        return self.save_freq != "epoch" and (epoch * steps + step + 1) % self.save_freq == 0

    def save(self, state: dict) -> None:
        if self.is_main:
            save_state(self.path, state)

    def load(self) -> dict | None:
        """The backed-up training state, or None when there is none (a fresh fit)."""
        remove_stale_temps(self.path)
        return load_state(self.path) if self.path.is_file() else None

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and self.is_main:
            self.path.unlink(missing_ok=True)
            if self.backup_dir.is_dir() and not any(self.backup_dir.iterdir()):
                self.backup_dir.rmdir()
