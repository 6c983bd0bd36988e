"""Keras-style layers: ``from nnguru.layers import Dense, Flatten, Conv2D, ...``."""

from nnguru.keras_names import module_getattr  # Keras names nnguru lacks say so
from nnguru.nn.layers import (  # noqa: F401
    GRU,
    LSTM,
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    MaxPooling1D,
    MaxPooling2D,
    Rescale,
    Reshape,
    SimpleRNN,
    register,
)
from nnguru.nn.merging import (  # noqa: F401
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)

__getattr__ = module_getattr("layers", __name__)
