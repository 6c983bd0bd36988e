"""Tables larger than memory: read in chunks, split by a row hash, statistics in one pass.

``open_table(path, cfg)`` reads the first rows to detect the format (the same delimiter, quoting
and header detection as :mod:`nnguru.data.sources`, on the first megabyte) and the column types,
then streams the file with pyarrow (``ParquetFile.iter_batches`` / ``pyarrow.csv.open_csv``) as
pandas chunks of at most ``CHUNK_ROWS`` rows. Nothing holds more than a chunk, the shuffle
buffer and the bounded samples below, so peak memory does not grow with the file.

- **Split by hash.** Each row's split comes from a 64-bit hash of its raw feature cells
  (``pandas.util.hash_pandas_object`` with a fixed key, mixed with the seed), compared with the
  fractions. So every pass and every torchrun rank agree on the test split without storing it,
  and identical inputs always land in the same split: no train/test leakage by duplicates. The
  split is not stratified (proportions hold only in expectation); the report says so.
- **Statistics in one pass over the training rows** (:func:`collect_stats`): per numeric column
  the count, missing count, exact mean and variance (Chan's parallel merge of per-chunk moments),
  min and max; medians and outlier bounds from a seeded uniform sample of ``QUANTILE_SAMPLE``
  training rows (bottom-k by a second hash of the row, so independent of the chunking; exact
  when the training split fits in it; a t-digest would be overkill for a fill value); value
  counts of categorical columns (capped at ``MAX_COUNTED`` distinct values); class counts or
  target moments.
- **The Preprocessor** is fitted on a uniform sample of ``FIT_SAMPLE`` training rows (so text
  vocabularies, date formats and column layout come from the ordinary code), then its learned
  state is replaced by the exact streamed statistics where the in-memory fit would see every
  row: numeric medians (from the larger sample), means, standard deviations and missing
  indicators; categories, rare values and fill values; the classes. Fitting on a sample and
  overriding keeps one Preprocessor (the bundle, ``nnguru predict`` and the report work
  unchanged) instead of a second ``from_stats`` constructor per block to keep in step.
- **Batches** (:class:`StreamBatches`): chunks -> cleaning -> this split's rows -> transform ->
  a shuffle buffer (seeded per epoch and rank) -> float32 tensors on the training device. Each
  torchrun rank takes every ``world``-th chunk (Parquet: row group) as its shard, and all ranks
  run the same number of steps (that of the smallest shard).

What needs every row in memory is skipped and noted in ``data_report.json``: duplicate counts,
train/test duplicates (zero by construction here), spelling merges of labels, placeholder-zero
treatment and outlier removal (refused under streaming), the learning-rate finder.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnguru.data import columns as col
from nnguru.data import sources
from nnguru.data.types import Dataset
from nnguru.errors import NNGuruError

CHUNK_ROWS = 65_536  # rows per chunk: large enough for vectorized pandas, small in memory
SAMPLE_ROWS = 20_000  # first rows read to detect column types and choose the task
FIT_SAMPLE = 20_000  # training rows the Preprocessor's blocks are fitted on (then overridden)
QUANTILE_SAMPLE = 100_000  # training rows kept (numeric columns only) for medians and outliers
MAX_COUNTED = 100_000  # distinct values counted per categorical column; beyond: approximate
SHUFFLE_BUFFER = 65_536  # rows mixed across chunks before batching (option shuffle_buffer)
EVAL_SAMPLE = 50_000  # predictions kept for ROC/PR areas, threshold choice and plots
HASH_KEY = "nnguru-stream-01"  # 16 bytes, fixed: the split must not change between runs
# Stream a file without --stream when it is larger than this, or larger than an eighth of the
# available memory: pandas holds CSV cells as Python strings, 5-10x the file's size.
AUTO_STREAM_BYTES = 1 << 30
SPLITS = ("train", "val", "test")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# ---------------------------------------------------------------------------------- reading
class TableReader:
    """A CSV/TSV/Parquet file read in chunks of at most ``chunk_rows`` rows (pandas frames).

    CSV cells stay strings, as :func:`sources.read_delimited` leaves them; rows with the wrong
    number of fields are skipped and counted (the in-memory reader pads short rows).
    """

    def __init__(self, path: str | Path, *, sep: str | None = None, header: bool | None = None,
                 columns: list[str] | None = None, chunk_rows: int = CHUNK_ROWS) -> None:
        self.path = Path(path).expanduser()
        self.chunk_rows = int(chunk_rows)
        self.skipped_rows = 0
        if sources._is_parquet(str(self.path)):
            import pyarrow.parquet as pq

            self.format = "parquet"
            try:
                parquet = pq.ParquetFile(self.path)
            except Exception as exc:  # pyarrow raises several unrelated types for a bad file
                raise NNGuruError(f"DATA {str(self.path)!r} could not be read as Parquet: {exc}. Check that the "
                                  "file is complete, or save the table as CSV.") from None
            self.names = [str(n) for n in parquet.schema_arrow.names]
            self.parts = parquet.metadata.num_row_groups
            if columns is not None:
                if len(columns) != len(self.names):
                    raise NNGuruError(f"--columns gives {len(columns)} names but {str(self.path)!r} has "
                                      f"{len(self.names)} columns. Give exactly {len(self.names)} names.")
                self.names = list(columns)
            self.info = {"path": str(self.path), "format": "parquet"}
        else:
            self._detect_csv(sep, header, columns)
            self.parts = None  # CSV chunks are numbered as they come

    def _detect_csv(self, sep: str | None, header: bool | None, columns: list[str] | None) -> None:
        with open(self.path, "rb") as f:
            raw = f.read(sources.DETECT_CHARS)
        if raw[:2] == b"\x1f\x8b" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise NNGuruError(f"--stream reads plain UTF-8/Latin-1 text or Parquet; {str(self.path)!r} is "
                              "compressed or UTF-16. Decompress it, save it as UTF-8, or leave out --stream.")
        cut = raw.rfind(b"\n")
        text, encoding, _ = sources._decode(raw[:cut + 1] if cut > 0 else raw, self.path)
        sample = "".join(text.splitlines(keepends=True)[:sources.DETECT_LINES])
        delimiter = sources._parse_sep(sep) if sep is not None else \
            sources._detect_delimiter(sample, self.path.suffix.lower())
        if delimiter in (sources.WHITESPACE, sources._SINGLE_COLUMN):
            raise NNGuruError(f"--stream needs a one-character delimiter; {str(self.path)!r} is "
                              f"{'whitespace-separated' if delimiter == sources.WHITESPACE else 'one column'}. "
                              "Pass --sep, convert the file to CSV or Parquet, or leave out --stream.")
        self.quoting = sources._detect_quoting(sample, delimiter)
        records = sources._split(sample, delimiter, self.quoting)
        if not records:
            raise NNGuruError(f"DATA {str(self.path)!r} has no rows. Pass a file with data rows.")
        self.header = sources._detect_header(records) if header is None else bool(header)
        width = len(records[0][1]) if self.header else Counter(len(f) for _, f in records).most_common(1)[0][0]
        self.names = sources._column_names(records[0][1] if self.header else None, width, columns, self.path)
        self.delimiter, self.encoding = delimiter, encoding
        self.multiline = self.quoting != csv.QUOTE_NONE and '"' in sample
        self.format = {"\t": "tsv", ",": "csv"}.get(delimiter, "delimited text")
        self.info = {"path": str(self.path), "format": self.format, "sep": delimiter, "header": self.header,
                     "quoting": "none" if self.quoting == csv.QUOTE_NONE else "standard", "encoding": encoding}

    def frames(self, owns: Callable[[int], bool] | None = None,
               order: list[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(part, frame)`` pairs; ``owns(part)`` false skips a part (a Parquet row group is not
        even read; a CSV chunk is parsed, then dropped), ``order`` reorders Parquet row groups."""
        if self.format == "parquet":
            yield from self._parquet_frames(owns, order)
            return
        for part, frame in enumerate(self._csv_frames()):
            if owns is None or owns(part):
                yield part, frame

    def _parquet_frames(self, owns, order) -> Iterator[tuple[int, pd.DataFrame]]:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(self.path)
        groups = order if order is not None else list(range(self.parts))
        for group in groups:
            if owns is not None and not owns(group):
                continue
            for batch in parquet.iter_batches(batch_size=self.chunk_rows, row_groups=[group]):
                frame = batch.to_pandas()
                frame.columns = self.names
                yield group, frame

    def _csv_frames(self) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.csv as pv

        def skip(row) -> str:
            self.skipped_rows += 1
            return "skip"

        self.skipped_rows = 0
        read = pv.ReadOptions(column_names=self.names, skip_rows=int(self.header), block_size=4 << 20,
                              encoding="utf8" if self.encoding == "utf-8" else self.encoding)
        parse = pv.ParseOptions(delimiter=self.delimiter, newlines_in_values=self.multiline,
                                quote_char='"' if self.quoting != csv.QUOTE_NONE else False,
                                invalid_row_handler=skip)
        convert = pv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
        try:
            reader = pv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)
            for batch in reader:
                for start in range(0, batch.num_rows, self.chunk_rows):
                    yield batch.slice(start, self.chunk_rows).to_pandas()  # Arrow skips a UTF-8 BOM
        except pa.ArrowInvalid as exc:
            raise NNGuruError(f"DATA {str(self.path)!r} could not be streamed as a table: {exc}. Pass --sep, "
                              "fix the quoting, or leave out --stream.") from None

    def head(self, n: int) -> pd.DataFrame:
        """The first ``n`` rows (for type detection and choosing the task)."""
        parts, got = [], 0
        for _, frame in self.frames():
            parts.append(frame.iloc[:n - got])
            got += len(parts[-1])
            if got >= n:
                break
        if not parts or got == 0:
            raise NNGuruError(f"DATA {str(self.path)!r} has no data rows. Pass a file with data rows.")
        return pd.concat(parts, ignore_index=True)


