"""ModelCheckpoint: save a resumable checkpoint every epoch, every N batches, or when the monitor improves."""

from __future__ import annotations

import math

from nnguru.errors import NNGuruError
from nnguru.training.callbacks import monitor as mon
from nnguru.training.callbacks.base import Callback
from nnguru.training.checkpoint import save_checkpoint


def _architecture(model) -> dict:
    """``{"model": model.json's record}`` so ``nnguru.load_model(checkpoint)`` can rebuild the
    model (any file name, e.g. Keras's ``best_model.keras``); empty for raw torch modules."""
    from nnguru.errors import NNGuruError
    from nnguru.nn.saving import model_record

    try:
        return {"model": model_record(model)}
    except (NNGuruError, AttributeError):
        return {}


class ModelCheckpoint(Callback):
    """``filepath`` may hold Keras-style fields: ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.

    Files are safetensors checkpoints (weights + optimizer + RNG state; see
    ``nnguru.training.checkpoint``) written atomically; ``Model.fit(resume_from=...)`` resumes one.
    With ``save_weights_only`` the optimizer state is left out. ``save_freq`` is ``'epoch'`` or a
    number of batches (Keras): then the file is written after every that many batches, with the
    batch's logs (``{loss}``, ``{batch}``) for the name and for ``save_best_only``. The best value
    and the batch count are part of the callback's state, so a resumed run saves as the
    uninterrupted one would.
    """

    main_process_only = True
    state_attrs = ("best", "last_saved", "batches_since_save", "current_epoch")

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", verbose: int = 0,
                 save_freq: str | int = "epoch") -> None:
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise NNGuruError(f"ModelCheckpoint save_freq must be 'epoch' or a positive number of batches; "
                              f"received {save_freq!r}.")
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.save_weights_only, self.verbose, self.save_freq = save_weights_only, verbose, save_freq
        self.mode = mon.mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_saved: str | None = None
        self.batches_since_save, self.current_epoch = 0, 0
        if save_freq == "epoch":  # per-batch logs cost a host sync: do not ask for them
            self.ignored_hooks = ("on_train_batch_end",)

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches_since_save += 1
        if self.batches_since_save >= self.save_freq:
            self.batches_since_save = 0
            self._save(self.current_epoch, {**(logs or {}), "batch": batch + 1}, epoch_done=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {}, epoch_done=True)

    def _save(self, epoch: int, logs: dict, epoch_done: bool) -> None:
        if self.save_best_only:
            current = mon.read(logs, self.monitor, "ModelCheckpoint")
            if not mon.improved(current, self.best, self.mode, 0.0):
                return
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise NNGuruError(
                f"ModelCheckpoint filepath {self.filepath!r} names a field that cannot be filled ({exc}); "
                f"available: epoch, {', '.join(sorted(logs))}."
            ) from None
        optimizer = None if self.save_weights_only else self.model.optimizer
        save_checkpoint(path, self.model, optimizer, epoch=epoch + 1 if epoch_done else epoch,
                        extra={"logs": logs, "shuffle_seed": getattr(self.model, "shuffle_seed", None),
                               **_architecture(self.model)})
        self.last_saved = path
        if self.verbose:
            print(f"ModelCheckpoint: epoch {epoch + 1}: saved {path}")
