"""The Pareto chart in the app: decode tok/s against J/token as a character plot, one marker per label,
the front in bold; a legend with the figures below. Opened with ``e`` (energy) on the live and replay
screens; ``orintui pareto`` writes the same points as SVG."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from orintui.figures.pareto import Point
from orintui.tui.data import data_line

MARKERS = "123456789abcdefghijklmnopqrstuvwxyz"
PLOT_W, PLOT_H = 56, 12


def plot_text(points: list[Point]) -> Text:
    if not points:
        return Text("No run has both a decode rate and J/token yet (J/token needs a power source: jtop, "
                    "tegrastats or NVML).")
    shown = sorted(points, key=lambda p: (-p.tok_s, p.j_per_token, p.label))[:len(MARKERS)]
    top_s = max(p.tok_s for p in shown) or 1.0
    top_j = max(p.j_per_token for p in shown) or 1.0
    where: dict[tuple[int, int], int] = {}
    for i, p in enumerate(shown):
        col = min(PLOT_W - 1, round(p.j_per_token / top_j * (PLOT_W - 1)))
        row = min(PLOT_H - 1, round((1 - p.tok_s / top_s) * (PLOT_H - 1)))
        where.setdefault((row, col), i)  # two points in one cell: the faster one's marker shows
    text = Text()
    for row in range(PLOT_H):
        axis = f"{top_s:8.1f} |" if row == 0 else (f"{0.0:8.1f} |" if row == PLOT_H - 1 else "         |")
        text.append(axis)
        for col in range(PLOT_W):
            at = where.get((row, col))
            if at is None:
                text.append(" ")
            else:
                text.append(MARKERS[at], style="bold red" if shown[at].front else "dim")
        text.append("\n")
    text.append("         +" + "-" * PLOT_W + "\n")
    text.append(f"          0{'J/token (lower is better)':^{PLOT_W - 12}}{top_j:>10.3g}\n")
    text.append("tok/s (higher is better); bold: the Pareto front (nothing else is both faster and cheaper)\n\n")
    for i, p in enumerate(shown):
        line = Text(f" {MARKERS[i]} ", style="bold red" if p.front else "dim")
        line.append(data_line(f"{p.label}: {p.tok_s:.2f} tok/s, {p.j_per_token:.4g} J/token"
                              f"{f', {p.runs} runs' if p.runs > 1 else ''}{'  (front)' if p.front else ''}"))
        text.append(line)
        text.append("\n")
    if len(points) > len(shown):
        text.append(f"  ... and {len(points) - len(shown)} more (orintui pareto SESSION --out chart.svg shows all)\n")
    return text


class ParetoScreen(ModalScreen[None]):
    BINDINGS = [Binding("e,escape,q", "close", "Close")]

    def __init__(self, points: list[Point]):
        """``points``: pareto.points_of the session, worked out in a worker (every run's figures)."""
        super().__init__()
        self.points = points

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(data_line("Speed against energy per token", style="bold"))
            yield Static(plot_text(self.points), id="pareto-plot")
            yield Static("e / escape: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
