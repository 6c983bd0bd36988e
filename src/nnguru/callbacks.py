"""Keras-style callbacks: ``from nnguru.callbacks import EarlyStopping, ModelCheckpoint, ...``."""

from nnguru.training.callbacks import (  # noqa: F401
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
