"""Atomic, pickle-free checkpoints that hold everything needed to resume exactly.

One safetensors file: model weights and buffers, optimizer state and the RNG states as tensors;
the epoch and every non-tensor value as JSON in the file's metadata. It is written to a temporary
file, fsynced and renamed, so a crash mid-write never leaves a half-written checkpoint; the
temporary file names carry the writer's pid, so the next writer removes those a killed one left.

Two kinds: :func:`save_checkpoint` (weights + optimizer + RNG, what ``ModelCheckpoint`` writes)
and :func:`save_state` (any nested tree of tensors and JSON values; ``BackupAndRestore`` stores the
whole training state in one: callbacks, history, RNGs, the position inside the epoch).
Folders are replaced whole with :func:`replace_dir` (an atomic exchange where the OS has one).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import random
import re
import shutil
import stat
import uuid
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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_name(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_stale_temps(path: Path) -> None:
    """Delete the temporaries a killed writer of ``path`` left (``.NAME.<kind>-<pid>-<id>``)."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(tmp|new|old)-(\d+)-[0-9a-f]{8}(\.tmp)?$")
    if not path.parent.is_dir():
        return
    for p in path.parent.iterdir():
        m = pattern.match(p.name)
        if m and int(m.group(2)) != os.getpid() and not pid_alive(int(m.group(2))):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def fsync_path(path: Path) -> None:
    """fsync one file, or one folder's own entry (what makes a rename in it durable).

    Only regular files and folders are opened: a FIFO would block ``open`` until a writer came.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a directory
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file and folder nnguru wrote under ``path`` (a new run or bundle folder), then
    ``path`` itself. Never used on a folder that holds anything else (its parent, a user's folder)."""
    path = Path(path)
    for p in sorted(path.rglob("*")):
        fsync_path(p)
    fsync_path(path)


def atomic_write(path: Path, write) -> None:
    """``write(tmp_path)`` then fsync and rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(f"{_temp_name(path, 'tmp')}.tmp")
    try:
        write(str(tmp))
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def replace_dir(new: Path, target: Path) -> None:
    """Put the complete folder ``new`` at ``target``; a reader sees the old folder or the new one.

    With no ``target`` yet it is one rename. Otherwise the two are exchanged atomically (Linux)
    and the old one, now at ``new``, is removed; elsewhere the old one is renamed aside first,
    leaving a moment in which ``target`` is missing (never mixed).
    """
    new, target = Path(new), Path(target)
    fsync_tree(new)
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new)
    else:
        aside = _temp_name(target, "old")
        os.rename(target, aside)
        os.rename(new, target)
        shutil.rmtree(aside)
    fsync_path(target.parent) if target.parent.exists() else None


def write_dir(target: Path, fill) -> Path:
    """``fill(folder)`` into a new hidden sibling of ``target``, then :func:`replace_dir` it in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    new = _temp_name(target, "new")
    new.mkdir()
    try:
        fill(new)
        replace_dir(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return target


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
        "rng": _flatten(rng_state(), "rng", tensors),
        "extra": extra or {},
    }
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata={"nnguru": json.dumps(meta)}))
    return Path(path)


def _read(path: Path, what: str, fix: str) -> tuple[dict, dict]:
    """The tensors and the ``nnguru`` metadata of a safetensors file, or a message naming ``what``."""
    from safetensors import safe_open

    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("nnguru", "{}"))
    except (SafetensorError, OSError, json.JSONDecodeError, ValueError) as exc:
        raise NNGuruError(f"{str(path)!r} is not a readable nnguru {what} ({exc}). It may be truncated or "
                          f"from another tool; {fix}.") from None
    return tensors, meta


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: Any = None) -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns the metadata (``epoch``, ``extra``)."""
    path = Path(path)
    if not path.is_file():
        raise NNGuruError(f"Checkpoint {str(path)!r} does not exist.")
    tensors, meta = _read(path, "checkpoint", "pick an earlier checkpoint")
    if meta.get("format") != FORMAT:
        raise NNGuruError(f"{str(path)!r} is a safetensors file but not an nnguru checkpoint.")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    state = {k.removeprefix("model."): v.to(device) for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state)
    if optimizer is not None and meta.get("optimizer") is not None:
        optimizer.load_state_dict(_unflatten(meta["optimizer"], tensors))
    rng = _unflatten(meta["rng"], tensors)
    set_rng_state(rng) if "numpy" in rng else torch.set_rng_state(rng["torch"])
    return meta


# ---- the whole training state (BackupAndRestore, --resume) ------------------------------------
STATE_FORMAT = "nnguru-state-1"


def rng_state() -> dict:
    """Every RNG a training step may draw from: torch (CPU and CUDA), NumPy and Python."""
    import numpy as np

    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np

    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(path: str | Path, tree: dict) -> Path:
    """Write a nested dict of tensors and JSON values atomically to one safetensors file."""
    tensors: dict[str, torch.Tensor] = {}
    meta = {"format": STATE_FORMAT, "tree": _flatten(tree, "s", tensors)}
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata={"nnguru": json.dumps(meta)}))
    return Path(path)


def load_state(path: str | Path) -> dict:
    """The tree :func:`save_state` wrote (tensors on the CPU)."""
    path = Path(path)
    tensors, meta = _read(path, "training state", "delete it to start the training again")
    if meta.get("format") != STATE_FORMAT:
        raise NNGuruError(f"{str(path)!r} is a safetensors file but not an nnguru training state.")
    return _unflatten(meta["tree"], tensors)


def training_snapshot(model, callbacks, *, epoch: int, step: int, base_seed: int, tally: dict | None,
                      good_state: dict, finished: bool, logs: dict) -> dict:
    """The loop's whole state after ``step`` steps of ``epoch`` (``step`` 0: the epoch is done)."""
    return {"epoch": epoch, "step": step, "base_seed": base_seed, "finished": finished, "logs": logs,
            "model": dict(model.state_dict()), "good_state": good_state,
            "optimizer": model.optimizer.state_dict(), "callbacks": callbacks.state_dict(),
            "tally": tally, "rng": rng_state(), "stop_reason": getattr(model, "stop_reason", None)}


def restore_snapshot(state: dict, model, callbacks) -> dict:
    """Put a :func:`training_snapshot` back into ``model``, its optimizer, the callbacks and the RNGs."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.load_state_dict({k: v.to(device) for k, v in state["model"].items()})
    model.optimizer.load_state_dict(state["optimizer"])
    callbacks.load_state_dict(state["callbacks"])
    set_rng_state(state["rng"])
    model.stop_reason = state.get("stop_reason")
    state["good_state"] = {k: v.to(device) for k, v in state["good_state"].items()}
    return state
