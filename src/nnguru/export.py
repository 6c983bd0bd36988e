"""Models that travel: a trained network as an ONNX file (or a ``torch.export`` program).

What is exported is what ``model.predict`` computes — the network with its output activation —
with a dynamic batch axis. The preprocessing a run learned is written next to the file as JSON
(``<name>.preprocess.json``); where it is a fixed affine map (standardized numeric columns, image
pixels divided by a scale) it is also folded into the graph, so the file takes raw numbers.

Two exporters ship with torch 2.13: the TorchScript-based one (``dynamo=False``: fast, and it
covers every nnguru layer we test) and the ``torch.export``-based one (``dynamo=True``: needs
onnxscript, ~10x slower to run). We try the first and fall back to the second; either result is
loaded in onnxruntime and compared with PyTorch before the file is kept.

``export_run`` (``nnguru export RUN_DIR``) also checks the file against nnguru's own predictions
on the run's test split (the data is prepared again from config.yaml, deterministic from the
seed) and writes the largest absolute difference to ``export.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nnguru.errors import NNGuruError, describe

TOLERANCE = 1e-4  # largest |onnx - nnguru| accepted on the check batch
OPSET = 18
INSTALL = "pip install 'nnguru[export]' (onnx, onnxruntime, onnxscript)"


# ---- what cannot be exported ----------------------------------------------------------------------
def _masked_recurrence(model: nn.Module) -> str | None:
    from nnguru.nn.layers import Embedding

    masked = [m for m in model.modules() if isinstance(m, Embedding) and getattr(m, "mask_zero", False)]
    recurrent = [m for m in model.modules() if type(m).__name__ in ("LSTM", "GRU", "SimpleRNN")]
    if masked and recurrent:
        return (f"{type(recurrent[0]).__name__} reading the mask of Embedding(mask_zero=True) runs as packed "
                "sequences (torch.nn.utils.rnn.pack_padded_sequence), which neither ONNX nor torch.export can "
                "capture. Train without mask_zero=True (pad at the end)")


def _string_input(model: nn.Module) -> str | None:
    from nnguru.nn.layers import TextVectorization

    if any(isinstance(m, TextVectorization) for m in model.modules()):
        return ("TextVectorization takes raw strings, which an exported tensor graph cannot read. Export a "
                "model that starts after it (feed token ids), or use `nnguru predict`")


# Checks run before any exporter: (reason or None) for a model ONNX cannot express.
UNEXPORTABLE: list[Callable[[nn.Module], str | None]] = [_masked_recurrence, _string_input]


# ---- the exported module ----------------------------------------------------------------------------
def affine_fold(pre: Any) -> dict | None:
    """``{"scale", "shift", "input_shape", "inputs"}`` when ``pre`` maps raw numbers to features by
    ``x * scale + shift`` (feature-wise), else None. Missing values are not handled in the graph."""
    if pre is None or getattr(pre, "_array", None) is None and getattr(pre, "kind", None) != "table":
        return None
    array = getattr(pre, "_array", None)
    if array is not None and array["mode"] == "matrix":
        mean, std = pre._array_state["mean"], pre._array_state["std"]
        return {"scale": 1.0 / std, "shift": -mean / std, "input_shape": list(array["shape"]),
                "inputs": [f"x{i}" for i in range(len(mean))]}
    if array is not None and array["mode"] == "image":
        return {"scale": np.array(1.0 / float(array["scale"])), "shift": np.array(0.0),
                "input_shape": list(array["shape"]), "inputs": ["pixels"]}
    blocks = getattr(pre, "blocks", [])
    if len(blocks) == 1 and getattr(blocks[0], "name", None) == "numeric" and not blocks[0].indicator_.any() \
            and not blocks[0].zeros_missing:
        b = blocks[0]
        return {"scale": 1.0 / b.std_, "shift": -b.mean_ / b.std_, "input_shape": [len(b.columns)],
                "inputs": list(b.columns)}
    return None


class Exportable(nn.Module):
    """``model`` as predict runs it: inputs (optionally raw, through the folded affine map) -> the
    network's outputs with its output activation. Several inputs are packed as the model packs them."""

    def __init__(self, model: nn.Module, fold: dict | None = None):
        super().__init__()
        from nnguru.nn import activations

        self.model = model
        self.activation = activations.get(getattr(model, "output_activation", "linear"))[1]
        self.fold = fold
        if fold is not None:
            self.register_buffer("scale", torch.as_tensor(np.asarray(fold["scale"], np.float32)))
            self.register_buffer("shift", torch.as_tensor(np.asarray(fold["shift"], np.float32)))
            self.add_channel = len(fold["input_shape"]) == 2 and len(model.input_shape or ()) == 3

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.fold is not None:
            x = inputs[0] * self.scale + self.shift
            inputs = (x.unsqueeze(-1) if self.add_channel else x,)
        x = inputs[0] if len(inputs) == 1 else torch.cat([t.reshape(t.shape[0], -1) for t in inputs], dim=1)
        return self.activation(self.model(x).float())


