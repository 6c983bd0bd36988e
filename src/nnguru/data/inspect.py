"""``nnguru inspect``: the data-quality report, without training.

``inspect_data`` loads and cleans exactly as ``train`` would and returns the report that
``train`` writes to data_report.json; ``print_data_report`` shows it as tables.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from nnguru.data.clean import clean
from nnguru.data.sources import load

MAX_ROWS_SHOWN = 20  # longer lists are cut in the console; the JSON report keeps them
MAX_COLUMNS_SHOWN = 60  # wide tables (e.g. one column per pixel) list their first columns only
_EXPLAINED_TYPES = ("text", "identifier", "datetime", "path")  # types whose evidence is shown


def inspect_data(
    spec: str | Path,
    target: str | int | None = None,
    *,
    missing: str = "fill",
    drop_outliers: bool = False,
    placeholder_zeros: str = "flag",
    task: str | None = None,
    **source_options: object,
) -> dict:
    """Load ``spec`` (same options as ``sources.load``), clean it, and return the report."""
    ds = load(spec, target=target, **source_options)
    _, report = clean(
        ds,
        missing=missing,
        drop_outliers=drop_outliers,
        placeholder_zeros=placeholder_zeros,
        task=task,
    )
    return report


def print_data_report(report: dict, console: Console) -> None:
    """Print the report as rich tables, one per finding, warnings last."""
    _overview(report, console)
    if report.get("columns"):
        _columns(report, console)
    _zeros_and_outliers(report, console)
    _duplicates(report, console)
    _target(report, console)
    _files(report, console)
    for warning in report.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _overview(report: dict, console: Console) -> None:
    source = report.get("source", {})
    rows = report.get("rows", {})
    table = Table(title=f"Data: {report.get('dataset')}", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row("kind", str(report.get("kind")))
    table.add_row("source", str(source.get("path", "")))
    table.add_row("format", _format_line(source))
    table.add_row("rows", f"{rows.get('loaded')} loaded, {rows.get('after_cleaning')} after cleaning")
    for key in ("split", "labels"):
        if source.get(key):
            table.add_row(key, str(source[key]))
    if report.get("array"):
        table.add_row("array", f"shape {report['array']['shape']}, {report['array']['dtype']}")
    console.print(table)


def _format_line(source: dict) -> str:
    parts = [str(source.get("format", ""))]
    if "sep" in source:
        parts.append(f"separator {source['sep']!r}")
    if "header" in source:
        parts.append("header" if source["header"] else "no header (columns c0, c1, ...)")
    if source.get("quoting") == "none":
        parts.append("quotes read as text")
    if source.get("encoding") and source["encoding"] != "utf-8":
        parts.append(f"encoding {source['encoding']}")
    return ", ".join(p for p in parts if p)


def _columns(report: dict, console: Console) -> None:
    entries = report["columns"]
    hidden = len(entries) - MAX_COLUMNS_SHOWN
    caption = f"... and {hidden} more columns in the JSON report" if hidden > 0 else None
    table = Table(title="Columns", caption=caption)
    for name in ("column", "type", "missing", "filled with", "distinct", "notes"):
        table.add_column(name, justify="right" if name in ("missing", "distinct") else "left")
    reasons = report.get("source", {}).get("type_reasons", {})
    for entry in entries[:MAX_COLUMNS_SHOWN]:
        missing = str(entry["missing"]) if entry["missing"] else ""
        table.add_row(
            entry["name"],
            entry["type"],
            missing,
            entry.get("fill", "") if entry["missing"] else "",
            str(entry.get("distinct", "")),
            _column_notes(entry, reasons.get(entry["name"])),
        )
    console.print(table)


def _column_notes(entry: dict, reason: str | None) -> str:
    action = entry.get("action", "used")
    notes = [action] if action != "used" else [reason] if reason and entry["type"] in _EXPLAINED_TYPES else []
    markers = entry.get("markers", {})
    if markers:
        notes.append("markers " + ", ".join(f"{k!r}: {v}" for k, v in markers.items()))
    if entry.get("invalid_numbers"):
        notes.append(f"{entry['invalid_numbers']} unreadable numbers -> missing")
    if entry.get("spelling_fixed_cells"):
        notes.append(f"{entry['spelling_fixed_cells']} spellings merged")
    return "; ".join(notes)


def _zeros_and_outliers(report: dict, console: Console) -> None:
    zeros = report.get("placeholder_zeros") or {}
    if zeros:
        table = Table(title="Placeholder zeros (zero where zero is implausible)")
        for name in ("column", "zeros", "share", "smallest non-zero", "action"):
            table.add_column(name)
        for column, z in zeros.items():
            table.add_row(
                column,
                str(z["count"]),
                f"{z['share']:.1%}",
                f"{z['smallest_nonzero']:g}",
                z["action"],
            )
        console.print(table)
    outliers = report.get("outliers") or {}
    if outliers.get("columns"):
        caption = f"rule: {outliers['rule']}; {outliers['action']}"
        table = Table(title="Outliers", caption=caption)
        for name in ("column", "rows", "below", "above"):
            table.add_column(name)
        for column, o in outliers["columns"].items():
            table.add_row(column, str(o["count"]), f"{o['low']:.4g}", f"{o['high']:.4g}")
        console.print(table)


def _duplicates(report: dict, console: Console) -> None:
    dup = report.get("duplicates")
    if not dup:
        return
    line = f"Duplicates: {dup['rows']} repeated row(s) ({dup['share']:.1%})"
    if dup.get("conflicting_labels"):
        line += f", {dup['conflicting_labels']} row(s) with identical inputs but different labels"
    console.print(line + ".")


def _target(report: dict, console: Console) -> None:
    target = report.get("target")
    if not target:
        return
    if target.get("missing_rows_dropped"):
        console.print(f"Rows without a target dropped: {target['missing_rows_dropped']}.")
    balance = target.get("class_balance")
    if balance:
        table = Table(title=f"Class balance ({target.get('name') or 'labels'})")
        for name in ("class", "rows", "share"):
            table.add_column(name, justify="right" if name != "class" else "left")
        items = list(balance["counts"].items())
        for label, count in items[:MAX_ROWS_SHOWN]:
            table.add_row(label, str(count), f"{balance['shares'][label]:.1%}")
        if len(items) > MAX_ROWS_SHOWN:
            table.add_row(f"... {len(items) - MAX_ROWS_SHOWN} more", "", "")
        console.print(table)
    elif target.get("summary"):
        s = target["summary"]
        console.print(
            f"Target {target.get('name')!r}: numbers from {s['min']:g} to {s['max']:g} (median {s['median']:g})."
        )


def _files(report: dict, console: Console) -> None:
    bad = report.get("corrupt_files") or []
    if bad:
        table = Table(title=f"Unreadable files skipped: {report.get('corrupt_file_count', len(bad))}")
        table.add_column("file")
        table.add_column("reason")
        for item in bad[:MAX_ROWS_SHOWN]:
            table.add_row(item["file"], item["reason"])
        if len(bad) > MAX_ROWS_SHOWN:
            table.add_row(f"... {len(bad) - MAX_ROWS_SHOWN} more in the JSON report", "")
        console.print(table)
    formatting = report.get("formatting")
    if formatting:
        table = Table(title="File formats", show_header=False)
        table.add_column("item", style="bold")
        table.add_column("value")
        for key, value in formatting.items():
            table.add_row(key.replace("_", " "), str(value))
        console.print(table)
