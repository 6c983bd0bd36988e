"""What the diagnosis returns: a code, how serious it is, the numbers behind it and what to do."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEVERITIES = ("error", "warning", "info")
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy scalars become Python numbers, non-finite floats become None.

    ``json.dumps`` would write NaN/Infinity, which browsers' ``JSON.parse`` and most tools reject.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


@dataclass
class Finding:
    """One diagnosis: ``evidence`` holds the numbers and a one-sentence ``summary``."""

    code: str
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def summary(self) -> str:
        return str(self.evidence.get("summary", ""))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity,
                "evidence": json_safe(self.evidence), "advice": self.advice}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(d["code"], d.get("severity", "info"), dict(d.get("evidence") or {}),
                   d.get("advice", ""))


def save_findings(findings: list[Finding], path: str | Path) -> Path:
    """Write ``diagnosis.json`` (a list of finding dicts)."""
    path = Path(path)
    path.write_text(json.dumps([f.to_dict() for f in findings], indent=2) + "\n", encoding="utf-8")
    return path


def load_findings(path: str | Path) -> list[Finding]:
    """Read ``diagnosis.json`` back."""
    return [Finding.from_dict(d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]


def print_findings(findings: list[Finding], console: Any = None) -> None:
    """Print the diagnosis with rich: code and severity, the evidence sentence, the advice."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title="Diagnosis", show_lines=True, expand=False)
    table.add_column("finding", no_wrap=True)
    table.add_column("evidence")
    table.add_column("advice")
    for f in findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        # Text, not markup: evidence quotes class labels, which may contain "[".
        name = Text.assemble((f.code, style), "\n", (f.severity, "dim"))
        table.add_row(name, Text(f.summary), Text(f.advice))
    console.print(table)