def _input_specs(model: nn.Module, fold: dict | None) -> list[tuple[str, tuple[int | None, ...]]]:
    """(name, shape without batch; None: any length) of each graph input."""
    if fold is not None:
        return [("input", tuple(fold["input_shape"]))]
    tensors = getattr(model, "_nodes", None) is not None and getattr(model, "inputs", None)
    if tensors and hasattr(tensors[0], "dims"):  # a functional model: one graph input per Input
        if len(tensors) > 1 and any(d is None for t in tensors for d in t.dims):
            raise NNGuruError("Exporting a functional model with several inputs of variable length (shape None) is "
                              "not supported: the packed input carries their lengths. Give every Input a fixed shape.")
        return [(name, tuple(t.dims)) for name, t in zip(model.input_names, tensors, strict=True)]
    if not model.input_shape:
        raise NNGuruError("The model has no input shape yet, so there is nothing to trace. Build it first "
                          "(fit, predict, or an Input layer) and export again.")
    return [("input", tuple(model.input_shape))]


def _probe(specs, batch: int, seed: int = 0, integer: bool = False) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _, shape in specs:
        dims = tuple(5 if d is None else d for d in shape)
        t = torch.randint(0, 2, (batch, *dims), generator=gen) if integer else torch.rand((batch, *dims), generator=gen)
        out.append(t.float())
    return tuple(out)


# ---- formats ----------------------------------------------------------------------------------------
def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as exc:
        raise NNGuruError(f"--format onnx needs the onnx and onnxruntime packages ({exc.name} is missing). "
                          f"Install them with: {INSTALL}.") from None
    return onnxruntime


def _write_onnx(module: Exportable, probe, specs, path: Path) -> str:
    """The ONNX file at ``path``; returns the exporter that made it ("torchscript" or "dynamo")."""
    ort = _require_onnx()
    names = [n for n, _ in specs]
    axes = {n: {0: "batch", **{i + 1: f"{n}_len{i}" for i, d in enumerate(s) if d is None}} for n, s in specs}
    errors = []
    for exporter in ("torchscript", "dynamo"):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                if exporter == "torchscript":
                    torch.onnx.export(module, probe, str(path), dynamo=False, opset_version=OPSET, input_names=names,
                                      output_names=["output"], dynamic_axes={**axes, "output": {0: "batch"}})
                else:
                    batch = torch.export.Dim("batch", min=1)
                    shapes = tuple({0: batch, **{i + 1: torch.export.Dim(f"{n}_len{i}", min=1)
                                                 for i, d in enumerate(s) if d is None}} for n, s in specs)
                    torch.onnx.export(module, probe, str(path), dynamo=True, input_names=names,
                                      output_names=["output"], dynamic_shapes=(shapes,), verbose=False)
            check = tuple(torch.cat([t, t[:1]]) for t in probe)  # another batch size than traced
            diff = _max_diff(run_onnx(path, [c.numpy() for c in check], names, ort), _torch_out(module, check))
            if diff <= TOLERANCE:
                return exporter
            errors.append(f"{exporter}: onnxruntime differs from PyTorch by {diff:.2g}")
        except NNGuruError:
            raise
        except Exception as exc:  # noqa: BLE001 - exporters raise many kinds; we report them all
            errors.append(f"{exporter}: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}")
    path.unlink(missing_ok=True)
    raise NNGuruError(f"ONNX cannot express this model ({'; '.join(errors)}). Check the model's layers for one ONNX "
                      "lacks (masked recurrence, custom torch code), or use --format pt2.")


