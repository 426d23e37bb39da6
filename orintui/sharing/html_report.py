"""``orintui report --format html``: one self-contained page to hand to someone.

Header (board, power mode, versions, validity flags), the results table, the Findings when the
report has them, and the ms/token and power charts as inline SVG. No script and no request leaves
the page: a Content-Security-Policy forbids both, and every text from the session is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence

from orintui import __version__
from orintui.analysis.findings import session_findings
from orintui.core.format import run_label
from orintui.figures.metrics import label_stats, session_metrics, steady_tokens
from orintui.reading.report import COLUMNS, device_line, flag_notes, fmt, host_line, rows, session_name, versions_line
from orintui.session.events import TELEMETRY
from orintui.session.model import Session
from orintui.sharing.svg_chart import Band, Chart, Series, esc, render

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: DejaVu Sans, Liberation Sans, Arial, sans-serif; margin: 24px; color: #1a1a1a; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px 0; } h2 { font-size: 16px; margin: 20px 0 6px 0; }
p.meta { margin: 2px 0; color: #333; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #f0f2f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.note { max-width: 520px; color: #444; } ul.flags li { color: #8a4b00; }
footer { margin-top: 24px; color: #777; font-size: 12px; }
"""
NUMERIC_COLUMNS = {"Prefill tok/s", "Decode tok/s", "TTFT (ms)", "ms/token p50", "p95", "J/token", "BW %"}


def token_ms_series(session: Session) -> list[Series]:
    """Per measured run: ms per token against the token's index (the backend's ms, else arrival gaps)."""
    out = []
    for run in session.runs:
        if run.warmup:
            continue
        times, backend_ms = steady_tokens(session.run_events(run.index))  # warm-up left out as the figures do
        points, last = [], None
        for i, (t, ms) in enumerate(zip(times, backend_ms)):
            if ms != ms and last is not None:  # NaN: the backend gave none
                ms = (t - last) * 1000.0
            last = t
            if math.isfinite(ms) and ms > 0:
                points.append((float(i + 1), float(ms)))
        if points:
            out.append(Series(run_label(run, session.runs), points))
    return out


def power_series(session: Session) -> tuple[list[Series], list[Band]]:
    """Total power over the session's time, with each run's span as a band."""
    points = [(e["t"], e["power_total_mw"] / 1000.0) for e in session.events
              if e["kind"] == TELEMETRY and isinstance(e.get("power_total_mw"), (int, float))]
    label = next((e.get("power_total_label") for e in session.events
                  if e["kind"] == TELEMETRY and e.get("power_total_label")), None) or "power"
    bands = [Band(r.started_t, r.ended_t, r.label) for r in session.runs
             if r.started_t is not None and r.ended_t is not None and r.ended_t > r.started_t]
    return ([Series(label, points)] if points else []), bands


def _table(header: Sequence[str], body: Sequence[Sequence[str]], numeric: set[str] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = []
    for row in body:
        cells = []
        for name, cell in zip(header, row):
            cls = ' class="num"' if name in numeric else (' class="note"' if name == "Notes" else "")
            cells.append(f"<td{cls}>{esc(cell)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def session_header(session: Session) -> list[str]:
    h = session.host
    out = [f"<h1>{esc(session.title)}</h1>",
           f'<p class="meta">Session {esc(session.id)}, started {esc(session.started_at[:19].replace("T", " "))}</p>',
           f'<p class="meta">Host: {esc(host_line(session))}</p>',
           f'<p class="meta">Board: {esc(h.get("model") or h.get("gpu_name") or "n/a")}; power mode '
           f'{esc(h.get("nvpmodel") or "n/a")}; JetPack {esc(h.get("jetpack") or "n/a")}; L4T {esc(h.get("l4t") or "n/a")}</p>']
    if device := device_line(session):
        out.append(f'<p class="meta">{esc(device)}</p>')
    if versions := versions_line(session):
        out.append(f'<p class="meta">Versions: {esc(versions)}</p>')
    return out


def findings_section(findings: Sequence[str], name: str = "") -> list[str]:
    """The analysis' Findings (analysis/findings.py), one sentence each, as the markdown report has them."""
    if not findings:
        return []
    return [f"<h2>Findings{esc(f' ({name})') if name else ''}</h2>",
            "<ul>" + "".join(f"<li>{esc(f)}</li>" for f in findings) + "</ul>"]


def render_html(sessions: list[Session]) -> str:
    measured = [(session, session_metrics(session)) for session in sessions]
    title = " vs ".join(s.title for s in sessions)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             f"<title>orintui: {esc(title)}</title><style>{STYLE}</style></head><body>"]
    for session in sessions:
        parts += session_header(session)
    flagged = flag_notes(measured)
    parts.append("<h2>Validity flags</h2>")
    parts.append('<ul class="flags">' + "".join(f"<li>{esc(line.lstrip('- '))}</li>" for line in flagged) + "</ul>"
                 if flagged else "<p>No run was flagged.</p>")
    parts.append("<h2>Results</h2>")
    parts.append(_table(COLUMNS, [r for _, r in rows(measured)], NUMERIC_COLUMNS))
    reps = [(label, st) for _, metrics in measured for label, st in label_stats(metrics).items() if st.repetitions > 1]
    if reps:
        parts.append("<h2>Repetitions</h2>")
        parts.append(_table(["Backend", "Repetitions", "Decode tok/s (mean ± sd)", "Prefill tok/s (mean ± sd)"],
                            [[label, str(st.repetitions), f"{fmt(st.decode_mean)} ± {fmt(st.decode_stddev)}",
                              f"{fmt(st.prefill_mean)} ± {fmt(st.prefill_stddev)}"] for label, st in reps]))
    for session, metrics in measured:
        parts += findings_section(session_findings(session, metrics).sentences(),
                                  session_name(session) if len(sessions) > 1 else "")
    for session in sessions:
        prefix = f"{session.title}: " if len(sessions) > 1 else ""
        parts.append("<h2>Charts</h2>" if session is sessions[0] else "")
        parts.append(render(Chart(f"{prefix}ms per token (log scale)", "token", "ms/token", token_ms_series(session),
                                  log_y=True)))
        series, bands = power_series(session)
        parts.append(render(Chart(f"{prefix}power", "seconds since the session started", "W", series, bands=bands)))
    parts.append(f"<footer>Written by orintui {esc(__version__)}. Figures marked n/a were not measured.</footer>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)
