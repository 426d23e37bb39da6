"""Two sessions side by side, runs matched by label, with ratios."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from orintui.report import FIGURES, compare, fmt, host_line
from orintui.session.model import Session


class CompareScreen(Screen):
    BINDINGS = [Binding("q,escape", "leave", "Back")]

    def __init__(self, a: Session, b: Session, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        header = Text()
        header.append(" Compare\n", style="bold")
        header.append(f" A: {self.a.scenario.get('name')} {self.a.started_at[:19]} {host_line(self.a)}\n")
        header.append(f" B: {self.b.scenario.get('name')} {self.b.started_at[:19]} {host_line(self.b)}")
        yield Static(header, id="title")
        yield DataTable(id="compare-table", cursor_type="row")
        yield Static(Text(" * moved by more than the runs' own spread", style="dim"))
        yield Footer(compact=True)  # every key fits at 80 columns

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Backend")
        for name, _, _ in FIGURES:
            table.add_column(f"{name} A/B")
        for row in compare(self.a, self.b):
            cells = [Text(row["label"])]
            for _, key, _ in FIGURES:
                f = row["figures"][key]
                ratio = f" {f['ratio']:.2f}x" if f["ratio"] is not None else ""
                style = "" if not f["moved"] else ("bold green" if f["better"] else "bold red")
                cells.append(Text(f"{fmt(f['a'])}/{fmt(f['b'])}{ratio}{' *' if f['moved'] else ''}", style=style))
            table.add_row(*cells)

    def action_leave(self) -> None:
        self.app.exit_or_back(self)