@dataclass
class TableStream:
    """A table too large to load: its reader, a loaded sample, the target and the column types.

    ``sample`` is an ordinary :class:`Dataset` of the first rows, so the task is chosen exactly
    as for loaded data; the pipeline gives the stream to ``task.prepare_stream``.
    """

    reader: TableReader
    sample: Dataset
    target: str
    types: dict[str, str]
    name: str
    chunk_rows: int = CHUNK_ROWS

    def chunks(self, owns: Callable[[int], bool] | None = None,
               order: list[int] | None = None) -> Iterator[tuple[int, pd.DataFrame, np.ndarray]]:
        """``(part, X, y)`` per chunk, the target split off (raw values, object dtype)."""
        for part, frame in self.reader.frames(owns, order):
            y = frame[self.target].to_numpy(dtype=object)
            yield part, frame.drop(columns=[self.target]), y


def open_table(path: str | Path, cfg: dict) -> TableStream:
    """Open a CSV/TSV/Parquet file for streaming: detect the format and types on its first rows."""
    if cfg.get("target") is None:
        raise NNGuruError(f"No target for {str(path)!r}: pass --target COLUMN (a name, or a position such as -1 "
                          "for the last column).")
    reader = TableReader(path, sep=cfg.get("sep"), header=cfg.get("header"), columns=cfg.get("columns"))
    head = reader.head(SAMPLE_ROWS)
    options = sources.SourceOptions(target=cfg["target"], column_types=cfg.get("column_types"))
    sample = sources.table_dataset(head, dict(reader.info), reader.path, options)
    if sample.kind != "table" or "path" in sample.info["column_types"].values():
        raise NNGuruError(f"--stream reads tables of values; {str(path)!r} has a column of file paths "
                          f"({sample.info.get('path_column')!r}). Image and audio data are loaded in memory: "
                          "leave out --stream.")
    return TableStream(reader, sample, sample.target, dict(sample.info["column_types"]), reader.path.stem)


