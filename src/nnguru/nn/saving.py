"""Writing a model bundle (the format is described in ``nnguru.bundle``, which also loads it).

Saving needs nothing but the model's own configuration, so it sits in ``nn/`` below the models:
``Model.save`` calls it without importing the loader (which builds ``Sequential`` models).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file

from nnguru.errors import NNGuruError
from nnguru.training.checkpoint import atomic_write, host_copy

FORMAT = "nnguru-model-1"
MODEL_JSON, WEIGHTS = "model.json", "weights.safetensors"
PRE_JSON, PRE_ARRAYS = "preprocess.json", "preprocess.safetensors"


def versions() -> dict[str, str]:
    from nnguru import __version__

    return {"nnguru": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, default=str)))


def save_model(model, path: str | Path) -> Path:
    """Write ``model`` (an ``nnguru.Sequential`` or functional model, compiled or not) and its
    preprocessing to ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NNGuruError(f"Cannot save a model to {str(path)!r}: it is an existing file. Pick a folder name.")
    if path.is_dir() and any(path.iterdir()) and not (path / MODEL_JSON).is_file():
        raise NNGuruError(
            f"Refusing to save a model into {str(path)!r}: the folder holds other files that are not an "
            "nnguru model. Pick a new or empty folder."
        )
    architecture = model.get_config()  # raises a clear error for raw torch modules
    compile_args = model._compile_args or {}
    optimizer = compile_args.get("optimizer")
    meta = {
        "format": FORMAT,
        "class_name": type(model).__name__,
        "architecture": architecture,
        "compile": None if model.loss is None else {
            "loss": model.loss.get_config(),
            "metrics": compile_args.get("metrics", []),
            "optimizer": optimizer if isinstance(optimizer, (str, dict)) else "adam",
            **({"loss_weights": compile_args["loss_weights"]} if compile_args.get("loss_weights") is not None else {}),
        },
        "input_shape": list(model.input_shape) if model.input_shape else None,
        "output_shape": list(model.output_shape) if model.output_shape else None,
        "output_activation": model.output_activation,
        "classes": getattr(model.preprocessor, "classes", None),
        "versions": versions(),
    }
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: host_copy(v) for k, v in model.state_dict().items()}
    atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    if model.preprocessor is not None:
        state = {k: np.ascontiguousarray(v) for k, v in model.preprocessor.state().items()}
        atomic_write(path / PRE_ARRAYS, lambda tmp: save_np(state, tmp))
        _write_json(path / PRE_JSON, model.preprocessor.to_config())
    _write_json(path / MODEL_JSON, meta)
    return path
