"""Atomic, pickle-free checkpoints that hold everything needed to resume exactly.

One safetensors file: model weights and buffers, optimizer state and the RNG states as tensors;
the epoch and every non-tensor value as JSON in the file's metadata. It is written to a temporary
file, fsynced and renamed, so a crash mid-write never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nnguru.errors import NNGuruError

FORMAT = "nnguru-checkpoint-1"


def host_copy(t: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy for safetensors, which refuses tensors that share storage: a layer
    used twice in a model, AdamKernel's step counters (views of one tensor)."""
    return t.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move tensors out of a nested structure into ``tensors``; return the JSON-able rest."""
    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = host_copy(obj)
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, f"{prefix}.k{i}", tensors), _flatten(v, f"{prefix}.{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise NNGuruError(f"Cannot checkpoint a value of type {type(obj).__name__} at {prefix!r}.")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_unflatten(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def atomic_write(path: Path, write) -> None:
    """``write(tmp_path)`` then fsync and rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: Any = None,
                    epoch: int = 0, extra: dict | None = None) -> Path:
    """Write model state, optimizer state, RNG states and ``epoch`` (the next epoch to run)."""
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = host_copy(v)
    meta = {
        "format": FORMAT,
        "epoch": epoch,
        "optimizer": _flatten(optimizer.state_dict(), "optim", tensors) if optimizer is not None else None,
        "rng": _flatten({"torch": torch.get_rng_state()}, "rng", tensors),
        "extra": extra or {},
    }
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata={"nnguru": json.dumps(meta)}))
    return Path(path)


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: Any = None) -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns the metadata (``epoch``, ``extra``)."""
    path = Path(path)
    if not path.is_file():
        raise NNGuruError(f"Checkpoint {str(path)!r} does not exist.")
    try:
        tensors = load_file(path)
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("nnguru", "{}"))
    except (SafetensorError, OSError, json.JSONDecodeError, ValueError) as exc:
        raise NNGuruError(
            f"{str(path)!r} is not a readable nnguru checkpoint ({exc}). It may be truncated or "
            "from another tool; pick an earlier checkpoint."
        ) from None
    if meta.get("format") != FORMAT:
        raise NNGuruError(f"{str(path)!r} is a safetensors file but not an nnguru checkpoint.")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    state = {k.removeprefix("model."): v.to(device) for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state)
    if optimizer is not None and meta.get("optimizer") is not None:
        optimizer.load_state_dict(_unflatten(meta["optimizer"], tensors))
    rng = _unflatten(meta["rng"], tensors)
    torch.set_rng_state(rng["torch"])
    return meta
