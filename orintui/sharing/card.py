"""``orintui card``: one image to post in a forum or an issue: the key figures of a session with
the conditions behind them (board, power mode, clocks, JetPack, backend versions, validity flags).

The SVG is written by hand with a fixed size and monospace text cut by character count, so a
session always gives the same bytes (the card is snapshot-tested); PNG goes through png.py."""

from __future__ import annotations

from orintui import __version__
from orintui.core.format import abbreviate
from orintui.figures.metrics import best_run, session_metrics
from orintui.reading.report import fmt, versions_line
from orintui.session import status as st
from orintui.session.model import Session
from orintui.sharing.svg_chart import esc

WIDTH, HEIGHT = 1200, 630  # the usual link-preview size
MONO = "DejaVu Sans Mono, Liberation Mono, monospace"
MAX_ROWS = 6


def cut(text: str, width: int) -> str:
    """At most ``width`` characters, cut in the middle so both ends stay readable."""
    return abbreviate(text, width)


def conditions(session: Session) -> list[str]:
    h = session.host
    board = h.get("model") or h.get("gpu_name") or h.get("hostname") or "unknown board"
    clocks = {"ON": "locked", "OFF": "NOT locked"}.get(h.get("jetson_clocks") or "", "n/a")
    lines = [f"Board       {board}",
             f"Power mode  {h.get('nvpmodel') or 'n/a'}   jetson_clocks {clocks}",
             f"JetPack     {h.get('jetpack') or 'n/a'}   L4T {h.get('l4t') or 'n/a'}   CUDA {h.get('cuda') or 'n/a'}"]
    lines.append(f"Backends    {versions_line(session) or 'n/a'}")
    return lines


def render_card(session: Session) -> str:
    metrics = [m for m in session_metrics(session) if not m.warmup]
    best = best_run(metrics)
    flags = sorted({f.code for m in metrics if m.ranks for f in m.flags})
    not_ok = [m for m in metrics if m.status != st.OK]
    started = session.started_at[:16].replace("T", " ")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'role="img" aria-label="orintui card: {esc(session.title)}">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#101418"/>',
           f'<rect x="0" y="0" width="{WIDTH}" height="6" fill="#76b900"/>',
           f'<text x="40" y="58" font-family="{MONO}" font-size="30" font-weight="bold" fill="#ffffff">'
           f'{esc(cut(session.title, 60))}</text>',
           f'<text x="40" y="88" font-family="{MONO}" font-size="16" fill="#9aa5b1">'
           f'{esc(cut(f"session {session.id}, {started}", 100))}</text>']
    if best is not None:
        headline = f"{fmt(best.decode)} tok/s"
        out.append(f'<text x="40" y="150" font-family="{MONO}" font-size="48" font-weight="bold" fill="#76b900">'
                   f'{esc(headline)}</text>')
        out.append(f'<text x="40" y="180" font-family="{MONO}" font-size="18" fill="#d8dee4">'
                   f'{esc(cut(f"best decode: {best.label}", 90))}</text>')
    else:
        out.append(f'<text x="40" y="150" font-family="{MONO}" font-size="40" fill="#ff5555">no complete run</text>')
    y = 226
    for line in conditions(session):
        out.append(f'<text x="40" y="{y}" font-family="{MONO}" font-size="18" fill="#d8dee4" xml:space="preserve" '
                   f'style="white-space:pre">{esc(cut(line, 100))}</text>')
        y += 26
    y += 16
    header = f"{'Run':<30} {'decode tok/s':>12} {'TTFT ms':>10} {'ms/tok p50':>10} {'J/token':>9} status"
    out.append(f'<text x="40" y="{y}" font-family="{MONO}" font-size="17" font-weight="bold" fill="#9aa5b1" '
               f'xml:space="preserve" style="white-space:pre">{esc(header)}</text>')
    shown = sorted(metrics, key=lambda m: (not m.ranks, -(m.decode or 0.0)))[:MAX_ROWS]
    for m in shown:
        y += 26
        label = cut(m.label + (f" #{m.repetition + 1}" if m.repetition else ""), 30)
        row = (f"{label:<30} {fmt(m.decode):>12} {fmt(m.ttft_ms, 1):>10} {fmt(m.itl_ms['p50']):>10} "
               f"{fmt(m.energy_j_per_token, 3):>9} {m.status}")
        colour = "#ffffff" if m.status == st.OK else "#f0a030"
        out.append(f'<text x="40" y="{y}" font-family="{MONO}" font-size="17" fill="{colour}" '
                   f'xml:space="preserve" style="white-space:pre">{esc(row)}</text>')
    if len(metrics) > MAX_ROWS:
        y += 24
        out.append(f'<text x="40" y="{y}" font-family="{MONO}" font-size="15" fill="#9aa5b1">'
                   f'{len(metrics) - MAX_ROWS} more run(s) in the session</text>')
    flag_text = "Flags: " + (", ".join(flags) if flags else "none on complete runs")
    if not_ok:
        flag_text += f"; {len(not_ok)} run(s) not ok"
    out.append(f'<text x="40" y="{HEIGHT - 52}" font-family="{MONO}" font-size="17" '
               f'fill="{"#f0c040" if flags or not_ok else "#76b900"}">{esc(cut(flag_text, 100))}</text>')
    out.append(f'<text x="40" y="{HEIGHT - 22}" font-family="{MONO}" font-size="14" fill="#6c7885">'
               f'orintui {esc(__version__)}: figures n/a were not measured; flags say which figures to read with care'
               f'</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
