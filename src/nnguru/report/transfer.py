"""The report's transfer section: what a ``--from`` run reused, froze and trained.

Built from the run directory alone (``transfer.json``, written by :mod:`nnguru.transfer`, and
``history.csv``); the loss plot with the two phases marked is drawn in memory, so the folder keeps
no extra PNG (which the report would otherwise list among the test-set figures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnguru.report.plots import TRAIN_COLOR, VAL_COLOR, _clean, _save

TRANSFER_JSON = "transfer.json"


def plot_phases(history: dict[str, list], warm_up_epochs: int, path) -> Any:
    """Train and validation loss per epoch, the frozen warm-up shaded and the unfreezing marked."""
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.add_subplot()
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, _clean(history["loss"]), color=TRAIN_COLOR, label="train loss")
    if history.get("val_loss"):
        ax.plot(epochs, _clean(history["val_loss"]), color=VAL_COLOR, label="val loss")
    if warm_up_epochs:
        ax.axvspan(0.5, warm_up_epochs + 0.5, color="0.85", label="head only (body frozen)")
        ax.axvline(warm_up_epochs + 0.5, color="0.3", linestyle="--", label="unfrozen")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("Transfer: warm-up, then fine-tuning")
    return _save(fig, path)


def transfer_section(run_dir: str | Path, history: dict[str, list] | None = None) -> str:
    """The section's HTML, or "" when the run did not start ``--from`` another."""
    from nnguru.report.html import _img, _png_bytes, _section, esc, fmt

    try:
        record = json.loads((Path(run_dir) / TRANSFER_JSON).read_text())
    except (OSError, json.JSONDecodeError):
        return ""
    if not isinstance(record, dict) or not isinstance(record.get("reused"), list):
        return ""
    warm = record.get("warm_up_epochs")
    ran = f" The warm-up ran {warm} epoch(s)." if isinstance(warm, int) else ""
    replaced = (f"replaced {esc(', '.join(map(str, record.get('replaced') or [])))} with a new head "
                f"({esc(', '.join(map(str, record.get('new_head') or [])))}; {esc(fmt(record.get('new_params')))} "
                "weights)") if record.get("replaced") else "kept its head (the base's classes)"
    body = (f"<p>Started from <code>{esc(record.get('base'))}</code>: reused {len(record['reused'])} layers "
            f"({esc(fmt(record.get('reused_params')))} weights) and {replaced}. Schedule: "
            f"{esc(record.get('schedule'))}.{esc(ran)} Preprocessing: "
            f"{esc(record.get('preprocessing'))}.</p>")
    reused_how = "at the lower rate" if record.get("same_classes") else "frozen, then at the lower rate"
    rows = [(m.get("layer"), m.get("type"), m.get("params"), reused_how)
            for m in record["reused"] if isinstance(m, dict)]
    rows += [(name, "rebuilt (fresh weights)", "", "trained throughout") for name in record.get("rebuilt") or []]
    head = record.get("new_head") or []
    rows += [(name, "new head", record.get("new_params") if len(head) == 1 else "", "trained throughout")
             for name in head]
    body += ("<table><tr><th>layer</th><th>type</th><th class='num'>weights</th><th>training</th></tr>"
             + "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td class='num'>{esc(fmt(c))}</td>"
                       f"<td>{esc(d)}</td></tr>" for a, b, c, d in rows) + "</table>")
    if history and history.get("loss"):
        data = _png_bytes(plot_phases, history, int(warm or 0))
        body += _img(data, "transfer phases", "Loss per epoch: the new head alone (shaded), then every "
                     "layer") if data else ""
    return _section("transfer", "Transfer learning", body)
