"""Which files a data source may open: confined to the data's folder, regular files only.

A table's path column or a folder of class subfolders is user data that names other files. Read
naively, ``../../etc/shadow`` or a symlink out of the folder would be read (and its existence
revealed in an error), and a FIFO would block the run forever. So:

- :func:`confine` decides, without opening anything, whether a referenced path may be read: it
  must resolve (symlinks included) inside the data folder, unless outside paths are allowed. A
  path that is outside *as written* is refused before the file system is asked anything about it,
  so the answer is the same whether or not the file exists.
- :func:`open_regular` is the one way media files are opened: it refuses FIFOs, devices, sockets
  and folders (opening with ``O_NONBLOCK``, so even a FIFO swapped in after a check never blocks).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from nnguru.errors import NNGuruError

OUTSIDE = "outside the data folder"
SYMLINK_OUT = "a symlink pointing outside the data folder"
ALLOW_HINT = "--allow-outside-paths (allow_outside_paths: true in a config) if you trust the data"
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
)  # fmt: skip


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def within(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when ``path`` lies in ``root`` (both absolute and normalized, no file system access)."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def confine(value: str, root: Path, allow_outside: bool = False) -> tuple[str, str | None]:
    """``(path to read, reason it is refused or None)`` for ``value`` written in data under ``root``.

    Relative values are read relative to ``root`` (the table's folder). Refused: a path outside
    ``root`` as written (``../x``, ``/etc/passwd``, ``~/x``), one that leaves it through a symlink,
    and an existing file inside that is not a regular file. A file that does not exist inside
    ``root`` is not refused here: the cleaner reports it as missing, as it may report any inside file.
    """
    if "\x00" in value:
        return value, "not a valid file path (it contains a NUL character)"
    real_root, root = os.path.realpath(root), os.path.normpath(os.path.abspath(root))
    candidate = Path(value).expanduser()
    written = Path(os.path.normpath(candidate if candidate.is_absolute() else Path(root) / candidate))
    if not allow_outside:
        if not (within(written, root) or within(written, real_root)):
            return str(written), OUTSIDE  # decided from the text alone: nothing outside is touched
        if not within(os.path.realpath(written), real_root):
            return str(written), SYMLINK_OUT
    elif not candidate.is_absolute() and not os.path.lexists(written) and os.path.lexists(candidate):
        written = Path(os.path.abspath(candidate))  # trusted data: a path relative to the working folder
    try:
        mode = os.stat(written).st_mode
    except (OSError, ValueError):
        return str(written), None  # missing: reported by the cleaner ("file not found")
    kind = file_kind(mode)
    return str(written), (None if kind is None else f"not a regular file ({kind})")


def open_regular(path: str | os.PathLike, what: str = "File") -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file; an NNGuruError naming it otherwise.

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting for a writer; the kind
    is then checked on the open descriptor, so the file read is the file checked.
    """
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            kind = file_kind(os.fstat(fd).st_mode)
            if kind is None:
                return os.fdopen(fd, "rb")
            os.close(fd)
    except FileNotFoundError:
        raise NNGuruError(
            f"{what} {str(path)!r} does not exist. Check the path (relative paths are read relative "
            "to the table's folder)."
        ) from None
    except (OSError, ValueError) as exc:
        raise NNGuruError(f"{what} {str(path)!r} could not be opened ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc}).") from None
    raise NNGuruError(f"{what} {str(path)!r} is not a regular file ({kind}); only regular files are read. "
                      "Replace it with the file itself.")


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a regular file ("file not found", "not a regular file (...)"),
    or None when it can; never opens it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except (OSError, ValueError) as exc:
        return f"cannot be opened ({getattr(exc, 'strerror', None) or exc})"
    kind = file_kind(mode)
    return None if kind is None else f"not a regular file ({kind})"


def unreadable_rows(ds) -> dict[int, str]:
    """Row -> why its file cannot be used, for a Dataset with a path column (else empty).

    The source's refusals (``info["path_errors"]``, read with ``path_errors="mark"``) and every file
    the cleaner's probe rejects (missing, not a regular file, damaged, implausible header), so
    ``predict`` can mark those rows and predict the others.
    """
    from nnguru.data.features.audio import probe_audio
    from nnguru.data.features.image import probe_image

    column = (ds.info or {}).get("path_column")
    if column is None or ds.kind not in ("image", "audio"):
        return {}
    probe = {"image": probe_image, "audio": probe_audio}[ds.kind]
    errors = {int(row): reason for row, reason in (ds.info.get("path_errors") or {}).items()}
    for row, value in enumerate(ds.X[column].tolist()):
        if row in errors:
            continue
        result = probe(value) if isinstance(value, str) else None
        if result is None or not result.ok:
            errors[row] = "no file path" if result is None else f"{value!r}: {result.reason}"
    return dict(sorted(errors.items()))
