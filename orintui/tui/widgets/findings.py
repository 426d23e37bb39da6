"""The Findings pane (key f): the report's Findings for the session on screen, as plain text.

Worked out again only when a run ends (or the replay's session changes), never per redraw: it reads
every event of the session, and the verdicts resample every token, so it is worked out in a worker
(a second of CPU at 200,000 tokens) while the pane says so; the UI loop goes on meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from orintui.session import status as st
from orintui.session.model import Session
from orintui.tui.data import data_line

WORKING = "working out the findings..."


def findings_text(recorded: Session, note: str) -> Text:
    from orintui.analysis.findings import session_findings

    done = [r for r in recorded.runs if r.status not in (st.QUEUED, st.RUNNING)]
    text = Text()
    text.append_text(data_line(f"Findings{note} ({len(done)} of {len(recorded.runs)} runs ended)", style="bold"))
    sentences = session_findings(recorded).sentences() if done else []
    for line in sentences or ["nothing to say yet: no run has ended"]:
        text.append("\n")
        text.append_text(data_line(f"- {line}"))
    return text


class FindingsPane(VerticalScroll):
    @dataclass
    class Worked(Message):
        """The findings, worked out in a worker."""

        text: Text

    def compose(self) -> ComposeResult:
        yield Static(id="findings-text")

    def on_mount(self) -> None:
        self._key: object = None
        self.busy = False  # a worker is working the findings out
        self._next: tuple[Callable[[], Session], object, str] | None = None  # asked for while it was
        self._shown = Text()

    def show(self, session: Callable[[], Session], key: object, note: str = "") -> None:
        """``key`` changes when a run ends; only then is ``session()`` (a copy of every event) taken,
        in the worker. A change while one is in flight is worked out once that one is in."""
        if (key, note) == self._key:
            return
        self._key = (key, note)
        if self.busy:
            self._next = (session, key, note)
            return
        self.busy = True
        working = Text(WORKING, style="dim italic")
        if self._shown:
            working.append("\n")
            working.append_text(self._shown)
        self.query_one("#findings-text", Static).update(working)
        self.work_out(session, note)

    @work(thread=True, group="findings")
    def work_out(self, session: Callable[[], Session], note: str) -> None:
        self.post_message(self.Worked(findings_text(session(), note)))

    def on_findings_pane_worked(self, message: Worked) -> None:
        self.busy = False
        self._shown = message.text
        self.query_one("#findings-text", Static).update(message.text)
        if self._next is not None:
            (session, key, note), self._next, self._key = self._next, None, None
            self.show(session, key, note)
