"""Enter on a lane: the run's error in full and its last output lines, as data (never markup)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from orintui.core.sanitize import clean_line
from orintui.session import events as ev
from orintui.session.model import RunInfo, Session

LAST_LINES = 200


def last_lines(session: Session, run: int, keep: int = LAST_LINES) -> list[str]:
    lines = [str(e.get("line", "")) for e in session.events if e.get("kind") == ev.OUTPUT and e.get("run") == run]
    return lines[-keep:]


def run_lines(session: Session, run: int, kept: list[str] | None = None) -> tuple[RunInfo | None, int, list[str]]:
    """What the screen shows of a run: read from the whole session, in a worker; ``kept``: its lines
    as the live screen holds them (a live session's read-back leaves output lines out)."""
    lines = kept[-LAST_LINES:] if kept is not None else last_lines(session, run)
    return next((r for r in session.runs if r.index == run), None), run, lines


class LastLinesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, info: RunInfo | None, run: int, lines: list[str]):
        super().__init__()
        self.info, self.run, self.lines = info, run, lines

    def compose(self) -> ComposeResult:
        info, lines = self.info, self.lines
        title = Text(clean_line(f"{info.label if info else self.run}: {info.status if info else ''}"), style="bold")
        body = Text()
        if info is not None and info.error:
            body.append(clean_line(info.error).replace(" | ", "\n") + "\n\n", style="red")
        body.append(f"last {len(lines)} output lines:\n" if lines else "no output lines\n", style="dim")
        body.append("\n".join(clean_line(line) for line in lines))
        with Vertical(id="dialog"):
            yield Static(title)
            with VerticalScroll():
                yield Static(body, markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def action_close(self) -> None:
        self.dismiss(None)
