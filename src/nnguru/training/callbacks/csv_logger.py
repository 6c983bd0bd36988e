"""CSVLogger: one row per epoch, written as it happens (safe to tail during training)."""

from __future__ import annotations

import csv

from nnguru.training.callbacks.base import Callback


class CSVLogger(Callback):
    """The file is opened at the first epoch's end, so a resumed run (whose state says a header was
    written) appends to the interrupted run's rows instead of truncating them."""

    main_process_only = True
    state_attrs = ("keys",)

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = str(filename), separator, append
        self.keys: list[str] | None = None
        self.file = None

    def on_train_begin(self, logs=None):
        self.keys, self.file = None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.file is None:
            resumed = self.keys is not None
            self.keys = self.keys or list(logs)
            self.file = open(self.filename, "a" if self.append or resumed else "w", newline="")  # noqa: SIM115
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep, extrasaction="ignore")
            if not resumed and (not self.append or self.file.tell() == 0):
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None
