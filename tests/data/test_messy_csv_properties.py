"""Property tests: generated messy CSVs never crash the loader/cleaner, and counts are exact.

Each generated file has a known number of planted problems (missing markers, rows without a
target, duplicated rows, rows with too many or too few fields, non-UTF-8 bytes); the data report
must count exactly what was planted.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnguru.data.clean import clean
from nnguru.data.preprocess import Preprocessor
from nnguru.data.sources import load
from nnguru.errors import NNGuruError

MARKERS = ["", "?", "NA", "-", "N/A", "nan", "NULL", "none"]
CATEGORIES = ["red", "green", "blue", "café"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Planted:
    data: bytes
    columns: list[str]
    missing: dict[str, int]
    target_missing: int
    duplicates: int
    long_rows: int
    short_rows: int
    rows: int  # data rows that reach the cleaner
    non_utf8: bool


@st.composite
def messy_csvs(draw: st.DrawFn) -> Planted:
    n = draw(st.integers(8, 30))
    numeric = [f"num{j}" for j in range(draw(st.integers(1, 3)))]
    categorical = [f"cat{j}" for j in range(draw(st.integers(0, 2)))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns = ["y", "uid", *numeric, *categorical]
    rows = [
        ["yes" if i % 2 else "no", f"{i}.25"]
        + [f"{v:.3f}" for v in rng.normal(0, 100, len(numeric))]
        + list(rng.choice(CATEGORIES, len(categorical)))
        for i in range(n)
    ]
    features = [j for j, c in enumerate(columns) if c.startswith(("num", "cat"))]
    cells = [(i, j) for i in range(n) for j in features]
    for k in rng.permutation(len(cells))[: draw(st.integers(0, len(cells) // 3))]:
        i, j = cells[k]
        rows[i][j] = str(rng.choice(MARKERS))
    order = rng.permutation(n)
    target_missing = draw(st.integers(0, n // 4))
    for i in order[:target_missing]:
        rows[i][0] = str(rng.choice(MARKERS))
    short_rows = draw(st.integers(0, n // 5)) if categorical or len(numeric) > 1 else 0
    for i in order[target_missing : target_missing + short_rows]:
        rows[i] = rows[i][:-1]  # the last feature is absent: padded as a missing value
    duplicates = draw(st.integers(0, 4))
    sources = order[target_missing + short_rows :][:duplicates]
    rows += [list(rows[i]) for i in sources]
    duplicates = len(sources)
    missing = {
        c: sum(1 for r in rows if j >= len(r) or r[j].strip().casefold() in {m.casefold() for m in MARKERS})
        for j, c in enumerate(columns)
        if j in features
    }
    lines = [",".join(r) for r in rows]
    long_rows = draw(st.integers(0, 3))
    for k in range(long_rows):
        lines.insert(int(rng.integers(0, len(lines) + 1)), ",".join(rows[k % n][:2] + ["1"] * len(columns)))
    text = ",".join(columns) + "\n" + "\n".join(lines) + "\n"
    non_utf8 = draw(st.booleans()) and "é" in text
    data = text.encode("cp1252" if non_utf8 else "utf-8")
    rows_in = len(rows)
    return Planted(data, columns, missing, target_missing, duplicates, long_rows, short_rows, rows_in, non_utf8)


@SETTINGS
@given(messy_csvs())
def test_report_counts_equal_what_was_planted(planted: Planted):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messy.csv"
        path.write_bytes(planted.data)
        ds = load(path, target="y")
        cleaned, report = clean(ds)
    json.dumps(report)
    assert ds.info["long_rows_skipped"]["count"] == planted.long_rows
    assert ds.info["short_rows_padded"]["count"] == planted.short_rows
    assert {e["name"]: e["missing"] for e in report["columns"] if e["name"] in planted.missing} == planted.missing
    assert report["target"]["missing_rows_dropped"] == planted.target_missing
    assert report["duplicates"]["rows"] == planted.duplicates
    assert len(cleaned) == planted.rows - planted.target_missing
    assert ("encoding_note" in ds.info) == planted.non_utf8


_CELL = st.one_of(
    st.text(alphabet=st.sampled_from(list('ab1.5-?" ,;\t\n\r\xe9')), max_size=6),
    st.sampled_from(["NA", "N/A", "", "0", "1e3", "2020-01-01", "x.png"]),
)


@SETTINGS
@given(st.lists(st.lists(_CELL, min_size=1, max_size=5), max_size=12), st.sampled_from(["utf-8", "cp1252"]))
def test_arbitrary_tables_raise_only_nnguru_errors(rows: list[list[str]], encoding: str):
    text = "\n".join(",".join(r) for r in rows)
    _run_pipeline(text.encode(encoding, errors="replace"))


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_nnguru_errors(data: bytes):
    _run_pipeline(data)


def _run_pipeline(data: bytes) -> None:
    """Load, clean and preprocess; any exception other than NNGuruError fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_bytes(data)
        try:
            ds = load(path, target=-1)
            cleaned, report = clean(ds)
            json.dumps(report)
            pre = Preprocessor("classification").fit(cleaned.X, cleaned.y)
            features = pre.transform(cleaned.X)
        except NNGuruError:
            return
    assert np.isfinite(features).all() and len(features) == len(cleaned)
