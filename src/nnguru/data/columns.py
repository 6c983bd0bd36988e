"""Column types of a raw table: what each column holds, decided once and shared by all stages.

A raw table arrives as strings (CSV) or typed values (Parquet). Loading, cleaning and the
preprocessor all need the same answers to "is this value missing?", "is this column numbers,
categories, free text, dates, file paths or an identifier?", so those answers live here.

Types:
    numeric      numbers (a few unparseable values become missing and are counted)
    categorical  a small set of repeated labels ("male"/"female", "S"/"C"/"Q")
    text         free text with many distinct values (messages, reviews)
    datetime     dates or timestamps in one format
    path         paths of image or audio files
    identifier   one value per row (PassengerId, Name, Ticket): never one-hot encoded
    constant     a single value in every row: carries no information
    empty        every value missing
    ignore       set by the user to leave a column out
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.tseries.api import guess_datetime_format

from nnguru.errors import NNGuruError

COLUMN_TYPES = (
    "numeric", "categorical", "text", "datetime", "path", "identifier",
    "constant", "empty", "ignore",
)  # fmt: skip
# Types a user may force with ``column_types``; "constant"/"empty" are facts, not choices.
USER_TYPES = ("numeric", "categorical", "text", "datetime", "path", "identifier", "ignore")
# Types that carry no features: reported, then left out of the model.
UNUSED_TYPES = ("constant", "empty", "ignore")

# Cells that mean "no value", compared after stripping whitespace and case-folding.
MISSING_MARKERS = frozenset({"", "?", "-", "--", "na", "n/a", "nan", "null", "none", "#n/a", "<na>", "nat"})

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif"})

_DATE_LIKE = re.compile(
    r"^\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    r"|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?$"
)
# A plain decimal number written as text ("12", "-3.5", ".5", "1e-3"): no thousands separators,
# units or currency signs. Header detection and label spellings ("1" vs "1.0") both use it.
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ID_NAME = re.compile(r"(?i)^(id|idx|index|key|uuid|guid)$|[_\s.-](id|idx|index|key|uuid)$|[a-z]Id$")

# Thresholds for type inference, each with the reason it is what it is.
NUMERIC_SHARE = 0.95  # a few typos ("12,5", "n.a.") must not turn a number column into text
PATH_SHARE = 0.9  # most values end in a media extension: the column points at files
TEXT_MEAN_WORDS = 6.0  # sentences, not names ("Braund, Mr. Owen Harris" has 4 words)
TEXT_MEAN_CHARS = 40.0
IDENTIFIER_UNIQUE = 0.5  # more distinct values than half the rows: one-hot would memorize rows
MIN_ROWS_FOR_IDENTIFIER = 20  # tiny tables have unique values by chance


@dataclass(frozen=True)
class ColumnType:
    """The type of one column and the evidence for it (shown in the data report)."""

    type: str
    reason: str


def missing_mask(values: pd.Series) -> np.ndarray:
    """Boolean mask of missing cells: NaN/None/NaT, empty strings and common markers."""
    mask = values.isna().to_numpy(dtype=bool, copy=True)
    if not _is_stringlike(values):
        return mask
    numbers = _plain_numbers(values)
    if numbers is not None:  # every cell is a number (or "nan"): the common fast case
        return mask | np.isnan(numbers)
    keys = values[~mask].astype(str).str.strip().str.lower()
    mask[np.flatnonzero(~mask)[keys.isin(MISSING_MARKERS).to_numpy()]] = True
    return mask


def marker_counts(values: pd.Series, missing: np.ndarray | None = None) -> dict[str, int]:
    """How many cells of each missing marker a column holds, e.g. ``{"NA": 3, "?": 2, "": 1}``.

    ``missing``: the column's :func:`missing_mask`, when the caller has it already.
    """
    counts: dict[str, int] = {}
    nulls = int(values.isna().sum())
    if nulls:
        counts["<null>"] = nulls  # no value at all (Parquet nulls, NaN in a DataFrame)
    if not _is_stringlike(values):
        return counts
    if missing is None:
        missing = missing_mask(values)
    if missing.sum() > nulls:
        stripped = values.dropna().astype(str).str.strip()
        hits = stripped[stripped.str.lower().isin(MISSING_MARKERS)]
        for marker, n in hits.value_counts().items():
            counts[str(marker)] = counts.get(str(marker), 0) + int(n)
    return counts


def to_numeric(values: pd.Series, missing: np.ndarray | None = None) -> tuple[pd.Series, int]:
    """Column as float64 with missing cells as NaN, plus the count of unparseable values.

    ``missing``: the column's :func:`missing_mask`, when the caller has it already.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), 0
    if missing is None:
        missing = missing_mask(values)
    numbers = _plain_numbers(values)
    if numbers is None:
        numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(np.float64)
    numbers = np.where(missing | ~np.isfinite(numbers), np.nan, numbers)
    invalid = int((np.isnan(numbers) & ~missing).sum())
    return pd.Series(numbers, index=values.index, name=values.name), invalid


