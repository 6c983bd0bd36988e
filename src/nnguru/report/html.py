"""``report.html``: one self-contained page built only from the files in a run directory.

Because it reads nothing but the run directory, ``nnguru report RUN_DIR`` rebuilds the same page
at any time. Images are embedded as base64 data URIs and the CSS is inline: the page makes no
request, runs no script, and opens offline or as an e-mail attachment. Every string that comes
from the user's data or configuration is HTML-escaped. Missing optional files leave their
section out.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nnguru.errors import NNGuruError
from nnguru.report.environment import environment
from nnguru.report.plots import (
    CONFUSION_PNG,
    HISTORY_PNG,
    LR_FINDER_PNG,
    plot_confusion,
    plot_history,
)
from nnguru.schema import FLAT_BASELINE, LOWER_IS_BETTER, best_baseline
from nnguru.schema import baselines as named_baselines

REPORT_NAME = "report.html"
# Metrics where lower is better (the "vs baseline" column flips its sign for them).
# Preferred row order of the metrics table; other scalar metrics follow alphabetically.
METRIC_ORDER = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                "pr_auc", "loss", "mae", "rmse", "r2", "mape")
# Keys of a metrics block that are not metrics to tabulate.
NON_METRIC_KEYS = {"n", "threshold", "nonfinite_predictions"}
# Generic JSON rendering stops here: deeper data is shown as compact JSON text.
MAX_DEPTH = 4
# Flat {key: number} maps longer than this (class counts, per-column tallies) are written inline
# as "key: value" runs instead of tall two-column tables.
INLINE_MAPPING_MIN = 5
MAX_LIST_ITEMS = 50
MAX_TABLE_ROWS = 100
# History rows shown in the epoch table (the curves show everything).
MAX_HISTORY_ROWS = 200
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

CSS = """
:root{--fg:#1d2430;--muted:#5b6575;--line:#dde2ea;--bg:#f6f8fb;--card:#fff;
--err:#c62828;--warn:#b26a00;--ok:#2e7d32;--accent:#1f5fbf}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
header{background:#14213d;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:24px}header p{margin:0;color:#c9d3e6}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0}
nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-size:14px}
main{max-width:1200px;margin:0 auto;padding:8px 32px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:16px 20px;margin:18px 0}
h2{margin:0 0 12px;font-size:19px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef2f8;font-weight:600}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}
.better{color:var(--ok)}.worse{color:var(--err)}
.finding{border-left:5px solid var(--ok);padding:8px 12px;margin:10px 0;background:#fafbfd}
.finding.error{border-color:var(--err)}.finding.warning{border-color:var(--warn)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;color:#fff;
background:var(--ok);margin-right:6px}.badge.error{background:var(--err)}
.badge.warning{background:var(--warn)}
.code{font-weight:700;font-family:ui-monospace,monospace}
.advice{margin:4px 0 0}.muted{color:var(--muted);font-size:13px}
figure{margin:10px 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{color:var(--muted);font-size:13px}
pre{background:#f3f5f9;padding:10px;border-radius:6px;overflow-x:auto;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:160px}
.card .big{font-size:22px;font-weight:700}
footer{color:var(--muted);font-size:12px;text-align:center;padding:20px}
"""


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """Numbers for people: 4 significant digits, thousands separators for integers."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1e4 else f"{value:.4g}"
    return str(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _read_history(path: Path) -> dict[str, list[Any]] | None:
    """history.csv as Keras-style lists; empty cells become None."""
    if not path.is_file():
        return None
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    out: dict[str, list[Any]] = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        out[str(col)] = [None if v != v else float(v) for v in values]  # NaN -> None
    return out


def _img(data: bytes, alt: str, caption: str | None = None) -> str:
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{esc(alt)}">{cap}</figure>'


def _png_bytes(draw: Any, *args: Any, **kwargs: Any) -> bytes | None:
    """Render a plot in memory (for reports rebuilt from a run without that PNG)."""
    buf = io.BytesIO()
    try:
        draw(*args, buf, **kwargs)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return buf.getvalue()


def _render_value(value: Any, depth: int = 0) -> str:
    """Any JSON value as HTML: dicts as key/value tables, lists of dicts as tables."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">none</span>'
        if depth >= MAX_DEPTH:
            return f"<code>{esc(json.dumps(value, default=str)[:500])}</code>"
        if len(value) >= INLINE_MAPPING_MIN and all(
                not isinstance(v, (dict, list)) for v in value.values()):
            items = list(value.items())[:MAX_LIST_ITEMS]
            more = f" … ({len(value)} in all)" if len(value) > MAX_LIST_ITEMS else ""
            return ('<span class="inline">' + " · ".join(
                f"<b>{esc(k)}</b>: {esc(fmt(v))}" for k, v in items) + esc(more) + "</span>")
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{_render_value(v, depth + 1)}</td></tr>"
                       for k, v in list(value.items())[:MAX_TABLE_ROWS])
        more = (f'<tr><td colspan="2" class="muted">… {len(value) - MAX_TABLE_ROWS} more</td>'
                "</tr>" if len(value) > MAX_TABLE_ROWS else "")
        return f"<table>{rows}{more}</table>"
    if isinstance(value, list):
        if not value:
            return '<span class="muted">none</span>'
        if all(isinstance(v, dict) for v in value) and depth < MAX_DEPTH:
            cols: list[str] = []
            for v in value[:MAX_TABLE_ROWS]:
                cols += [str(k) for k in v if str(k) not in cols]
            head = "".join(f"<th>{esc(c)}</th>" for c in cols)
            body = "".join(
                "<tr>" + "".join(f"<td>{_render_value(v.get(c, ''), depth + 1)}</td>"
                                 for c in cols) + "</tr>"
                for v in ({str(k): x for k, x in v.items()} for v in value[:MAX_TABLE_ROWS]))
            more = (f'<p class="muted">… {len(value) - MAX_TABLE_ROWS} more rows</p>'
                    if len(value) > MAX_TABLE_ROWS else "")
            return f"<table><tr>{head}</tr>{body}</table>{more}"
        shown = ", ".join(esc(fmt(v)) if not isinstance(v, (dict, list))
                          else _render_value(v, depth + 1) for v in value[:MAX_LIST_ITEMS])
        extra = f" … ({len(value)} in all)" if len(value) > MAX_LIST_ITEMS else ""
        return shown + esc(extra)
    return esc(fmt(value))


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def _scalar_metrics(block: Any) -> dict[str, float]:
    if not isinstance(block, dict):
        return {}
    return {k: v for k, v in block.items() if k not in NON_METRIC_KEYS
            and (isinstance(v, (int, float)) and not isinstance(v, bool) or v is None)}


def _metric_rows(test: dict[str, Any], baselines: list[dict[str, Any]]) -> list[str]:
    present = {*test, *(k for b in baselines for k in b)}
    keys = [k for k in METRIC_ORDER if k in present]
    return keys + sorted(k for k in present if k not in keys)


def _delta(k: str, t: Any, b: Any) -> str:
    """The model's value minus the baseline's, coloured by whether the model is better."""
    if not (isinstance(t, (int, float)) and isinstance(b, (int, float))):
        return ""
    gain = (b - t) if k in LOWER_IS_BETTER else (t - b)
    cls = "better" if gain > 0 else "worse" if gain < 0 else ""
    return f'<span class="{cls}">{"+" if t - b >= 0 else ""}{fmt(t - b)}</span>'


def _metrics_section(metrics: dict[str, Any]) -> str:
    named = named_baselines(metrics)
    test, val = _scalar_metrics(metrics.get("test")), _scalar_metrics(metrics.get("val"))
    bases = {name: _scalar_metrics(b) for name, b in named.items()}
    if not (test or any(bases.values())):
        return ""
    rows = []
    for k in _metric_rows(test, list(bases.values())):
        t = test.get(k)
        cells = "".join(f"<td class='num'>{esc(fmt(b.get(k)))}</td><td class='num'>{_delta(k, t, b.get(k))}</td>"
                        for b in bases.values())
        rows.append(f"<tr><td>{esc(k)}</td><td class='num'>{esc(fmt(t))}</td>{cells}"
                    f"<td class='num'>{esc(fmt(val.get(k)))}</td></tr>")
    n_test = _get(metrics, "test", "n")
    notes = [f"{esc(name.replace('_', ' ').capitalize())}: {esc(b['strategy'])}." for name, b in named.items()
             if isinstance(b.get("strategy"), str)]
    if n_test:
        notes.append(f"Test samples: {esc(fmt(n_test))}; the test split was used once.")
    positive = _get(metrics, "test", "positive")
    if positive is not None:
        notes.append(f"Precision, recall and F1 are of the positive class "
                     f"<b>{esc(positive)}</b>.")
    elif _get(metrics, "test", "per_class"):
        notes.append("Precision, recall and F1 are macro averages over the classes.")
    threshold = _get(metrics, "test", "threshold")
    if threshold is not None:
        notes.append(f"Decision threshold on P(positive): {esc(fmt(threshold))}.")
    shown = ["baseline" if name == FLAT_BASELINE else name.replace("_", " ") for name in bases]
    heads = "".join(f"<th class='num'>{esc(name)} (test)</th><th class='num'>vs {esc(name)}</th>" for name in shown)
    body = ("<table><tr><th>metric</th><th class='num'>model (test)</th>" + heads
            + "<th class='num'>validation</th></tr>" + "".join(rows) + "</table>"
            + "".join(f'<p class="muted">{n}</p>' for n in notes))
    body += _threshold_table(metrics)
    return _section("metrics", "Test metrics vs baseline" + ("s" if len(bases) > 1 else ""), body)


def _threshold_table(metrics: dict[str, Any]) -> str:
    info = metrics.get("threshold")
    table = (info.get("table") or info.get("tradeoff")) if isinstance(info, dict) else None
    if not isinstance(table, list):
        return ""
    rows = "".join(
        ("<tr class='better'>" if r.get("chosen") else "<tr>")
        + "".join(f"<td class='num'>{esc(fmt(r.get(c)))}</td>"
                  for c in ("threshold", "precision", "recall", "f1"))
        + f"<td>{'chosen' if r.get('chosen') else ''}</td></tr>"
        for r in table if isinstance(r, dict))
    chosen = info.get("value")
    return ("<h3>Decision threshold: precision/recall trade-off (validation)</h3>"
            + (f"<p>Chosen threshold {esc(fmt(chosen))} maximizes F1 of the positive class on "
               "the validation split"
               + (f" ({esc(info['reason'])})" if info.get("reason") else "") + ".</p>"
               if chosen is not None else "")
            + "<table><tr><th class='num'>threshold</th><th class='num'>precision</th>"
            "<th class='num'>recall</th><th class='num'>F1</th><th></th></tr>" + rows
            + "</table>")


def _per_class_section(metrics: dict[str, Any]) -> str:
    per_class = _get(metrics, "test", "per_class")
    if not isinstance(per_class, dict) or not per_class:
        return ""
    base_pc = _get(metrics, "baseline", "per_class") or {}
    rows = "".join(
        f"<tr><td>{esc(c)}</td>"
        + "".join(f"<td class='num'>{esc(fmt(v.get(m)))}</td>"
                  for m in ("precision", "recall", "f1", "support"))
        + f"<td class='num'>{esc(fmt(_get(base_pc, c, 'recall')))}</td></tr>"
        for c, v in per_class.items() if isinstance(v, dict))
    body = ("<table><tr><th>class</th><th class='num'>precision</th><th class='num'>recall</th>"
            "<th class='num'>F1</th><th class='num'>support</th>"
            "<th class='num'>baseline recall</th></tr>" + rows + "</table>")
    return _section("per-class", "Per-class results (test)", body)


def _similarity_section(metrics: dict[str, Any]) -> str:
    """precision@k of the stored embedding next to the search on preprocessed features."""
    sim = metrics.get("similarity")
    if not isinstance(sim, dict) or not isinstance(sim.get("embedding"), dict):
        return ""
    rows = "".join(f"<tr><td>{esc(name.replace('_', ' '))}</td><td class='num'>{fmt(v)}</td></tr>"
                   for block, name in (("embedding", f"network embedding (input of {sim.get('head_layer', '')}, "
                                        f"{sim.get('dim')} numbers)"), ("preprocessed_features",
                                                                         "preprocessed features"))
                   for v in (sim.get(block) or {}).values())
    body = (f"<p>Nearest training items of {esc(sim.get('queries'))} test items (cosine distance): the "
            f"share of the {esc(sim.get('k'))} neighbours with the query's label. "
            "<code>nnguru similar RUN_DIR QUERY</code> searches the stored embeddings.</p>"
            f"<table><tr><th>searched in</th><th class='num'>precision@{esc(sim.get('k'))}</th></tr>{rows}</table>")
    return _section("similarity", "Similarity search", body)


def _diagnosis_section(diagnosis: list[dict[str, Any]]) -> str:
    items = sorted((d for d in diagnosis if isinstance(d, dict)),
                   key=lambda d: SEVERITY_ORDER.get(d.get("severity"), 3))
    parts = []
    for d in items:
        sev = d.get("severity", "info")
        sev_cls = sev if sev in SEVERITY_ORDER else "info"
        ev = d.get("evidence") if isinstance(d.get("evidence"), dict) else {}
        numbers = {k: v for k, v in ev.items() if k != "summary"}
        nums = ("<details><summary class='muted'>evidence numbers</summary>"
                + _render_value(numbers) + "</details>") if numbers else ""
        parts.append(
            f'<div class="finding {sev_cls}"><span class="badge {sev_cls}">{esc(sev)}</span>'
            f'<span class="code">{esc(d.get("code", "?"))}</span>'
            f"<p>{esc(ev.get('summary', ''))}</p>"
            f'<p class="advice"><b>Advice:</b> {esc(d.get("advice", ""))}</p>{nums}</div>')
    return _section("diagnosis", "Diagnosis and advice", "".join(parts))


def _autofix_section(fix: dict[str, Any]) -> str:
    body = ""
    changes = fix.get("changes")
    if isinstance(changes, dict) and changes:
        body += "<h3>What was changed</h3>" + _render_value(changes)
    desc = fix.get("description")
    if isinstance(desc, list) and desc:
        body += "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in desc) + "</ul>"
    before, after = fix.get("before"), fix.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        fb, fa = _flatten(before), _flatten(after)
        keys = [k for k in fb if k in fa]
        rows = []
        for k in keys:
            b, a = fb[k], fa[k]
            delta = ""
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                last = k.rsplit(".", 1)[-1]
                gain = (b - a) if last in LOWER_IS_BETTER or last.endswith("loss") else (a - b)
                cls = "better" if gain > 0 else "worse" if gain < 0 else ""
                delta = f'<span class="{cls}">{"+" if a - b >= 0 else ""}{fmt(a - b)}</span>'
            rows.append(f"<tr><td>{esc(k)}</td><td class='num'>{esc(fmt(b))}</td>"
                        f"<td class='num'>{esc(fmt(a))}</td><td class='num'>{delta}</td></tr>")
        if rows:
            body += ("<h3>Before vs after</h3><table><tr><th>measure</th><th class='num'>before"
                     "</th><th class='num'>after</th><th class='num'>change</th></tr>"
                     + "".join(rows) + "</table>")
        for label, side in (("before", before), ("after", after)):
            codes = side.get("codes") or side.get("diagnosis")
            if isinstance(codes, list) and codes:
                names = [c.get("code", "?") if isinstance(c, dict) else c for c in codes]
                body += f"<p>Diagnosis {label}: {esc(', '.join(map(str, names)))}</p>"
    body += _autofix_rounds(fix)
    return _section("autofix", "Auto-fix: before vs after", body) if body else ""


def _autofix_rounds(fix: dict[str, Any]) -> str:
    """Every --auto-fix round: what changed and why, validation scores, findings; the kept one."""
    rounds = fix.get("rounds")
    if not isinstance(rounds, list) or len(rounds) < 2:
        return ""
    metric = fix.get("selected_by") or "val_loss_best"
    rows = []
    for r in rounds:
        if not isinstance(r, dict):
            continue
        val = r.get("val") if isinstance(r.get("val"), dict) else {}
        score = r.get("val_loss_best") if metric == "val_loss_best" else val.get(metric)
        kept = " (kept)" if r.get("round") == fix.get("chosen") else ""
        rows.append(f"<tr><td>{esc(str(r.get('round')))}{kept}</td>"
                    f"<td>{esc('; '.join(map(str, r.get('description') or [])))}</td>"
                    f"<td class='num'>{esc(fmt(score))}</td>"
                    f"<td>{esc(', '.join(map(str, r.get('diagnosis') or [])))}</td></tr>")
    return (f"<h3>Rounds (chosen by validation {esc(metric)})</h3><table><tr><th>round</th>"
            f"<th>change</th><th class='num'>validation {esc(metric)}</th><th>findings</th></tr>"
            + "".join(rows) + "</table>")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of nested dicts as ``a.b.c`` keys (lists and per-class tables skipped)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            if k not in ("per_class",):
                out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
            out[key] = v
    return out


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _history_table(history: dict[str, list[Any]]) -> str:
    cols = list(history)
    n = max((len(v) for v in history.values()), default=0)
    rows = []
    for i in range(min(n, MAX_HISTORY_ROWS)):
        values = (history[c][i] if i < len(history[c]) else None for c in cols)
        cells = "".join(f"<td class='num'>{esc(fmt(v))}</td>" for v in values)
        rows.append(f"<tr>{cells}</tr>")
    head = "".join(f"<th class='num'>{esc(c)}</th>" for c in cols)
    return (f"<details><summary>Epoch table ({n} epochs)</summary><table><tr>{head}</tr>"
            + "".join(rows) + "</table></details>")


def _summary_cards(metrics: dict[str, Any] | None, diagnosis: list[Any] | None) -> str:
    cards = []
    if metrics:
        named = named_baselines(metrics)
        for key in _task_attr(metrics, "report_cards", ("accuracy", "r2", "mae"))[:2]:
            value = _get(metrics, "test", key)
            if value is None:
                continue
            name, best = best_baseline(named, key) or (FLAT_BASELINE, None)
            label = "baseline" if name == FLAT_BASELINE else "best baseline: " + name.replace("_", " ")
            cards.append(f'<div class="card"><div class="muted">test {esc(key)}</div>'
                         f'<div class="big">{esc(fmt(value))}</div>'
                         f'<div class="muted">{esc(label)} {esc(fmt(best))}</div></div>')
        for k, label in (("epochs_run", "epochs"), ("train_seconds", "training seconds")):
            if metrics.get(k) is not None:
                cards.append(f'<div class="card"><div class="muted">{label}</div>'
                             f'<div class="big">{esc(fmt(metrics[k]))}</div></div>')
        cards.extend(_time_cards(metrics))
    if diagnosis:
        codes = [d.get("code", "?") for d in diagnosis if isinstance(d, dict)]
        cards.append('<div class="card"><div class="muted">diagnosis</div>'
                     f'<div class="big">{esc(", ".join(codes))}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>' if cards else ""


def _time_cards(metrics: dict[str, Any]) -> list[str]:
    """The up-front estimate next to the actual time, and whether the time budget stopped training."""
    cards = []
    est = metrics.get("estimate")
    if isinstance(est, dict) and isinstance(est.get("seconds"), (int, float)):
        error = est.get("error")
        note = f"{error:+.0%} vs actual" if isinstance(error, (int, float)) else ""
        cards.append(f'<div class="card"><div class="muted">estimated seconds</div>'
                     f'<div class="big">{esc(fmt(est["seconds"]))}</div><div class="muted">{esc(note)}</div></div>')
    budget = metrics.get("time_budget")
    if isinstance(budget, dict) and budget.get("seconds"):
        state = (f"reached: stopped, best epoch {budget.get('best_epoch')} kept" if budget.get("reached")
                 else "not reached")
        cards.append(f'<div class="card"><div class="muted">time budget (s)</div>'
                     f'<div class="big">{esc(fmt(budget["seconds"]))}</div><div class="muted">{esc(state)}</div></div>')
    return cards


def _task_attr(metrics: dict[str, Any] | None, attr: str, default: Any) -> Any:
    """What the run's task declares (its report cards, figure captions); ``default`` if unknown."""
    from nnguru import tasks

    try:
        return getattr(tasks.get(str((metrics or {}).get("task"))), attr)
    except NNGuruError:
        return default


# The monitor's last sample per layer: (column title, key in the sample, format).
MONITOR_COLUMNS = (("gradient norm", "grad_norm", "{:.3g}"), ("weight norm", "weight_norm", "{:.3g}"),
                   ("update ratio", "update_ratio", "{:.2e}"), ("dead ReLU", "dead", "{:.0%}"),
                   ("saturated", "saturated", "{:.0%}"), ("output RMS", "output_rms", "{:.3g}"))


def _monitor_section(monitor: dict[str, Any]) -> str:
    """The per-layer gradient-norm plot and a table of the monitor's last sample per layer."""
    from nnguru.report.plots import plot_gradient_norms

    layers, samples = monitor.get("layers") or [], monitor.get("samples") or []
    if not layers or not samples:
        return ""
    last = samples[-1]
    data = _png_bytes(plot_gradient_norms, monitor)
    body = _img(data, "gradient norms", "Gradient norm per layer at the sampled steps") if data else ""
    head = "".join(f"<th>{esc(t)}</th>" for t in ("layer", "type", "activation", *(c[0] for c in MONITOR_COLUMNS)))
    rows = []
    for i, layer in enumerate(layers):
        cells = []
        for _, key, form in MONITOR_COLUMNS:
            values = last.get(key) or []
            v = values[i] if i < len(values) else None
            cells.append(f"<td>{esc(form.format(v)) if isinstance(v, (int, float)) else ''}</td>")
        rows.append(f"<tr><td>{esc(layer.get('name'))}</td><td>{esc(layer.get('type'))}</td>"
                    f"<td>{esc(layer.get('activation'))}</td>{''.join(cells)}</tr>")
    note = (f'<p class="muted">{len(samples)} sampled steps of {esc(monitor.get("steps"))}; the table shows the '
            f"last (step {esc(last.get('step'))}, epoch {esc(last.get('epoch'))}). The monitor took "
            f"{esc(fmt(monitor.get('seconds')))} s.</p>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return _section("monitor", "Inside the network (monitor)", body + note + table)


def build_report_html(run_dir: str | Path) -> str:
    """The report page as a string (see :func:`write_report`)."""
    run = Path(run_dir)
    metrics = _read_json(run / "metrics.json")
    metrics = metrics if isinstance(metrics, dict) else None
    diagnosis = _read_json(run / "diagnosis.json")
    diagnosis = diagnosis if isinstance(diagnosis, list) else None
    data_report = _read_json(run / "data_report.json")
    fix = _read_json(run / "auto_fix.json")
    env = _read_json(run / "environment.json")
    config_text = _read_text(run / "config.yaml")
    config = None
    if config_text is not None:
        import yaml

        try:
            config = yaml.safe_load(config_text)
        except yaml.YAMLError:
            config = None
    if not isinstance(env, dict) and isinstance(config, dict):
        env = config.get("environment")
    summary_text = _read_text(run / "model_summary.txt")
    history = _read_history(run / "history.csv")
    pngs = {p.name: p.read_bytes() for p in sorted(run.glob("*.png")) if p.is_file()}
    if HISTORY_PNG not in pngs and history and history.get("loss"):
        data = _png_bytes(plot_history, history)
        if data:
            pngs[HISTORY_PNG] = data
    cm = _get(metrics, "test", "confusion_matrix")
    if CONFUSION_PNG not in pngs and isinstance(cm, list) and cm:
        data = _png_bytes(plot_confusion, cm, _get(metrics, "test", "classes") or range(len(cm)))
        if data:
            pngs[CONFUSION_PNG] = data

    name = run.resolve().name
    task = (metrics or {}).get("task") or (
        config.get("task") if isinstance(config, dict) else None)
    sections: list[str] = []
    nav: list[tuple[str, str]] = []

    def add(anchor: str, title: str, html_text: str) -> None:
        if html_text:
            sections.append(html_text)
            nav.append((anchor, title))

    cards = _summary_cards(metrics, diagnosis)
    if cards:
        add("summary", "Summary", _section("summary", "Summary", cards))
    if diagnosis:
        add("diagnosis", "Diagnosis", _diagnosis_section(diagnosis))
    if metrics:
        add("metrics", "Metrics", _metrics_section(metrics))
        add("per-class", "Per class", _per_class_section(metrics))
        add("similarity", "Similarity", _similarity_section(metrics))
    curves = [(HISTORY_PNG, "Loss and metrics per epoch: train vs validation, best epoch marked"),
              (LR_FINDER_PNG, "Learning-rate range test")]
    body = "".join(_img(pngs[f], f, cap) for f, cap in curves if f in pngs)
    if history:
        body += _history_table(history)
    add("curves", "Curves", _section("curves", "Training curves", body) if body else "")
    monitor = _read_json(run / "monitor.json")  # the network monitor (training/monitor.py)
    if isinstance(monitor, dict):
        add("monitor", "Network", _monitor_section(monitor))
    known = {HISTORY_PNG: None, LR_FINDER_PNG: None, **_task_attr(metrics, "figures", {})}
    figs = [_img(pngs[f], f, cap) for f, cap in known.items() if cap and f in pngs]
    figs += [_img(data, f, f) for f, data in pngs.items() if f not in known]
    add("figures", "Figures", _section("figures", "Test-set figures", "".join(figs))
        if figs else "")
    if isinstance(fix, dict):
        add("autofix", "Auto-fix", _autofix_section(fix))
    from nnguru.report.tuning import tuning_section  # here: it uses this module's helpers

    add("tuning", "Tuning", tuning_section(run))
    from nnguru.report.transfer import transfer_section  # --from runs (transfer.json)

    add("transfer", "Transfer", transfer_section(run, history))
    if isinstance(data_report, dict):
        splits = {k: data_report[k] for k in ("split", "split_sizes", "splits")
                  if k in data_report}
        rest = {k: v for k, v in data_report.items() if k not in splits}
        body = "".join(f"<h3>{esc(k.replace('_', ' '))}</h3>{_render_value(v)}"
                       for k, v in splits.items()) + _render_value(rest)
        add("data", "Data", _section("data", "Data report", body))
    if summary_text is not None:
        add("model", "Model", _section("model", "Model summary",
                                       f"<pre>{esc(summary_text)}</pre>"))
    if config_text is not None:
        add("config", "Configuration", _section("config", "Configuration (config.yaml)",
                                                f"<pre>{esc(config_text)}</pre>"))
    built = environment()
    env_body = (_render_value(env) if isinstance(env, dict)
                else '<p class="muted">Not recorded with the run; this is the environment that '
                     "built the report.</p>" + _render_value(built))
    add("environment", "Environment", _section("environment", "Environment", env_body))

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = " · ".join(x for x in (str(task) if task else "", f"run directory {name}") if x)
    nav_html = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>nnguru report: {esc(name)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>nnguru report: {esc(name)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav_html}</nav><main>{''.join(sections)}</main>"
        f"<footer>Built {esc(stamp)} by nnguru {esc(built.get('nnguru', '?'))} from the files "
        f"in the run directory; <code>nnguru report {esc(name)}</code> rebuilds it.</footer>"
        "</body></html>\n"
    )


def write_report(run_dir: str | Path) -> Path:
    """Build ``report.html`` in ``run_dir`` from the files there, and return its path.

    Reads metrics.json, history.csv, diagnosis.json, data_report.json, config.yaml,
    model_summary.txt, environment.json (or config's ``environment``), auto_fix.json and every
    *.png; any of them may be missing. A missing history.png or confusion_matrix.png is drawn
    from history.csv / metrics.json in memory (nothing else is written).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise NNGuruError(
            f"run directory {str(run)!r} does not exist; pass the folder that `nnguru train` "
            "wrote (it holds metrics.json and history.csv)."
        )
    path = run / REPORT_NAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(build_report_html(run), encoding="utf-8")
    tmp.replace(path)
    return path
