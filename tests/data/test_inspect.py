"""nnguru inspect: the report as JSON and as tables, without training."""

from __future__ import annotations

import json

from rich.console import Console

from nnguru.data.inspect import inspect_data, print_data_report


def _render(report: dict) -> str:
    console = Console(record=True, width=220)
    print_data_report(report, console)
    return console.export_text()


def test_table_report_shows_every_finding(files):
    lines = []
    for i in range(60):
        glucose = 0 if i < 4 else 80 + i
        label = "sick" if i % 12 == 0 else "healthy"
        sex = "?" if i == 7 else ["male", "Female", "female "][i % 3]
        lines.append(f"{glucose},{sex},{10_000 if i == 9 else i % 13},{label}")
    lines.append(lines[5])
    path = files.text("h.csv", "glucose,sex,visits,status\n" + "\n".join(lines) + "\n")
    report = inspect_data(path, target="status")
    json.dumps(report)
    assert report["placeholder_zeros"]["glucose"]["count"] == 4
    assert report["duplicates"]["rows"] == 1
    text = _render(report)
    for expected in (
        "Columns",
        "glucose",
        "markers '?': 1",
        "spellings merged",
        "Placeholder zeros",
        "Outliers",
        "Duplicates: 1 repeated row",
        "Class balance (status)",
        "sick",
        "warning:",
    ):
        assert expected in text, expected


def test_folder_report_lists_unreadable_files(files):
    for label in ("a", "b"):
        for i in range(2):
            files.png(f"imgs/{label}/{i}.png")
    files.text("imgs/b/broken.png", b"\x89PNG broken")
    report = inspect_data(files.root / "imgs")
    assert report["corrupt_file_count"] == 1
    text = _render(report)
    assert "Unreadable files skipped: 1" in text and "broken.png" in text
    assert "most common size" in text


def test_regression_target_summary(files):
    rows = "\n".join(f"{i},{i * 1.5}" for i in range(10))
    report = inspect_data(files.text("r.csv", "x,price\n" + rows + "\n"), target="price", task="regression")
    assert report["target"]["type"] == "numeric" and report["target"]["summary"]["max"] == 13.5
    assert "numbers from 0 to 13.5" in _render(report)
