"""The menu: scenarios (with what each needs), saved sessions, and the device panel."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, Tabs

from orintui.config.scenarios import ScenarioEntry, list_scenarios
from orintui.core.sanitize import clean_line
from orintui.reading.catalog import SessionEntry, delete_session, label_session, list_sessions
from orintui.session import SessionError
from orintui.tui.data import data_line, data_text
from orintui.tui.keys import grouped
from orintui.tui.messages import DeviceProbed, Notice, OpenCompare, OpenReplay, SessionsLoaded

TABS = grouped("Tabs")


def device_text(info: dict) -> Group:
    """Facts and sources as two-column grids, so long reasons wrap inside their column."""
    host = info.get("host", {})
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(ratio=1)
    rows = [("host", f"{host.get('hostname')} ({host.get('machine')})"),
            ("board", host.get("model") or "not a Jetson"),
            ("JetPack", f"{host.get('jetpack') or 'n/a'} (L4T {host.get('l4t') or 'n/a'})"),
            ("power mode", host.get("nvpmodel") or "n/a"),
            ("clocks locked", host.get("jetson_clocks") or "n/a"),
            ("peak bandwidth", f"{host['peak_bandwidth_gbs']} GB/s" if host.get("peak_bandwidth_gbs") else "n/a"),
            ("telemetry", info.get("telemetry_source") or "none")]
    for key, value in rows:
        facts.add_row(key, data_line(value))
    sources = Table.grid(padding=(0, 2))
    sources.add_column(no_wrap=True)
    sources.add_column(ratio=1)
    for name, s in info.get("sources", {}).items():
        sources.add_row(data_line(f"{'ok' if s['works'] else '--'} {name}", style="green" if s["works"] else "dim"),
                        data_line(s.get("reason") or ""))
    parts: list[RenderableType] = [Text("Device", style="bold"), facts, Text(""), Text("Telemetry sources", style="bold"), sources]
    parts += [Text("\n") + data_line(f"! {warning}", style="bold yellow") for warning in info.get("warnings", [])]
    return Group(*parts)


class MenuScreen(Screen):
    BINDINGS = [
        Binding("1", "tab('scenarios')", "Scenarios", **TABS),
        Binding("2", "tab('sessions')", "Sessions", **TABS),
        Binding("3", "tab('device')", "Device", **TABS),
        Binding("enter", "open", "Open", priority=True),
        Binding("c", "compare", "Compare"),
        Binding("e", "label_session", "Label"),
        Binding("delete", "delete_session", "Delete"),
        Binding("d", "demo", "Demo"),
        Binding("f5", "reload", "Reload", show=False),  # lists refresh by themselves; `?` shows it
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, device_info: dict | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.device_info = device_info
        self.scenarios: list[ScenarioEntry] = []
        self.sessions: list[SessionEntry] = []
        self.compare_first: SessionEntry | None = None
        self.loaded = False  # the lists are read in a worker: True once they are shown

    def compose(self) -> ComposeResult:
        yield Static(Text(" orintui: local LLM inference benchmarks", style="bold"), id="title")
        with TabbedContent(initial="scenarios", id="tabs"):
            with TabPane("Scenarios", id="scenarios"), Horizontal():
                yield DataTable(id="scenario-table", cursor_type="row")
                with VerticalScroll(id="scenario-detail-box"):
                    yield Static(id="scenario-detail")
            with TabPane("Sessions", id="sessions"):
                yield DataTable(id="session-table", cursor_type="row")
            with TabPane("Device", id="device"), VerticalScroll():
                probing = Text("Device\n", style="bold") + Text("  probing telemetry sources...", style="dim")
                yield Static(device_text(self.device_info) if self.device_info else probing, id="device-panel")
        yield Footer(compact=True, show_command_palette=False)  # every key fits at 80 columns

    def on_mount(self) -> None:
        table = self.query_one("#scenario-table", DataTable)
        table.add_columns("Scenario", "State")
        sessions = self.query_one("#session-table", DataTable)
        sessions.add_columns("Date", "Scenario", "Runs", "Headline")
        self.action_reload()
        table.focus()  # arrows and enter work at once
        if self.device_info is None:
            self.probe_device()

    def on_screen_resume(self) -> None:
        # back from a replay, a run or a dialog: the list of the active tab has the keys again
        if self.focused is None:
            active = self.query_one(TabbedContent).active
            self.action_tab(active if active in ("scenarios", "sessions", "device") else "scenarios")

    @work(thread=True, exclusive=True, group="probe")
    def probe_device(self) -> None:
        # the probes take seconds on a Jetson (tegrastats' first line): the menu does not wait
        from orintui.telemetry.doctor import diagnose

        self.post_message(DeviceProbed(diagnose()))

    def on_device_probed(self, message: DeviceProbed) -> None:
        self.device_info = message.info
        self.query_one("#device-panel", Static).update(device_text(message.info))  # and on to the app, which keeps it

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("delete_session", "label_session"):  # only where the sessions are
            return self.is_mounted and self.query_one(TabbedContent).active == "sessions"
        return True

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()

    def action_reload(self) -> None:
        self.loaded = False
        self.load_lists()

    @work(thread=True, exclusive=True, group="lists")
    def load_lists(self) -> None:
        # an uncached session file is read and its figures computed: seconds for a big one
        self.post_message(SessionsLoaded(list_scenarios(), list_sessions()))

    def on_sessions_loaded(self, message: SessionsLoaded) -> None:
        message.stop()
        self.scenarios = message.scenarios
        table = self.query_one("#scenario-table", DataTable)
        scenario_row = table.cursor_row
        rows = []
        for e in self.scenarios:
            if e.ready:
                state = Text(f"{e.runs - len(e.skipped)}/{e.runs} runs", style="yellow") if e.skipped else Text("ready", style="green")
            else:
                state = Text("error", style="red") if e.error else Text("missing", style="yellow")
            rows.append(([data_line(e.name), state], e.name))
        _fill(table, ("Scenario", "State"), rows)
        if self.scenarios:
            table.move_cursor(row=min(scenario_row, len(self.scenarios) - 1))
        # the cursor stays on its session after a rename or a reload, wherever it sorts now; on the first row
        # (the newest) it stays there, so a session that has just been saved is under it
        chosen = self._selected_session() if self.query_one("#session-table", DataTable).cursor_row > 0 else None
        self.sessions = message.sessions
        sessions = self.query_one("#session-table", DataTable)
        row = sessions.cursor_row
        _fill(sessions, ("Date", "Scenario", "Runs", "Headline"),
              [([data_line(s.started_at[:16]), data_line(s.title + (" (demo)" if s.bundled else "")), Text(str(s.runs)),
                 data_line(s.error or s.headline)], s.path) for s in self.sessions])
        if self.sessions:
            paths = [s.path for s in self.sessions]
            kept = paths.index(chosen.path) if chosen is not None and chosen.path in paths else min(row, len(paths) - 1)
            sessions.move_cursor(row=kept)
        self.show_scenario()
        self.loaded = True

    def show_scenario(self) -> None:
        table = self.query_one("#scenario-table", DataTable)
        if not self.scenarios:
            return
        e = self.scenarios[min(table.cursor_row, len(self.scenarios) - 1)]
        text = Text()
        text.append(data_line(e.name, style="bold"))
        text.append(f"  ({e.origin}, {e.runs} runs)\n")
        text.append(data_text(e.description))
        text.append("\n\n")
        if e.error:
            text.append(data_text(e.error, style="red"))
        elif e.missing:
            text.append("Missing on this machine:\n", style="yellow")
            for m in e.missing:
                text.append(data_line(f"  - {m}"))
                text.append("\n")
        elif e.skipped:
            text.append("Runs that will be skipped here, and how to get them:\n", style="yellow")
            for m in e.skipped:
                text.append(data_line(f"  - {m}"))
                text.append("\n")
            text.append("The others are ready. Enter: edit variables and run.", style="green")
        else:
            text.append("Everything it needs is here. Enter: edit variables and run.", style="green")
        if e.notes and not e.error:
            text.append("\n\nNotes:\n")
            for n in e.notes:
                text.append(data_line(f"  - {n}", style="dim"))
                text.append("\n")
        self.query_one("#scenario-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "scenario-table":
            self.show_scenario()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"scenarios": "#scenario-table", "sessions": "#session-table", "device": "#device-panel"}[tab]
        widget = self.query_one(target)
        if widget.focusable:
            widget.focus()
        else:  # the device panel is text: nothing in the hidden tabs may keep the focus, or it pulls its tab back
            self.query_one(Tabs).focus()

    def _selected_session(self) -> SessionEntry | None:
        table = self.query_one("#session-table", DataTable)
        return self.sessions[min(table.cursor_row, len(self.sessions) - 1)] if self.sessions else None

    def action_open(self) -> None:
        tab = self.query_one(TabbedContent).active
        if tab == "scenarios" and self.scenarios:
            entry = self.scenarios[self.query_one("#scenario-table", DataTable).cursor_row]
            if entry.error:
                self.notify(clean_line(entry.error), severity="error", timeout=10, markup=False)
                return
            from orintui.tui.screens.variables import VariablesScreen

            self.app.push_screen(VariablesScreen(entry.path))
        elif tab == "sessions" and (chosen := self._selected_session()):
            self.post_message(OpenReplay(chosen.path))

    def action_compare(self) -> None:
        entry = self._selected_session()
        if self.query_one(TabbedContent).active != "sessions" or entry is None:
            self.notify("choose a session in the Sessions tab (2), press c, then another, and c again")
            return
        if self.compare_first is None or self.compare_first.path == entry.path:
            self.compare_first = entry
            self.notify(clean_line(f"compare: A = {entry.scenario} {entry.started_at}; choose B and press c"), markup=False)
            return
        first, self.compare_first = self.compare_first, None
        self.post_message(OpenCompare(first.path, entry.path))

    def _user_session(self, refusal: str) -> SessionEntry | None:
        """The selected session if it is the user's own: the bundled demo is part of orintui."""
        entry = self._selected_session()
        if entry is not None and entry.bundled:
            self.notify(f"the bundled demo session is part of orintui and {refusal}", severity="warning")
            return None
        return entry

    def action_label_session(self) -> None:
        entry = self._user_session("keeps its name")
        if entry is None:
            return
        from orintui.tui.screens.label import LabelScreen

        def answered(label: str | None) -> None:
            if label is not None:
                self.write_label(entry, label)

        self.app.push_screen(LabelScreen(clean_line(f"{entry.scenario} of {entry.started_at}"), clean_line(entry.label)),
                             answered)

    @work(thread=True, exclusive=True, group="label")
    def write_label(self, entry: SessionEntry, label: str) -> None:
        # the session file is read and written again: a big one takes a while
        try:
            label_session(entry, label)
        except (OSError, SessionError) as exc:
            self.post_message(Notice(clean_line(f"could not label {entry.path}: {exc}"), error=True))
            return
        self.post_message(SessionsLoaded(list_scenarios(), list_sessions()))

    def action_delete_session(self) -> None:
        entry = self._user_session("stays")
        if entry is None:
            return
        from orintui.tui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                delete_session(entry)
            except OSError as exc:
                self.notify(clean_line(f"could not delete {entry.path}: {exc.strerror or exc}"), severity="error", timeout=10,
                            markup=False)
                return
            if self.compare_first is not None and self.compare_first.path == entry.path:
                self.compare_first = None
            self.notify(clean_line(f"deleted {entry.path}"), markup=False)
            self.action_reload()

        question = f"Delete the session {clean_line(entry.scenario)} of {clean_line(entry.started_at)}?\n{clean_line(entry.path)}"
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_demo(self) -> None:
        demo = next((e for e in self.sessions if e.bundled), None)
        if demo:
            self.post_message(OpenReplay(demo.path))


def _fill(table: DataTable, labels: tuple[str, ...], rows: list[tuple[list[Text], str]]) -> None:
    """Replace the rows, with each column as wide as its widest cell from the start. A DataTable left
    to size its columns does so when it is next idle, and a header line drawn before that keeps its
    old width (textual 8.2 caches it): on a busy machine the menu showed a narrow header over wide rows."""
    table.clear(columns=True)
    for i, label in enumerate(labels):
        table.add_column(label, width=max([len(label)] + [cells[i].cell_len for cells, _ in rows]))
    for cells, key in rows:
        table.add_row(*cells, key=key)
