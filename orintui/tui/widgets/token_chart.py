"""ms/token of every run on one chart (plotext), redrawn at most twice a second.

Runs a decade apart (a 1.7 ms and a 29 ms backend) share a log axis so both stay readable; each run's
median is a horizontal line; the legend is the title, outside the data. In ASCII mode each run has its
own marker character instead of braille."""

from __future__ import annotations

import statistics
import time

from textual.timer import Timer
from textual_plotext import PlotextPlot

from orintui.core.sanitize import clean_line
from orintui.reading.live_state import LiveState
from orintui.tui.glyphs import MARKERS, ascii_mode

LOG_SPREAD = 4.0  # medians further apart than this ratio: log scale
MIN_INTERVAL_S = 0.5  # plotext redraws the whole figure: at most twice a second


def chart_series(state: LiveState) -> list[tuple[str, list[float], float]]:
    """(label, ms per token, median) of every run with at least two tokens."""
    out = []
    for lane in state.lanes:
        series = [v for v in lane.ms if v > 0]
        if len(series) >= 2:
            out.append((clean_line(lane.label), series, statistics.median(series)))
    return out


class TokenChart(PlotextPlot):
    _drawn_version = -1
    _drawn_at = 0.0
    _catch_up: Timer | None = None

    def _caught_up(self, state: LiveState) -> None:
        self._catch_up = None
        self.show(state)

    def show(self, state: LiveState, force: bool = False) -> None:
        now = time.monotonic()
        if not force and state.version == self._drawn_version:
            return
        if not force and now - self._drawn_at < MIN_INTERVAL_S:
            # too soon: drawn when the interval is over, or the last change before the events stop never shows
            if self._catch_up is None:
                self._catch_up = self.set_timer(MIN_INTERVAL_S - (now - self._drawn_at), lambda: self._caught_up(state))
            return
        if self._catch_up is not None:
            self._catch_up.stop()
            self._catch_up = None
        self._drawn_version, self._drawn_at = state.version, now
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("token")
        runs = chart_series(state)
        if not runs:
            plt.title("ms/token: no tokens yet")
            self.refresh()
            return
        medians = [m for _, _, m in runs]
        log = max(medians) / min(medians) >= LOG_SPREAD
        if log:
            plt.yscale("log")
        plain = ascii_mode()
        legend = []
        for i, (label, series, median) in enumerate(runs):
            marker = MARKERS[i % len(MARKERS)] if plain else "braille"
            plt.plot(series, marker=marker)
            plt.hline(median)
            legend.append(f"{MARKERS[i % len(MARKERS)] + ' ' if plain else ''}{label[:18]} {median:.3g}")
        plt.title(f"ms/token{' (log)' if log else ''}, median: " + " | ".join(legend))
        self.refresh()
