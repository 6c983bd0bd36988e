"""Cleaning: find what is wrong with the data, fix what can be fixed safely, and say so.

``clean(ds)`` returns the cleaned Dataset and a JSON-able report (written to data_report.json
and printed by ``nnguru inspect``). What it does to the rows:

- missing-value markers ("", "?", "NA", "-", ...) become real missing values, counted per column;
  with ``missing="drop"`` rows with a gap are dropped, otherwise the preprocessor fills gaps with
  statistics of the training split (so nothing is learned from the test rows here);
- rows whose target is missing are dropped, as are rows whose image/audio file is missing,
  empty, truncated or unreadable (listed by name);
- categorical spellings that differ only in case or whitespace are merged;
- placeholder zeros, outliers and duplicates are flagged (outliers dropped only when asked);
- class balance is reported, with a warning when the smallest class is under 10%.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from nnguru import tasks
from nnguru.data import columns as col
from nnguru.data.features.audio import probe_audio
from nnguru.data.features.image import GRAY_MODES, MAX_SIDE, probe_image
from nnguru.data.types import Dataset
from nnguru.errors import NNGuruError
from nnguru.jsonutil import jsonable

# A class below 10% of rows (and below half its fair share, so ten balanced classes of ~10% each
# are not flagged): accuracy alone becomes misleading.
MINORITY_WARNING = 0.10
OUTLIER_Z = 3.5  # modified z-score cut-off of Iglewicz & Hoaglin (median/MAD based)
MIN_DISTINCT_FOR_OUTLIERS = 10  # binary and ordinal columns have no outliers to speak of
MAX_LISTED = 200  # names listed per finding; the counts are always complete
# How the preprocessor fills gaps; "train" = statistics of the training split only.
_FILL = {
    "numeric": "median of train + missing indicator",
    "datetime": "median date of train + missing indicator",
    "categorical": "most frequent in train + missing indicator",
    "text": "empty text + missing indicator",
    "identifier": "no tokens + missing indicator",
    "path": "row dropped (no file to read)",
}


def clean(
    ds: Dataset,
    *,
    missing: str = "fill",
    drop_outliers: bool = False,
    placeholder_zeros: str = "flag",
    task: str | None = None,
) -> tuple[Dataset, dict]:
    """Clean ``ds`` and report every finding and action (see the module docstring).

    ``placeholder_zeros="missing"`` treats flagged zeros (e.g. a glucose of 0) as missing values.
    ``task`` (a registered task name) decides whether class balance is reported: for a task with
    class labels; by default (None or "auto") for text labels and for whole numbers with few
    distinct values.
    """
    _check_options(missing, placeholder_zeros)
    task = tasks.check(task)
    report: dict = {
        "dataset": ds.name,
        "kind": ds.kind,
        "source": _source_summary(ds.info),
        "rows": {"loaded": len(ds)},
        "warnings": list(_source_warnings(ds.info)),
    }
    if isinstance(ds.X, np.ndarray):
        cleaned = _clean_array(ds, report, task)
    else:
        cleaned = _clean_table(ds, report, missing, drop_outliers, placeholder_zeros, task)
    report["rows"]["after_cleaning"] = len(cleaned)
    return cleaned, jsonable(report)


def _check_options(missing: str, placeholder_zeros: str) -> None:
    if missing not in ("fill", "drop"):
        raise NNGuruError(
            f"--missing {missing!r} is not a strategy. Use 'fill' (median / most frequent value "
            "plus a missing indicator, learned on the training split) or 'drop' (drop rows)."
        )
    if placeholder_zeros not in ("flag", "missing"):
        raise NNGuruError(
            f"placeholder_zeros={placeholder_zeros!r} is not supported. Use 'flag' (report only) "
            "or 'missing' (treat the flagged zeros as missing values)."
        )


# ----------------------------------------------------------------------------------- tables


def _clean_table(ds: Dataset, report: dict, missing: str, drop_outliers: bool, zeros: str, task: str | None) -> Dataset:
    frame = ds.X.reset_index(drop=True).copy()
    frame.attrs = {}  # pandas deep-copies attrs on every column access; set again at the end
    frame.columns = [str(c) for c in frame.columns]  # user DataFrames may have int names
    types = _types(frame, ds.info)
    keep = np.ones(len(frame), dtype=bool)
    report["columns"] = [_clean_column(frame, name, types[name]) for name in frame.columns]
    types = {e["name"]: e["type"] for e in report["columns"]}  # "empty"/"constant" found here
    y = _clean_target(ds, report, keep, task)
    _check_files(frame, types, report, keep, ds.kind, ds.info.get("skipped_files", ()))
    used = [c for c, t in types.items() if t not in col.UNUSED_TYPES]
    if missing == "drop":
        _drop_missing(frame, used, report, keep)
    _flag_placeholder_zeros(frame, types, report, keep, zeros)
    _flag_outliers(frame, types, report, keep, drop_outliers)
    report["missing"] = _missing_summary(report, missing)
    if not keep.any():
        raise NNGuruError(
            f"No rows of {ds.name!r} are left after cleaning ({_drop_reasons(report)}). Check the "
            "target column and the files, or use --missing fill instead of drop."
        )
    frame = frame[keep].reset_index(drop=True)
    y = None if y is None else _finish_target(y[keep])
    hint = None if ds.split_hint is None else ds.split_hint[keep]
    report["duplicates"] = _duplicates(frame, y, types)
    if y is not None:
        report["target"].update(_target_summary(y, task, report["warnings"]))
    # The types travel with the rows (Dataset.take keeps attrs) so the preprocessor reuses them.
    frame.attrs["column_types"] = dict(types)
    info = {**ds.info, "column_types": dict(types), "source_rows": _source_rows(ds.info, keep)}
    return Dataset(X=frame, y=y, name=ds.name, kind=ds.kind, target=ds.target, split_hint=hint, info=info)


def _types(frame: pd.DataFrame, info: dict) -> dict[str, str]:
    """Types recorded by the loader, else inferred (DataFrames and arrays passed directly)."""
    known = info.get("column_types") or {}
    if all(c in known for c in frame.columns):
        return {c: known[c] for c in frame.columns}
    overrides = {c: t for c, t in known.items() if c in frame.columns and t in col.USER_TYPES}
    return {c: t.type for c, t in col.infer_types(frame, overrides).items()}


def _clean_column(frame: pd.DataFrame, name: str, kind: str) -> dict:
    """Count missing markers, normalize the column in place, and describe it."""
    values = frame[name]
    mask = col.missing_mask(values)
    entry: dict = {"name": name, "type": kind, "missing": int(mask.sum())}
    entry["missing_share"] = round(entry["missing"] / max(1, len(values)), 4)
    entry["markers"] = col.marker_counts(values, mask)
    if entry["missing"] == len(values):
        kind = entry["type"] = "empty"
    if kind == "numeric":
        frame[name], invalid = col.to_numeric(values, mask)
        if invalid:
            entry["invalid_numbers"] = invalid
            entry["missing"] += invalid
    elif kind == "categorical":
        frame[name], entry["spelling_fixes"], entry["spelling_fixed_cells"] = _normalize_spellings(values, mask)
    elif kind not in col.UNUSED_TYPES:
        if kind == "identifier":
            entry["row_number"] = _is_row_number(values)
        frame[name] = col.clean_strings(values)
    # unused columns are left as they were; the others now hold NaN for every missing cell
    present = frame[name][~mask] if kind in col.UNUSED_TYPES else frame[name].dropna()
    entry["distinct"] = int(present.nunique())
    if entry["distinct"] == 1 and kind not in col.UNUSED_TYPES and kind != "path":
        kind = entry["type"] = "constant"
    entry["action"] = _column_action(kind, entry)
    return entry


def _column_action(kind: str, entry: dict) -> str:
    if kind == "empty":
        return "column not used: every value is missing"
    if kind == "constant":
        return "column not used: the same value in every row"
    if kind == "ignore":
        return "column not used (set by the user)"
    if kind == "identifier" and entry.get("row_number"):
        return "not used (a row id says nothing about the target)"
    if kind == "identifier":
        return "never one-hot encoded; only tokens shared by many rows are used"
    return "used"


def _normalize_spellings(values: pd.Series, mask: np.ndarray) -> tuple[pd.Series, dict[str, str], int]:
    """Merge labels equal up to case and whitespace into their most common spelling (``mask``:
    the missing cells)."""
    raw = values.astype(str).astype(object)
    stripped = raw.str.strip()
    keys = stripped.str.split().str.join(" ").str.casefold()
    present = ~mask
    canonical: dict[str, str] = {}
    counts = Counter(zip(keys[present], stripped[present], strict=True))
    # Most common spelling wins; on a tie the plain lower-case one ("spam" over "Spam").
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1] != kv[0][0], kv[0][1]))
    for (key, spelling), _count in ranked:
        canonical.setdefault(key, spelling)
    fixed = keys.map(canonical).astype(object)
    fixed[mask] = np.nan
    changed = present & (raw != fixed).to_numpy()
    fixes = dict(Counter(zip(raw[changed], fixed[changed], strict=True)).keys())
    return fixed, dict(list(fixes.items())[:MAX_LISTED]), int(changed.sum())


# ----------------------------------------------------------------------------------- target


def _clean_target(ds: Dataset, report: dict, keep: np.ndarray, task: str | None) -> np.ndarray | None:
    """Drop rows without a target; numbers-as-text become numbers; label spellings merged."""
    if ds.y is None:
        report["target"] = None
        return None
    values = pd.Series(np.asarray(ds.y, dtype=object))
    mask = col.missing_mask(values)
    keep &= ~mask
    report["target"] = {"name": ds.target, "missing_rows_dropped": int(mask.sum())}
    if mask.all():
        raise NNGuruError(
            f"The target {ds.target or 'labels'!r} of {ds.name!r} is missing in all {len(values)} "
            "rows, so there is nothing to learn. Check --target (a column name or position), or "
            "--label-from-name for files."
        )
    numbers, invalid = col.to_numeric(values, mask)
    if invalid == 0:
        return numbers.to_numpy(dtype=object)
    fixed, fixes, changed = _normalize_spellings(values, mask)
    if changed:
        report["target"]["spelling_fixes"] = fixes
    return fixed.to_numpy(dtype=object)


def _finish_target(y: np.ndarray) -> np.ndarray:
    """Whole numbers as int64, other numbers as float64, labels as Python strings."""
    if all(isinstance(v, float) for v in y):
        values = np.asarray(y, dtype=np.float64)
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    return np.asarray(y, dtype=object)


def _target_summary(y: np.ndarray, task: str | None, warnings: list[str]) -> dict:
    distinct = pd.Series(y).nunique()
    if distinct < 2:
        raise NNGuruError(
            f"The target has a single value ({y[0]!r}) in all {len(y)} rows. A model needs at "
            "least two classes (classification) or varying values (regression). Check --target, "
            "or add rows of the other class(es)."
        )
    if not _is_class_target(y, task):
        if y.dtype == object:
            raise NNGuruError(
                f"The task is regression but the target holds text labels (e.g. {y[0]!r}). "
                "Use --task classification, or choose a numeric target column."
            )
        values = y.astype(np.float64)
        summary = {"min": values.min(), "median": np.median(values), "max": values.max()}
        return {"type": "numeric", "summary": {k: round(float(v), 6) for k, v in summary.items()}}
    return {"type": "classes", "class_balance": _class_balance(y, warnings)}


def _is_class_target(y: np.ndarray, task: str | None) -> bool:
    """The given task, else the task ``nnguru train`` would infer from these labels."""
    return tasks.categorical_target(task, y)


def _class_balance(y: np.ndarray, warnings: list[str]) -> dict:
    counts = pd.Series(y).value_counts()
    shares = counts / counts.sum()
    minority = shares.idxmin()
    balance = {
        "counts": {str(k): int(v) for k, v in counts.items()},
        "shares": {str(k): round(float(v), 4) for k, v in shares.items()},
        "minority_class": str(minority),
        "minority_share": round(float(shares.min()), 4),
        "warning": None,
    }
    if shares.min() < min(MINORITY_WARNING, 0.5 / len(counts)):
        balance["warning"] = (
            f"class {str(minority)!r} is only {shares.min():.1%} of the rows ({counts.min()} of "
            f"{counts.sum()}): accuracy can look high while this class is never predicted. "
            "Look at per-class recall and F1, and consider class weights."
        )
        warnings.append(balance["warning"])
    return balance


# ------------------------------------------------------------------------------------ files


def _check_files(frame: pd.DataFrame, types: dict, report: dict, keep: np.ndarray, kind: str,
                 skipped: tuple | list = ()) -> None:
    """Drop rows whose image/audio file is missing or unreadable; summarize sizes and rates.

    ``skipped``: files the source left out (FIFOs, symlinks out of the folder), listed first.
    """
    path_columns = [c for c, t in types.items() if t == "path"]
    report["corrupt_files"] = list(skipped)
    if not path_columns:
        return
    column = path_columns[0]
    media = kind if kind in ("image", "audio") else col.path_kind(frame[column]) or "image"
    probe = probe_image if media == "image" else probe_audio
    good = []
    for i in np.flatnonzero(keep):
        value = frame.at[i, column]
        result = probe(value) if isinstance(value, str) else None
        if result is None or not result.ok:
            keep[i] = False
            reason = "no file path" if result is None else result.reason
            report["corrupt_files"].append({"file": str(value), "reason": reason})
        else:
            good.append(result)
    report["corrupt_file_count"] = len(report["corrupt_files"])
    report["corrupt_files"] = report["corrupt_files"][:MAX_LISTED]
    if not good:
        example = report["corrupt_files"][0] if report["corrupt_files"] else {}
        raise NNGuruError(
            f"None of the files in column {column!r} could be read (e.g. {example.get('file')!r}: "
            f"{example.get('reason')}). Relative paths are read relative to the table's folder; "
            "check the paths and the files."
        )
    report["formatting"] = _image_formats(good) if media == "image" else _audio_formats(good)


def _image_formats(probes: list) -> dict:
    sizes = Counter(f"{p.size[0]}x{p.size[1]}" for p in probes)
    modes = Counter(p.mode for p in probes)
    common = sizes.most_common(1)[0]
    gray = sum(n for mode, n in modes.items() if mode in GRAY_MODES)
    target = "L" if gray >= len(probes) / 2 else "RGB"
    return {
        "images": len(probes),
        "sizes": dict(sizes.most_common(10)),
        "modes": dict(modes),
        "most_common_size": common[0],
        "images_to_resize": len(probes) - common[1],
        "color_mode": target,  # the majority channel count; the other images are converted to it
        "images_to_convert": sum(n for mode, n in modes.items() if mode != target),
        "exif_rotated": sum(p.rotated for p in probes),  # turned upright on loading
        "note": "the preprocessor turns every image upright (EXIF orientation), converts it to the "
        "majority color mode (16-bit scaled to 8 bits, transparency on white), resizes it to the median "
        f"training size (longer side capped at {MAX_SIDE} px), then scales pixels to 0-1",
    }


def _audio_formats(probes: list) -> dict:
    rates = Counter(p.sample_rate for p in probes)
    seconds = np.array([p.frames / p.sample_rate for p in probes])
    return {
        "recordings": len(probes),
        "sample_rates": {str(k): v for k, v in rates.most_common()},
        "channels": {str(k): v for k, v in Counter(p.channels for p in probes).items()},
        "to_resample": len(probes) - rates.most_common(1)[0][1],
        "seconds": {
            "min": round(float(seconds.min()), 3),
            "median": round(float(np.median(seconds)), 3),
            "p95": round(float(np.percentile(seconds, 95)), 3),
            "max": round(float(seconds.max()), 3),
        },
        "note": "the preprocessor resamples to the most common training rate, pads or trims to "
        "the 95th-percentile training length, and computes standardized log-mel spectrograms",
    }


# ---------------------------------------------------------------------- missing, zeros, outliers


def _drop_missing(frame: pd.DataFrame, used: list[str], report: dict, keep: np.ndarray) -> None:
    gaps = np.zeros(len(frame), dtype=bool)
    for name in used:
        gaps |= col.missing_mask(frame[name])
    dropped = keep & gaps
    keep &= ~gaps
    report["missing_rows_dropped"] = int(dropped.sum())
    if dropped.sum() > 0.3 * len(frame):
        worst = max(report["columns"], key=lambda e: e["missing"] if e["name"] in used else -1)
        report["warnings"].append(
            f"--missing drop removed {int(dropped.sum())} of {len(frame)} rows, most because of "
            f"column {worst['name']!r} ({worst['missing']} missing). Consider --missing fill."
        )


def _missing_summary(report: dict, strategy: str) -> dict:
    per_column = {}
    for entry in report["columns"]:
        if entry["missing"] and entry["type"] not in col.UNUSED_TYPES:
            how = "rows dropped" if strategy == "drop" else _FILL.get(entry["type"], "not used")
            entry["fill"] = how
            per_column[entry["name"]] = {"missing": entry["missing"], "fill": how}
    return {
        "strategy": strategy,
        "cells": sum(e["missing"] for e in report["columns"]),
        "rows_dropped": report.get("missing_rows_dropped", 0),
        "columns": per_column,
    }


def placeholder_zero_finding(values: np.ndarray) -> dict | None:
    """Zeros that look like "not recorded": rare, in a positive measure that never gets near 0.

    Flagged when zeros are under half the values, no value is negative, there are at least 10
    distinct non-zero values, and the gap from 0 to the smallest non-zero value is both five
    times the typical step between values and at least 5% of the median (a glucose of 0 next to
    values from 44 up; not a count of pregnancies, where 0, 1, 2 ... are all plausible).
    """
    values = values[~np.isnan(values)]
    zeros = int((values == 0).sum())
    if len(values) < 20 or zeros == 0 or zeros >= 0.5 * len(values) or (values < 0).any():
        return None
    distinct = np.unique(values[values != 0])
    if len(distinct) < 10:
        return None
    gap, step = distinct[0], float(np.median(np.diff(distinct)))
    if gap < 5 * step or gap < 0.05 * float(np.median(values[values != 0])):
        return None
    return {"count": zeros, "share": round(zeros / len(values), 4), "smallest_nonzero": float(gap)}


def _flag_placeholder_zeros(frame: pd.DataFrame, types: dict, report: dict, keep: np.ndarray, zeros: str) -> None:
    findings = {}
    for name, kind in types.items():
        if kind != "numeric":
            continue
        finding = placeholder_zero_finding(frame[name].to_numpy(np.float64)[keep])
        if finding is None:
            continue
        finding["action"] = "treated as missing" if zeros == "missing" else "flagged only"
        findings[name] = finding
        if zeros == "missing":
            frame.loc[frame[name] == 0, name] = np.nan
    report["placeholder_zeros"] = findings
    if findings and zeros == "flag":
        report["warnings"].append(
            f"column(s) {', '.join(map(repr, findings))} hold zeros where zero is implausible; "
            "they are probably missing values (placeholder_zeros='missing' treats them so)."
        )


def outlier_bounds(values: np.ndarray) -> tuple[float, float] | None:
    """(low, high) outside which a modified z-score exceeds 3.5; None without any spread."""
    values = values[~np.isnan(values)]
    if len(np.unique(values)) < MIN_DISTINCT_FOR_OUTLIERS:
        return None
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    spread = mad / 0.6745 if mad > 0 else 1.253314 * float(np.mean(np.abs(values - median)))
    if spread <= 0:
        return None
    return median - OUTLIER_Z * spread, median + OUTLIER_Z * spread


def _flag_outliers(frame: pd.DataFrame, types: dict, report: dict, keep: np.ndarray, drop: bool) -> None:
    flagged = np.zeros(len(frame), dtype=bool)
    columns = {}
    for name, kind in types.items():
        if kind != "numeric":
            continue
        values = frame[name].to_numpy(np.float64)
        counted = keep & ~((values == 0) & (name in report["placeholder_zeros"]))
        bounds = outlier_bounds(values[counted])
        if bounds is None:
            continue
        hits = counted & ((values < bounds[0]) | (values > bounds[1]))
        if hits.any():
            columns[name] = {
                "count": int(hits.sum()),
                "low": round(bounds[0], 6),
                "high": round(bounds[1], 6),
            }
            flagged |= hits
    report["outliers"] = {
        "rule": f"modified z-score above {OUTLIER_Z} (median and MAD of the column)",
        "columns": columns,
        "rows_flagged": int(flagged.sum()),
        "action": "rows dropped" if drop else "flagged only (use --drop-outliers to remove)",
    }
    if drop:
        keep &= ~flagged


def _drop_reasons(report: dict) -> str:
    target = report.get("target") or {}
    parts = [
        f"{target.get('missing_rows_dropped', 0)} without a target",
        f"{report.get('corrupt_file_count', 0)} with unreadable files",
        f"{report.get('missing_rows_dropped', 0)} with missing values",
    ]
    return ", ".join(parts)


# ------------------------------------------------------------------------------- duplicates


def row_hashes(X: pd.DataFrame | np.ndarray, types: dict[str, str] | None = None) -> np.ndarray:
    """One uint64 per sample; equal samples get equal hashes.

    Tables are compared on their feature columns, without row-number identifiers and unused
    columns; file paths are compared by file content, so a copied image counts as a duplicate.
    """
    if isinstance(X, np.ndarray):
        rows = np.ascontiguousarray(X.reshape(len(X), -1))
        if rows.dtype == object:  # text or mixed cells: their bytes would be pointers
            data = (repr(r.tolist()).encode() for r in rows)
        else:
            rows = rows + 0 if rows.dtype.kind in "fc" else rows  # -0.0 and 0.0 hash alike
            data = (r.tobytes() for r in rows)
        return np.fromiter((_digest(d) for d in data), dtype=np.uint64, count=len(rows))
    types = types or X.attrs.get("column_types")
    X = _without_attrs(X)
    types = types or {c: col.infer_type(X[c], c).type for c in X.columns}
    parts = {}
    for name in X.columns:
        kind = types.get(name, "numeric")
        if kind in col.UNUSED_TYPES or (kind == "identifier" and _is_row_number(X[name])):
            continue
        parts[name] = _file_digests(X[name]) if kind == "path" else _hashable(X[name])
    if not parts:
        return np.zeros(len(X), dtype=np.uint64)
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy(np.uint64)


def _without_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy without ``attrs``: pandas deep-copies attrs on every column access."""
    frame = frame.copy(deep=False)
    frame.attrs = {}
    return frame


