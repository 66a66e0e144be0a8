"""The restore report: JSON for machines, HTML (with an inline SVG timeline) for people.

Both are kept next to the job journal. No secrets are in a ``RestoreResult``, so none can
reach the report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pgflex_gui.jobs.restore import RestoreResult, StageTime

__all__ = ["render_html", "report_json", "timeline_svg", "write_report"]

_LANES = ("azure", "server", "download", "roles", "restore", "verify")
_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "cancelled": "#9e9e9e", "running": "#1565c0"}


def _stage_totals(bars: list[StageTime]) -> dict[str, float]:
    out: dict[str, float] = {}
    for lane in _LANES:
        spans = [(b.start, b.end) for b in bars if b.lane == lane and b.end is not None]
        if spans:
            out[lane] = round(max(e for _, e in spans) - min(s for s, _ in spans), 3)
    return out


def report_json(result: RestoreResult) -> dict[str, Any]:
    """A JSON-able summary of the run (``ok`` and ``outcome`` come from ``result.outcome``)."""
    outcome = result.outcome
    return {
        "ok": outcome.ok,
        "outcome": outcome.to_json(),
        "cancelled": result.cancelled,
        "azure_job_id": result.azure_job_id,
        "target_server": result.target_server,
        "connection": result.connection.to_json() if result.connection is not None else None,
        "started": result.started,
        "finished": result.finished,
        "elapsed_s": round(result.finished - result.started, 3),
        "stage_seconds": _stage_totals(result.timeline),
        "notes": list(result.notes),
        "databases": [asdict(d) | {"ok": d.ok} for d in result.databases],
        "timeline": [asdict(b) for b in result.timeline],
    }


def timeline_svg(bars: list[StageTime], *, width: int = 900, row: int = 22) -> str:
    """A Gantt chart of the stages, one row per bar, grouped by lane."""
    if not bars:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    t0 = min(b.start for b in bars)
    t1 = max((b.end or b.start) for b in bars)
    span = max(t1 - t0, 1e-6)
    label_w = 220
    plot_w = width - label_w - 10
    ordered = sorted(bars, key=lambda b: (_LANES.index(b.lane) if b.lane in _LANES else 9, b.start))
    height = row * len(ordered) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12" role="img" aria-label="Restore timeline">'
    ]
    for i, b in enumerate(ordered):
        y = 5 + i * row
        x = label_w + plot_w * (b.start - t0) / span
        w = max(2.0, plot_w * ((b.end or t1) - b.start) / span)
        color = _COLORS.get(b.status, "#6a1b9a")
        dur = ((b.end or t1) - b.start) if b.end else None
        tip = f"{b.lane}: {b.label} ({b.status}" + (f", {dur:.1f} s)" if dur else ")")
        parts.append(
            f'<text x="4" y="{y + 14}">{html.escape(b.lane)}: {html.escape(b.label[:26])}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}">'
            f"<title>{html.escape(tip)}</title></rect>"
        )
    axis_y = height - 8
    parts.append(f'<text x="{label_w}" y="{axis_y}">0 s</text>')
    parts.append(f'<text x="{width - 60}" y="{axis_y}">{span:.1f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    return f"<td>{html.escape(str(value))}</td>"


def _no_rows(kind: str) -> str:
    text = "No database was restored." if kind != "succeeded" else "None."
    return f'<tr><td colspan="9">{text}</td></tr>'


def render_html(result: RestoreResult, *, title: str = "Restore report") -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    data = report_json(result)
    when = dt.datetime.fromtimestamp(result.started, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    outcome = result.outcome
    color = {"succeeded": "#2e7d32", "cancelled": "#616161"}.get(outcome.kind.value, "#c62828")
    verdict = f'<b style="color:{color}">{html.escape(outcome.headline)}</b>'
    why = ""
    if outcome.reason:
        why += f'<p class="why"><b>Why:</b> {html.escape(outcome.reason)}</p>'
    if outcome.remedy:
        why += f'<p class="why"><b>What to do:</b> {html.escape(outcome.remedy)}</p>'
    rows = []
    for d in result.databases:
        mism = "; ".join(f"{k}: {v[0]}→{v[1]}" for k, v in d.count_mismatches.items())
        checks = "ok" if d.ok else (mism or ", ".join(d.missing_tables) or d.message)
        rows.append(
            "<tr>"
            + _cell(d.name)
            + _cell(d.status)
            + _cell(d.file)
            + _cell(d.kind)
            + _cell(d.exit_code if d.exit_code is not None else "")
            + _cell(f"{d.objects_done}/{d.objects_total}")
            + _cell(sum(d.row_counts.values()))
            + _cell(len(d.benign_errors))
            + _cell(checks)
            + "</tr>"
        )
        for line in d.error_lines[:20]:
            rows.append(f'<tr class="err"><td colspan="9">{html.escape(line)}</td></tr>')
    stages = "".join(
        f"<li>{html.escape(k)}: {v:.1f} s</li>" for k, v in data["stage_seconds"].items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    connect = ""
    if result.connection is not None and outcome.restored:
        connect = (
            "<h2>Connect</h2><p><code>"
            + html.escape(result.connection.libpq(outcome.restored[0]))
            + "</code> (the admin password is in the keyring, not in this report)</p>"
        )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px}tr.err td{color:#c62828;font-size:90%}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="outcome" data-outcome="{outcome.kind.value}">'
        f"{verdict} — started {when}, {data['elapsed_s']:.1f} s; target "
        f"{html.escape(result.target_server)}; Azure job "
        f"{html.escape(result.azure_job_id.rstrip('/').rsplit('/', 1)[-1])}</p>{why}{connect}"
        f"<h2>Timeline</h2>{timeline_svg(result.timeline)}"
        f"<h2>Stages</h2><ul>{stages}</ul>"
        "<h2>Databases</h2><table><tr><th>Database</th><th>Status</th><th>File</th>"
        "<th>Format</th><th>Exit</th><th>Objects</th><th>Rows</th><th>Benign errors</th>"
        f"<th>Checks</th></tr>{''.join(rows) or _no_rows(outcome.kind.value)}</table>"
        f"<h2>Notes</h2><ul>{notes or '<li>None</li>'}</ul>"
        "</body></html>\n"
    )


def write_report(
    result: RestoreResult, directory: Path, *, title: str = "Restore report"
) -> Mapping[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory``; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "report.json", "html": directory / "report.html"}
    paths["json"].write_text(json.dumps(report_json(result), indent=1), encoding="utf-8")
    paths["html"].write_text(render_html(result, title=title), encoding="utf-8")
    return paths
