"""The run directory as a transaction: written aside, renamed into place when the run succeeds.

A run writes into the hidden sibling ``.<name>.partial`` of RUN_DIR. The partial folder holds a
marker, ``.nnguru-run`` (JSON: format, status, pid, host, start time, the options and a
fingerprint of the data, the stages done) and a lock file that the writing process holds
(``flock``) for as long as it lives, so a second run into the same RUN_DIR is refused while the
first is alive, and a killed run (the kernel drops its lock) is what ``--resume`` picks up.
When every stage is done the marker says ``done`` with a manifest of the files written, the
checkpoints are removed, everything is fsynced and the folder is renamed to RUN_DIR. With
``--overwrite`` the previous run is renamed aside only then, and removed once the new one is in
place; a folder is replaced only if its marker says nnguru wrote it and it holds nothing outside
its manifest, so files a user put there are never deleted.

Every write to a run directory goes through this module, so making only one process write (under
``torchrun``) is one check here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nnguru.errors import NNGuruError
from nnguru.jsonutil import jsonable
from nnguru.training.checkpoint import atomic_write, fsync_path, fsync_tree, pid_alive, remove_stale_temps

try:
    import fcntl
except ImportError:  # Windows: fall back on the pid in the marker
    fcntl = None

MARKER, LOCK = ".nnguru-run", ".lock"
FORMAT = "nnguru-run-1"
CHECKPOINTS = "checkpoints"
RUN_FILES = ("metrics.json", "history.csv", "diagnosis.json", "data_report.json", "config.yaml",
             "report.html", "model_summary.txt", "auto_fix.json", "environment.json", "forecasts.csv")
RUN_FOLDERS = ("model", "tensorboard")


class RunComplete(NNGuruError):
    """``--resume`` of a run that has finished: nothing to do (the CLI exits 0)."""


def partial_path(final: Path) -> Path:
    return final.parent / f".{final.name}.partial"


def final_path(path: str | Path) -> Path:
    """The RUN_DIR a partial folder becomes (``.name.partial`` -> ``name``); other paths as they are."""
    path = Path(path)
    if path.name.startswith(".") and path.name.endswith(".partial"):
        return path.parent / path.name[1:-len(".partial")]
    return path


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_marker(folder: Path, marker: dict) -> None:
    atomic_write(folder / MARKER, lambda tmp: Path(tmp).write_text(json.dumps(jsonable(marker), indent=2)))


def _lock(folder: Path) -> int | None:
    """Hold ``folder``'s lock (an fd kept open for the process's life), or None if a live process has it."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        marker = read_marker(folder) or {}
        if marker.get("pid") not in (None, os.getpid()) and pid_alive(int(marker["pid"])):
            os.close(fd)
            return None
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name not in (MARKER, LOCK))


def _foreign(folder: Path) -> list[str]:
    """Files in a finished run that nnguru did not write (all of them when it has no marker)."""
    marker = read_marker(folder)
    if marker is None or marker.get("status") != "done":
        return sorted(p.name for p in folder.iterdir())
    return sorted(set(_files(folder)) - set(marker.get("manifest", [])))


def recover(final: Path) -> None:
    """Finish what a process killed while committing left: a done partial not yet in place, and the
    previous run set aside."""
    part = partial_path(final)
    marker = read_marker(part) if part.is_dir() else None
    if marker is not None and marker.get("status") == "done":
        fd = _lock(part)
        if fd is not None:
            try:
                _swap_in(part, final)
            finally:
                os.close(fd)
    remove_stale_temps(final)


def _swap_in(part: Path, final: Path) -> None:
    """Rename the done ``part`` to ``final``; a previous run is set aside first, removed after."""
    aside = None
    if final.exists():
        if final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        else:
            aside = final.parent / f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(final, aside)
    os.rename(part, final)
    fsync_path(final.parent)
    if aside is not None:
        shutil.rmtree(aside)


