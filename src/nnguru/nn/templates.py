"""Default models per data kind, sized from the data: a registry of templates.

The guides' advice, encoded: an MLP for tables, text features and short windows of a series, a
small CNN for images and spectrograms, a GRU or a 1-D CNN for sequences (windows of a series);
dropout when data is scarce. Every template ends with the head its task gives it (the output
layers: softmax for classes, a rescaled linear layer for values, one output per forecast step).

Add one with ``register_template("name")`` on a function ``(input_shape, head, n_train, dropout,
hidden_scale) -> Sequential``; ``--model name`` then selects it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from nnguru.errors import NNGuruError
from nnguru.initializers import RandomNormal
from nnguru.nn.autoencoders import conv_autoencoder, dense_autoencoder
from nnguru.nn.layers import (
    GRU,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    EnsembleExpand,
    EnsembleMean,
    FeatureScale,
    Flatten,
    GlobalAveragePooling1D,
    Input,
    MaxPooling2D,
    RandomFlip,
    RandomTranslation,
    ReLU,
    Rescaling,
)
from nnguru.nn.sequential import Sequential

_TEMPLATES: dict[str, Callable[..., Sequential]] = {}


def register_template(name: str) -> Callable:
    """Decorator: register a template builder under ``name``."""
    def add(builder: Callable[..., Sequential]) -> Callable[..., Sequential]:
        _TEMPLATES[name] = builder
        return builder
    return add


def names() -> list[str]:
    return ["auto", *_TEMPLATES]


def _hidden_units(n_features: int, n_train: int) -> int:
    """Wider for more features and more data; 32..256, a power of two."""
    guess = math.sqrt(max(n_features, 1)) * 16 * (1.5 if n_train > 5000 else 1.0)
    return int(2 ** min(8, max(5, round(math.log2(guess)))))


@register_template("mlp")
def mlp(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0, feature_scale: bool = False, ensemble: int = 1,
        init: str = "keras") -> Sequential:
    """Two ReLU layers with dropout; ``feature_scale``: a learned scale per input feature first
    (RealMLP's, for tables: each feature's weight is learned directly); ``ensemble``: k members
    sharing the network (:mod:`nnguru.nn.layers.ensemble`), averaged before the head; ``init``: how
    the Dense layers are parametrized (:data:`INITS`)."""
    if init not in INITS:
        raise NNGuruError(f"Unknown mlp init {init!r}. Valid: {', '.join(INITS)} (keras: Glorot-uniform weights; "
                          "ntk: RealMLP's NTK parametrization).")
    n_features = math.prod(input_shape)
    h = int(_hidden_units(n_features, n_train) * hidden_scale)
    rate = dropout if dropout is not None else (0.2 if n_train < 20000 else 0.1)
    dense = INITS[init]
    layers = [Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(Flatten())
    if feature_scale:
        layers.append(FeatureScale())
    if ensemble > 1:
        layers.append(EnsembleExpand(ensemble))
    layers += [*dense(n_features, h), Dropout(rate), *dense(h, max(h // 2, 16)), Dropout(rate)]
    if ensemble > 1:
        layers.append(EnsembleMean())
    return Sequential([*layers, *_parametrize_head(head, max(h // 2, 16), init)], name="mlp")


def _keras_dense(fan_in: int, units: int) -> list:
    return [Dense(units, activation="relu")]


def _ntk_dense(fan_in: int, units: int) -> list:
    """NTK parametrization (Jacot et al. 2018; RealMLP's default): weights drawn N(0, 1) and the
    input scaled by 1/sqrt(fan_in) in the forward pass. The initial function is LeCun-normal's, but
    the gradient of each weight shrinks with the fan-in, so one learning rate suits every width."""
    return [Rescaling(1.0 / math.sqrt(fan_in)), Dense(units, activation="relu",
                                                       kernel_initializer=RandomNormal(stddev=1.0))]


# Adam's rate with the NTK parametrization (RealMLP's 0.04): a weight's step moves the layer's output
# 1/sqrt(fan_in) as much as under Keras's parametrization, so the rate is larger than Keras's 0.001.
NTK_LR = 0.04
# How the mlp's Dense layers are parametrized (TABLE_DEFAULTS["init"] for tables).
INITS: dict[str, Callable[[int, int], list]] = {"keras": _keras_dense, "ntk": _ntk_dense}


def _parametrize_head(head: list, fan_in: int, init: str) -> list:
    """The task's head, its first Dense layer NTK-parametrized too when ``init`` is ntk (not built yet,
    so only its initializer changes, and a scale goes before it)."""
    first = next((i for i, layer in enumerate(head) if isinstance(layer, Dense)), None)
    if init != "ntk" or first is None or head[first].built:
        return head
    head[first].kernel_initializer = RandomNormal(stddev=1.0)
    return [*head[:first], Rescaling(1.0 / math.sqrt(fan_in)), *head[first:]]


# Keras's BatchNormalization momentum (0.99) moves the running statistics 1% per step: with the ~40
# steps an epoch of 1,400 small-set images takes, evaluation normalizes with statistics still near
# their initial values (mean 0, variance 1) for about ten epochs, so validation sits at chance while
# training accuracy climbs (issue 12). 0.9 (PyTorch's default, 0.1 in its convention) settles in one
# epoch of such data.
BN_MOMENTUM = 0.9
# Images are pooled down to a spatial map of at most this many pixels a side, then flattened: the head
# sees where things are. Global average pooling throws that away and is weak on small sets (0.42 vs
# 0.95 in issue 12's measurement on 2,000 photos).
HEAD_SIDE = 7


def _conv_block(filters: int) -> list:
    """Conv 3x3 -> BatchNorm -> ReLU -> 2x2 max-pool (the bias is redundant before BatchNorm)."""
    return [Conv2D(filters, 3, padding="same", use_bias=False), BatchNormalization(momentum=BN_MOMENTUM),
            ReLU(), MaxPooling2D(2)]


@register_template("cnn")
def cnn(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0, augment: str = "shift") -> Sequential:
    """Conv-BN-ReLU-pool blocks until the map is at most ``HEAD_SIDE`` a side, then Flatten ->
    Dropout -> the task's head.

    Filters double per block from 16 on inputs wider than 32 pixels (32 on smaller ones), capped at
    128, so an epoch over 2,000 64x64 photos stays a few seconds on 2 cores. ``augment`` names the
    label-preserving augmentation (:data:`AUGMENTATIONS`), active in training only.
    """
    if len(input_shape) != 3:
        raise NNGuruError(f"The cnn template needs images (height, width, channels); got {input_shape}.")
    h, w, _ = input_shape
    first = 16 if min(h, w) > 32 else 32
    layers: list = [Input(shape=input_shape), *augmentation(augment)]
    block = 0
    while min(h, w) > HEAD_SIDE or block == 0:
        layers += _conv_block(int(min(128, first * 2 ** block) * hidden_scale))
        h, w, block = h // 2, w // 2, block + 1
        if min(h, w) < 2:
            break
    rate = dropout if dropout is not None else 0.3
    # the output layer reads the flattened map directly, as issue 12's reference and Keras's MNIST
    # convnet do: a hidden Dense(128, relu) there lost most of its units in the first epoch on the
    # generated photos (the run stayed at chance; RESULTS "Image defaults", session 7)
    layers += [Flatten(), Dropout(rate), *head]
    return Sequential(layers, name="cnn")


# The learning-rate decay fit gives each template's runs (config ``lr_decay``; pipeline.lr_decay): the
# cnn's rate falls linearly to 0 over its budget (BudgetDecay, "budgeted training", Li et al. 2020), so
# an image or audio run uses its time budget and ends settled; measured against a constant rate with
# early stopping in RESULTS "Image defaults" (session 8). Templates not named keep a constant rate.
LR_DECAY: dict[str, str] = {"cnn": "budget"}


# Label-preserving augmentation per name (training only). Shifts keep every label we know of; a
# horizontal flip changes digits and text (a mirrored 2 or "b" is not one), so it is opt-in.
AUGMENTATIONS: dict[str, Callable[[], list]] = {
    "none": list,
    "shift": lambda: [RandomTranslation(0.1, 0.1, fill_mode="nearest")],
    "flip": lambda: [RandomFlip("horizontal"), RandomTranslation(0.1, 0.1, fill_mode="nearest")],
}


def augmentation(name: str) -> list:
    """The augmentation layers named ``name`` (see :data:`AUGMENTATIONS`)."""
    if name not in AUGMENTATIONS:
        raise NNGuruError(f"Unknown augmentation {name!r}. Valid: {', '.join(AUGMENTATIONS)} (shift is the "
                          "default for images; flip adds horizontal flips, for photos whose label survives "
                          "a mirror image, never for digits or text).")
    return AUGMENTATIONS[name]()


def _sequence_shape(input_shape, template: str) -> tuple[int, int]:
    if len(input_shape) != 2:
        raise NNGuruError(f"The {template} template needs sequences (steps, features); got {input_shape}. "
                          "Use it for forecasting (task forecast), or pick --model mlp.")
    return input_shape[0], input_shape[1]


@register_template("rnn")
def rnn(input_shape, head: list, n_train: int, dropout: float | None = None,
        hidden_scale: float = 1.0) -> Sequential:
    """A GRU reads the window step by step; its last state feeds the head."""
    _sequence_shape(input_shape, "rnn")
    units = int(32 * hidden_scale)
    rate = dropout if dropout is not None else (0.1 if n_train < 20000 else 0.0)
    return Sequential([Input(shape=input_shape), GRU(units), Dropout(rate), *head], name="rnn")


@register_template("conv1d")
def conv1d(input_shape, head: list, n_train: int, dropout: float | None = None,
           hidden_scale: float = 1.0) -> Sequential:
    """Two causal 1-D convolutions over the window (no step sees a later one), pooled, then the head."""
    _sequence_shape(input_shape, "conv1d")
    f = int(32 * hidden_scale)
    rate = dropout if dropout is not None else (0.1 if n_train < 20000 else 0.0)
    return Sequential([Input(shape=input_shape), Conv1D(f, 3, padding="causal", activation="relu"),
                       Conv1D(f, 3, padding="causal", activation="relu"), GlobalAveragePooling1D(),
                       Dropout(rate), *head], name="conv1d")


# the unsupervised tasks' templates (nn/autoencoders.py): they reconstruct their input
register_template("autoencoder")(dense_autoencoder)
register_template("conv_autoencoder")(conv_autoencoder)


def check(name: str) -> None:
    if name not in names():
        raise NNGuruError(f"Unknown model template {name!r}. Valid: {', '.join(names())}.")


def resolve(name: str, input_shape) -> str:
    """The template ``name`` stands for ('auto' picks cnn for images/spectrograms, else mlp)."""
    check(name)
    if name == "auto":
        return "cnn" if len(input_shape) == 3 else "mlp"
    return name


def build(name: str, input_shape, head: list, n_train: int, **kwargs) -> Sequential:
    """The template ``name`` ending in ``head`` ('auto' picks cnn for images/spectrograms, else mlp)."""
    builder = _TEMPLATES[resolve(name, input_shape)]
    # options a template does not take (augment for an mlp) or leaves at its default (None) are not passed
    accepted = inspect.signature(builder).parameters
    kwargs = {k: v for k, v in kwargs.items() if v is not None and k in accepted}
    return builder(tuple(input_shape), head, n_train, **kwargs)
