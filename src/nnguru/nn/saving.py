"""Writing a model bundle (the format is described in ``nnguru.bundle``, which also loads it).

Saving needs nothing but the model's own configuration, so it sits in ``nn/`` below the models:
``Model.save`` calls it without importing the loader (which builds ``Sequential`` models).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file

from nnguru.errors import NNGuruError
from nnguru.training.checkpoint import host_copy, write_dir

FORMAT = "nnguru-model-1"
MODEL_JSON, WEIGHTS = "model.json", "weights.safetensors"
PRE_JSON, PRE_ARRAYS = "preprocess.json", "preprocess.safetensors"


def versions() -> dict[str, str]:
    from nnguru import __version__

    return {"nnguru": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str))


def _metric_names(metrics):
    """Compile's metrics as JSON: names stay, metric objects become their registry name
    (``nnguru.metrics.AUC()`` -> ``"auc"``); lists and per-output dicts keep their shape."""
    if isinstance(metrics, dict):
        return {k: _metric_names(v) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [_metric_names(m) for m in metrics]
    return metrics if isinstance(metrics, str) or metrics is None else getattr(metrics, "default_name", str(metrics))


def model_record(model) -> dict:
    """model.json's content: architecture, compile settings, shapes, classes, versions.

    ``ModelCheckpoint`` stores it in each checkpoint file too, so ``nnguru.load_model`` can rebuild
    a model from a checkpoint alone. Raises NNGuruError for models holding raw torch modules.
    """
    architecture = model.get_config()  # raises a clear error for raw torch modules
    compile_args = model._compile_args or {}
    optimizer = compile_args.get("optimizer")
    try:
        loss = None if model.loss is None else model.loss.get_config()
    except NNGuruError:  # a custom loss function: the model loads uncompiled
        loss = None
    return {
        "format": FORMAT,
        "class_name": type(model).__name__,
        "architecture": architecture,
        "compile": None if loss is None else {
            "loss": loss,
            # metric objects by their registry name (nnguru.metrics.AUC() -> "auc")
            "metrics": _metric_names(compile_args.get("metrics", [])),
            "optimizer": optimizer if isinstance(optimizer, (str, dict)) else "adam",
            **({"loss_weights": compile_args["loss_weights"]} if compile_args.get("loss_weights") is not None else {}),
        },
        "input_shape": list(model.input_shape) if model.input_shape else None,
        "output_shape": list(model.output_shape) if model.output_shape else None,
        "output_activation": model.output_activation,
        "classes": getattr(model.preprocessor, "classes", None),
        "versions": versions(),
    }


def save_model(model, path: str | Path, extra: Callable[[Path], None] | None = None) -> Path:
    """Write ``model`` (an ``nnguru.Sequential`` or functional model, compiled or not) and its
    preprocessing to ``path``; ``extra(folder)`` adds more files in the same swap (a run's
    similarity index)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NNGuruError(f"Cannot save a model to {str(path)!r}: it is an existing file. Pick a folder name.")
    if path.is_dir() and any(path.iterdir()) and not (path / MODEL_JSON).is_file():
        raise NNGuruError(
            f"Refusing to save a model into {str(path)!r}: the folder holds other files that are not an "
            "nnguru model. Pick a new or empty folder."
        )
    meta = model_record(model)
    tensors = {k: host_copy(v) for k, v in model.state_dict().items()}

    def fill(folder: Path) -> None:
        save_file(tensors, folder / WEIGHTS, metadata={"format": FORMAT})
        if model.preprocessor is not None:
            state = {k: np.ascontiguousarray(v) for k, v in model.preprocessor.state().items()}
            save_np(state, folder / PRE_ARRAYS)
            _write_json(folder / PRE_JSON, model.preprocessor.to_config())
        if extra is not None:
            extra(folder)
        _write_json(folder / MODEL_JSON, meta)

    # All files go into a new hidden sibling that then replaces the folder whole, so a reader (or
    # a save killed between files) sees the previous bundle or this one, never weights of one and
    # preprocessing of the other.
    return write_dir(path, fill)