def _refuse_existing(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NNGuruError(f"--out {str(out)!r} is an existing file; pass a folder for the run.")
    if not (out.is_dir() and any(out.iterdir())):
        return
    if not overwrite:
        raise NNGuruError(
            f"The run directory {str(out)!r} already exists and is not empty. Pass --overwrite "
            "(overwrite=True) to replace that run, or choose another --out."
        )
    if read_marker(out) is None:
        raise NNGuruError(
            f"Refusing to overwrite {str(out)!r}: it has no {MARKER} marker, so nnguru cannot tell its "
            "files from yours (a folder of your own, or a run from an nnguru before 0.2). Move or delete "
            "it yourself, or choose another --out."
        )
    foreign = _foreign(out)
    if foreign:
        raise NNGuruError(
            f"Refusing to overwrite {str(out)!r}: it holds files nnguru did not write "
            f"({', '.join(foreign[:5])}). Move them out, or choose another --out."
        )


def _refuse_partial(out: Path, overwrite: bool) -> None:
    part = partial_path(out)
    if not part.is_dir():
        return
    marker = read_marker(part) or {}
    fd = _lock(part)
    if fd is None:
        raise NNGuruError(
            f"Another nnguru run (pid {marker.get('pid', '?')} on {marker.get('host', '?')}) is writing "
            f"{str(out)!r} now. Wait for it to finish, or choose another --out."
        )
    os.close(fd)
    if not overwrite:
        raise NNGuruError(
            f"A run into {str(out)!r} was interrupted (pid {marker.get('pid', '?')}, started "
            f"{marker.get('started', '?')}); its work is in {str(part)!r}. Continue it with "
            f"`nnguru train --resume {out}`, pass --overwrite to discard it, or choose another --out."
        )


def check_run_dir(out: str | Path | None, name: str, overwrite: bool) -> Path:
    """Where the run will go; refuses an existing run without ``overwrite``, any foreign folder and a
    run directory another live run is writing.

    Only checks (and finishes an interrupted commit): nothing the user has is touched, so a run
    can check before its slow steps and begin (:func:`begin`) once its data has been accepted.
    """
    if out is None:
        base = Path("runs") / name
        out, k = base, 2
        while (out.exists() and any(out.iterdir())) or partial_path(out).exists():
            out, k = Path(f"{base}-{k}"), k + 1
    out = Path(out)
    recover(out)
    _refuse_existing(out, overwrite)
    _refuse_partial(out, overwrite)
    return out


class RunDir:
    """A run being written at ``path`` (the partial folder), to become ``final`` on :meth:`commit`."""

    def __init__(self, final: Path, path: Path, fd: int, marker: dict, overwrite: bool) -> None:
        self.final, self.path, self._fd, self.marker, self.overwrite = final, path, fd, marker, overwrite

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def stages(self) -> list[str]:
        return list(self.marker.get("stages", []))

    def stage_done(self, stage: str, where: Path | None = None) -> None:
        """Record a finished stage (``where``: a nested run, as --auto-fix's second one)."""
        key = stage if where is None or where == self.path else f"{where.name}/{stage}"
        if key not in self.marker["stages"]:
            self.marker["stages"].append(key)
            _write_marker(self.path, self.marker)

    def commit(self) -> Path:
        """Remove the checkpoints, seal the marker and manifest, fsync, rename into place."""
        _refuse_existing(self.final, self.overwrite)  # nothing foreign appeared meanwhile
        for ck in [self.checkpoints, *self.path.glob(f"*/{CHECKPOINTS}")]:
            shutil.rmtree(ck, ignore_errors=True)
        self.marker.update(status="done", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           manifest=_files(self.path))
        _write_marker(self.path, self.marker)
        fsync_tree(self.path)
        _swap_in(self.path, self.final)
        (self.final / LOCK).unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = -1
        self.path = self.final
        return self.final

    def release(self) -> None:
        """Give up the lock without committing (the partial stays for --resume)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def begin(final: Path, overwrite: bool, options: dict, fingerprint: dict) -> RunDir:
    """Make the partial folder, locked and marked, after :func:`check_run_dir` accepted ``final``.

    The folder is built under a pid-named name and renamed to ``.<name>.partial`` only once it
    holds its lock and marker, so a concurrent run either sees a complete, locked partial or none.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(final)
    _refuse_partial(final, overwrite)
    if part.is_dir():  # a stale partial, discarded by --overwrite (it is nnguru's own work folder)
        shutil.rmtree(part)
    tmp = final.parent / f".{final.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    fd = _lock(tmp)
    marker = {"format": FORMAT, "status": "running", "pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_id": uuid.uuid4().hex,
              "options": options, "fingerprint": fingerprint, "stages": []}
    _write_marker(tmp, marker)
    try:
        os.rename(tmp, part)
    except OSError:
        os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)
        _refuse_partial(final, overwrite=False)  # names the run that won the race
        raise
    return RunDir(final, part, fd, marker, overwrite)


