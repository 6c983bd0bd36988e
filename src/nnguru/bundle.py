"""Model files: safetensors weights + JSON. Loading never unpickles, so a model file cannot run code.

A bundle is a directory:

    model.json               format, architecture (layer configs), compile settings, classes, versions
    weights.safetensors      parameters and buffers
    preprocess.json          the fitted preprocessing (optional)
    preprocess.safetensors   its arrays: means, scales, vocabularies' idf, ... (optional)

Each file is written atomically, so an interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_np
from safetensors.torch import load_file

from nnguru.errors import NNGuruError
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


def load_model(path: str | Path, device: str | torch.device | None = None):
    """Rebuild a model saved by :func:`save_model` (or a run directory's ``model/``)."""
    folder = _bundle_dir(Path(path))
    try:
        meta = json.loads((folder / MODEL_JSON).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NNGuruError(f"{str(folder / MODEL_JSON)!r} is corrupt ({exc}). Save the model again.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise NNGuruError(
            f"{str(folder / MODEL_JSON)!r} is not an nnguru model file (format "
            f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})."
        )
    try:
        tensors = load_file(folder / WEIGHTS)
    except (SafetensorError, OSError, ValueError) as exc:
        raise NNGuruError(
            f"Could not read the weights {str(folder / WEIGHTS)!r} ({exc}). The file is missing, "
            "truncated or not a safetensors file; save the model again."
        ) from None
    if meta.get("class_name") != "Sequential":
        raise NNGuruError(f"Unsupported model class {meta.get('class_name')!r} in {str(folder)!r}.")
    model = Sequential.from_config(meta["architecture"])
    if not model.built and meta.get("input_shape"):
        model.build(meta["input_shape"])
    tensors = fold_legacy_biases(model, tensors)  # LSTM/SimpleRNN weights saved with torch's two biases
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    bad = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    if missing or extra or bad:
        raise NNGuruError(
            f"The weights in {str(folder / WEIGHTS)!r} do not fit the saved architecture "
            f"(missing {missing[:3]}, unexpected {extra[:3]}, wrong shape {bad[:3]}). The bundle's files "
            "come from different models; save the model again."
        )
    model.load_state_dict(tensors)
    if (folder / PRE_JSON).is_file():
        try:
            config = json.loads((folder / PRE_JSON).read_text())
            state = load_np(folder / PRE_ARRAYS) if (folder / PRE_ARRAYS).is_file() else {}
        except (json.JSONDecodeError, SafetensorError, OSError, ValueError) as exc:
            raise NNGuruError(f"The preprocessing files in {str(folder)!r} are corrupt ({exc}).") from None
        model.preprocessor = _preprocessor_class(config).from_config(config, state)
    if meta.get("compile"):
        c = meta["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], metrics=c["metrics"])
    model.output_activation = meta.get("output_activation", model.output_activation)
    if device is not None:
        model.to(device)
    model.eval()
    return model
