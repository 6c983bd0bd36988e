"""Load what users bring — tables, media folders, MNIST IDX files, built-in sets — as a Dataset.

``load(spec, ...)`` is the one entry point. It reads, it does not clean: values stay as read
(table cells as strings, files as paths) and every choice made while reading (delimiter, header,
quoting, encoding, skipped lines, ignored files, column types) is written to ``Dataset.info`` so
the data report can show it. Cleaning happens in :mod:`nnguru.data.clean`.

Each kind of data is a registered source: a name, ``detect(spec) -> bool`` and
``load(spec, options) -> Dataset``. ``load`` asks the sources in turn, the most recently
registered first, and the first that recognizes ``spec`` reads it. The built-in ones, as tried:
``builtin`` (``builtin:NAME``), ``mnist_idx`` (a folder with the four IDX files), ``npz``,
``parquet`` (by suffix or magic bytes), ``media_folder`` (any other folder) and ``table``
(any other file: delimited text). Adding one, e.g. SQLite tables::

    from nnguru.data import sources

    def load_sqlite(spec: str, options: sources.SourceOptions) -> Dataset:
        frame = ...  # read the table, values as stored
        return sources.table_dataset(frame, {"path": spec, "format": "sqlite"}, Path(spec),
                                     options)

    sources.register_source("sqlite", lambda spec: spec.endswith(".db"), load_sqlite)

A source registered later is tried before the built-in ones, so it may also claim files that
the ``table`` reader would otherwise take. Empty files and missing paths are refused before any
source is asked (a source with its own scheme, like ``builtin:``, never names a real path).

Files named by the data (a table's path column, the files of a folder) are confined to the data's
folder and must be regular files (:mod:`nnguru.data.paths`): a table naming others is refused with
one message listing the rows (or, with ``path_errors="mark"``, for ``predict``, those rows are
marked in ``info["path_errors"]``); a folder's FIFOs and symlinks out are skipped and listed in
``info["skipped_files"]``. ``allow_outside_paths=True`` lifts the folder confinement only.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnguru.data import columns as col
from nnguru.data import paths as confined
from nnguru.data.types import Dataset
from nnguru.errors import NNGuruError

PARQUET_SUFFIXES = (".parquet", ".pq")
# FSDD names files digit_speaker_repetition.wav; its README makes repetitions 0-4 the test set.
_FSDD_NAME = re.compile(r"^\d+_[A-Za-z]+_(\d+)\.wav$")
FSDD_TEST_REPETITIONS = 5
BUILTIN_PREFIX = "builtin:"  # scikit-learn's bundled sets: builtin:digits, builtin:iris, ...
MAX_REFUSALS_LISTED = 20  # refused paths named in the error message; the count is always complete
PATH_ERRORS = ("raise", "mark")  # refused paths: one error for the table, or marked rows (predict)


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source; each source uses the options that apply to it."""

    target: str | int | None = None
    sep: str | None = None
    header: bool | None = None
    columns: list[str] | None = None
    label_from_name: str | None = None
    column_types: dict[str, str] | None = None
    allow_outside_paths: bool = False  # read files outside the data's folder (trusted data only)
    path_errors: str = "raise"  # refused paths in a table: "raise" (train) or "mark" the rows (predict)


@dataclass(frozen=True)
class Source:
    name: str
    detect: Callable[[str], bool]
    load: Callable[[str, SourceOptions], Dataset]


SOURCES: dict[str, Source] = {}  # in the order load() asks them


def register_source(name: str, detect: Callable[[str], bool],
                    load: Callable[[str, SourceOptions], Dataset], *, replace: bool = False) -> None:
    """Make ``load`` read every ``spec`` that ``detect`` recognizes, before the sources
    registered so far (see the module docstring)."""
    if name in SOURCES and not replace:
        raise NNGuruError(f"a data source {name!r} is already registered; pass replace=True to override it.")
    others = {k: v for k, v in SOURCES.items() if k != name}
    SOURCES.clear()
    SOURCES.update({name: Source(name, detect, load), **others})


