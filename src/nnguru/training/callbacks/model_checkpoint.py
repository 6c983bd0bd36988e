"""ModelCheckpoint: save a resumable checkpoint every epoch or when the monitor improves."""

from __future__ import annotations

import math

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
    With ``save_weights_only`` the optimizer state is left out.
    """

    main_process_only = True

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", verbose: int = 0) -> None:
        super().__init__()
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.save_weights_only, self.verbose = save_weights_only, verbose
        self.mode = mon.mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = mon.read(logs, self.monitor, "ModelCheckpoint")
            if not mon.improved(current, self.best, self.mode, 0.0):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        optimizer = None if self.save_weights_only else self.model.optimizer
        save_checkpoint(path, self.model, optimizer, epoch=epoch + 1,
                        extra={"logs": logs, "shuffle_seed": getattr(self.model, "shuffle_seed", None),
                               **_architecture(self.model)})
        self.last_saved = path
        if self.verbose:
            print(f"ModelCheckpoint: epoch {epoch + 1}: saved {path}")