def find_resumable(run_dir: str | Path) -> tuple[Path, Path]:
    """(final, partial) for ``--resume RUN_DIR``: RUN_DIR or its partial folder may be given."""
    final = final_path(run_dir)
    recover(final)
    part = partial_path(final)
    if not part.is_dir():
        marker = read_marker(final) if final.is_dir() else None
        if marker is not None and marker.get("status") == "done":
            raise RunComplete(f"The run {str(final)!r} is complete; there is nothing to resume.")
        raise NNGuruError(
            f"--resume {str(run_dir)!r}: no interrupted nnguru run there (no {part.name} folder next to "
            "it). Pass the --out folder of the run that was interrupted."
        )
    return final, part


def take_over(final: Path, part: Path, overwrite: bool = False) -> RunDir:
    """Lock a stale partial for ``--resume``; a live one is refused naming its pid."""
    marker = read_marker(part)
    if marker is None or marker.get("format") != FORMAT:
        raise NNGuruError(f"{str(part)!r} has no readable {MARKER} marker; it cannot be resumed. Delete it "
                          "and start the run again.")
    fd = _lock(part)
    if fd is None:
        raise NNGuruError(
            f"The run into {str(final)!r} is still running (pid {marker.get('pid')} on {marker.get('host')}); "
            "it can only be resumed once that process has ended."
        )
    marker.update(pid=os.getpid(), host=socket.gethostname(), status="running",
                  resumed=int(marker.get("resumed", 0)) + 1)
    _write_marker(part, marker)
    return RunDir(final, part, fd, marker, overwrite)


def require_complete(run_dir: str | Path) -> Path:
    """Refuse an unfinished run (for report, predict, evaluate), pointing at --resume."""
    run_dir = Path(run_dir)
    marker = read_marker(run_dir) if run_dir.is_dir() else None
    unfinished = marker is not None and marker.get("status") != "done"
    if unfinished or (not run_dir.exists() and partial_path(run_dir).is_dir()):
        final = final_path(run_dir)
        raise NNGuruError(
            f"The run {str(final)!r} did not finish (it was interrupted or is still running), so it has no "
            f"complete results. Continue it with `nnguru train --resume {final}`."
        )
    return run_dir


def fingerprint_data(data: Any) -> str:
    """A hash of the data a run trains on: file contents, a folder's file names/sizes/times, or the
    array/DataFrame values; ``--resume`` refuses data that changed since the run began."""
    h = hashlib.sha256()
    if isinstance(data, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(data, index=True).values.tobytes())
        h.update(repr(list(data.columns)).encode())
    elif isinstance(data, (tuple, list)):
        import numpy as np

        for part in data:
            a = np.ascontiguousarray(np.asarray(part))
            h.update(repr((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    elif isinstance(data, (str, Path)) and Path(data).is_file():
        with open(data, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    elif isinstance(data, (str, Path)) and Path(data).is_dir():
        for p in sorted(Path(data).rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(data)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    else:
        h.update(str(data).encode())  # builtin:NAME
    return h.hexdigest()


# ---- files inside a run directory ------------------------------------------------------------
def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(jsonable(obj), indent=2))


def write_text(path: Path, text: str) -> None:
    path.write_text(text)


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
