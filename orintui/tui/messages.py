"""What screens ask the app for, and what its workers hand back: screens post these instead of
calling app methods, and slow work (loading, starting, stopping, saving) never runs on the UI loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.screen import Screen

if TYPE_CHECKING:
    from orintui.config.scenarios import Scenario
    from orintui.running.engine import Execution
    from orintui.session.model import Session
    from orintui.session.store import SessionError, SessionFile


# -- asked by screens ------------------------------------------------------------------------------
@dataclass
class OpenReplay(Message):
    """Replay the session file at ``path`` (loaded in a worker)."""

    path: str


class OpenCompare(Message):
    """Compare session files side by side (loaded in a worker)."""

    def __init__(self, *paths: str):
        super().__init__()
        self.paths = paths


@dataclass
class StartRun(Message):
    """Start a scenario live; ``replace`` (the variables dialog) closes once it has started."""

    scenario: Scenario
    label: str = ""
    replace: Screen | None = None


@dataclass
class GoBack(Message):
    """Back to the menu, or quit when ``screen`` is what orintui was started for; a live run is
    stopped first (``stop_reason``) and its session saved, off the UI loop."""

    screen: Screen
    stop_reason: str | None = None


# -- handed back by workers ------------------------------------------------------------------------
@dataclass
class SessionsLoaded(Message):
    """The menu's lists, read in a worker; a newer list replaces one not shown yet."""

    scenarios: list[Any] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionsLoaded)


@dataclass
class ReplayOpened(Message):
    """A session file's header read and checked, in a worker (the replay screen loads its events)."""

    source: SessionFile


@dataclass
class ReplayRefused(Message):
    """The replay ``screen``'s session file turned out bad while its events were read."""

    screen: Screen
    error: SessionError


@dataclass
class CompareLoaded(Message):
    """Sessions read for the compare screen, in a worker."""

    sessions: list[Session]


@dataclass
class DeviceProbed(Message):
    """The device's facts and telemetry sources, probed in a worker (the app keeps them for later menus)."""

    info: dict


@dataclass
class RunPrepared(Message):
    """A scenario's Execution is built (checked, models written, telemetry opened), or ``error`` says why not."""

    execution: Execution | None
    error: str | None = None
    replace: Screen | None = None


@dataclass
class Notice(Message):
    """One line for the user from a worker (a save, a failed load)."""

    text: str
    error: bool = False
