"""Edit a scenario's variables before it runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from orintui.config.scenarios import ScenarioError, load_scenario
from orintui.core.sanitize import clean_line
from orintui.tui.data import data_line
from orintui.tui.messages import StartRun


class VariablesScreen(ModalScreen):
    BINDINGS = [Binding("ctrl+r", "run", "Run", priority=True), Binding("enter", "run", "Run", show=False),
                Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.scenario = load_scenario(path)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(data_line(f"{self.scenario.name}: variables (enter or ctrl+r runs, escape cancels)"))
            with VerticalScroll():
                yield Label("session label (optional: shown in the menu and reports)", markup=False)
                yield Input(value="", placeholder="e.g. MAXN, clocks locked", id="session-label")
                for key, value in self.scenario.variables.items():
                    yield Label(data_line(key))
                    yield Input(value=value, id=f"var-{key}")
        yield Footer(compact=True, show_command_palette=False)  # this dialog's own keys, not the menu's

    def on_mount(self) -> None:
        self.query_one("#session-label", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    def action_run(self) -> None:
        overrides = {inp.id[4:]: inp.value for inp in self.query(Input) if inp.id and inp.id.startswith("var-")}
        label = " ".join(self.query_one("#session-label", Input).value.split())
        try:
            scenario = load_scenario(self.path, overrides)
            self.post_message(StartRun(scenario, label, replace=self))  # the app prepares it in a worker
        except ScenarioError as exc:
            self.notify(clean_line(exc), severity="error", timeout=12, markup=False)

    def action_cancel(self) -> None:
        self.dismiss()
