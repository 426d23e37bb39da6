"""ms/token of every run on one chart (plotext), redrawn at most twice a second."""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from orintui.live_state import LiveState
from orintui.sanitize import clean_line


class TokenChart(PlotextPlot):
    _drawn_version = -1
    _drawn_at = 0.0

    def show(self, state: LiveState, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (state.version == self._drawn_version or now - self._drawn_at < 0.5):
            return
        self._drawn_version, self._drawn_at = state.version, now
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("ms/token (steady state)")
        plt.xlabel("token")
        any_data = False
        for lane in state.lanes:
            series = list(lane.ms)
            if len(series) >= 2:
                plt.plot(series, label=clean_line(lane.label)[:18], marker="braille")
                any_data = True
        if not any_data:
            plt.title("ms/token: no tokens yet")
        self.refresh()
