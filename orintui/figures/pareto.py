"""Speed against energy: decode tok/s over J/token, one point per label (a run, or a [matrix] /
[power] cell with its repetitions averaged), the Pareto front marked: the points no other point
beats on both (faster and cheaper). The best mode for energy is often not the fastest one.

Written as SVG (text, deterministic: a snapshot test compares it) or PNG (through Pillow, when it
is installed). Labels come from session files, so they are escaped for XML and stripped of
control characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics, figure_spread, session_metrics
from orintui.session.model import Session

W, H = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 200, 40, 50  # plot margins; labels of points go on the right
MAX_LABEL = 40
NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # no XML document may hold these (a session's JSON may)


class ParetoError(Exception):
    """Nothing to chart (no run has both figures), or a format orintui cannot write here."""


@dataclass
class Point:
    label: str
    tok_s: float
    j_per_token: float
    runs: int
    front: bool = False


def points_of(sessions: list[Session]) -> list[Point]:
    """Per label (prefixed with the session's title when several sessions are charted), the mean
    of its measured repetitions that have both figures."""
    groups: dict[str, list[RunMetrics]] = {}
    for session in sessions:
        for m in session_metrics(session):
            if m.ranks and m.decode and m.energy_j_per_token:
                groups.setdefault(f"{session.title}: {m.label}" if len(sessions) > 1 else m.label, []).append(m)
    points = [Point(label, figure_spread(runs, "decode").mean or 0.0,
                    figure_spread(runs, "energy_j_per_token").mean or 0.0, len(runs)) for label, runs in groups.items()]
    mark_front(points)
    return points


def mark_front(points: list[Point]) -> None:
    """A point is on the front when no other is at least as fast and as cheap, and better in one."""
    for p in points:
        p.front = not any(q is not p and q.tok_s >= p.tok_s and q.j_per_token <= p.j_per_token
                          and (q.tok_s > p.tok_s or q.j_per_token < p.j_per_token) for q in points)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering low..high (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [round(first + i * step, 12) for i in range(count + 2) if first + (i - 1) * step < high]


def _num(x: float) -> str:
    return f"{x:.4g}"


def _text(label: str) -> str:
    return NOT_XML.sub("", clean_line(label))


def _short(label: str) -> str:
    text = _text(label)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def layout(points: list[Point]) -> tuple[list[float], list[float], Callable[[float, float], tuple[float, float]]]:
    """The axes' ticks and a function from (J/token, tok/s) to pixel coordinates."""
    xs = nice_ticks(0.0, max(p.j_per_token for p in points))
    ys = nice_ticks(0.0, max(p.tok_s for p in points))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def at(j: float, s: float) -> tuple[float, float]:
        return (round(LEFT + pw * (j - xs[0]) / (xs[-1] - xs[0]), 1), round(TOP + ph * (1 - (s - ys[0]) / (ys[-1] - ys[0])), 1))

    return xs, ys, at


LABEL_CHAR_W, LABEL_H = 6.5, 13.0  # roughly, at font-size 12


def label_y(placed: list[tuple[float, float, float]], x: float, y: float, width: float) -> float:
    """A baseline for a label at x that does not overlap those placed (moved down a line at a time)."""
    for _ in range(len(placed) + 1):
        if not any(abs(y - py) < LABEL_H and x < px + pw and px < x + width for px, py, pw in placed):
            break
        y += LABEL_H
    placed.append((x, y, width))
    return round(y, 1)


def render_svg(points: list[Point], title: str) -> str:
    if not points:
        raise ParetoError("no run has both a decode rate and J/token (J/token needs a power source: jtop, "
                          "tegrastats or NVML)")
    xs, ys, at = layout(points)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(_short(title))}: tok/s against J/token</text>']
    x0, y0 = at(xs[0], ys[0])
    x1, y1 = at(xs[-1], ys[-1])
    for j in xs:
        x, _ = at(j, ys[0])
        out.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#ddd"/>'
                   f'<text x="{x}" y="{y0 + 16}" text-anchor="middle">{_num(j)}</text>')
    for s in ys:
        _, y = at(xs[0], s)
        out.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{_num(s)}</text>')
    out.append(f'<text x="{(x0 + x1) / 2}" y="{H - 12}" text-anchor="middle">J/token (lower is better)</text>')
    out.append(f'<text x="16" y="{(y0 + y1) / 2}" text-anchor="middle" transform="rotate(-90 16 {(y0 + y1) / 2})">'
               'decode tok/s (higher is better)</text>')
    front = sorted((p for p in points if p.front), key=lambda p: p.j_per_token)
    if len(front) > 1:
        path = " ".join(f"{x},{y}" for x, y in (at(p.j_per_token, p.tok_s) for p in front))
        out.append(f'<polyline points="{path}" fill="none" stroke="#c0392b" stroke-width="1.5"/>')
    placed: list[tuple[float, float, float]] = []  # labels drawn so far: x, baseline y, width
    for p in sorted(points, key=lambda p: (p.j_per_token, -p.tok_s, p.label)):
        x, y = at(p.j_per_token, p.tok_s)
        colour = "#c0392b" if p.front else "#2c3e50"
        tip = f"{p.label}: {p.tok_s:.2f} tok/s, {p.j_per_token:.4g} J/token, {p.runs} run(s)"
        label = _short(p.label)
        ly = label_y(placed, x + 8, y + 4, LABEL_CHAR_W * len(label))
        out.append(f'<circle cx="{x}" cy="{y}" r="{5 if p.front else 4}" fill="{colour}">'
                   f'<title>{escape(_text(tip))}</title></circle>'
                   f'<text x="{x + 8}" y="{ly}" fill="{colour}">{escape(label)}</text>')
    out.append(f'<text x="{W - RIGHT + 10}" y="{TOP}" fill="#c0392b">● Pareto front</text>')
    out.append(f'<text x="{W - RIGHT + 10}" y="{TOP + 16}" fill="#2c3e50">● beaten on both</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_png(points: list[Point], title: str, path: Path) -> None:
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise ParetoError("PNG needs Pillow (pip install pillow); .svg needs nothing") from None
    render_svg(points, title)  # the same refusal when there is nothing to chart
    xs, ys, at = layout(points)
    image = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(image)
    draw.text((LEFT, 12), f"{_short(title)}: tok/s against J/token", fill="black")
    x0, y0 = at(xs[0], ys[0])
    x1, y1 = at(xs[-1], ys[-1])
    draw.rectangle((x0, y1, x1, y0), outline="#999")
    for j in xs:
        draw.text((at(j, ys[0])[0] - 8, y0 + 6), _num(j), fill="black")
    for s in ys:
        draw.text((x0 - 40, at(xs[0], s)[1] - 6), _num(s), fill="black")
    draw.text(((x0 + x1) / 2 - 60, H - 20), "J/token (lower is better)", fill="black")
    front = sorted((p for p in points if p.front), key=lambda p: p.j_per_token)
    if len(front) > 1:
        draw.line([at(p.j_per_token, p.tok_s) for p in front], fill="#c0392b", width=2)
    for p in points:
        x, y = at(p.j_per_token, p.tok_s)
        colour = "#c0392b" if p.front else "#2c3e50"
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)
        draw.text((x + 8, y - 6), _short(p.label), fill=colour)
    image.save(path, "PNG")


def write_chart(sessions: list[Session], out: str) -> Path:
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ParetoError(f"--out {out}: name an .svg or .png file")
    points = points_of(sessions)
    title = sessions[0].title if len(sessions) == 1 else f"{len(sessions)} sessions"
    if suffix == ".svg":
        text = render_svg(points, title)
        path.write_text(text, encoding="utf-8")
    else:
        render_png(points, title, path)
    return path