def _write_pt2(module: Exportable, probe, specs, path: Path) -> str:
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} for _ in specs)
    try:
        program = torch.export.export(module, probe, dynamic_shapes=(shapes,))  # forward(*inputs)
        torch.export.save(program, str(path))
    except Exception as exc:  # noqa: BLE001
        raise NNGuruError(f"torch.export cannot capture this model ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:300]}). Use --format onnx.") from None
    return "torch.export"


FORMATS: dict[str, tuple[str, Callable]] = {"onnx": (".onnx", _write_onnx), "pt2": (".pt2", _write_pt2)}


def run_onnx(path: str | Path, arrays: list[np.ndarray], names: list[str] | None = None, ort=None) -> np.ndarray:
    """Outputs of the ONNX file at ``path`` in onnxruntime (CPU) for float32 ``arrays``."""
    ort = ort or _require_onnx()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = names or [i.name for i in session.get_inputs()]
    return session.run(None, {n: np.asarray(a, np.float32) for n, a in zip(names, arrays, strict=True)})[0]


def run_pt2(path: str | Path, arrays: list[np.ndarray]) -> np.ndarray:
    program = torch.export.load(str(path))
    with torch.no_grad():
        return program.module()(*(torch.as_tensor(np.asarray(a, np.float32)) for a in arrays)).numpy()


RUNNERS = {"onnx": run_onnx, "pt2": run_pt2}


def _torch_out(module: nn.Module, inputs) -> np.ndarray:
    with torch.no_grad():
        return module(*inputs).numpy()


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return math.inf
    return float(np.abs(a - b).max()) if a.size else 0.0


# ---- the public entry points ---------------------------------------------------------------------
def check_format(format: str) -> str:
    key = str(format).lower()
    if key not in FORMATS:
        raise NNGuruError(f"Unknown export format {format!r}. Valid formats: {', '.join(FORMATS)}.")
    return key


def export_model(model: nn.Module, path: str | Path, format: str = "onnx", fold: bool = True) -> dict:
    """Write ``model`` (an nnguru model, with its preprocessor if it has one) to ``path``.

    Returns what was written: format, exporter, graph inputs and outputs, and the preprocessing
    (folded into the graph or not; saved as JSON next to the file either way).
    """
    format = check_format(format)
    path = Path(path)
    for check in UNEXPORTABLE:
        reason = check(model)
        if reason:
            raise NNGuruError(f"Cannot export the model to {format}: {reason}.")
    pre = getattr(model, "preprocessor", None)
    folded = affine_fold(pre) if fold else None
    if folded is not None and tuple(folded["input_shape"]) != tuple(model.input_shape or ()) and \
            tuple(folded["input_shape"]) + (1,) != tuple(model.input_shape or ()):
        folded = None  # the preprocessor does not feed this model directly
    specs = _input_specs(model, folded)
    integer = bool(getattr(model, "_takes_integer_input", lambda: False)())
    was_training = model.training
    model.eval()
    module = Exportable(model, folded).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            if hasattr(model, "full_outputs"):
                stack.enter_context(model.full_outputs())  # Keras's outputs, never the loss's logits
            exporter = FORMATS[format][1](module, _probe(specs, 2, integer=integer), specs, path)
    finally:
        model.train(was_training)
    info = {"format": format, "path": str(path), "exporter": exporter, "opset": OPSET if format == "onnx" else None,
            "inputs": [{"name": n, "shape": ["batch", *s]} for n, s in specs],
            "output": {"name": "output", "shape": ["batch", *(model.output_shape or ())],
                       "activation": "included (what predict returns)"},
            "preprocessing": None}
    if pre is not None:
        side = path.with_name(path.stem + ".preprocess.json")
        side.write_text(json.dumps(preprocess_record(pre, folded), indent=2, default=str))
        info["preprocessing"] = {"file": str(side), "folded": folded is not None,
                                 "graph_input": "raw values" if folded is not None else "preprocessed features",
                                 "raw_inputs": folded["inputs"] if folded is not None else None}
    return info


