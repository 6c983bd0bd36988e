"""CSVLogger: one row per epoch, written as it happens (safe to tail during training)."""

from __future__ import annotations

import csv

from nnguru.training.callbacks.base import Callback


class CSVLogger(Callback):
    main_process_only = True

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = str(filename), separator, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.writer is None:
            self.keys = list(logs)
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep, extrasaction="ignore")
            if not self.append or self.file.tell() == 0:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()
