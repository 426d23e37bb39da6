"""Edit a scenario's variables before it runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from orintui.scenarios import ScenarioError, load_scenario


class VariablesScreen(ModalScreen):
    BINDINGS = [Binding("ctrl+r", "run", "Run", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.scenario = load_scenario(path)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"{self.scenario.name}: variables (ctrl+r runs, escape cancels)", markup=False)
            with VerticalScroll():
                yield Label("session label (optional: shown in the menu and reports)", markup=False)
                yield Input(value="", placeholder="e.g. MAXN, clocks locked", id="session-label")
                for key, value in self.scenario.variables.items():
                    yield Label(key, markup=False)
                    yield Input(value=value, id=f"var-{key}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    def action_run(self) -> None:
        overrides = {inp.id[4:]: inp.value for inp in self.query(Input) if inp.id.startswith("var-")}
        label = " ".join(self.query_one("#session-label", Input).value.split())
        try:
            scenario = load_scenario(self.path, overrides)
            self.app.start_live(scenario, replace=self, label=label)
        except ScenarioError as exc:
            self.notify(str(exc), severity="error", timeout=12)

    def action_cancel(self) -> None:
        self.dismiss()