def should_stream(data: Any, cfg: dict) -> bool:
    """``stream`` true, or ``auto`` and a table file over the size threshold (see the README)."""
    choice = cfg.get("stream", "auto")
    if choice is False or not isinstance(data, (str, Path)):
        return False
    path = Path(data).expanduser()
    table = path.is_file() and (sources._is_parquet(str(path)) or path.suffix.lower() in (".csv", ".tsv", ".txt"))
    if choice is True:
        if not table:
            raise NNGuruError(f"--stream reads CSV/TSV/Parquet tables in chunks; DATA {str(data)!r} is not one "
                              "(folders of images or audio, .npz and builtin: data are loaded in memory). "
                              "Leave out --stream.")
        return True
    if not table:
        return False
    limit = cfg.get("stream_threshold_mb")
    threshold = limit * 2**20 if limit is not None else min(AUTO_STREAM_BYTES, available_memory() // 8)
    return path.stat().st_size > threshold


def available_memory() -> int:
    """Bytes of memory available to new allocations (Linux's MemAvailable; else physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


# ------------------------------------------------------------------------------ split by hash
def row_hashes(X: pd.DataFrame) -> np.ndarray:
    """A stable 64-bit hash of each row's raw cells (same cells, same hash, in any chunk)."""
    frame = X.copy(deep=False)
    frame.attrs = {}
    return pd.util.hash_pandas_object(frame, index=False, hash_key=HASH_KEY).to_numpy(np.uint64)


def _mix(h: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64's finalizer of ``h + salt * golden``: independent uniform bits per salt."""
    with np.errstate(over="ignore"):
        z = h + np.uint64(salt % 2**64) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _unit(h: np.ndarray) -> np.ndarray:
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def hash_split(hashes: np.ndarray, seed: int, val_frac: float, test_frac: float) -> np.ndarray:
    """0 (train), 1 (validation) or 2 (test) per row, from the row hash and the seed."""
    u = _unit(_mix(hashes, 2 * int(seed) + 1))
    return np.where(u < test_frac, 2, np.where(u < test_frac + val_frac, 1, 0)).astype(np.int8)


def sample_priority(hashes: np.ndarray, seed: int) -> np.ndarray:
    """Uniform priorities in [0, 1) for bottom-k samples, independent of the split's bits."""
    return _unit(_mix(hashes, 2 * int(seed) + 2))


# ---------------------------------------------------------------------------------- cleaning
@dataclass
class ChunkRows:
    """One chunk after cleaning: rows kept, their split, target values and sample priorities."""

    X: pd.DataFrame
    y: np.ndarray
    split: np.ndarray
    priority: np.ndarray
    no_target: int = 0
    dropped_missing: int = 0


def clean_chunk(X: pd.DataFrame, y: np.ndarray, cfg: dict, used: list[str]) -> ChunkRows:
    """The row-wise part of cleaning: rows without a target dropped (``--missing drop``: rows with
    a gap too), each row's split from its hash. The same on every pass, so counts agree."""
    keep = ~col.missing_mask(pd.Series(y, dtype=object))
    no_target = int((~keep).sum())
    dropped = 0
    if cfg.get("missing") == "drop":
        gaps = np.zeros(len(X), dtype=bool)
        for c in used:
            gaps |= col.missing_mask(X[c])
        dropped = int((keep & gaps).sum())
        keep &= ~gaps
    if not keep.all():
        X, y = X[keep].reset_index(drop=True), y[keep]
    hashes = row_hashes(X)
    split = hash_split(hashes, int(cfg["seed"]), float(cfg["val_frac"]), float(cfg["test_frac"]))
    return ChunkRows(X, y, split, sample_priority(hashes, int(cfg["seed"])), no_target, dropped)


# -------------------------------------------------------------------------------- statistics
@dataclass
class Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (Chan et al. 1979)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, values: np.ndarray) -> None:
        values = values[~np.isnan(values)]
        if not len(values):
            return
        n_b, mean_b = len(values), float(values.mean())
        m2_b = float(((values - mean_b) ** 2).sum())
        self.merge(n_b, mean_b, m2_b)
        self.low, self.high = min(self.low, float(values.min())), max(self.high, float(values.max()))

    def merge(self, n_b: int, mean_b: float, m2_b: float) -> None:
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    @property
    def var(self) -> float:
        return self.m2 / self.n if self.n else 0.0


class BottomK:
    """A uniform sample of rows: the ``k`` with the smallest priorities seen so far."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.frame: pd.DataFrame | None = None

    def add(self, frame: pd.DataFrame, priority: np.ndarray) -> None:
        if self.frame is not None and len(self.frame) >= self.k:
            cut = self.frame["_priority"].iat[-1]
            take = priority < cut
            if not take.any():
                return
            frame, priority = frame[take], priority[take]
        frame = frame.assign(_priority=priority)
        pool = frame if self.frame is None else pd.concat([self.frame, frame], ignore_index=True)
        self.frame = pool.sort_values("_priority", kind="stable").iloc[:self.k].reset_index(drop=True)

    def rows(self) -> pd.DataFrame:
        return pd.DataFrame() if self.frame is None else self.frame.drop(columns=["_priority"])


@dataclass
class StreamStats:
    """What one pass over the table learned (training rows only, except the report's counts)."""

    rows_read: int = 0
    no_target: int = 0
    dropped_missing: int = 0
    unseen_labels: int = 0
    parts: dict[int, list[int]] = field(default_factory=dict)  # part -> rows per split
    missing: Counter = field(default_factory=Counter)  # column -> missing cells, all rows
    invalid: Counter = field(default_factory=Counter)  # numeric column -> unparseable cells
    numeric: dict[str, Moments] = field(default_factory=dict)  # train rows, present values
    numeric_missing: Counter = field(default_factory=Counter)  # train rows
    categories: dict[str, Counter] = field(default_factory=dict)  # train rows, category keys
    category_missing: Counter = field(default_factory=Counter)  # train rows
    overflow: Counter = field(default_factory=Counter)  # categorical cells not counted by value
    classes: Counter = field(default_factory=Counter)  # label key -> train count
    class_values: dict[str, Any] = field(default_factory=dict)  # label key -> a plain label
    eval_classes: Counter = field(default_factory=Counter)  # label key -> val+test count
    target: Moments = field(default_factory=Moments)  # regression, train rows
    fit_sample: BottomK = field(default_factory=lambda: BottomK(FIT_SAMPLE))
    quantile_sample: BottomK = field(default_factory=lambda: BottomK(QUANTILE_SAMPLE))

    def rows(self, split: int, owns: Callable[[int], bool] | None = None) -> int:
        return sum(c[split] for p, c in self.parts.items() if owns is None or owns(p))


def label_key_and_value(raw: object) -> tuple[str, object]:
    """The preprocessor's spelling of a label and its plain value (numbers as numbers)."""
    from nnguru.data.preprocess import _label_key, _plain

    key = _label_key(raw)
    if isinstance(raw, str) and col.is_number(raw.strip()):
        return key, _plain(float(raw.strip()))
    return key, _plain(raw.strip() if isinstance(raw, str) else raw)


def collect_stats(stream: TableStream, cfg: dict, categorical: bool) -> StreamStats:
    """One pass: the counts for the report and the training statistics (module docstring)."""
    stats = StreamStats()
    types = stream.types
    used = [c for c, t in types.items() if t not in col.UNUSED_TYPES]
    numeric = [c for c in used if types[c] == "numeric"]
    cats = [c for c in used if types[c] == "categorical"]
    stats.numeric = {c: Moments() for c in numeric}
    stats.categories = {c: Counter() for c in cats}
    for part, X, y in stream.chunks():
        stats.rows_read += len(X)
        for c in used:
            stats.missing[c] += int(col.missing_mask(X[c]).sum())
        rows = clean_chunk(X, y, cfg, used)
        stats.no_target += rows.no_target
        stats.dropped_missing += rows.dropped_missing
        counts = stats.parts.setdefault(part, [0, 0, 0])
        train = rows.split == 0
        y_keys = _target_keys(rows.y, categorical, stats, train)
        for s in range(3):
            counts[s] += int((rows.split == s).sum())
        Xt = rows.X[train]
        values = {}
        for c in numeric:
            parsed, invalid = col.to_numeric(rows.X[c])
            stats.invalid[c] += invalid
            v = parsed.to_numpy(np.float64)[train]
            values[c] = v
            stats.numeric[c].add(v)
            stats.numeric_missing[c] += int(np.isnan(v).sum())
        for c in cats:
            keys = col.category_keys(Xt[c])
            stats.category_missing[c] += int(keys.isna().sum())
            stats.categories[c].update(keys.dropna().value_counts().to_dict())
            if len(stats.categories[c]) > MAX_COUNTED:  # keep the frequent half, count the rest as overflow
                kept = stats.categories[c].most_common(MAX_COUNTED // 2)
                stats.overflow[c] += sum(stats.categories[c].values()) - sum(n for _, n in kept)
                stats.categories[c] = Counter(dict(kept))
        if not categorical:
            stats.target.add(y_keys)
        priority = rows.priority[train]
        sample = Xt.assign(_y=rows.y[train])
        stats.fit_sample.add(sample, priority)
        if numeric:
            stats.quantile_sample.add(pd.DataFrame(values), priority)
    if categorical:
        stats.unseen_labels = sum(n for k, n in stats.eval_classes.items() if k not in stats.classes)
    return stats


def _target_keys(y: np.ndarray, categorical: bool, stats: StreamStats, train: np.ndarray) -> np.ndarray:
    """Counts the classes (train and val/test); for regression, returns the training targets as floats."""
    if categorical:
        for split_mask, counter in ((train, stats.classes), (~train, stats.eval_classes)):
            for raw, n in pd.Series(y[split_mask], dtype=object).value_counts().items():
                key, value = label_key_and_value(raw)
                counter[key] += int(n)
                if counter is stats.classes:
                    stats.class_values.setdefault(key, value)
        return y
    values, invalid = col.to_numeric(pd.Series(y, dtype=object))
    if invalid:
        bad = [v for v, p in zip(y, values, strict=True) if np.isnan(p)][:5]
        raise NNGuruError(f"The regression target must be numbers; received {bad} among the values. Drop or "
                          "fix those rows, or use --task classification for labels.")
    return values.to_numpy(np.float64)[train]


# --------------------------------------------------------------------------- preprocessing
def build_preprocessor(task: str, stream: TableStream, stats: StreamStats, categorical: bool):
    """The Preprocessor fitted on the row sample, with the exact streamed statistics put in."""
    from nnguru.data.features.table import CategoricalBlock, NumericBlock
    from nnguru.data.preprocess import Preprocessor, _sorted_classes

    sample = stats.fit_sample.rows()
    if sample.empty:
        raise NNGuruError(f"No training rows in {stream.name!r} after cleaning ({stats.no_target} without a target, "
                          f"{stats.dropped_missing} dropped for missing values). Check --target and --missing.")
    types = dict(stream.types)
    for c, m in stats.numeric.items():  # what the in-memory cleaner calls empty or constant
        if m.n == 0:
            types[c] = "empty"
        elif m.low == m.high and stats.numeric_missing[c] == 0:
            types[c] = "constant"
    for c, counts in stats.categories.items():
        if len(counts) <= 1 and not stats.overflow[c]:
            types[c] = "empty" if not counts else "constant"
    X = sample.drop(columns=["_y"])
    X.attrs["column_types"] = types
    pre = Preprocessor(task).fit(X, sample["_y"].to_numpy(dtype=object) if categorical else None)
    if categorical:
        pre.classes = _sorted_classes(np.array([stats.class_values[k] for k in stats.classes], dtype=object))
    medians = stats.quantile_sample.rows()
    for block in pre.blocks:
        if isinstance(block, NumericBlock):
            _override_numeric(block, stats, medians)
        elif isinstance(block, CategoricalBlock):
            c = block.columns[0]
            block.fit_counts(stats.categories[c], stats.category_missing[c] > 0)
    pre.input_shape = (sum(b.width for b in pre.blocks),)
    return pre, types


def _override_numeric(block, stats: StreamStats, sample: pd.DataFrame) -> None:
    """Median fill, then mean and std of the filled column: the present values' exact moments
    merged with the missing cells, which all hold the median (variance 0)."""
    for j, c in enumerate(block.columns):
        m, n_missing = stats.numeric[c], stats.numeric_missing[c]
        values = sample[c].to_numpy(np.float64) if c in sample else np.zeros(0)
        if c in block.zeros_missing:
            values = np.where(values == 0, np.nan, values)
        present = values[~np.isnan(values)]
        median = float(np.median(present)) if len(present) else 0.0
        filled = Moments(m.n, m.mean, m.m2)
        if n_missing:
            filled.merge(n_missing, median, 0.0)
        block.median_[j] = median
        block.mean_[j] = filled.mean
        std = math.sqrt(filled.var)
        block.std_[j] = std if std > 1e-12 else 1.0
        block.indicator_[j] = n_missing > 0


# -------------------------------------------------------------------------------- the splits
class TableSplit:
    """One split of a streamed table (``Prepared.x[split]``): its size, and its batches."""

    def __init__(self, stream: TableStream, split: int, pre, stats: StreamStats, cfg: dict) -> None:
        self.stream, self.split, self.pre, self.stats, self.cfg = stream, split, pre, stats, cfg
        self.used = [c for c, t in stream.types.items() if t not in col.UNUSED_TYPES]
        self.input_shape = tuple(pre.input_shape)

    def __len__(self) -> int:
        return self.stats.rows(self.split)

    def arrays(self, owns: Callable[[int], bool] | None = None,
               order: list[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(x float32, y encoded)`` of this split's rows, chunk by chunk."""
        for _, X, y in self.stream.chunks(owns, order):
            rows = clean_chunk(X, y, self.cfg, self.used)
            mine = rows.split == self.split
            if not mine.any():
                continue
            Xs, ys = rows.X[mine], rows.y[mine]
            if self.pre.categorical:
                Xs, ys = self._known_labels(Xs, ys)
                if not len(ys):
                    continue
            yield self.pre.transform(Xs), self.encode(ys)

    def _known_labels(self, X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows whose label occurs in training (others are counted in the report, not scored)."""
        codes, uniques = pd.factorize(pd.Series(y, dtype=object))
        known = np.array([label_key_and_value(v)[0] in self.stats.classes for v in uniques], dtype=bool)[codes]
        return (X, y) if known.all() else (X[known], y[known])

    def encode(self, y: np.ndarray) -> np.ndarray:
        """``pre.encode_y`` on the distinct values only (a chunk has few distinct labels)."""
        if not self.pre.categorical:
            return self.pre.encode_y(y)
        codes, uniques = pd.factorize(pd.Series(y, dtype=object))
        return self.pre.encode_y(np.asarray(uniques, dtype=object))[codes]

    def batches(self, batch_size: int, *, device: Any = "cpu", shuffle: bool = True, seed: int = 0,
                class_weight: dict | None = None, rank: int = 0, world: int = 1,
                buffer_rows: int | None = None, targets: Callable | None = None) -> StreamBatches:
        """``targets``: encoded targets (NumPy) -> the loss's target tensor (``loss.prepare_targets``)."""
        return StreamBatches(self, batch_size, device=device, shuffle=shuffle, seed=seed, class_weight=class_weight,
                             rank=rank, world=world, targets=targets,
                             buffer_rows=buffer_rows or int(self.cfg.get("shuffle_buffer") or SHUFFLE_BUFFER))


class StreamBatches:
    """Batches of one split for one epoch at a time, as float32 tensors on the training device.

    The protocol the training loop reads (``loop.fit`` / ``loop.evaluate``): ``steps`` (batches
    per epoch, the same on every rank), ``rows`` (samples per epoch on this rank), ``batch_size``,
    ``example`` (a one-row input tensor on the device, for choosing the step) and
    ``epoch(epoch) -> iterator of (x, y, w)``; ``w`` is None without class weights.
    """

    sharded = True  # each torchrun rank reads its own chunks (see training/loop.py)

    def __init__(self, split: TableSplit, batch_size: int, *, device: Any, shuffle: bool, seed: int,
                 class_weight: dict | None, rank: int, world: int, buffer_rows: int,
                 targets: Callable | None = None) -> None:
        import torch

        self.split, self.shuffle, self.seed, self.targets = split, shuffle, int(seed), targets
        self.rank, self.world, self.buffer_rows = rank, world, int(buffer_rows)
        self.device = torch.device(device)
        self.weights = None
        if class_weight:
            k = len(split.pre.classes)
            self.weights = np.array([float(class_weight.get(i, 1.0)) for i in range(k)], dtype=np.float32)
        per_rank = [split.stats.rows(split.split, lambda p, r=r: p % world == r) for r in range(world)]
        self.rows = min(per_rank)  # every rank runs the same number of steps
        if self.rows == 0:
            raise NNGuruError(f"The {SPLITS[split.split]} split of {split.stream.name!r} has no rows on rank "
                              f"{per_rank.index(0)} of {world}: the table has too few chunks for {world} "
                              "processes. Use fewer processes, or leave out --stream.")
        self.batch_size = min(int(batch_size), self.rows)
        self.steps = math.ceil(self.rows / self.batch_size)
        self.example = torch.zeros((1, *split.input_shape), dtype=torch.float32, device=self.device)

    def __len__(self) -> int:
        return self.rows

    @property
    def weighted(self) -> bool:
        """Batches carry per-sample (class) weights (``training/batches.py``'s protocol on main)."""
        return self.weights is not None

    def first(self) -> tuple[Any, Any, Any]:
        """The first rows of this rank's shard as a batch, read without starting an epoch."""
        for x, y in self.split.arrays(self._owns):
            return self._tensors(x[:self.batch_size], y[:self.batch_size])
        raise NNGuruError(f"The {SPLITS[self.split.split]} split has no rows to read.")

    def _owns(self, part: int) -> bool:
        return part % self.world == self.rank

    def epoch(self, epoch: int) -> Iterator[tuple[Any, Any, Any]]:
        """``steps`` batches; shuffled through a buffer seeded by (seed, epoch, rank)."""
        rng = np.random.default_rng([self.seed, int(epoch), self.rank]) if self.shuffle else None
        order = None
        parts = self.split.stream.reader.parts
        if rng is not None and parts:  # Parquet: read this rank's row groups in a new order
            order = [int(g) for g in rng.permutation(parts)]
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        buffered, emitted = 0, 0
        for x, y in self.split.arrays(self._owns, order):
            xs.append(x)
            ys.append(y)
            buffered += len(x)
            if buffered < self.buffer_rows + self.batch_size:
                continue
            x_all, y_all = self._mixed(xs, ys, rng)
            ready = (buffered - self.buffer_rows) // self.batch_size * self.batch_size
            for start in range(0, ready, self.batch_size):
                yield self._tensors(x_all[start:start + self.batch_size], y_all[start:start + self.batch_size])
                emitted += 1
                if emitted == self.steps:
                    return
            xs, ys, buffered = [x_all[ready:]], [y_all[ready:]], len(x_all) - ready
        if buffered:
            x_all, y_all = self._mixed(xs, ys, rng)
            for start in range(0, len(x_all), self.batch_size):
                if emitted == self.steps:
                    return
                yield self._tensors(x_all[start:start + self.batch_size], y_all[start:start + self.batch_size])
                emitted += 1

    @staticmethod
    def _mixed(xs: list[np.ndarray], ys: list[np.ndarray], rng) -> tuple[np.ndarray, np.ndarray]:
        x, y = (xs[0], ys[0]) if len(xs) == 1 else (np.concatenate(xs), np.concatenate(ys))
        if rng is None:
            return x, y
        perm = rng.permutation(len(x))
        return x[perm], y[perm]

    def _tensors(self, x: np.ndarray, y: np.ndarray):
        import torch

        xb = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)
        yb = self.targets(y) if self.targets is not None else torch.from_numpy(np.ascontiguousarray(y))
        yb = yb.to(self.device, non_blocking=True)
        wb = None
        if self.weights is not None:
            wb = torch.from_numpy(self.weights[y]).to(self.device, non_blocking=True)
        return xb, yb, wb


# ------------------------------------------------------------------------------- evaluation
def predictions(model, split: TableSplit) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(outputs with the output activation, encoded targets)`` of a split, chunk by chunk."""
    import torch

    from nnguru.nn import activations
    from nnguru.training.loop import EVAL_BATCH

    act = activations.get(model.output_activation)[1]
    batches = split.batches(EVAL_BATCH, device=model.device, shuffle=False, buffer_rows=1)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for xb, yb, _ in batches.epoch(0):
            with model.autocast():
                out = model(xb)
            yield act(out.float()).cpu().numpy(), yb.cpu().numpy()
    model.train(was_training)


class PredictionSample:
    """A uniform sample of (target, output) pairs, for areas under curves and plots."""

    def __init__(self, k: int = EVAL_SAMPLE, seed: int = 0) -> None:
        self.k, self.rng = k, np.random.default_rng(seed)
        self.y: np.ndarray | None = None
        self.out: np.ndarray | None = None
        self.priority = np.zeros(0)
        self.complete = True  # every row is in the sample

    def add(self, y: np.ndarray, out: np.ndarray) -> None:
        p = self.rng.random(len(y))
        if self.y is None:
            self.y, self.out, self.priority = y, out, p
        else:
            self.y, self.out = np.concatenate([self.y, y]), np.concatenate([self.out, out])
            self.priority = np.concatenate([self.priority, p])
        if len(self.y) > self.k:
            self.complete = False
            keep = np.sort(np.argpartition(self.priority, self.k)[:self.k])
            self.y, self.out, self.priority = self.y[keep], self.out[keep], self.priority[keep]


def classification_counts(model, split: TableSplit, positive: int | None, threshold: float | None,
                          n_classes: int, seed: int = 0) -> dict:
    """Confusion matrix, summed log-loss and a prediction sample of a split, in one pass."""
    from nnguru.evaluate.metrics import DEFAULT_THRESHOLD, _as_proba

    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    loss, bad, sample = 0.0, 0, PredictionSample(seed=seed)
    eps = np.finfo(np.float64).eps
    for out, y in predictions(model, split):
        p, n_bad = _as_proba(out, n_classes)
        bad += n_bad
        if positive is None:
            pred = p.argmax(axis=1)
        else:
            t = DEFAULT_THRESHOLD if threshold is None else float(threshold)
            pred = np.where(p[:, positive] >= t, positive, 1 - positive)
        np.add.at(confusion, (y, pred), 1)
        loss -= float(np.log(np.clip(p[np.arange(len(y)), y], eps, 1 - eps)).sum())
        sample.add(y, out)  # as predicted: the threshold choice and the plots read raw outputs
    return {"confusion": confusion, "loss_sum": loss, "nonfinite": bad, "sample": sample}


def classification_metrics_from_counts(counts: dict, classes: list, positive: int | None,
                                       threshold: float | None) -> dict:
    """The keys of :func:`nnguru.evaluate.classification_metrics` from a confusion matrix and a
    summed log-loss; ROC/PR areas from the prediction sample (exact when it holds every row)."""
    from sklearn import metrics as skm

    from nnguru.evaluate.metrics import DEFAULT_THRESHOLD, _as_proba, _float

    cm = counts["confusion"].astype(np.float64)
    n = int(cm.sum())
    if n == 0:
        raise NNGuruError("no samples to evaluate: the evaluated split is empty.")
    support, predicted, hits = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm)
    prec = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    rec = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(hits), where=(prec + rec) > 0)
    out: dict[str, Any] = {"n": n, "classes": [str(c) for c in classes]}
    if positive is not None:
        out["positive"] = str(classes[positive])
        out["threshold"] = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        out["precision"], out["recall"], out["f1"] = (float(prec[positive]), float(rec[positive]),
                                                      float(f1[positive]))
    else:
        out["precision"], out["recall"], out["f1"] = float(prec.mean()), float(rec.mean()), float(f1.mean())
    out["accuracy"] = float(hits.sum() / n)
    out["loss"] = _float(counts["loss_sum"] / n)
    sample = counts["sample"]
    if positive is not None and sample.y is not None:
        is_pos = sample.y == positive
        both = 0 < is_pos.sum() < len(is_pos)
        scores = _as_proba(sample.out, len(classes))[0][:, positive]
        out["roc_auc"] = _float(skm.roc_auc_score(is_pos, scores)) if both else None
        out["pr_auc"] = _float(skm.average_precision_score(is_pos, scores)) if both else None
        if not sample.complete:
            out["auc_sample"] = len(sample.y)
    out["balanced_accuracy"] = float(np.mean(rec[support > 0]))
    out["per_class"] = {str(c): {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                                 "support": int(support[i])} for i, c in enumerate(classes)}
    out["confusion_matrix"] = counts["confusion"].tolist()
    if counts.get("nonfinite"):
        out["nonfinite_predictions"] = counts["nonfinite"]
    return out


def majority_counts(train_counts: np.ndarray, eval_support: np.ndarray, positive: int | None) -> dict:
    """The majority-class baseline's confusion matrix and log-loss, from class counts alone
    (as :func:`nnguru.evaluate.baselines.majority_class`: add-one smoothed training shares)."""
    k = len(train_counts)
    prior = (train_counts + 1.0) / (train_counts.sum() + k)
    majority = int(np.argmax(train_counts))
    if k == 2 and train_counts[0] == train_counts[1] and positive is not None:
        majority = positive
    if positive is not None:  # the binary rule: positive when P(positive) >= 0.5
        majority = positive if prior[positive] >= 0.5 else 1 - positive
    confusion = np.zeros((k, k), dtype=np.int64)
    confusion[:, majority] = eval_support
    eps = np.finfo(np.float64).eps
    loss = -float((eval_support * np.log(np.clip(prior, eps, 1 - eps))).sum())
    sample = PredictionSample()
    return {"confusion": confusion, "loss_sum": loss, "nonfinite": 0, "sample": sample, "majority": majority,
            "prior": prior}


@dataclass
class RegressionSums:
    """Sums for MAE, RMSE and R² of the model and of a constant baseline, in one pass."""

    baseline: float
    n: int = 0
    abs_err: float = 0.0
    sq_err: float = 0.0
    base_abs: float = 0.0
    base_sq: float = 0.0
    nonfinite: int = 0
    y: Moments = field(default_factory=Moments)
    sample: PredictionSample = field(default_factory=PredictionSample)

    def add(self, y: np.ndarray, pred: np.ndarray) -> None:
        y, pred = y.astype(np.float64).reshape(-1), pred.astype(np.float64).reshape(len(y), -1)[:, 0]
        self.nonfinite += int((~np.isfinite(pred)).sum())
        e = pred - y
        self.n += len(y)
        self.abs_err += float(np.abs(e).sum())
        self.sq_err += float((e * e).sum())
        b = self.baseline - y
        self.base_abs += float(np.abs(b).sum())
        self.base_sq += float((b * b).sum())
        self.y.add(y)
        self.sample.add(y, pred)

    def metrics(self, baseline: bool = False) -> dict:
        from nnguru.evaluate.metrics import _float

        if self.n == 0:
            raise NNGuruError("no samples to evaluate: the evaluated split is empty.")
        out: dict[str, Any] = {"n": self.n}
        if self.nonfinite and not baseline:
            out.update(mae=None, rmse=None, r2=None, nonfinite_predictions=self.nonfinite)
            return out
        abs_err, sq_err = (self.base_abs, self.base_sq) if baseline else (self.abs_err, self.sq_err)
        out["mae"], out["rmse"] = abs_err / self.n, math.sqrt(sq_err / self.n)
        ss_tot = self.y.m2
        r2 = (1.0 - sq_err / ss_tot if ss_tot > 0 else (1.0 if sq_err == 0 else 0.0)) if self.n >= 2 else None
        out["r2"] = None if r2 is None else _float(r2)
        return out


def regression_sums(model, split: TableSplit, baseline: float) -> RegressionSums:
    sums = RegressionSums(baseline)
    for out, y in predictions(model, split):
        sums.add(y, out)
    return sums


# ---------------------------------------------------------------------------------- the report
def data_report(stream: TableStream, stats: StreamStats, types: dict[str, str], cfg: dict,
                categorical: bool, task: str) -> dict:
    """``data_report.json`` with the keys of the in-memory report (what streaming could count)."""
    from nnguru.data.clean import _FILL, MINORITY_WARNING

    kept = sum(sum(c) for c in stats.parts.values())
    warnings: list[str] = []
    if stream.reader.skipped_rows:
        warnings.append(f"{stream.reader.skipped_rows} row(s) with the wrong number of fields were skipped")
    columns, per_column = [], {}
    for c, t in types.items():
        missing = int(stats.missing.get(c, 0)) + int(stats.invalid.get(c, 0))
        entry = {"name": c, "type": t, "missing": missing, "missing_share": round(missing / max(1, stats.rows_read), 4),
                 "action": "used" if t not in col.UNUSED_TYPES else "column not used"}
        if stats.invalid.get(c):
            entry["invalid_numbers"] = int(stats.invalid[c])
        if missing and t not in col.UNUSED_TYPES:
            entry["fill"] = "rows dropped" if cfg["missing"] == "drop" else _FILL.get(t, "not used")
            per_column[c] = {"missing": missing, "fill": entry["fill"]}
        columns.append(entry)
    target: dict[str, Any] = {"name": stream.target, "missing_rows_dropped": stats.no_target}
    if categorical:
        total = sum(stats.classes.values()) + sum(stats.eval_classes.values())
        counts = Counter(stats.classes) + Counter(stats.eval_classes)
        named = {str(stats.class_values.get(k, k)): int(n) for k, n in counts.most_common()}
        shares = {k: round(n / total, 4) for k, n in named.items()}
        minority = min(named, key=named.get)
        balance = {"counts": named, "shares": shares, "minority_class": minority,
                   "minority_share": shares[minority], "warning": None}
        if shares[minority] < min(MINORITY_WARNING, 0.5 / len(named)):
            balance["warning"] = (f"class {minority!r} is only {shares[minority]:.1%} of the rows: accuracy can look "
                                  "high while this class is never predicted. Look at per-class recall and F1, and "
                                  "consider class weights.")
            warnings.append(balance["warning"])
        target.update(type="classes", class_balance=balance)
        if stats.unseen_labels:
            warnings.append(f"{stats.unseen_labels} validation/test row(s) have a label absent from the training "
                            "split; they are not scored")
    else:
        t = stats.target
        sample = stats.fit_sample.rows()
        median = float(np.median(pd.to_numeric(sample["_y"]).to_numpy(np.float64))) if len(sample) else t.mean
        target.update(type="numeric", summary={"min": round(t.low, 6), "median": round(median, 6),
                                               "max": round(t.high, 6)})
    sizes = {s: stats.rows(i) for i, s in enumerate(SPLITS)}
    return {
        "dataset": stream.name, "kind": "table",
        "source": {**stream.reader.info, "rows_read": stats.rows_read,
                   "long_rows_skipped": {"count": stream.reader.skipped_rows, "lines": []}},
        "rows": {"loaded": stats.rows_read, "after_cleaning": kept},
        "warnings": warnings,
        "columns": columns,
        "missing": {"strategy": cfg["missing"], "cells": sum(e["missing"] for e in columns),
                    "rows_dropped": stats.dropped_missing, "columns": per_column},
        "missing_rows_dropped": stats.dropped_missing,
        "corrupt_files": [],
        "placeholder_zeros": {},
        "outliers": _outliers(stats, types),
        "target": target,
        "split": {"method": "hash", "train": sizes["train"], "val": sizes["val"], "test": sizes["test"],
                  "stratified": False, "seed": int(cfg["seed"]), "official_test_set": False,
                  "duplicates_train_test": 0},
        "stream": {
            "chunk_rows": stream.chunk_rows, "shuffle_buffer": int(cfg.get("shuffle_buffer") or SHUFFLE_BUFFER),
            "fit_sample_rows": len(stats.fit_sample.rows()), "quantile_sample_rows": QUANTILE_SAMPLE,
            "split": "each row's split from a hash of its raw feature cells and the seed (not stratified)",
            "skipped": ["duplicate counts (need every row in memory; identical inputs share a split, so none "
                        "crosses from train to test)",
                        "label spelling merges (labels are matched by value)",
                        "the learning-rate finder and label-error search (need every row in memory)"],
            "estimated": ["medians and outlier bounds: from a uniform sample of up to "
                          f"{QUANTILE_SAMPLE:,} training rows (exact below that)",
                          "text vocabularies and date formats: fitted on a uniform sample of up to "
                          f"{FIT_SAMPLE:,} training rows"],
        },
    }


def _outliers(stats: StreamStats, types: dict[str, str]) -> dict:
    """Outlier bounds (median/MAD) from the training sample; the row counts are estimated."""
    from nnguru.data.clean import OUTLIER_Z, outlier_bounds

    sample = stats.quantile_sample.rows()
    columns = {}
    for c in stats.numeric:
        if types.get(c) != "numeric" or c not in sample:
            continue
        values = sample[c].to_numpy(np.float64)
        bounds = outlier_bounds(values)
        if bounds is None:
            continue
        share = float(((values < bounds[0]) | (values > bounds[1])).sum()) / max(1, int((~np.isnan(values)).sum()))
        if share:
            columns[c] = {"count": int(round(share * stats.numeric[c].n)), "low": round(bounds[0], 6),
                          "high": round(bounds[1], 6), "estimated": True}
    return {"rule": f"modified z-score above {OUTLIER_Z} (median and MAD of a training sample)",
            "columns": columns, "rows_flagged": sum(v["count"] for v in columns.values()),
            "action": "flagged only (--drop-outliers is not available with --stream)"}
