"""Two or more sessions side by side, runs matched by label: one row per backend and figure, a
value per session and each one's ratio against the baseline (the first), with its direction in an
arrow and a word as well as a colour."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from orintui.core.format import fmt
from orintui.core.sanitize import safe_component
from orintui.session.model import Session
from orintui.sharing.compare import FIGURES, compare_sessions, move_text, row_title
from orintui.tui.data import data_line
from orintui.tui.messages import GoBack


class CompareScreen(Screen):
    BINDINGS = [Binding("r", "report", "Report"), Binding("q,escape", "leave", "Back")]

    def __init__(self, *sessions: Session, **kwargs: Any):
        super().__init__(**kwargs)
        self.sessions = list(sessions)

    def compose(self) -> ComposeResult:
        result = compare_sessions(self.sessions)
        header = Text()
        header.append(" Compare\n", style="bold")
        for info in result["sessions"]:
            header.append(f" {info['name']}: ", style="bold")
            header.append(data_line(f"{info['title']}  {info['id']}  {info['started_at'][:16].replace('T', ' ')}  "
                                    f"{info['board']}, mode {info['power_mode']}"))
            header.append("\n")
        header.rstrip()
        yield Static(header, id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row")
        yield Static(Text(f" ratios against {result['baseline']}; better or worse only beyond the runs' own spread",
                          style="dim"))
        yield Footer(compact=True, show_command_palette=False)  # every key fits at 80 columns

    def on_mount(self) -> None:
        result = compare_sessions(self.sessions)
        names = [info["name"] for info in result["sessions"]]
        base = result["baseline"]
        others = [n for n in names if n != base]
        table = self.query_one(DataTable)
        table.add_columns("Backend", "Figure", *names, *(f"{n}/{base}" for n in others))
        by_label: dict[str, dict[str, dict]] = {}
        for row in result["generation"]:
            by_label.setdefault(row["label"], {})[row["session"]] = row
        for label, rows in by_label.items():
            title = row_title(next(iter(rows.values()))) if len(rows) == 1 else label
            if any(r["flags_differ"] for r in rows.values()):
                title += " !"
            first = True
            for name, key, _ in FIGURES:
                cells = {n: rows[n]["figures"][key] if n in rows else None for n in names}
                if all(c is None or c["value"] is None for c in cells.values()):
                    continue
                ratios = []
                for n in others:
                    f = cells[n]
                    style = "" if f is None or not f["moved"] else ("bold green" if f["better"] else "bold red")
                    ratios.append(Text("n/a" if f is None else move_text(f), style=style))
                table.add_row(data_line(title if first else ""), Text(name),
                              *(Text("n/a" if c is None else fmt(c["value"])) for c in cells.values()), *ratios)
                first = False

    @work(thread=True, exclusive=True, group="report")
    def action_report(self) -> None:
        """Write `orintui compare`'s markdown to the reports folder (in a worker: every session's figures)."""
        from orintui.sharing.compare import render_compare
        from orintui.tui.save_report import save_report

        name = "-vs-".join(safe_component(s.id) for s in self.sessions)
        self.post_message(save_report(f"{name}.md", render_compare(self.sessions), "comparison"))

    def action_leave(self) -> None:
        self.post_message(GoBack(self))
