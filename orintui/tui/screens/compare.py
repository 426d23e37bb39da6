"""Two sessions side by side, runs matched by label: one row per backend and figure, with B/A."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from orintui.report import compare, compare_row_title, fmt, host_line
from orintui.sanitize import safe_component
from orintui.session.model import Session
from orintui.tui.data import data_line


class CompareScreen(Screen):
    BINDINGS = [Binding("r", "report", "Report"), Binding("q,escape", "leave", "Back")]

    def __init__(self, a: Session, b: Session, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        header = Text()
        header.append(" Compare\n", style="bold")
        for name, s in (("A", self.a), ("B", self.b)):
            header.append(f" {name}: ", style="bold")
            header.append(data_line(f"{s.title}  {s.started_at[:16].replace('T', ' ')}  {host_line(s)}"))
            header.append("\n")
        header.rstrip()
        yield Static(header, id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row")
        yield Static(Text(" * moved by more than the runs' own spread; green better, red worse", style="dim"))
        yield Footer(compact=True)  # every key fits at 80 columns

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Backend", "Figure", "A", "B", "B/A")
        for row in compare(self.a, self.b):
            label = compare_row_title(row)
            first = True
            for f in row["figures"].values():
                if f["a"] is None and f["b"] is None:
                    continue
                style = "" if not f["moved"] else ("bold green" if f["better"] else "bold red")
                ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "n/a"
                table.add_row(data_line(label if first else ""), Text(f["name"]), Text(fmt(f["a"])), Text(fmt(f["b"])),
                              Text(ratio + (" *" if f["moved"] else ""), style=style))
                first = False

    def action_report(self) -> None:
        """Write `orintui compare`'s markdown to the reports folder."""
        from orintui.report import render_compare
        from orintui.tui.save_report import save_report

        save_report(self, f"{safe_component(self.a.id)}-vs-{safe_component(self.b.id)}.md", render_compare(self.a, self.b),
                    "comparison")

    def action_leave(self) -> None:
        self.app.exit_or_back(self)
