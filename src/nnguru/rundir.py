"""The run directory: created without ever replacing what the user had, and written file by file.

Each stage of a run writes its artifact here as soon as it exists (DESIGN.md's contract), so a
run that crashes leaves everything it had finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nnguru.errors import NNGuruError
from nnguru.jsonutil import jsonable

RUN_FILES = ("metrics.json", "history.csv", "diagnosis.json", "data_report.json", "config.yaml",
             "report.html", "model_summary.txt", "auto_fix.json", "environment.json", "forecasts.csv")
RUN_FOLDERS = ("model", "tensorboard")


def check_run_dir(out: str | Path | None, name: str, overwrite: bool) -> Path:
    """Where the run will go; refuses an existing run without ``overwrite`` and any foreign folder.

    Only checks: nothing is created or removed, so a run can check before its slow steps and make
    the directory (:func:`make_run_dir`) once its data has been accepted.
    """
    if out is None:
        base = Path("runs") / name
        out, k = base, 2
        while out.exists() and any(out.iterdir()):
            out, k = Path(f"{base}-{k}"), k + 1
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NNGuruError(f"--out {str(out)!r} is an existing file; pass a folder for the run.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise NNGuruError(
                f"The run directory {str(out)!r} already exists and is not empty. Pass --overwrite "
                "(overwrite=True) to replace that run, or choose another --out."
            )
        foreign = [p.name for p in out.iterdir()
                   if p.name not in RUN_FILES and p.name not in RUN_FOLDERS and p.suffix != ".png"]
        if foreign:
            raise NNGuruError(
                f"Refusing to overwrite {str(out)!r}: it holds files nnguru did not write "
                f"({', '.join(sorted(foreign)[:5])}). Choose another --out."
            )
    return out


def make_run_dir(out: Path, overwrite: bool) -> Path:
    """Create the run directory checked by :func:`check_run_dir`, replacing only a previous run."""
    out = check_run_dir(out, out.name, overwrite)
    if out.is_dir():
        for p in out.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(jsonable(obj), indent=2))


def write_config(path: Path, cfg: dict) -> None:
    path.write_text(yaml.safe_dump(jsonable(cfg), sort_keys=False))


def write_history(path: Path, history: dict[str, list[float]]) -> None:
    """history.csv: one row per epoch, ``epoch, loss, val_loss, <metric>, val_<metric>, lr, seconds``."""
    n = len(history.get("loss", []))
    order = ["loss", "val_loss"]
    order += [k for k in history if k not in order and not k.startswith("val_") and k not in ("lr", "seconds")]
    order += [f"val_{k}" for k in order[2:] if f"val_{k}" in history]
    order += [k for k in history if k not in order]
    frame = pd.DataFrame({"epoch": range(1, n + 1)})
    for key in order:
        values = history.get(key, [])
        frame[key] = list(values) + [float("nan")] * (n - len(values))
    frame.to_csv(path, index=False)
