"""Keras-style layers on PyTorch.

Layers follow Keras's conventions so tutorial code runs unchanged: shapes exclude the batch axis,
images are channels-last ``(H, W, C)``, weights start as Keras's (Glorot-uniform kernels, zero
biases; any Keras initializer by name or from ``nnguru.initializers``), and a layer builds its
parameters lazily from the first input shape it sees (``input_shape=`` builds at once, as in
Keras 2). Every layer serializes to ``{"class_name", "config"}`` JSON.

    base           the protocol: Layer, register, masks (call_layer), configs, penalties
    core           Dense, activation layers, dropout and noise, reshaping, BatchNormalization, Embedding
    conv           convolutions, pooling, upsampling, padding and cropping
    recurrent      LSTM, GRU, SimpleRNN, Bidirectional
    wrappers       TimeDistributed, RepeatVector (around the time axis)
    preprocessing  Normalization, TextVectorization (learn from data with adapt())
    tabular        FeatureScale (a learned per-feature scale, for tables)
    residual       ResidualBlock (ResNet's basic block as one layer), GrayscaleToRGB

    ensemble       EnsembleExpand, EnsembleMean (k members sharing one MLP, for tables)
    augment        RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast (training only)
"""

from nnguru.nn.layers.augment import RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from nnguru.nn.layers.base import (
    LAYERS,
    UNSUPPORTED,
    Input,
    Layer,
    Shape,
    Weight,
    _Activated,
    _Kernel,
    _pair,
    _same_padding,
    call_layer,
    deserialize,
    has_regularizers,
    register,
    regularization_loss,
    serialize,
)
from nnguru.nn.layers.conv import (
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
    UpSampling2D,
    ZeroPadding2D,
)
from nnguru.nn.layers.core import (
    ELU,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    LeakyReLU,
    PReLU,
    ReLU,
    Rescale,
    Rescaling,
    Reshape,
    Softmax,
    SpatialDropout1D,
    SpatialDropout2D,
)
from nnguru.nn.layers.ensemble import EnsembleExpand, EnsembleMean
from nnguru.nn.layers.preprocessing import Normalization, TextVectorization
from nnguru.nn.layers.recurrent import (
    GRU,
    LSTM,
    Bidirectional,
    SimpleRNN,
    _Recurrent,
    fold_legacy_biases,
    fold_second_bias,
)
from nnguru.nn.layers.residual import GrayscaleToRGB, ResidualBlock
from nnguru.nn.layers.tabular import FeatureScale
from nnguru.nn.layers.wrappers import RepeatVector, TimeDistributed

__all__ = [
    "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
    "LAYERS", "UNSUPPORTED", "Shape", "Weight", "_Activated", "_Kernel", "_Recurrent", "_pair", "_same_padding",
    "call_layer", "deserialize", "fold_legacy_biases", "fold_second_bias", "has_regularizers", "register",
    "regularization_loss", "serialize", "Layer", "Input",
    "Activation", "AveragePooling1D", "AveragePooling2D", "BatchNormalization", "Bidirectional", "Conv1D",
    "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Cropping2D", "Dense", "Dropout", "ELU", "Embedding", "Flatten",
    "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GRU", "LeakyReLU", "LSTM", "MaxPooling1D", "MaxPooling2D", "Normalization", "PReLU",
    "ReLU", "RepeatVector", "Rescale", "Rescaling", "Reshape", "SimpleRNN", "Softmax", "SpatialDropout1D",
    "SpatialDropout2D",
    "TextVectorization", "TimeDistributed", "UpSampling2D", "ZeroPadding2D",
    "FeatureScale", "GrayscaleToRGB", "ResidualBlock", "EnsembleExpand", "EnsembleMean",
]
