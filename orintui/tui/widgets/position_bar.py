"""Where a replay stands: position, duration, speed, paused."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from orintui.session.replay import ReplayClock
from orintui.tui.widgets.quiet import set_text


def speed_text(speed: float) -> str:
    return "max" if speed == float("inf") else f"{speed:g}x"


class PositionBar(Static):
    _drawn: tuple = ()

    def show(self, clock: ReplayClock) -> None:
        state = "loading" if clock.loading else "paused" if clock.paused else ("end" if clock.finished else "playing")
        # whole seconds, like the title, and the bar filled from them too, so the bar changes once a second,
        # in the same frame as the title: the bottom row changing on its own would have Textual repaint the
        # whole screen between it and the lanes (the span of all changed regions) once more
        seconds = f"{clock.position:5.0f}"
        label = f" {seconds}/{clock.duration:.0f}s {speed_text(clock.speed):>4} {state:7} "
        width = max(10, (self.size.width or 80) - len(label) - 3)
        frac = min(1.0, float(seconds) / clock.duration) if clock.duration else 1.0
        filled = int(round(frac * width))
        if (label, width, filled) == self._drawn:
            return
        self._drawn = (label, width, filled)
        text = Text(label, no_wrap=True, overflow="crop")
        text.append("#" * filled, style="bold")
        text.append("-" * (width - filled), style="dim")
        set_text(self, text)
