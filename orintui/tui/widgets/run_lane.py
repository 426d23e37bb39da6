"""One lane per run: state, ms/token sparkline, tok/s, TTFT, tokens so far, the latest text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from orintui.core.format import rate, short_error
from orintui.core.sanitize import clean_line
from orintui.reading.live_state import Lane
from orintui.session import status as st
from orintui.session.events import Phase
from orintui.tui.glyphs import fit
from orintui.tui.widgets.quiet import set_data, set_text
from orintui.tui.widgets.spark import Spark

STATE_STYLE: dict[str, str] = {Phase.QUEUED: "dim", Phase.LOADING: "yellow", Phase.PREFILL: "yellow", Phase.DECODE: "bold green",
                               Phase.DONE: "green", Phase.FAILED: "bold red", Phase.SKIPPED: "dim"}


def spark_width(width: int) -> int:
    """The sparkline's cells in a lane ``width`` wide: 24 up to 120 columns, then two fifths of each further cell's
    share, so a 200-column terminal shows 55 tokens, not a quarter of its width."""
    return max(24, width * 2 // 5 - 24)


def label_width(width: int) -> int:
    return 18 if width < 100 else 28 if width < 160 else 40


def lane_summary(lane: Lane, label_width: int = 28) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    text.append(fit(clean_line(f"{lane.label}{lane.tag}"), label_width).ljust(label_width))
    if lane.status in st.FINAL:  # an ended run shows its verdict, in the words and colours used everywhere
        text.append(f" {lane.status:8}", style=st.STYLE.get(lane.status, ""))
    else:
        text.append(f" {lane.phase:8}", style=STATE_STYLE.get(lane.phase, ""))
    value, rolling = lane.rate  # the current rate: 'rolling' while the run is live (metrics.rolling_rate)
    text.append(" " + rate(value, rolling, 8).ljust(22))
    text.append(f" TTFT{lane.ttft_ms:8.1f}ms" if lane.ttft_ms is not None else " TTFT      --  ")
    text.append(f" {lane.tokens:5d} tok")
    return text


def lane_detail(lane: Lane, width: int = 60, now: float | None = None) -> Text:
    """The latest text, or why the run failed, or how long it has loaded; always data, never markup."""
    if lane.status not in (st.OK, st.RUNNING, st.QUEUED) and lane.error:
        # 'exit code 1: <its last meaningful line>' from the start; enter on the lane shows all of its last lines
        return Text(clean_line(short_error(lane.error, keep=1))[:width], style=st.STYLE.get(lane.status, "red"),
                    no_wrap=True, overflow="crop")
    if lane.status == st.RUNNING and not lane.tokens and lane.started_t is not None and now is not None:
        return Text(f"{lane.phase} for {max(0.0, now - lane.started_t):.0f} s, no token yet", style="dim")
    latest = clean_line(lane.text)[-width:]
    return Text(latest, style="italic", no_wrap=True, overflow="crop")


class RunLane(Vertical, can_focus=True):
    BINDINGS = [Binding("enter", "open", "Last lines", show=False)]

    class Open(Message):
        """Enter on a lane: show the run's last output lines and its error in full."""

        def __init__(self, index: int):
            super().__init__()
            self.index = index

    def __init__(self, index: int, **kwargs: Any):
        super().__init__(id=f"lane-{index}", classes="lane", **kwargs)
        self.index = index
        self._shown: tuple[Lane, bool, float | None] | None = None
        self._drawn: tuple = ()  # what the lane was last drawn from: show() skips an unchanged lane

    def action_open(self) -> None:
        self.post_message(self.Open(self.index))

    def compose(self) -> ComposeResult:
        # kept, not queried: show() runs five times a second for every lane
        self.summary = Static("", classes="lane-summary")
        self.spark = Spark([], classes="lane-spark")
        self.detail = Static("", classes="lane-text")
        yield self.summary
        with Horizontal(classes="lane-second"):
            yield self.spark
            yield self.detail

    def on_resize(self) -> None:
        if self._shown is not None:  # a paused replay redraws nothing by itself: the new width is drawn here
            self.show(*self._shown)

    def show(self, lane: Lane, current: bool, now: float | None = None) -> None:
        self._shown = (lane, current, now)
        width = self.size.width or 80
        # all a lane shows comes from its run's events (its accumulator counts them) but the waiting time
        waiting = lane.status == st.RUNNING and not lane.tokens and lane.started_t is not None and now is not None
        drawn = (lane, lane.acc.version, current, width, f"{(now or 0.0) - (lane.started_t or 0.0):.0f}" if waiting else None)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        self.set_class(current, "current")
        self.set_class(lane.status in (st.FAILED, st.TIMEOUT), "failed")
        cells = spark_width(width)
        if self.spark.styles.width is None or self.spark.styles.width.value != cells:
            self.spark.styles.width = cells
        set_text(self.summary, lane_summary(lane, label_width(width)))
        set_data(self.spark, list(lane.ms)[-max(60, cells):])
        set_text(self.detail, lane_detail(lane, max(20, width - cells - 4), now))