def _plain_numbers(values: pd.Series) -> np.ndarray | None:
    """float64 of a column whose every present cell is a plain number, else None.

    Arrow's parser reads a 20,000-row column in a fraction of a millisecond, 20 times faster
    than pandas' general one, which only runs when a cell is not a plain number.
    """
    try:
        parsed = pc.cast(pa.array(values, from_pandas=True), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return None
    return parsed.to_numpy(zero_copy_only=False).astype(np.float64)


def category_keys(values: pd.Series) -> pd.Series:
    """Spelling-normalized labels: whitespace collapsed and case folded; missing cells -> NaN.

    " Male", "male" and "MALE" share the key "male", so they count as one category when fitting
    and when predicting on new rows.
    """
    return _present_strings(values, lambda text: text.str.split().str.join(" ").str.casefold())


def clean_strings(values: pd.Series) -> pd.Series:
    """Text column with surrounding whitespace removed and missing cells as NaN (object dtype)."""
    return _present_strings(values, lambda text: text.str.strip())


def _present_strings(values: pd.Series, change: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``change`` applied to the present cells as strings; missing cells NaN; object dtype."""
    missing = missing_mask(values)
    out = pd.Series(np.nan, index=values.index, dtype=object)
    present = values[~missing]
    if len(present):  # ``change`` on each distinct string once: columns repeat their values
        codes, uniques = pd.factorize(present.astype(object).map(str))
        changed = change(pd.Series(uniques, dtype=object).astype(str)).astype(object).to_numpy()
        out[~missing] = changed[codes]
    return out


def is_number(text: str) -> bool:
    """True when ``text`` (surrounding whitespace ignored) is a plain number (:data:`NUMBER`)."""
    return bool(NUMBER.match(text.strip()))


def media_kind(path: str) -> str | None:
    """ "image" or "audio" from a file name's extension; None for anything else."""
    suffix = Path(str(path)).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    return None


_MEDIA_BY_SUFFIX = {**dict.fromkeys(IMAGE_EXTENSIONS, "image"), **dict.fromkeys(AUDIO_EXTENSIONS, "audio")}


def media_kinds(values: pd.Series) -> pd.Series:
    """:func:`media_kind` of every cell (NaN where none), vectorized: type inference runs it on
    every cell of every string column, where a ``Path`` per cell cost seconds on 500k rows."""
    suffix = values.astype(str).str.extract(r"[^/\\]\.([^./\\]+)$", expand=False)  # as Path.suffix
    return ("." + suffix.str.lower()).map(_MEDIA_BY_SUFFIX)


def path_kind(values: pd.Series) -> str | None:
    """Media kind ("image"/"audio") of a path column: the most common kind among its values."""
    kinds = media_kinds(values.dropna()).dropna()
    return None if kinds.empty else str(kinds.value_counts().index[0])


def looks_like_id_name(name: str) -> bool:
    """Column names such as ``id``, ``PassengerId``, ``customer_id``, ``row_index``."""
    return bool(_ID_NAME.search(str(name)))


def datetime_format(values: pd.Series) -> str | None:
    """The strftime format of a date column, guessed from its first value (None if unknown)."""
    first = values.dropna()
    if first.empty:
        return None
    return guess_datetime_format(str(first.iloc[0]).strip())


def parse_datetime(values: pd.Series, fmt: str | None) -> pd.Series:
    """Dates parsed with one fixed format (so training and prediction agree); bad values -> NaT."""
    text = clean_strings(values)
    if fmt is not None:
        return pd.to_datetime(text, format=fmt, errors="coerce")
    return pd.to_datetime(text, format="mixed", errors="coerce")


def infer_type(values: pd.Series, name: str = "") -> ColumnType:
    """Decide a column's type from its values (and, for identifiers, its name)."""
    present = values[~missing_mask(values)]
    n = len(present)
    if n == 0:
        return ColumnType("empty", "every value is missing")
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnType("datetime", "stored as date/time values")
    numeric, invalid = to_numeric(present)
    if pd.api.types.is_numeric_dtype(present) or invalid <= (1 - NUMERIC_SHARE) * n:
        return _numeric_type(numeric.dropna(), n, invalid, name)
    return _string_type(present.astype(str).str.strip(), n)


def _numeric_type(numbers: pd.Series, n: int, invalid: int, name: str) -> ColumnType:
    distinct = numbers.nunique()
    if distinct <= 1:
        return ColumnType("constant", f"one value ({_short(numbers.iloc[0]) if distinct else 'none'})")
    if _is_numeric_identifier(numbers, n, name):
        return ColumnType("identifier", "unique whole numbers (a row id)")
    note = f"; {invalid} value(s) could not be read as numbers and are treated as missing"
    return ColumnType("numeric", f"{distinct} distinct numbers" + (note if invalid else ""))


def _is_numeric_identifier(numbers: pd.Series, n: int, name: str) -> bool:
    """Unique whole numbers named like an id, or (in 20+ rows) counting 1..N: row numbers."""
    values = numbers.to_numpy()
    if numbers.nunique() != len(numbers) or not np.all(values == np.round(values)):
        return False
    if looks_like_id_name(name):
        return n >= 3
    span = values.max() - values.min() + 1
    return n >= MIN_ROWS_FOR_IDENTIFIER and span <= 1.1 * len(values)


def _string_type(text: pd.Series, n: int) -> ColumnType:
    keys = text.str.split().str.join(" ").str.casefold()
    distinct = keys.nunique()
    if distinct == 1:
        return ColumnType("constant", f"one value ({_short(text.iloc[0])})")
    if media_kinds(text).notna().mean() >= PATH_SHARE:
        return ColumnType("path", f"{path_kind(text)} file paths")
    if text.str.fullmatch(_DATE_LIKE).mean() >= NUMERIC_SHARE and _parses_as_dates(text):
        return ColumnType("datetime", f"dates in the format {datetime_format(text) or 'mixed'}")
    words = text.str.split().str.len().mean()
    chars = text.str.len().mean()
    if distinct > 20 and (words >= TEXT_MEAN_WORDS or chars >= TEXT_MEAN_CHARS):
        return ColumnType("text", f"free text ({words:.1f} words per value on average)")
    if n >= MIN_ROWS_FOR_IDENTIFIER and distinct > IDENTIFIER_UNIQUE * n:
        return ColumnType("identifier", f"{distinct} distinct values in {n} rows")
    return ColumnType("categorical", f"{distinct} distinct values")


def _parses_as_dates(text: pd.Series) -> bool:
    parsed = parse_datetime(text, datetime_format(text))
    return bool(parsed.notna().mean() >= NUMERIC_SHARE)


def infer_types(frame: pd.DataFrame, overrides: dict[str, str] | None = None) -> dict[str, ColumnType]:
    """Types of all columns, with the user's ``overrides`` (column -> type) applied and checked."""
    overrides = dict(overrides or {})
    check_overrides(overrides, list(frame.columns))
    types = {}
    for column in frame.columns:
        if column in overrides:
            types[column] = ColumnType(overrides[column], "set by the user")
        else:
            types[column] = infer_type(frame[column], str(column))
    return types


def check_overrides(overrides: dict[str, str], columns: list[str]) -> None:
    """Raise a helpful error for an override naming an unknown column or type."""
    for column, kind in overrides.items():
        if column not in columns:
            raise NNGuruError(
                f"column_types names the column {column!r}, which the data does not have. "
                f"Columns: {', '.join(map(str, columns))}."
            )
        if kind not in USER_TYPES:
            raise NNGuruError(
                f"column_types[{column!r}] is {kind!r}, which is not a column type. "
                f"Use one of: {', '.join(USER_TYPES)}."
            )


def _is_stringlike(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _short(value: object, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
