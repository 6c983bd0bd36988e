"""Keras-style callbacks: ``from nnguru.callbacks import EarlyStopping, ModelCheckpoint, ...``."""

from nnguru.keras_names import module_getattr  # Keras names nnguru lacks say so
from nnguru.training.callbacks import (  # noqa: F401
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    TimeBudget,
)

__getattr__ = module_getattr("callbacks", __name__)