def preprocess_record(pre: Any, folded: dict | None) -> dict:
    """The preprocessing as JSON: nnguru's config and learned arrays, and whether the graph holds it."""
    state = {k: np.asarray(v).tolist() for k, v in pre.state().items()}
    return {"folded_into_graph": folded is not None,
            "note": ("the graph takes raw values (missing values must be filled first)" if folded is not None else
                     "apply this preprocessing before the graph (or use `nnguru predict`)"),
            "affine": None if folded is None else {"x_feature = x_raw * scale + shift": True,
                                                   "scale": np.asarray(folded["scale"]).tolist(),
                                                   "shift": np.asarray(folded["shift"]).tolist(),
                                                   "inputs": folded["inputs"]},
            "config": pre.to_config(), "state": state}


def export_run(run_dir: str | Path, format: str = "onnx", out: str | Path | None = None,
               overwrite: bool = False, console=None) -> dict:
    """``nnguru export RUN_DIR``: export the run's model and check it on the run's test split."""
    from nnguru.inference import load_run

    format = check_format(format)
    if format == "onnx":
        _require_onnx()
    model, cfg = load_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / f"model{FORMATS[format][0]}"
    if out.exists() and not overwrite:
        raise NNGuruError(f"{str(out)!r} already exists. Pass --overwrite to replace it, or choose another --out.")
    info = export_model(model, out, format)
    x, where = _check_inputs(model, cfg, console)
    folded = info["preprocessing"] and info["preprocessing"]["folded"]
    feed = _unfold(affine_fold(model.preprocessor), x) if folded else x
    attached, model.preprocessor = model.preprocessor, None  # x holds features already
    try:
        expected = model.predict(x) if x.shape[0] else np.zeros((0,))
    finally:
        model.preprocessor = attached
    got = RUNNERS[format](out, [feed]) if x.shape[0] else np.zeros((0,))
    diff = _max_diff(got, expected)
    info.update({"checked_on": where, "rows": int(x.shape[0]), "max_abs_diff": diff, "tolerance": TOLERANCE,
                 "agrees": diff <= TOLERANCE})
    (Path(run_dir) / "export.json").write_text(json.dumps(info, indent=2))  # next to the run's other records
    return info


def _unfold(fold: dict, x: np.ndarray) -> np.ndarray:
    """Raw values that the folded affine map turns into the features ``x`` (its exact inverse)."""
    raw = (x.reshape(len(x), *fold["input_shape"]) - np.asarray(fold["shift"])) / np.asarray(fold["scale"])
    return raw.astype(np.float32)


def _check_inputs(model, cfg: dict, console) -> tuple[np.ndarray, str]:
    """The run's test features (its data prepared again, as training did), or random features when
    the data is gone or was in memory."""
    from rich.console import Console

    from nnguru import pipeline
    from nnguru.inference import run_task

    data = cfg.get("data")
    try:
        if data is None:
            raise NNGuruError("the run trained on in-memory data")
        quiet = Console(quiet=True)
        task = run_task(cfg)
        ds = pipeline.load(data, {**pipeline.DEFAULTS, **cfg})
        p = task.prepare(ds, quiet)
        x = p.x["test"]
        if isinstance(x, np.ndarray) and len(x):
            return x.astype(np.float32), f"test split of {data} ({len(x)} rows)"
        raise NNGuruError("the test split is empty or streamed")
    except NNGuruError as exc:
        shape = model.input_shape or ()
        if console is not None:
            console.print(f"[yellow]Note:[/] checking on random inputs: {exc}.")
        rng = np.random.default_rng(0)
        return rng.standard_normal((64, *shape)).astype(np.float32), f"random inputs ({describe(str(exc))})"
