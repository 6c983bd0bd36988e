"""Rewrite a model's architecture for the guru's network remedies, whatever template built it.

    model = adjust(model, activation="leaky_relu", batch_norm=True, kernel_initializer="he_normal",
                   normalize=x_train, output_activation="auto", loss=loss)

The network findings (``guru/network_rules.py``) are cured by changes to the layers, not to one
template: swap the hidden activations, put BatchNormalization before them, re-initialize, put a
Normalization layer first, end with the activation the loss expects. Doing it on the model's
config (``get_config`` -> edit -> ``from_config``) keeps it generic: any ``Sequential`` of nnguru
layers (every template, and users' models), and the per-layer edits also on functional models.

The rebuilt model differs from the one given only by the remedy: a layer whose weights are drawn
as before (same class, shapes and initializers; a new activation does not change the draw) keeps
the weights the model was built with, inserted and re-initialized layers draw fresh ones, and the
rebuild leaves torch's random stream where it was (the retrain shuffles and drops out as the run
as configured did). So an auto-fix round measures its remedy, not a new draw of initial weights
(a softmax read by a from_logits loss, fixed, trained to 0.94 against 0.97 by init luck alone).

Which layers: the *hidden* layers are the Dense/Conv layers before the last one (the output
layer, which the task's head owns), and ``Activation`` layers before it. Recurrent cells keep
their gates. The output layer is re-initialized with Glorot (Keras's default, the scale for a
linear or softmax output) when ``kernel_initializer`` is set, unless it starts at zeros on
purpose (the forecast head).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from nnguru.errors import NNGuruError
from nnguru.nn.layers import LAYERS
from nnguru.nn.layers.base import _Activated, _Kernel

# Keys of the run config that rewrite the model (config.DEFAULTS; None = leave as built).
MODEL_KEYS = ("activation", "batch_norm", "kernel_initializer", "bias_initializer", "normalize_inputs",
              "output_activation")
OUTPUT_INIT = "glorot_uniform"
# First layers that read integer ids, not measurements: no Normalization goes in front of them.
TOKEN_READERS = frozenset({"Embedding"})


def requested(cfg: dict[str, Any]) -> dict[str, Any]:
    """The model-rewriting keys that are set in ``cfg`` (False/None mean "as built")."""
    return {k: cfg[k] for k in MODEL_KEYS if cfg.get(k) not in (None, False)}


def _is(spec: dict, base: type) -> bool:
    cls = LAYERS.get(spec.get("class_name"))
    return cls is not None and issubclass(cls, base)


def _init_name(value: Any) -> str | None:
    return value if isinstance(value, str) else (value or {}).get("class_name") if isinstance(value, dict) else None


def _edit_layers(specs: list[dict], output: set[int], ends: set[int], *, activation: str | None,
                 kernel_initializer: str | None, bias_initializer: str | None, output_activation: str | None) -> None:
    """Per-layer edits in place: hidden activations and initializers; ``ends`` (the layers whose
    activation is the model's output) get ``output_activation``."""
    kernels = [i for i, s in enumerate(specs) if _is(s, _Kernel)]
    last_kernel = max((i for i in kernels if i in output), default=kernels[-1] if kernels else -1)
    for i, spec in enumerate(specs):
        cfg = spec["config"]
        hidden = i < last_kernel and i not in output
        if hidden and activation and _is(spec, _Activated) and cfg.get("activation", "linear") != "linear":
            cfg["activation"] = activation
        if _is(spec, _Kernel):
            if hidden and kernel_initializer:
                cfg["kernel_initializer"] = kernel_initializer
            elif kernel_initializer and _init_name(cfg.get("kernel_initializer")) not in ("zeros", "Zeros"):
                cfg["kernel_initializer"] = OUTPUT_INIT
            if hidden and bias_initializer:
                cfg["bias_initializer"] = bias_initializer
    for i in ends if output_activation else ():
        specs[i]["config"]["activation"] = output_activation


def _insert_batch_norm(specs: list[dict]) -> list[dict]:
    """BatchNormalization between each hidden Dense/Conv and its activation (Ioffe & Szegedy's
    place: it keeps the pre-activations near zero, where sigmoid/tanh have slope and ReLUs fire).
    A block already followed by BatchNormalization keeps it, with the activation moved after it."""
    kernels = [i for i, s in enumerate(specs) if _is(s, _Kernel)]
    hidden = set(kernels[:-1])
    out: list[dict] = []
    moved: dict[int, str] = {}  # index of an existing BatchNormalization -> the activation to put after it
    for i, spec in enumerate(specs):
        out.append(spec)
        if i in moved:
            out.append({"class_name": "Activation", "config": {"activation": moved[i]}})
        if i not in hidden:
            continue
        act = spec["config"].get("activation", "linear")
        follows_bn = i + 1 < len(specs) and specs[i + 1].get("class_name") == "BatchNormalization"
        spec["config"]["activation"] = "linear"
        if follows_bn:
            if act != "linear":
                moved[i + 1] = act
            continue
        out.append({"class_name": "BatchNormalization", "config": {}})
        if act != "linear":
            out.append({"class_name": "Activation", "config": {"activation": act}})
    return out


# Config entries that do not change how a layer's weights are drawn.
_DRAW_FREE = frozenset({"activation", "name", "input_shape"})


def _name(spec: dict) -> str | None:
    return spec.get("name") or spec["config"].get("name")


def _draw(spec: dict) -> tuple[Any, dict]:
    return spec.get("class_name"), {k: v for k, v in spec["config"].items() if k not in _DRAW_FREE}


def _rebuild(model: Any, before: list[dict], config: dict) -> Any:
    """``type(model).from_config(config)`` without touching torch's random stream; layers whose
    spec in ``before`` (the model's own) draws its weights as the edited spec does keep them."""
    with torch.random.fork_rng(devices=[]):
        new = type(model).from_config(config)
    drawn = {_name(s): _draw(s) for s in before if _name(s)}
    now = {_name(s): _draw(s) for s in config["layers"] if _name(s)}
    old_layers = {getattr(layer, "name", None): layer for layer in getattr(model, "layers", [])}
    for layer in getattr(new, "layers", []):
        name = getattr(layer, "name", None)  # (an Input layer has none)
        old = old_layers.get(name)
        if old is None or name not in drawn or drawn[name] != now.get(name):
            continue
        weights, fresh = old.get_weights(), layer.get_weights()
        if weights and len(weights) == len(fresh) and all(
                np.shape(a) == np.shape(b) for a, b in zip(weights, fresh, strict=True)):
            layer.set_weights(weights)
    return new


def _normalization(x: np.ndarray) -> dict:
    """A Normalization layer's spec with the per-feature (last axis) mean and variance of ``x``."""
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise NNGuruError("normalize_inputs needs the training inputs as a numeric array (tables, images, "
                          f"spectrograms); received {type(x).__name__}. Streamed tables and token ids cannot "
                          "be standardized this way: leave normalize_inputs out.")
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return {"class_name": "Normalization", "config": {
        "axis": -1, "mean": np.nanmean(flat, axis=0).tolist(), "variance": np.nanvar(flat, axis=0).tolist()}}


def adjust(model: Any, *, activation: str | None = None, batch_norm: bool = False,
           kernel_initializer: str | None = None, bias_initializer: str | None = None,
           normalize: np.ndarray | None = None, output_activation: str | None = None, loss: Any = None) -> Any:
    """``model`` rebuilt with the changes (see the module docstring); uncompiled, the layers the
    changes re-initialize or insert with fresh weights, the others with the model's own.

    ``output_activation="auto"`` means the one the ``loss`` reads (softmax, sigmoid); the loss is
    then to be used with ``from_logits=False`` (:func:`matching_loss`).
    """
    from nnguru.nn.functional import Functional
    from nnguru.nn.sequential import Sequential

    if output_activation == "auto":
        expects = getattr(loss, "output_activation", None) if loss is not None else None
        output_activation = expects  # None (regression losses): the output stays as built
    try:
        config = model.get_config()
    except (NNGuruError, NotImplementedError, AttributeError) as exc:
        raise NNGuruError(f"The model cannot be rewritten for the requested remedies ({exc}). Build it from "
                          "nnguru.layers, or leave out activation/batch_norm/kernel_initializer/"
                          "bias_initializer/normalize_inputs/output_activation.") from None
    config = copy.deepcopy(config)
    before = copy.deepcopy(config["layers"])
    specs: list[dict] = config["layers"]
    edits = {"activation": activation, "kernel_initializer": kernel_initializer,
             "bias_initializer": bias_initializer, "output_activation": output_activation}
    if isinstance(model, Functional):
        if batch_norm or normalize is not None:
            raise NNGuruError("batch_norm and normalize_inputs insert layers, which nnguru does for Sequential "
                              "models; add BatchNormalization/Normalization layers to your functional model "
                              "instead, or leave these options out.")
        outputs = {i for i, s in enumerate(specs) if s.get("name") in {r[0] for r in config["output_layers"]}}
        _edit_layers(specs, outputs, {i for i in outputs if _is(specs[i], _Activated)}, **edits)
        return _rebuild(model, before, config)
    if not isinstance(model, Sequential):
        raise NNGuruError(f"The model ({type(model).__name__}) cannot be rewritten for the requested remedies; "
                          "only nnguru Sequential and functional models can.")
    kernels = [i for i, s in enumerate(specs) if _is(s, _Kernel)]
    activated = [i for i, s in enumerate(specs) if _is(s, _Activated)]
    _edit_layers(specs, set(kernels[-1:]), set(activated[-1:]), **edits)
    if batch_norm:
        specs = _insert_batch_norm(specs)
    if normalize is not None:
        start = 1 if specs and specs[0].get("class_name") == "Input" else 0
        if start < len(specs) and specs[start].get("class_name") in TOKEN_READERS:
            raise NNGuruError(f"normalize_inputs cannot apply: the model starts with {specs[start]['class_name']}, "
                              "which reads token ids (whole numbers that index a table); standardized ids "
                              "index nothing. Leave normalize_inputs out for text models.")
        specs.insert(start, _normalization(normalize))
    for spec in specs[1:]:  # the declared input shape stays with the first layer only
        spec["config"].pop("input_shape", None)
    for spec in specs:
        if spec["class_name"] in ("BatchNormalization", "Activation", "Normalization"):
            spec["config"].pop("name", None)  # fresh Keras names (batch_normalization_1, ...)
    config["layers"] = specs
    return _rebuild(model, before, config)


def matching_loss(loss: Any) -> Any:
    """``loss`` reading probabilities (``from_logits=False``), for an output that now applies them."""
    from nnguru.nn import losses

    loss = losses.get(loss)
    if not getattr(loss, "from_logits", False):
        return loss
    fixed = copy.copy(loss)
    fixed.from_logits = fixed.logits = False
    return fixed


# ---- the run config's remedy keys (config.DEFAULTS), applied once in the pipeline's build stage -----
def optimizer_spec(optimizer: Any, lr: float | None = None, lr_scale: float | None = None,
                   clipnorm: float | None = None) -> Any:
    """The optimizer spec for ``compile``: a name, or a dict when a rate or clipping is set.

    ``lr_scale`` multiplies the rate given (``lr``, or the spec's own), else the optimizer's default.
    """
    from nnguru.optim import registry

    if lr is None and lr_scale is None and clipnorm is None:
        return optimizer
    if not isinstance(optimizer, (str, dict)):
        raise NNGuruError(f"lr/lr_scale/clipnorm cannot change an optimizer object that is already built "
                          f"({type(optimizer).__name__}); compile with the optimizer's name instead.")
    spec = dict(optimizer) if isinstance(optimizer, dict) else {"name": optimizer}
    own = spec.pop("learning_rate", None)
    rate = lr if lr is not None else spec.get("lr", own)
    if lr_scale is not None:
        if rate is None:
            rate = registry.entry(spec["name"]).default_lr
        if not isinstance(rate, (int, float)) or isinstance(rate, bool):
            raise NNGuruError(f"lr_scale needs a learning rate to scale; optimizer {spec['name']!r} has no single "
                              f"default ({rate!r}). Pass lr (--lr) as well, or leave lr_scale out.")
        rate = float(rate) * float(lr_scale)
    if rate is not None:
        spec["lr"] = float(rate)
    if clipnorm is not None:
        spec["clipnorm"] = float(clipnorm)
    return spec


def apply_config(model: Any, cfg: dict[str, Any], x_train: Any, loss: Any) -> Any:
    """``model`` with the run config's remedy keys applied (the pipeline's build stage calls it).

    A template (not compiled yet) is rewritten and left for the pipeline to compile; a user's
    compiled model is rewritten and recompiled with its own compile arguments (the loss made to
    read probabilities when ``output_activation`` changed the output), and with ``lr_scale`` and
    ``clipnorm`` applied to its optimizer.
    """
    changes = requested(cfg)
    args = getattr(model, "_compile_args", None)
    if args is not None:
        loss = args["loss"]
    if changes:
        model = adjust(model, activation=changes.get("activation"), batch_norm=bool(changes.get("batch_norm")),
                       kernel_initializer=changes.get("kernel_initializer"),
                       bias_initializer=changes.get("bias_initializer"),
                       normalize=x_train if changes.get("normalize_inputs") else None,
                       output_activation=changes.get("output_activation"), loss=losses_get(loss))
    if args is not None and (changes or cfg.get("lr_scale") is not None or cfg.get("clipnorm") is not None):
        opt = optimizer_spec(args["optimizer"], None, cfg.get("lr_scale"), cfg.get("clipnorm"))
        fixed = matching_loss(loss) if changes.get("output_activation") else loss
        with torch.random.fork_rng(devices=[]):  # compiled once already: the stream stays where it was
            model.compile(optimizer=opt, loss=fixed, metrics=args["metrics"], **args["optimizer_options"])
    return model


def losses_get(loss: Any) -> Any:
    from nnguru.nn import losses

    return losses.get(loss)
