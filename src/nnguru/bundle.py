"""Model files: safetensors weights + JSON. Loading never unpickles, so a model file cannot run code.

A bundle is a directory:

    model.json               format, architecture (layer configs), compile settings, classes, versions
    weights.safetensors      parameters and buffers
    preprocess.json          the fitted preprocessing (optional)
    preprocess.safetensors   its arrays: means, scales, vocabularies' idf, ... (optional)

A save writes every file into a new hidden folder and then swaps it in whole, so an interrupted
save leaves the previous bundle intact, never a mix of two.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_np
from safetensors.torch import load_file

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers import fold_legacy_biases
from nnguru.nn.saving import FORMAT, MODEL_JSON, PRE_ARRAYS, PRE_JSON, WEIGHTS, save_model, versions
from nnguru.nn.sequential import Sequential

__all__ = ["FORMAT", "load_model", "save_model", "versions"]

def _bundle_dir(path: Path) -> Path:
    if (path / MODEL_JSON).is_file():
        return path
    if (path / "model" / MODEL_JSON).is_file():  # a run directory
        return path / "model"
    if not path.exists():
        raise NNGuruError(f"No model at {str(path)!r}: the path does not exist.")
    raise NNGuruError(
        f"{str(path)!r} is not an nnguru model: it has no {MODEL_JSON}. Pass the folder written by "
        "model.save(...) or a run directory written by `nnguru train`."
    )


def _preprocessor_class(config: dict):
    """The preprocessor a saved config describes: rows/files (the default) or series windows."""
    from nnguru.data import series
    from nnguru.data.preprocess import Preprocessor

    return series.SeriesPreprocessor if config.get("format") == series.CONFIG_FORMAT else Preprocessor


DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


def _weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file holds, from its header alone (8-byte length + JSON).

    Read before any layer is built, so a model.json that asks for more (or other) parameters than
    the file holds is refused without allocating them.
    """
    bad = (f"Could not read the weights {str(path)!r} ({{}}). The file is missing, truncated or not a "
           "safetensors file; save the model again.")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < n <= min(MAX_HEADER, size - 8):
                raise NNGuruError(bad.format(f"header length {n} does not fit a file of {size} bytes"))
            header = json.loads(f.read(n))
    except OSError as exc:
        raise NNGuruError(bad.format(exc)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NNGuruError(bad.format(f"the header is not JSON: {exc}")) from None
    if not isinstance(header, dict):
        raise NNGuruError(bad.format("the header is not a mapping"))
    shapes, data_size = {}, size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            width = DTYPE_BYTES[info["dtype"]]
            ok = all(isinstance(d, int) and d >= 0 for d in shape) and 0 <= begin <= end <= data_size \
                and end - begin == math.prod(shape) * width
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise NNGuruError(bad.format(f"the entry for tensor {name!r} is malformed or runs past the end"))
        shapes[name] = shape
    return shapes


def _architecture(meta: dict, where: str) -> tuple[list, list | None]:
    """The layer specs and input shape of model.json, checked field by field (no layer built)."""
    arch = meta.get("architecture")
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list) or not arch["layers"]:
        raise NNGuruError(f"{where} is malformed: field 'architecture.layers' must be a non-empty list of "
                          f"layers; received {describe(arch if not isinstance(arch, dict) else arch.get('layers'))}. "
                          "Save the model again.")
    for i, spec in enumerate(arch["layers"]):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
                or not isinstance(spec.get("config", {}), dict):
            raise NNGuruError(f"{where} is malformed: field 'architecture.layers[{i}]' must be "
                              f"{{class_name: str, config: mapping}}; received {describe(spec)}. Save the model again.")
    shape = meta.get("input_shape") or arch.get("input_shape")
    if meta.get("class_name") == "Functional":  # the Inputs' shapes (None allowed) are checked by the graph reader
        return arch["layers"], None
    if shape is not None and (not isinstance(shape, list)
                              or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise NNGuruError(f"{where} is malformed: field 'input_shape' must be a list of positive ints; "
                          f"received {describe(shape)}. Save the model again.")
    return arch["layers"], shape


def _build(meta: dict, specs: list, input_shape: list | None, where: str, probe: bool = False):
    """The model model.json describes (``MODEL_BUILDERS`` by its class_name); refusals name the field.

    ``probe``: a shapes-only build on the meta device, where a layer's own errors other than
    bad arguments propagate (a user-registered layer may not support meta tensors).
    """
    caught = (NNGuruError, TypeError, KeyError) if probe else (NNGuruError, TypeError, ValueError, KeyError,
                                                               RuntimeError)
    return MODEL_BUILDERS[meta["class_name"]](meta, specs, input_shape, where, caught)


def _build_functional(meta: dict, specs: list, input_shape, where: str, caught: tuple):
    """A functional model: its graph reader checks every field (layers, references, cycles)."""
    from nnguru.nn.functional import Functional

    try:
        return Functional.from_config(meta["architecture"], where)
    except NNGuruError:
        raise
    except caught as exc:
        raise NNGuruError(f"{where}: the graph in field 'architecture' cannot be built: {exc}. "
                          "Save the model again.") from None


def _build_sequential(meta: dict, specs: list, input_shape: list | None, where: str, caught: tuple) -> Sequential:
    from nnguru.nn.layers import deserialize

    layers = []
    for i, spec in enumerate(specs):
        try:
            layers.append(deserialize(spec))
        except caught as exc:
            raise NNGuruError(f"{where}: field 'architecture.layers[{i}]' ({spec.get('class_name')}) cannot be "
                              f"built: {exc}. Save the model again.") from None
    try:
        model = Sequential(layers, name=meta["architecture"].get("name"))
        if not model.built and input_shape:
            model.build(input_shape)
    except caught as exc:
        raise NNGuruError(f"{where}: the layers in field 'architecture.layers' do not fit together "
                          f"(input_shape {input_shape}): {exc}. Save the model again.") from None
    return model


def _checkpoint_file(path: Path) -> tuple[dict, str, dict[str, tuple[int, ...]], Callable[[], dict]]:
    """A single-file checkpoint written by ``ModelCheckpoint`` (any name: ``best_model.keras``,
    ``model.h5``): its model.json-like record, and its ``model.*`` tensors."""
    from safetensors import safe_open

    where = str(path)
    try:
        with safe_open(path, framework="pt") as f:
            record = json.loads((f.metadata() or {}).get("nnguru", "{}"))
    except (SafetensorError, OSError, json.JSONDecodeError, ValueError) as exc:
        raise NNGuruError(f"{where!r} is not an nnguru model or checkpoint ({exc}). nnguru reads only its own "
                          "safe formats: a folder from model.save(...) or a file from ModelCheckpoint.") from None
    meta = (record.get("extra") or {}).get("model") if isinstance(record, dict) else None
    if not isinstance(meta, dict):
        raise NNGuruError(f"{where!r} is a checkpoint without the model's architecture (weights only, or a raw "
                          "torch module). Build the model in code and call model.load_weights(path).")
    shapes = {k.removeprefix("model."): v for k, v in _weight_shapes(path).items() if k.startswith("model.")}

    def tensors() -> dict[str, torch.Tensor]:
        return {k.removeprefix("model."): v for k, v in load_file(path).items() if k.startswith("model.")}

    return meta, where, shapes, tensors


MODEL_BUILDERS = {"Sequential": _build_sequential, "Functional": _build_functional}


def load_model(path: str | Path, device: str | torch.device | None = None):
    """Rebuild a model saved by :func:`save_model` (or a run directory's ``model/``), or one
    checkpointed by ``ModelCheckpoint`` (a single file, whatever its name).

    Every part of the bundle is checked before it is trusted: model.json field by field, the
    architecture's parameter shapes against the weight file's header (on torch's ``meta`` device,
    so a model.json asking for 10^12 units allocates nothing), then the weights' values (finite).
    """
    if Path(path).is_file():
        meta, where, stored, read_tensors = _checkpoint_file(Path(path))
        folder, weights = None, Path(path)
    else:
        folder = _bundle_dir(Path(path))
        where = str(folder / MODEL_JSON)
        weights = folder / WEIGHTS
        try:
            meta = json.loads((folder / MODEL_JSON).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NNGuruError(f"{where!r} is corrupt ({exc}). Save the model again.") from None
        stored, read_tensors = None, None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise NNGuruError(
            f"{where!r} is not an nnguru model file (format "
            f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})."
        )
    if meta.get("class_name") not in MODEL_BUILDERS:
        raise NNGuruError(f"Unsupported model class {meta.get('class_name')!r} in {where!r} "
                          f"(field 'class_name'; nnguru saves {' and '.join(MODEL_BUILDERS)} models).")
    specs, input_shape = _architecture(meta, where)
    stored = _weight_shapes(weights) if stored is None else stored
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated however large model.json says
            shaped = _build(meta, specs, input_shape, where, probe=True)
    except NNGuruError:
        raise
    except Exception:  # noqa: BLE001 - a custom layer that meta tensors do not support: build it for real
        shaped = _build(meta, specs, input_shape, where)
    # LSTM/SimpleRNN weights saved with torch's two biases load folded into one (shapes only here)
    stored = {k: tuple(v.shape) for k, v in fold_legacy_biases(
        shaped, {k: torch.empty(s, device="meta") for k, s in stored.items()}).items()}
    expected = {k: tuple(v.shape) for k, v in shaped.state_dict().items()}
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    bad = [f"{k} {stored[k]} vs {expected[k]}" for k in expected if k in stored and stored[k] != expected[k]]
    if missing or extra or bad:
        raise NNGuruError(
            f"The weights in {str(weights)!r} do not fit the saved architecture in {where!r} "
            f"(missing {missing[:3]}, unexpected {extra[:3]}, wrong shape (stored vs model.json) {bad[:3]}). "
            "The bundle's files come from different models, or model.json was edited; save the model again."
        )
    try:
        tensors = load_file(weights) if read_tensors is None else read_tensors()
    except (SafetensorError, OSError, ValueError) as exc:
        raise NNGuruError(
            f"Could not read the weights {str(weights)!r} ({exc}). The file is missing, "
            "truncated or not a safetensors file; save the model again."
        ) from None
    nonfinite = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if nonfinite:
        raise NNGuruError(
            f"The weights in {str(weights)!r} hold NaN or infinite values (in {nonfinite[:3]}); a "
            "model with them predicts NaN. Retrain (see the guru's advice on diverging loss) and save again."
        )
    model = _build(meta, specs, input_shape, where)
    model.load_state_dict(tensors)
    if folder is not None and (folder / PRE_JSON).is_file():
        try:
            config = json.loads((folder / PRE_JSON).read_text())
            state = load_np(folder / PRE_ARRAYS) if (folder / PRE_ARRAYS).is_file() else {}
            if not isinstance(config, dict):
                raise ValueError(f"expected a mapping, received {describe(config)}")
            model.preprocessor = _preprocessor_class(config).from_config(config, state)
        except NNGuruError as exc:
            raise NNGuruError(f"The preprocessing files in {str(folder)!r} are invalid: {exc}") from None
        except (json.JSONDecodeError, SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
            raise NNGuruError(f"The preprocessing files in {str(folder)!r} are corrupt ({exc}).") from None
    if meta.get("compile"):
        c = meta["compile"]
        try:
            extra = {"loss_weights": c["loss_weights"]} if c.get("loss_weights") is not None else {}
            loss = c["loss"]
            if isinstance(loss, dict) and isinstance(loss.get("name"), str):  # one loss's config, not one per output
                from nnguru.nn import losses

                loss = losses.get(loss)
            model.compile(optimizer=c["optimizer"], loss=loss, metrics=c["metrics"], **extra)
        except (NNGuruError, KeyError, TypeError, ValueError) as exc:
            raise NNGuruError(f"{where}: field 'compile' is malformed ({type(exc).__name__}: {exc}); it needs "
                              "optimizer, loss and metrics. Save the model again.") from None
    activation = meta.get("output_activation", model.output_activation)
    if activation is not None and not isinstance(activation, str):
        raise NNGuruError(f"{where}: field 'output_activation' must be a name or null; received "
                          f"{describe(activation)}. Save the model again.")
    layer, final = model._final_activation()
    if layer is not None and activation == final:
        # Written before model(x) returned Keras's outputs: the head's own softmax/sigmoid, which
        # predict used to put back on logits. Now the layer applies it, so predict must not.
        activation = "linear"
    model.output_activation = activation
    if device is not None:
        model.to(device)
    model.eval()
    return model
