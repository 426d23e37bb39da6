"""What the live and replay screens share: telemetry strip, lanes, and a bottom area that
switches between the comparison table, the ms/token chart and the raw output.

The chart and the output pane are mounted into their places the first time they are shown: their
modules (plotext, which builds its documentation when imported, and Textual's RichLog with
rich.pretty) are not on the way to the first frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Static

from orintui.core.sanitize import safe_component
from orintui.reading.live_state import LiveState
from orintui.session.model import Session
from orintui.tui.data import data_line
from orintui.tui.keys import grouped
from orintui.tui.messages import Notice
from orintui.tui.widgets.comparison import ComparisonTable
from orintui.tui.widgets.findings import FindingsPane

if TYPE_CHECKING:
    from orintui.tui.widgets.output_pane import OutputPane
    from orintui.tui.widgets.token_chart import TokenChart
from orintui.tui.widgets.quiet import set_text
from orintui.tui.widgets.run_lane import RunLane
from orintui.tui.widgets.telemetry_strip import TelemetryStrip

PANES = grouped("Panes")  # t table, g chart, o output: the help panel says which
# at most 5 redraws a second, whatever the token rate: Textual re-renders every widget whose clip overlaps
# a change, so a redraw costs in proportion to the screen's widgets, not to what changed
REDRAW_S = 0.2
COMPACT_BELOW_ROWS = 30  # 80x24 over SSH: one line per lane, so that every lane shows
TALL_ROWS = 45  # the ms/token chart also shows under the main pane (200x50)
FIRST_PANE = "table"  # the bottom area's pane when a screen opens


class MonitorScreen(Screen):
    BINDINGS = [
        Binding("t", "show('table')", "Table", **PANES),
        Binding("g", "show('chart')", "Chart", **PANES),
        Binding("o", "show('output')", "Output", **PANES),
        Binding("f", "show('findings')", "Findings", show=False),  # verdicts and diagnoses (orintui/analysis)
        Binding("r", "report", "Report"),
        Binding("e", "pareto", "Energy chart", show=False),  # tok/s against J/token (widgets/pareto_plot.py)
    ]

    KEEPS_RECORD = True  # replay: ended runs' figures come from the live state's own record

    def __init__(self, session: Session, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_class(f"pane-{FIRST_PANE}")  # before mounting: a class set in on_mount restyles every widget again
        self.state = LiveState(session, keep_record=self.KEEPS_RECORD)
        self._drawn: object = -1
        self._title_key: object = None
        self._panes: dict[str, Widget] = {}  # "chart", "output", "chart-below": mounted once first needed
        self.jobs: dict[str, str] = {}  # off_loop's jobs in flight: what the title says of each

    def compose(self) -> ComposeResult:
        # the widgets a redraw feeds are kept, not queried five times a second
        self.title_bar, self.strip = Static(id="title"), TelemetryStrip(id="telemetry")
        self.lane_widgets = {lane.index: RunLane(lane.index) for lane in self.state.lanes}
        self.switcher, self.table = ContentSwitcher(initial=FIRST_PANE, id="bottom"), ComparisonTable(id="table")
        yield self.title_bar
        yield self.strip
        with VerticalScroll(id="lanes"):
            yield from self.lane_widgets.values()
        with self.switcher:
            yield self.table
            yield Container(id="chart")  # the TokenChart, once shown (_pane)
            yield Container(id="output")  # the OutputPane, once shown
            yield FindingsPane(id="findings")
        # a tall terminal (TALL_ROWS and more) shows the chart under the table too, so it is not half empty
        yield Container(id="chart-below")
        yield Footer(compact=True, show_command_palette=False)  # every key fits at 80 columns

    def on_mount(self) -> None:
        self.set_interval(REDRAW_S, self.tick)
        self.redraw(force=True)

    def on_resize(self) -> None:
        # the classes themes/orintui.tcss sizes the lanes and the bottom area by
        self.set_class(self.size.height < COMPACT_BELOW_ROWS, "compact")
        tall = self.size.height >= TALL_ROWS
        if tall != self.has_class("tall"):
            self.set_class(tall, "tall")
            self.redraw(force=True)

    def chart_below_shown(self) -> bool:
        return self.has_class("tall") and self.switcher.current != "chart"

    def _pane(self, place: str) -> Widget | None:
        """The widget shown in ``place`` (#chart, #output, #chart-below), made and mounted the first
        time it is asked for; None until it is mounted (the redraw after its mount feeds it)."""
        widget = self._panes.get(place)
        if widget is None:
            if place == "output":
                from orintui.tui.widgets.output_pane import OutputPane

                widget = OutputPane()
            else:
                from orintui.tui.widgets.token_chart import TokenChart

                widget = TokenChart()
            self._panes[place] = widget
            mounting = self.query_one(f"#{place}", Container).mount(widget)

            async def mounted() -> None:
                await mounting
                self.redraw(force=True)

            self.call_later(mounted)
        return widget if widget.is_mounted else None

    def on_run_lane_open(self, message: RunLane.Open) -> None:
        from orintui.tui.screens.last_lines import LastLinesScreen, run_lines

        run = message.index
        kept = self.kept_lines(run)
        self.off_loop("lines", lambda session: run_lines(session, run, kept),
                      lambda lines: self.app.push_screen(LastLinesScreen(*lines)), "reading the run's output...")

    def kept_lines(self, run: int) -> list[str] | None:
        """A run's last output lines as this screen holds them, or None: read from the session."""
        return None

    def tick(self) -> None:
        """Subclasses feed events into self.state here, then redraw."""
        self.redraw()

    def title_text(self) -> Text:
        s = self.state.session
        host = s.host.get("gpu_name") or s.host.get("model") or s.host.get("hostname") or ""
        # whole seconds: the title is the top row, and a change there every tick would have Textual repaint
        # everything between it and the lanes (it repaints the span of all changed regions)
        title = Text(f" {'; '.join(self.jobs.values())} ", style="bold reverse") if self.jobs else Text()  # off_loop's
        title.append_text(data_line(f" {s.title}  |  {host}  |  t={self.state.t:5.0f}s", style="bold"))
        h = s.host
        if h.get("nvpmodel") or h.get("jetson_clocks"):  # a Jetson: where the numbers are made
            title.append(data_line(f"  |  {h.get('nvpmodel') or 'power mode n/a'}, ", style="bold"))
            clocks = {"ON": ("clocks locked", "bold"), "OFF": ("clocks NOT locked", "bold yellow")}
            text, style = clocks.get(h.get("jetson_clocks") or "", ("clocks n/a", "bold yellow"))
            title.append(text, style=style)
        return title

    def draw_key(self) -> object:
        """What the screen shows depends on; a redraw is skipped while it is unchanged."""
        return self.state.version

    def title_key(self) -> object:
        """What the title depends on: it is built again only when this changes."""
        return (f"{self.state.t:5.0f}", self.state.session.title, tuple(self.jobs.values()))

    def retitle(self, force: bool = False) -> None:
        title_key = self.title_key()
        if force or title_key != self._title_key:
            self._title_key = title_key
            set_text(self.title_bar, self.title_text())

    def redraw(self, force: bool = False) -> None:
        key = self.draw_key()
        if not force and self._drawn == key:
            return
        self._drawn = key
        self.retitle(force)
        self.strip.show(self.state)
        for lane in self.state.lanes:
            self.lane_widgets[lane.index].show(lane, lane.index == self.state.current, self.state.t)
        current = self.switcher.current
        if current == "table":
            self.table.show(self.state.metrics())
        elif current == "findings":
            ended = tuple(str(lane.status) for lane in self.state.lanes)
            self.query_one(FindingsPane).show(self.report_session, ended, self.findings_note())
        elif current == "output":
            if output := self._pane("output"):
                cast("OutputPane", output).show(self.state)
        elif current == "chart" and (chart := self._pane("chart")):
            cast("TokenChart", chart).show(self.state, force=force)
        if self.chart_below_shown() and (below := self._pane("chart-below")):
            cast("TokenChart", below).show(self.state, force=force)

    def findings_note(self) -> str:
        """What the Findings pane covers, where it is not simply this session so far."""
        return ""

    def action_show(self, pane: str) -> None:
        self.switcher.current = pane
        for name in ("table", "chart", "output", "findings"):  # the table's pane takes only its rows' height
            self.set_class(name == pane, f"pane-{name}")
        self.redraw(force=True)

    def report_session(self) -> Session:
        """The session the report key writes (the state's own copy holds no events); called in workers."""
        raise NotImplementedError

    # -- work on the whole session, off the UI loop -------------------------------------------------
    @dataclass
    class Worked(Message):
        """A job's result, worked out in a worker, for ``then`` on the UI loop."""

        job: str
        then: Callable[[Any], object]
        result: Any

    def off_loop(self, job: str, work_out: Callable[[Session], Any], then: Callable[[Any], object], working: str) -> None:
        """``work_out(report_session())`` in a worker (a live session is read back from its journal,
        seconds for a long one), then ``then(result)`` back here; one job of a kind at a time."""
        if job in self.jobs:
            self.notify(f"still {working}", timeout=3, markup=False)
            return
        self.jobs[job] = working
        self.retitle()  # the title says what is being worked on until it is done
        self.work_in_thread(job, work_out, then)

    @work(thread=True, group="session-jobs")
    def work_in_thread(self, job: str, work_out: Callable[[Session], Any], then: Callable[[Any], object]) -> None:
        self.post_message(self.Worked(job, then, work_out(self.report_session())))

    def on_monitor_screen_worked(self, message: Worked) -> None:
        self.jobs.pop(message.job, None)
        self.retitle()
        if self.is_active:  # not once the user has left, or opened another dialog
            message.then(message.result)

    def action_pareto(self) -> None:
        from orintui.figures.pareto import points_of
        from orintui.tui.widgets.pareto_plot import ParetoScreen

        self.off_loop("pareto", lambda session: points_of([session]),
                      lambda points: self.app.push_screen(ParetoScreen(points)), "working out the energy chart...")

    def action_report(self) -> None:
        """Write the results table (orintui report's markdown) to the reports folder."""
        app = self.app  # the notice goes to the app: the report is written even if the screen is left

        self.off_loop("report", lambda session: app.post_message(self.write_report(session)), lambda _: None,
                      "writing the report...")

    @staticmethod
    def write_report(session: Session) -> Notice:
        # every run's figures over the whole session: a while for a long one, never on the UI loop
        from orintui.reading.report import render_report
        from orintui.tui.save_report import save_report

        return save_report(f"{safe_component(session.id)}.md", render_report([session]), "report")
