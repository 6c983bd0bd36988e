"""TerminateOnNaN: stop as soon as a batch loss is NaN or infinite."""

from __future__ import annotations

import math

from nnguru.training.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Checks every batch (one host sync per batch: the loop's own epoch-level guard is free)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"TerminateOnNaN: batch {batch}: invalid loss {loss}, terminating training.")
            self.model.stop_training = True
