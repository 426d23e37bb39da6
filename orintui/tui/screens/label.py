"""Name a saved session: one line of text, enter saves, escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from orintui.tui.data import data_line


class LabelScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, label: str):
        super().__init__()
        self.title_text, self.label = title, label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(data_line(f"Label for {self.title_text}"))
            yield Input(value=self.label, placeholder="e.g. MAXN, clocks locked", id="label")
            yield Static("enter: save   escape: cancel   (empty: no label)", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