def load(
    spec: str | Path,
    *,
    target: str | int | None = None,
    sep: str | None = None,
    header: bool | None = None,
    columns: list[str] | None = None,
    label_from_name: str | None = None,
    column_types: dict[str, str] | None = None,
    allow_outside_paths: bool | None = None,
    path_errors: str = "raise",
) -> Dataset:
    """Read ``spec`` into a :class:`Dataset` without changing any value.

    ``spec`` is a CSV/TSV/text table, a Parquet file, an ``.npz`` file, a folder of class
    subfolders of images or audio, a flat folder of media files labelled by ``label_from_name``
    (a regex whose group 1 is the label), a folder with the four MNIST IDX files, or
    ``builtin:NAME`` (or anything a registered source reads). ``target`` is a column name or
    position (-1 = last); with ``target=None`` a table is returned whole with ``y=None`` (for
    prediction on new rows).

    Official test sets are kept as ``split_hint`` ("train"/"test" per row): MNIST's t10k files,
    Keras-style ``x_test`` arrays in an .npz, and FSDD's repetitions 0-4 when every file of a
    folder is named ``digit_speaker_repetition.wav``.

    Files the data names are read only from inside its folder, and only if they are regular
    files, unless ``allow_outside_paths`` (see the module docstring and :mod:`nnguru.data.paths`).
    """
    text = str(spec)
    if path_errors not in PATH_ERRORS:
        raise NNGuruError(f"path_errors must be one of {PATH_ERRORS}; received {path_errors!r}.")
    options = SourceOptions(target, sep, header, columns, label_from_name, column_types,
                            bool(allow_outside_paths), path_errors)
    path = Path(text).expanduser()
    if path.is_file() and path.stat().st_size == 0:
        raise NNGuruError(
            f"DATA {str(path)!r} is an empty file (0 bytes). Pass a file with a header line and at least one data row."
        )
    kind = None if path.is_file() or path.is_dir() or not os.path.lexists(path) else \
        confined.regular_file_problem(path)
    if kind is not None:
        raise NNGuruError(f"DATA {str(path)!r} is {kind.removeprefix('not a regular file ')}, not a file or folder: "
                          "nnguru reads only regular files. Pass the table file or data folder itself.")
    for source in SOURCES.values():
        if source.detect(text):
            return source.load(text, options)
    raise NNGuruError(
        f"DATA {text!r} does not exist. Pass a CSV/TSV/Parquet file, a folder of class "
        "subfolders of images or audio, a folder with the MNIST IDX files, or builtin:NAME "
        "(digits, iris, wine, breast_cancer, diabetes)."
    )


def _file(spec: str) -> Path | None:
    path = Path(spec).expanduser()
    return path if path.is_file() else None


def _folder(spec: str) -> Path | None:
    path = Path(spec).expanduser()
    return path if path.is_dir() else None


# --------------------------------------------------------------------------------------- tables


def _load_table(spec: str, options: SourceOptions) -> Dataset:
    path = Path(spec).expanduser()
    frame, info = read_delimited(path, sep=options.sep, header=options.header, columns=options.columns)
    return table_dataset(frame, info, path, options)


def _is_parquet(spec: str) -> bool:
    path = _file(spec)
    return path is not None and (path.suffix.lower() in PARQUET_SUFFIXES or _has_parquet_magic(path))


def _load_parquet(spec: str, options: SourceOptions) -> Dataset:
    path = Path(spec).expanduser()
    frame, info = _read_parquet(path, options.columns)
    return table_dataset(frame, info, path, options)


def table_dataset(frame: pd.DataFrame, info: dict, path: Path, options: SourceOptions) -> Dataset:
    """A table as read (cells unchanged) -> Dataset: the target split off, column types
    inferred (with the user's overrides), media paths resolved relative to the table."""
    target, label_from_name = options.target, options.label_from_name
    y = None
    target_name = None
    if target is not None:
        target_name = resolve_target(target, list(frame.columns), str(path))
        y = frame[target_name].to_numpy(dtype=object)
        frame = frame.drop(columns=[target_name])
        if frame.shape[1] == 0:
            raise NNGuruError(
                f"DATA {str(path)!r} has only the target column {target_name!r}: no feature "
                "columns are left to learn from. Check the delimiter (--sep) and the header."
            )
    overrides = {k: v for k, v in (options.column_types or {}).items() if k != target_name}
    types = col.infer_types(frame, overrides)
    info["column_types"] = {c: t.type for c, t in types.items()}
    info["type_reasons"] = {c: t.reason for c, t in types.items()}
    path_columns = [c for c, t in types.items() if t.type == "path"]
    kind = "table"
    if path_columns:
        frame, refused = _resolve_paths(frame, path_columns, path.parent, options.allow_outside_paths)
        if refused and options.path_errors == "raise":
            raise NNGuruError(_refused_message(path, refused))
        info["path_errors"] = {row: f"{value!r}: {reason}" for row, _, value, reason in refused}
        kind = col.path_kind(frame[path_columns[0]]) or "table"
        info["path_column"] = path_columns[0]
        if y is None and label_from_name:
            y, unmatched = _labels_from_names(frame[path_columns[0]].tolist(), label_from_name)
            info["label_from_name"] = _pattern_info(label_from_name, unmatched)
    info["target"] = target_name
    return Dataset(X=frame, y=y, name=path.stem, kind=kind, target=target_name, info=info)


