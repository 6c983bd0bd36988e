"""TensorBoard: write each epoch's logs as TensorBoard event files (Keras's callback)."""

from __future__ import annotations

from pathlib import Path

from nnguru.errors import NNGuruError
from nnguru.training.callbacks.base import Callback


class TensorBoard(Callback):
    """``TensorBoard(log_dir="logs")``: losses, metrics and the learning rate per epoch, with
    training and validation curves overlaid (``loss/train``, ``loss/validation``).

    Needs the optional ``tensorboard`` package; without it the constructor says how to install
    it. Keras's other options (histograms, profiling, images, embeddings) are accepted only at
    their off values.
    """

    main_process_only = True

    def __init__(self, log_dir: str | Path = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, update_freq: str | int = "epoch", profile_batch: int = 0,
                 **kwargs) -> None:
        super().__init__()
        from nnguru.report.tensorboard import tensorboard_available

        if not tensorboard_available():
            raise NNGuruError("TensorBoard needs the 'tensorboard' package, which is not installed; run "
                              "`pip install tensorboard`, or use CSVLogger / the History returned by fit.")
        if histogram_freq or write_images or update_freq != "epoch" or profile_batch or kwargs.get("embeddings_freq"):
            raise NNGuruError("TensorBoard in nnguru logs once per epoch only: histogram_freq, write_images, "
                              "profile_batch, embeddings and update_freq other than 'epoch' are not supported.")
        self.log_dir = Path(log_dir)
        self.writer = None

    def on_train_begin(self, logs=None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_epoch_end(self, epoch, logs=None):
        from nnguru.report.tensorboard import log_epoch

        if self.writer is not None:
            log_epoch(self.writer, epoch, logs or {})
            self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