def _hashable(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return values.astype(object).where(~col.missing_mask(values), None).astype(str)


def _is_row_number(values: pd.Series) -> bool:
    _, invalid = col.to_numeric(values)
    return invalid == 0


def _file_digests(paths: pd.Series) -> pd.Series:
    return pd.Series([_file_digest(p) for p in paths], index=paths.index, dtype="uint64")


def _file_digest(path: object) -> int:
    try:
        return _digest(Path(str(path)).read_bytes())
    except OSError:
        return _digest(str(path).encode())


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _duplicates(X: pd.DataFrame | np.ndarray, y: np.ndarray | None, types: dict | None) -> dict:
    """Repeated samples (same inputs and label) and same inputs carrying different labels."""
    labels = "" if y is None else pd.Series(y, dtype=object).astype(str).to_numpy()
    rows = pd.DataFrame({"x": row_hashes(X, types), "y": labels})
    exact = int(rows.duplicated().sum())
    conflicting = int((rows.groupby("x")["y"].transform("nunique") > 1).sum())
    return {
        "rows": exact,
        "share": round(exact / max(1, len(rows)), 4),
        "conflicting_labels": conflicting,
        "action": "kept; duplicates that land in both training and test are reported as leakage",
    }


def duplicates_across(train: Dataset | pd.DataFrame | np.ndarray, test: Dataset | pd.DataFrame | np.ndarray) -> int:
    """How many test samples have an exact copy among the training samples (leakage).

    Compares inputs before preprocessing, target excluded, as :func:`row_hashes` does: tables on
    their feature columns (types from the cleaner, else inferred once on ``train``; the test
    columns are matched by name), media files by content, arrays sample by sample.
    """
    train_x = train.X if isinstance(train, Dataset) else train
    test_x = test.X if isinstance(test, Dataset) else test
    if len(train_x) == 0 or len(test_x) == 0:
        return 0
    types = None
    if isinstance(train_x, pd.DataFrame):
        types = (train.info.get("column_types") if isinstance(train, Dataset) else None) \
            or train_x.attrs.get("column_types") \
            or {c: col.infer_type(train_x[c], c).type for c in train_x.columns}
        if isinstance(test_x, pd.DataFrame) and set(train_x.columns) <= set(test_x.columns):
            test_x = test_x[list(train_x.columns)]
    seen = set(row_hashes(train_x, types).tolist())
    return int(sum(h in seen for h in row_hashes(test_x, types).tolist()))


# ------------------------------------------------------------------------------------ arrays


def _clean_array(ds: Dataset, report: dict, task: str | None) -> Dataset:
    """Arrays (MNIST, npz, images): non-finite samples dropped, duplicates, class balance."""
    X = ds.X
    keep = np.ones(len(X), dtype=bool)
    report["array"] = {"shape": list(X.shape), "dtype": str(X.dtype)}
    if X.dtype.kind == "f":
        finite = np.isfinite(X.reshape(len(X), -1)).all(axis=1)
        report["array"]["non_finite_samples_dropped"] = int((~finite).sum())
        keep &= finite
    y = _clean_target(ds, report, keep, task)
    if not keep.any():
        raise NNGuruError(f"No samples of {ds.name!r} are left: every sample has NaN or infinite values.")
    X = X[keep]
    y = None if y is None else _finish_target(y[keep])
    hint = None if ds.split_hint is None else ds.split_hint[keep]
    report["corrupt_files"] = []
    report["duplicates"] = _duplicates(X, y, None)
    if y is not None:
        report["target"].update(_target_summary(y, task, report["warnings"]))
    info = {**ds.info, "source_rows": _source_rows(ds.info, keep)}
    return Dataset(X=X, y=y, name=ds.name, kind=ds.kind, target=ds.target, split_hint=hint, info=info)


def _source_rows(info: dict, keep: np.ndarray) -> np.ndarray:
    """Each kept row's number in the data as loaded (similarity search names items by it)."""
    before = info.get("source_rows")
    rows = np.flatnonzero(keep)
    return rows if before is None else np.asarray(before)[rows]


# ------------------------------------------------------------------------------------ report


_SOURCE_KEYS = (
    "path", "format", "sep", "header", "quoting", "encoding", "encoding_note", "rows_read",
    "blank_lines", "long_rows_skipped", "short_rows_padded", "files", "labels",
    "ignored_file_count", "ignored_files", "files_outside_class_folders", "label_from_name",
    "split", "type_reasons",
)  # fmt: skip


def _source_summary(info: dict) -> dict:
    return {k: info[k] for k in _SOURCE_KEYS if k in info}


def _source_warnings(info: dict) -> list[str]:
    warnings = []
    if info.get("encoding_note"):
        warnings.append(info["encoding_note"])
    long_rows = (info.get("long_rows_skipped") or {}).get("count", 0)
    if long_rows:
        warnings.append(f"{long_rows} row(s) with more fields than the header were skipped")
    short_rows = (info.get("short_rows_padded") or {}).get("count", 0)
    if short_rows:
        warnings.append(f"{short_rows} row(s) with fewer fields were padded with missing values")
    unmatched = (info.get("label_from_name") or {}).get("unmatched_count", 0)
    if unmatched:
        warnings.append(f"{unmatched} file name(s) did not match the label pattern and were skipped")
    return warnings


