"""The Findings pane (key f): the report's Findings for the session on screen, as plain text.

Worked out again only when a run ends (or the replay's session changes), never per redraw: it reads
every event of the session."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from orintui.session import status as st
from orintui.session.model import Session
from orintui.tui.data import data_line


class FindingsPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(id="findings-text")

    def on_mount(self) -> None:
        self._key: object = None

    def show(self, session: Callable[[], Session], key: object, note: str = "") -> None:
        """``key`` changes when a run ends; only then is ``session()`` (a copy of every event) taken."""
        from orintui.analysis.findings import session_findings

        if (key, note) == self._key:
            return
        self._key = (key, note)
        recorded = session()
        done = [r for r in recorded.runs if r.status not in (st.QUEUED, st.RUNNING)]
        text = Text()
        text.append_text(data_line(f"Findings{note} ({len(done)} of {len(recorded.runs)} runs ended)", style="bold"))
        sentences = session_findings(recorded).sentences() if done else []
        for line in sentences or ["nothing to say yet: no run has ended"]:
            text.append("\n")
            text.append_text(data_line(f"- {line}"))
        self.query_one("#findings-text", Static).update(text)
