"""The recorder: the one place events enter a session.

Backends and telemetry threads call ``record``; the recorder appends to the session, writes the
journal (never coalesced) and hands the event to listeners (the UI or the headless printer,
which may coalesce). ``t`` is seconds on the monotonic clock since the recorder started.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from orintui import __version__
from orintui.errorlog import log_error
from orintui.session import events as ev
from orintui.session.events import Event
from orintui.session.journal import JournalWriter
from orintui.session.model import RunInfo, Session
from orintui.session.store import save_session

Listener = Callable[[Event], None]


def new_session(host: dict, scenario: dict, runs: list[RunInfo], label: str = "") -> Session:
    now = datetime.now(timezone.utc)
    return Session(
        id=now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        started_at=now.isoformat(timespec="milliseconds"),
        host=host,
        scenario=scenario,
        runs=runs,
        orintui_version=__version__,
        label=label,
    )


class Recorder:
    def __init__(self, session: Session, final_path: str | os.PathLike):
        self.session = session
        self.final_path = Path(final_path)
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._error_listeners: list[Callable[[str], None]] = []
        self._journal = JournalWriter(self.final_path, session, on_error=self._write_failed)
        self.saved = False
        self.save_error: str | None = None  # why the final document could not be written
        self.listener_failures: dict[str, int] = {}  # listener name -> how many events it raised on
        self.log_path: Path | None = None  # where they were logged (orintui.log), once one was

    def now(self) -> float:
        return time.monotonic() - self._t0

    def clock_of(self, monotonic_time: float) -> float:
        return monotonic_time - self._t0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_write_error(self, callback: Callable[[str], None]) -> None:
        """``callback(why)`` once when the journal first fails to write (a full disk). It runs on the
        writing thread with the recorder locked: it may stop runs, never record."""
        self._error_listeners.append(callback)

    def _write_failed(self, why: str) -> None:
        for callback in self._error_listeners:
            try:
                callback(why)
            except Exception as exc:
                self.log_path = log_error(f"session {self.session.id}: the write-error callback {_name(callback)} raised", exc)

    def _listener_failed(self, listener: Listener, event: Event, error: Exception) -> str | None:
        """Log a listener's first error with its traceback (later ones are counted, and the count is
        logged when the session ends): the note to record about it, or None after the first."""
        name = _name(listener)
        self.listener_failures[name] = self.listener_failures.get(name, 0) + 1
        if self.listener_failures[name] > 1:
            return None
        where = log_error(f"session {self.session.id}: listener {name} raised on a {event.get('kind')} event "
                          "(the event is recorded; this listener's later errors are counted)", error)
        self.log_path = where or self.log_path
        return (f"a view of the run failed ({type(error).__name__}: {error}); every event is still recorded; "
                + (f"details in {where}" if where else "no log file could be written"))

    def save_now(self) -> tuple[Path | None, str | None]:
        """The session so far written to the final path ('w' in the app): (path, None), or
        (None, "PATH: reason") when it cannot be written. The journal goes on either way."""
        with self._lock:
            try:
                save_session(self.session, self.final_path)
            except (OSError, ValueError) as exc:
                return None, f"{self.final_path}: {getattr(exc, 'strerror', None) or exc}"
        return self.final_path, None

    def record(self, event: Event) -> None:
        with self._lock:
            self.session.events.append(event)
            self.session.apply(event)
            self._journal.append(event)
        notes = []
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken view must never lose data: logged, and said once
                if (note := self._listener_failed(listener, event, exc)) is not None:
                    notes.append(note)
        for note in notes:  # a listener that fails again on its own note is only counted
            self.record(ev.note(self.now(), note, "warning"))

    def discard(self) -> None:
        """Nothing was run (the session could not start): leave no journal and no file behind."""
        with self._lock:
            self._journal.close(remove=True)
            self.saved = True

    def close(self) -> Path:
        """Write the final document by atomic rename, then drop the journal."""
        with self._lock:
            if self.saved:
                return self.final_path
            self.session.ended_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            for name, count in self.listener_failures.items():
                if count > 1:
                    log_error(f"session {self.session.id}: listener {name} raised on {count} events in all")
            self._journal.close()
            try:
                save_session(self.session, self.final_path)
            except OSError as exc:
                # keep the journal: it is the record now, and the next start recovers it
                self.save_error = f"{self.final_path}: {exc.strerror or exc}"
                return self.final_path
            self._journal.close(remove=True)
            self.saved = True
        return self.final_path

    def listener_report(self) -> str | None:
        """One line for the end of a run when a listener failed: how often, and where the log is."""
        if not self.listener_failures:
            return None
        count = sum(self.listener_failures.values())
        where = f"details in {self.log_path}" if self.log_path else "no log file could be written"
        return f"orintui: a view of the run raised {count} error(s) (every event is still recorded); {where}"

    @property
    def journal_path(self) -> Path:
        return self._journal.path

    @property
    def journal_error(self) -> str | None:
        return self._journal.error


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
