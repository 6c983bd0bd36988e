"""Keras-style callbacks: each a small file; they see only hooks, ``logs`` and ``stop_training``."""

from nnguru.train.callbacks.base import Callback, CallbackList
from nnguru.train.callbacks.csv_logger import CSVLogger
from nnguru.train.callbacks.early_stopping import EarlyStopping
from nnguru.train.callbacks.history import History
from nnguru.train.callbacks.model_checkpoint import ModelCheckpoint
from nnguru.train.callbacks.reduce_lr_on_plateau import LearningRateScheduler, ReduceLROnPlateau
from nnguru.train.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LearningRateScheduler",
    "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN",
]
