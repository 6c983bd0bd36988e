"""Keras-style callbacks: ``from nnguru.callbacks import EarlyStopping, ModelCheckpoint, ...``."""

from nnguru.training.callbacks import (  # noqa: F401
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
)

from nnguru.keras_names import module_getattr  # noqa: E402 - Keras names nnguru lacks say so

__getattr__ = module_getattr("callbacks", __name__)
