"""The report's tuning section: the search that chose the run's configuration.

Built, like the rest of report.html, from the run directory's files alone (``tune.json`` and
``trials.csv``, written by ``nnguru tune``); the two plots are drawn in memory, so the folder keeps
no extra PNG (which the report would otherwise list among the test-set figures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from nnguru.report.plots import _save

TUNE_JSON, TRIALS_CSV = "tune.json", "trials.csv"
MAX_ROWS = 200  # trials shown in the table (the best ones first); trials.csv holds them all


def plot_optimization_history(history: list[dict], path) -> Any:
    """Each finished trial's validation loss and the best so far, by trial number."""
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.add_subplot()
    ax.scatter([h["number"] for h in history], [h["value"] for h in history], s=14, label="trial")
    ax.step([h["number"] for h in history], [h["best"] for h in history], where="post", color="C3",
            label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation loss")
    ax.legend()
    ax.set_title("Optimization history")
    return _save(fig, path)


def plot_importances(importances: dict[str, float], path) -> Any:
    """fANOVA importance of each parameter for the validation loss (they sum to 1)."""
    names = list(importances)[::-1]
    fig = Figure(figsize=(6.4, 0.4 * len(names) + 1.2))
    ax = fig.add_subplot()
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance for the validation loss (fANOVA)")
    ax.set_title("Parameter importances")
    return _save(fig, path)


def tuning_section(run_dir: str | Path) -> str:
    """The section's HTML, or "" when the run did not come from ``nnguru tune``."""
    from nnguru.report.html import _img, _png_bytes, _render_value, _section, esc, fmt

    run = Path(run_dir)
    try:
        summary = json.loads((run / TUNE_JSON).read_text())
    except (OSError, json.JSONDecodeError):
        return ""
    if not isinstance(summary, dict) or not isinstance(summary.get("best"), dict):
        return ""
    best, default = summary["best"], summary.get("default")
    counts = ", ".join(f"{n} {s}" for s, n in (summary.get("counts") or {}).items())
    body = (f"<p>{esc(counts)} trials ({esc(summary.get('sampler'))} sampler, {esc(summary.get('pruner'))} "
            f"pruner) searched a {esc(summary.get('family'))} model on the validation split; the objective is "
            f"the validation loss at each trial's best epoch. The best trial was retrained and tested once: "
            f"this run.</p>")
    if summary.get("timeout") and summary.get("search_seconds") is not None:
        body += (f"<p>Time limit (--timeout): {esc(fmt(summary['timeout']))} s for the whole search; it took "
                 f"{esc(fmt(summary['search_seconds']))} s. Each trial trained within its share of the time left "
                 f"(trials.csv: time_budget, budget_reached).</p>")
    rows = [("best", best)] + ([("default (trial 0: what nnguru train does)", default)] if default else [])
    body += "<table><tr><th>trial</th><th class='num'>val_loss</th><th>parameters</th></tr>" + "".join(
        f"<tr><td>{esc(label)} #{esc(t.get('number'))}</td><td class='num'>{esc(fmt(t.get('value')))}</td>"
        f"<td>{_render_value(t.get('params'))}</td></tr>" for label, t in rows) + "</table>"
    history = summary.get("history") or []
    if history:
        data = _png_bytes(plot_optimization_history, history)
        body += _img(data, "optimization history", "Validation loss per trial and the best so far") if data else ""
    importances = summary.get("importances") or {}
    if importances:
        data = _png_bytes(plot_importances, importances)
        body += _img(data, "parameter importances", "Which parameters moved the validation loss") if data else ""
    try:
        trials = pd.read_csv(run / TRIALS_CSV)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        trials = None
    if trials is not None and len(trials):
        shown = trials.sort_values("val_loss", na_position="last").head(MAX_ROWS)
        head = "".join(f"<th>{esc(c.removeprefix('param_'))}</th>" for c in shown.columns)
        cells = "".join("<tr>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in row) + "</tr>"
                        for row in shown.itertuples(index=False))
        more = f" (the best {MAX_ROWS}; trials.csv has all {len(trials)})" if len(trials) > MAX_ROWS else ""
        body += f"<h3>Trials, best first{esc(more)}</h3><table><tr>{head}</tr>{cells}</table>"
    return _section("tuning", "Hyperparameter search", body)
