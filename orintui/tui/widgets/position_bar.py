"""Where a replay stands: position, duration, speed, paused."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from orintui.session.replay import ReplayClock
from orintui.tui.widgets.quiet import set_text


def speed_text(speed: float) -> str:
    return "max" if speed == float("inf") else f"{speed:g}x"


class PositionBar(Static):
    def show(self, clock: ReplayClock) -> None:
        state = "loading" if clock.loading else "paused" if clock.paused else ("end" if clock.finished else "playing")
        # whole seconds, like the title: the bottom row changing every tick would have Textual repaint the
        # whole screen between it and the lanes (the span of all changed regions)
        label = f" {clock.position:5.0f}/{clock.duration:.0f}s {speed_text(clock.speed):>4} {state:7} "
        width = max(10, (self.size.width or 80) - len(label) - 3)
        frac = clock.position / clock.duration if clock.duration else 1.0
        filled = int(round(frac * width))
        text = Text(label, no_wrap=True, overflow="crop")
        text.append("#" * filled, style="bold")
        text.append("-" * (width - filled), style="dim")
        set_text(self, text)