def resolve_target(target: str | int, columns: list[str], where: str) -> str:
    """Column name for ``target``: a name (exact, then any case) or a position (-1 = last)."""
    names = [str(c) for c in columns]
    listing = ", ".join(repr(c) for c in names[:40]) + (" ..." if len(names) > 40 else "")
    if isinstance(target, str):
        if target in names:
            return target
        folded = [c for c in names if c.casefold() == target.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        if not re.fullmatch(r"[+-]?\d+", target.strip()):
            raise NNGuruError(
                f"--target {target!r} is not a column of {where!r}. Columns: {listing}. Pass one "
                "of these names or a position (0 = first column, -1 = last)."
            )
        target = int(target)
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise NNGuruError(
            f"--target must be a column name or an integer position; received {target!r} "
            f"(of type {type(target).__name__})."
        )
    if not -len(names) <= int(target) < len(names):
        raise NNGuruError(
            f"--target position {int(target)} is out of range: {where!r} has {len(names)} "
            f"columns ({listing}). Use 0..{len(names) - 1}, or -1 for the last column."
        )
    return names[int(target)]


def _read_parquet(path: Path, columns: list[str] | None) -> tuple[pd.DataFrame, dict]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise NNGuruError(
            f"DATA {str(path)!r} could not be read as Parquet: {exc}. Check that the file is "
            "complete, or save the table as CSV."
        ) from None
    frame.columns = [str(c) for c in frame.columns]
    if columns is not None:
        if len(columns) != frame.shape[1]:
            raise NNGuruError(
                f"--columns gives {len(columns)} names but {str(path)!r} has {frame.shape[1]} "
                f"columns. Give exactly {frame.shape[1]} comma-separated names."
            )
        frame.columns = [str(c) for c in columns]
    if len(frame) == 0:
        raise NNGuruError(
            f"DATA {str(path)!r} has columns ({', '.join(frame.columns[:20])}) but no rows. Pass a file with data rows."
        )
    info = {
        "path": str(path),
        "format": "parquet",
        "rows_read": len(frame),
        "columns": list(frame.columns),
    }
    return frame.reset_index(drop=True), info


def _has_parquet_magic(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def _resolve_paths(
    frame: pd.DataFrame, path_columns: list[str], base: Path, allow_outside: bool = False
) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
    """Relative file paths are read relative to the table's folder; each path is confined to it.

    Returns the frame with resolved paths and the refused ones as ``(row, column, value, reason)``
    (row counted from 0 over the data rows); a refused cell keeps the value as written.
    """
    frame = frame.copy()
    refused = []
    for name in path_columns:
        values = frame[name].astype(object)
        present = ~col.missing_mask(frame[name])
        resolved = []
        for row, value in zip(np.flatnonzero(np.asarray(present)), values[present], strict=True):
            path, reason = confined.confine(str(value).strip(), base, allow_outside)
            resolved.append(path if reason is None else str(value))
            if reason is not None:
                refused.append((int(row), name, str(value), reason))
        values[present] = resolved
        values[~present] = np.nan
        frame[name] = values
    return frame, refused


def _refused_message(path: Path, refused: list[tuple[int, str, str, str]]) -> str:
    """One message for every refused path of a table: the rows, the values and why."""
    listed = "; ".join(f"row {row + 1} {value!r}: {reason}" for row, _, value, reason in refused[:MAX_REFUSALS_LISTED])
    more = f"; and {len(refused) - MAX_REFUSALS_LISTED} more" if len(refused) > MAX_REFUSALS_LISTED else ""
    columns = ", ".join(repr(c) for c in dict.fromkeys(c for _, c, _, _ in refused))
    outside = any(reason in (confined.OUTSIDE, confined.SYMLINK_OUT) for *_, reason in refused)
    fix = (f"Move the files into that folder and write their paths relative to it, or pass {confined.ALLOW_HINT}."
           if outside else "Replace those entries with the paths of the files themselves.")
    return (
        f"DATA {str(path)!r}: {len(refused)} file path(s) in column {columns} will not be opened "
        f"(rows counted from 1 after the header): {listed}{more}. Files are read only from inside the "
        f"table's folder {str(path.parent.resolve())!r} (symlinks resolved), and only regular files. {fix}"
    )


# -------------------------------------------------------------------------------- delimited text

WHITESPACE = "whitespace"  # runs of spaces/tabs, as in many UCI files
_SEP_ALIASES = {
    "\\t": "\t", "tab": "\t", "\t": "\t", "comma": ",", ",": ",", "semicolon": ";", ";": ";",
    "pipe": "|", "|": "|", " ": WHITESPACE, "space": WHITESPACE, "whitespace": WHITESPACE,
    "\\s+": WHITESPACE,
}  # fmt: skip
_CANDIDATES = (",", "\t", ";", "|", WHITESPACE)
_SINGLE_COLUMN = "\x1f"  # ASCII unit separator: never in real text, so each line is one field
DETECT_LINES = 5000  # lines (at most DETECT_CHARS) used to detect delimiter, quoting and header
DETECT_CHARS = 1_000_000
MAX_RAGGED_SHARE = 0.5  # more broken rows than this: the delimiter or quoting is wrong, not the rows


def read_delimited(
    path: Path,
    *,
    sep: str | None = None,
    header: bool | None = None,
    columns: list[str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Read a delimited text table as strings, detecting what the caller did not set.

    Rows with more fields than the header are skipped and rows with fewer are padded with
    empty (missing) cells; both are listed by line number in the returned info.
    """
    text, encoding, note = _decode(path.read_bytes(), path)
    if not text.strip():
        raise NNGuruError(f"DATA {str(path)!r} holds only whitespace. Pass a file with a header line and data rows.")
    head = text[:DETECT_CHARS]
    sample = "".join(line for _, line in zip(range(DETECT_LINES), io.StringIO(head), strict=False))
    delimiter = _parse_sep(sep) if sep is not None else _detect_delimiter(sample, path.suffix.lower())
    quoting = _detect_quoting(sample, delimiter)
    records, blank = _parse_records(text, delimiter, quoting, path)
    if not records:
        raise NNGuruError(f"DATA {str(path)!r} has no rows. Pass a file with data rows.")
    has_header = _detect_header(records) if header is None else bool(header)
    frame, ragged = _frame_from_records(records, has_header, columns, path)
    info = {
        "path": str(path),
        "format": {"\t": "tsv", ",": "csv"}.get(delimiter, "delimited text"),
        "sep": "none (one column)" if delimiter == _SINGLE_COLUMN else delimiter,
        "sep_detected": sep is None,
        "header": has_header,
        "header_detected": header is None,
        "quoting": "none" if quoting == csv.QUOTE_NONE else "standard",
        "encoding": encoding,
        "rows_read": len(frame),
        "columns": list(frame.columns),
        "blank_lines": blank,
        **ragged,
    }
    if note:
        info["encoding_note"] = note
    return frame, info


def _decode(raw: bytes, path: Path) -> tuple[str, str, str | None]:
    """Text of the file: UTF-8 when valid, else Windows-1252/Latin-1 with a note saying so."""
    if raw[:2] == b"\x1f\x8b":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise NNGuruError(f"DATA {str(path)!r} is a damaged gzip file ({exc}).") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16"), "utf-16", None
    if b"\x00" in raw[:65536]:
        raise NNGuruError(
            f"DATA {str(path)!r} is a binary file (it contains NUL bytes), not a text table. "
            "Pass a CSV/TSV/Parquet file, or a folder for images and audio."
        )
    try:
        return raw.decode("utf-8-sig"), "utf-8", None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        encoding = "cp1252"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            encoding = "latin-1"
            text = raw.decode(encoding)
        note = (
            f"the file is not valid UTF-8 (first bad byte 0x{raw[exc.start]:02x} on line {line}); "
            f"it was read as {encoding}. Save it as UTF-8 if accented characters look wrong."
        )
        return text, encoding, note


def _parse_sep(sep: str) -> str:
    if sep in _SEP_ALIASES:
        return _SEP_ALIASES[sep]
    if len(sep) == 1:
        return sep
    raise NNGuruError(
        f"--sep {sep!r} is not a delimiter nnguru can use. Pass one character (',', ';', '|'), "
        "'tab' (or '\\t'), or 'whitespace' for columns separated by runs of spaces."
    )


def _split(text: str, delimiter: str, quoting: int) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank record; csv.Error propagates to the caller."""
    if delimiter == WHITESPACE:
        lines = enumerate(text.splitlines(), start=1)
        return [(n, line.split()) for n, line in lines if line.strip()]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=False)
    records = []
    for fields in reader:
        if fields and (len(fields) > 1 or fields[0].strip()):
            records.append((reader.line_num, fields))
    return records


def _consistency(sample: str, delimiter: str, quoting: int) -> tuple[float, int, list[list[str]]]:
    """Share of sample records with the most common field count, that count, and the records."""
    try:
        records = [fields for _, fields in _split(sample, delimiter, quoting)]
    except csv.Error:
        return 0.0, 0, []
    if not records:
        return 0.0, 0, []
    width, count = Counter(len(r) for r in records).most_common(1)[0]
    return count / len(records), width, records


def _detect_delimiter(sample: str, suffix: str) -> str:
    """The candidate that splits the sample into the most consistent number (>= 2) of fields."""
    order = list(_CANDIDATES)
    if suffix in (".tsv", ".tab"):
        order.remove("\t")
        order.insert(0, "\t")
    scores = {}
    for delimiter in order:
        share, width, _ = max(
            _consistency(sample, delimiter, csv.QUOTE_MINIMAL),
            _consistency(sample, delimiter, csv.QUOTE_NONE),
        )
        if width >= 2:
            scores[delimiter] = share
    if not scores:
        return _SINGLE_COLUMN
    best = max(scores.values())
    return next(d for d in order if d in scores and scores[d] >= best - 0.02)


def _detect_quoting(sample: str, delimiter: str) -> int:
    """Standard CSV quoting, unless quotes in the data are plain characters (as in SMS text)."""
    if delimiter == WHITESPACE or '"' not in sample:
        return csv.QUOTE_MINIMAL
    standard, _, quoted = _consistency(sample, delimiter, csv.QUOTE_MINIMAL)
    plain, _, records = _consistency(sample, delimiter, csv.QUOTE_NONE)
    if plain != standard:
        return csv.QUOTE_NONE if plain > standard else csv.QUOTE_MINIMAL
    if len(quoted) < len(records):  # an opening quote swallowed line ends: quotes are text
        return csv.QUOTE_NONE
    if any(_stray_quote(value) for fields in records for value in fields):
        return csv.QUOTE_NONE
    return csv.QUOTE_MINIMAL


def _stray_quote(value: str) -> bool:
    """A quote inside a field that CSV quoting cannot explain (not enclosing, not doubled)."""
    inner = value.strip()
    inner = inner[1:] if inner.startswith('"') else inner
    inner = inner[:-1] if inner.endswith('"') else inner
    return '"' in inner.replace('""', "")


def _parse_records(text: str, delimiter: str, quoting: int, path: Path) -> tuple[list, int]:
    try:
        records = _split(text, delimiter, quoting)
    except csv.Error as exc:
        raise NNGuruError(
            f"DATA {str(path)!r} could not be parsed as a table: {exc}. This usually means an "
            "opening quote without a closing one; pass --sep explicitly or fix the quoting."
        ) from None
    blank = sum(1 for line in text.splitlines() if not line.strip())
    return records, blank


def _detect_header(records: list[tuple[int, list[str]]]) -> bool:
    """True when the first row names the columns rather than holding data.

    A first row is data if any cell is empty, a number, long text, repeated, or a value that
    also occurs in the (categorical) column below it.
    """
    first = [v.strip() for v in records[0][1]]
    if any(v == "" or col.is_number(v) or len(v) > 40 or len(v.split()) > 4 for v in first):
        return False
    if len(set(first)) < len(first):
        return False
    body = [fields for _, fields in records[1:201]]
    for j, name in enumerate(first):
        values = [r[j].strip() for r in body if len(r) > j and r[j].strip()]
        distinct = {v.casefold() for v in values}
        categorical = values and len(distinct) <= max(20, len(values) // 2)
        if categorical and not all(col.is_number(v) for v in values) and name.casefold() in distinct:
            return False
    return True


def _frame_from_records(
    records: list[tuple[int, list[str]]], has_header: bool, columns: list[str] | None, path: Path
) -> tuple[pd.DataFrame, dict]:
    """Rows of equal width: long rows skipped, short rows padded; names from header/--columns."""
    if has_header:
        width = len(records[0][1])
        body = records[1:]
        if not body:
            names = ", ".join(v.strip() for v in records[0][1])
            raise NNGuruError(
                f"DATA {str(path)!r} has a header line ({names}) but no data rows. Add rows, or "
                "pass --no-header if that line is data."
            )
    else:
        width = Counter(len(fields) for _, fields in records).most_common(1)[0][0]
        body = records
    rows, long_lines, short_lines = [], [], []
    for line, fields in body:
        if len(fields) > width and any(v.strip() for v in fields[width:]):
            long_lines.append(line)
            continue
        if len(fields) < width:
            short_lines.append(line)
            fields = fields + [""] * (width - len(fields))
        rows.append(fields[:width])
    if (len(long_lines) + len(short_lines)) > MAX_RAGGED_SHARE * len(body) or not rows:
        raise NNGuruError(
            f"DATA {str(path)!r}: {len(long_lines) + len(short_lines)} of {len(body)} rows do not "
            f"have the expected {width} fields (e.g. line {(long_lines + short_lines)[0]}). The "
            "delimiter or quoting was probably misdetected: pass --sep (',', 'tab', ';', "
            "'whitespace') and check --no-header."
        )
    names = _column_names(records[0][1] if has_header else None, width, columns, path)
    frame = pd.DataFrame(rows, columns=names)
    ragged = {
        "long_rows_skipped": {"count": len(long_lines), "lines": long_lines[:50]},
        "short_rows_padded": {"count": len(short_lines), "lines": short_lines[:50]},
    }
    return frame, ragged


def _column_names(header: list[str] | None, width: int, columns: list[str] | None, path: Path) -> list[str]:
    """Header names made unique and non-empty; ``c0, c1, ...`` without a header."""
    if columns is not None:
        if len(columns) != width:
            raise NNGuruError(
                f"--columns gives {len(columns)} names but {str(path)!r} has {width} columns. "
                f"Give exactly {width} comma-separated names."
            )
        header = [str(c) for c in columns]
    if header is None:
        return [f"c{j}" for j in range(width)]
    names, seen = [], Counter()
    for j, raw in enumerate(header):
        name = raw.strip() or f"c{j}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return names


# --------------------------------------------------------------------------------------- folders


def _load_media_folder(spec: str, options: SourceOptions) -> Dataset:
    """Images or recordings in class subfolders, or a flat folder labelled by file name."""
    path, label_from_name = Path(spec).expanduser(), options.label_from_name
    files, skipped = _walk(path, options.allow_outside_paths)
    kinds = {p: col.media_kind(p.name) for p in files}
    media = [p for p in files if kinds[p] is not None]
    if not media:
        raise NNGuruError(_no_media_message(path, files, skipped))
    kind = max(("image", "audio"), key=lambda k: sum(kinds[p] == k for p in media))
    used = [p for p in media if kinds[p] == kind]
    info: dict = {
        "path": str(path),
        "format": f"{kind} folder",
        "files": len(used),
        "ignored_files": [str(p.relative_to(path)) for p in files if kinds[p] != kind][:50],
        "ignored_file_count": sum(kinds[p] != kind for p in files),
        "skipped_files": skipped,
    }
    if label_from_name:
        y, unmatched = _labels_from_names([str(p) for p in used], label_from_name)
        info["label_from_name"] = _pattern_info(label_from_name, unmatched)
        info["labels"] = "from file names"
        split_hint = _fsdd_split_hint(used)
        if split_hint is not None:
            info["split"] = "official FSDD split: repetitions 0-4 of each speaker and digit are the test set"
    else:
        used, y, outside = _labels_from_subfolders(path, used)
        info["labels"] = "class subfolders" if y is not None else "none (flat folder)"
        info["files"] = len(used)
        if outside:
            info["files_outside_class_folders"] = outside
        split_hint = None
    frame = pd.DataFrame({"path": [str(p) for p in used]})
    info["column_types"] = {"path": "path"}
    info["type_reasons"] = {"path": f"{kind} files found in the folder"}
    info["path_column"] = "path"
    return Dataset(X=frame, y=y, name=path.name, kind=kind, target=None, split_hint=split_hint, info=info)


def _labels_from_subfolders(root: Path, files: list[Path]) -> tuple[list[Path], np.ndarray | None, list[str]]:
    """Label = the first-level subfolder; files lying directly in ``root`` are left out."""
    nested = [p for p in files if p.parent != root]
    if not nested:
        return files, None, []
    outside = [p.name for p in files if p.parent == root]
    labels = np.array([p.relative_to(root).parts[0] for p in nested], dtype=object)
    return nested, labels, outside


def _labels_from_names(paths: list[str], pattern: str) -> tuple[np.ndarray, list[str]]:
    """Label = group 1 of ``pattern`` searched in each file name; non-matching names -> None."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise NNGuruError(
            f"--label-from-name {pattern!r} is not a valid regular expression ({exc}). "
            r"Example: '^(\d+)_' takes the leading number of '7_jackson_32.wav'."
        ) from None
    if regex.groups < 1:
        raise NNGuruError(
            f"--label-from-name {pattern!r} has no capturing group, so it cannot say which part "
            r"of the file name is the label. Put the label in parentheses, e.g. '^(\d+)_'."
        )
    labels, unmatched = [], []
    for value in paths:
        name = Path(str(value)).name
        match = regex.search(name)
        labels.append(match.group(1) if match and match.group(1) is not None else None)
        if labels[-1] is None:
            unmatched.append(name)
    if len(unmatched) == len(paths):
        example = Path(str(paths[0])).name if paths else "(none)"
        raise NNGuruError(
            f"--label-from-name {pattern!r} matches none of the {len(paths)} file names "
            f"(e.g. {example!r}). Write a pattern whose group 1 is the label in such a name."
        )
    return np.array(labels, dtype=object), unmatched


def _pattern_info(pattern: str, unmatched: list[str]) -> dict:
    return {"pattern": pattern, "unmatched_count": len(unmatched), "unmatched": unmatched[:50]}


def _fsdd_split_hint(files: list[Path]) -> np.ndarray | None:
    """Official FSDD test set (repetitions 0-4) when every file follows FSDD's naming."""
    matches = [_FSDD_NAME.match(p.name) for p in files]
    if not files or not all(matches):
        return None
    reps = np.array([int(m.group(1)) for m in matches])
    return np.where(reps < FSDD_TEST_REPETITIONS, "test", "train").astype(object)


def _walk(root: Path, allow_outside: bool = False) -> tuple[list[Path], list[dict[str, str]]]:
    """The regular files under ``root`` (hidden names left out), sorted, and the entries skipped.

    Skipped and listed: FIFOs, devices and sockets (reading one could block forever), symlinks
    resolving outside ``root`` (not followed unless ``allow_outside``; the reason is the same
    whether or not the target exists) and broken symlinks. A folder reached twice (a symlink
    loop) is walked once.
    """
    real_root = os.path.realpath(root)
    files, skipped, seen, stack = [], [], {real_root}, [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append({"file": str(Path(folder).relative_to(root)),
                            "reason": f"folder cannot be listed ({exc.strerror or exc})"})
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = str(Path(entry.path).relative_to(root))
            target = os.path.realpath(entry.path) if entry.is_symlink() else None
            if target is not None and not allow_outside and not confined.within(target, real_root):
                skipped.append({"file": name, "reason": f"{confined.SYMLINK_OUT} (not followed)"})
                continue
            try:
                mode = entry.stat().st_mode  # follows a symlink (confined above)
            except OSError:
                skipped.append({"file": name, "reason": "broken symlink" if target else "cannot be read"})
                continue
            if stat.S_ISDIR(mode):
                real = target or os.path.realpath(entry.path)
                if real not in seen:
                    seen.add(real)
                    stack.append(Path(entry.path))
            elif stat.S_ISREG(mode):
                files.append(Path(entry.path))
            else:
                skipped.append({"file": name, "reason": f"not a regular file ({confined.file_kind(mode)})"})
    return sorted(files), skipped


def _no_media_message(path: Path, files: list[Path], skipped: list[dict[str, str]] = ()) -> str:
    if skipped and not files:
        listed = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:MAX_REFUSALS_LISTED])
        return (
            f"DATA folder {str(path)!r} holds no regular files nnguru may read; skipped: {listed}. "
            f"Put the images or recordings themselves in the folder (or pass {confined.ALLOW_HINT})."
        )
    if not files:
        return (
            f"DATA folder {str(path)!r} is empty. Put one subfolder per class with images "
            "(.png, .jpg, .bmp) or recordings (.wav, .flac) inside, or pass a table file."
        )
    suffixes = sorted({p.suffix.lower() or "(no extension)" for p in files})[:10]
    return (
        f"DATA folder {str(path)!r} holds {len(files)} file(s) but no images or audio "
        f"(extensions found: {', '.join(suffixes)}). Supported: images "
        f"{', '.join(sorted(col.IMAGE_EXTENSIONS))}; "
        f"audio {', '.join(sorted(col.AUDIO_EXTENSIONS))}. "
        "To train on a table, pass the table file itself."
    )


# --------------------------------------------------------------------------------------- arrays


def _is_mnist_folder(spec: str) -> bool:
    from nnguru.datasets import is_mnist_folder

    path = _folder(spec)
    return path is not None and is_mnist_folder(path)


def _load_mnist(spec: str, options: SourceOptions) -> Dataset:
    from nnguru.datasets import load_mnist

    path = Path(spec).expanduser()
    (x_train, y_train), (x_test, y_test) = load_mnist(path)
    X = np.concatenate([x_train, x_test])
    y = np.concatenate([y_train, y_test]).astype(np.int64)
    hint = np.array(["train"] * len(x_train) + ["test"] * len(x_test), dtype=object)
    info = {
        "path": str(path),
        "format": "mnist idx",
        "shape": list(X.shape),
        "split": f"official MNIST split: {len(x_train)} train, {len(x_test)} test",
    }
    return Dataset(X=X, y=y, name="mnist", kind="array", split_hint=hint, info=info)


def _is_npz(spec: str) -> bool:
    path = _file(spec)
    return path is not None and path.suffix.lower() == ".npz"


def _load_npz(spec: str, options: SourceOptions) -> Dataset:
    """Arrays saved with ``np.savez``: ``x``/``y`` or Keras-style ``x_train``... ``y_test``."""
    path = Path(spec).expanduser()
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise NNGuruError(f"DATA {str(path)!r} could not be read as an .npz file: {exc}.") from None
    lower = {k.lower(): v for k, v in arrays.items()}
    info = {"path": str(path), "format": "npz", "arrays": sorted(arrays)}
    if {"x_train", "y_train", "x_test", "y_test"} <= set(lower):
        X = np.concatenate([lower["x_train"], lower["x_test"]])
        y = np.concatenate([lower["y_train"], lower["y_test"]])
        hint = np.array(["train"] * len(lower["x_train"]) + ["test"] * len(lower["x_test"]), dtype=object)
        return Dataset(X=X, y=y, name=path.stem, kind="array", split_hint=hint, info=info)
    X = next((lower[k] for k in ("x", "data", "images", "features") if k in lower), None)
    if X is None:
        raise NNGuruError(
            f"DATA {str(path)!r} holds arrays {sorted(arrays)} but none named x (or x_train/"
            "x_test). Save the inputs as x=... and the labels as y=...."
        )
    y = next((lower[k] for k in ("y", "labels", "target", "targets") if k in lower), None)
    return Dataset(X=X, y=y, name=path.stem, kind="array", info=info)


def _load_builtin(spec: str, options: SourceOptions) -> Dataset:
    from nnguru.datasets import load_builtin

    name = spec[len(BUILTIN_PREFIX):]
    X, y, feature_names, target_names = load_builtin(name)
    key = name.lower().replace("-", "_")
    if target_names is not None:
        y = np.asarray(target_names, dtype=object)[np.asarray(y, dtype=np.int64)]
    info = {"path": f"builtin:{key}", "format": "scikit-learn built-in", "shape": list(np.shape(X))}
    if np.ndim(X) > 2:
        return Dataset(X=np.asarray(X), y=np.asarray(y), name=key, kind="array", info=info)
    frame = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=[str(n) for n in feature_names])
    types = col.infer_types(frame)
    info["column_types"] = {c: t.type for c, t in types.items()}
    info["type_reasons"] = {c: t.reason for c, t in types.items()}
    return Dataset(X=frame, y=np.asarray(y), name=key, kind="table", target="target", info=info)


# ------------------------------------------------------------------------------------- registry

# Registered from the most general to the most specific: load() asks the last registered first,
# so a folder is MNIST before it is a media folder and a file is .npz or Parquet before text.
register_source("table", lambda spec: _file(spec) is not None, _load_table)
register_source("parquet", _is_parquet, _load_parquet)
register_source("npz", _is_npz, _load_npz)
register_source("media_folder", lambda spec: _folder(spec) is not None, _load_media_folder)
register_source("mnist_idx", _is_mnist_folder, _load_mnist)
register_source("builtin", lambda spec: spec.startswith(BUILTIN_PREFIX), _load_builtin)
