"""Keras-style callbacks: each a small file; they see only hooks, ``logs`` and ``stop_training``."""

from nnguru.training.callbacks.backup_and_restore import BackupAndRestore
from nnguru.training.callbacks.base import Callback, CallbackList
from nnguru.training.callbacks.csv_logger import CSVLogger
from nnguru.training.callbacks.early_stopping import EarlyStopping
from nnguru.training.callbacks.history import History
from nnguru.training.callbacks.lambda_callback import LambdaCallback
from nnguru.training.callbacks.model_checkpoint import ModelCheckpoint
from nnguru.training.callbacks.reduce_lr_on_plateau import LearningRateScheduler, ReduceLROnPlateau
from nnguru.training.callbacks.tensorboard import TensorBoard
from nnguru.training.callbacks.terminate_on_nan import TerminateOnNaN
from nnguru.training.callbacks.time_budget import TimeBudget

__all__ = [
    "BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN",
    "TimeBudget",
]
