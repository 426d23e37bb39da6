"""The recorder: the one place events enter a session.

Backends and telemetry threads call ``record``, which only puts the event on a queue; a backend's
reader thread hands over the events of one read with ``record_read``, one put for them all: the
thread that stamps token times does no encoding, no writing and no printing, shares no lock with the
telemetry thread, and leaves the rounding of times and the run's index to the writer. The recorder's
writer thread takes events off in order, rounds their times to the microsecond, keeps the run table
in step, appends each to the journal (never coalesced, flushed at least every 0.5 s) and hands it to
listeners (the UI or the headless printer, which may coalesce).

The journal is the record: the recorder keeps no list of events, so its memory stays flat however
long the session runs and however much a backend prints. The final document is written from the
journal (``save_from_journal``, streamed); views that need a run's events read them back from it.
The end of a session reads nothing back: the figures and flags come from accumulators that listen
(metrics_live, kept by the engine).
``t`` is seconds on the monotonic clock since the recorder started.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from orintui import __version__
from orintui.core.errorlog import log_error
from orintui.session import events as ev
from orintui.session.events import Event, round6
from orintui.session.journal import FLUSH_EVERY_S, MEASURED, JournalWriter, read_journal
from orintui.session.model import RunInfo, Session
from orintui.session.store import SessionError, load_session, save_from_journal

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


_STOP = object()
BACKLOG = 20_000  # events queued for the writer before a recording thread waits (a few MB)


class Recorder:
    def __init__(self, session: Session, final_path: str | os.PathLike):
        self.session = session  # its header and run table; events live in the journal
        self.final_path = Path(final_path)
        self._t0 = time.monotonic()
        self._lock = threading.Lock()  # the run table and the journal file, never the stamp path
        self._listeners: list[Listener] = []
        self._error_listeners: list[Callable[[str], None]] = []
        self._journal = JournalWriter(self.final_path, session, on_error=self._write_failed)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._read_events = self._read_events_written = 0  # record_read's events: queued, and written
        self._writer = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._writer.start()
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
        writer thread: it may stop runs, never wait for the recorder."""
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

    # -- the stamp path: one queue put ----------------------------------------------------------
    def record(self, event: Event) -> None:
        queue_ = self._queue
        queue_.put(event)
        if queue_.qsize() > BACKLOG and threading.current_thread() is not self._writer:
            # a flood the writer cannot keep up with (a backend printing its log as fast as it can):
            # wait for it, so that memory stays bounded; a token stream never comes near this
            while queue_.qsize() > BACKLOG // 2 and self._writer.is_alive():
                time.sleep(0.001)

    def record_read(self, events: list[Event], run: int) -> None:
        """The events a parser made of one read of run ``run``, in one put: their ``run`` is set, and
        their times rounded, by the writer thread (the caller keeps no reference to them). Called by
        a run's reader thread, one run at a time: the events it handed over are counted here, those
        written by the writer, and a flood (a backend printing its log as fast as it can, 64 KiB a
        read) waits while more than BACKLOG of them are queued, as ``record`` does."""
        self._queue.put((run, events))
        self._read_events += len(events)
        if self._read_events - self._read_events_written > BACKLOG:
            while self._read_events - self._read_events_written > BACKLOG // 2 and self._writer.is_alive():
                time.sleep(0.001)

    # -- the writer thread -----------------------------------------------------------------------
    def _write_loop(self) -> None:
        get, journal = self._queue.get, self._journal
        while True:
            try:
                item = get(timeout=FLUSH_EVERY_S / 2)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain()
                return
            if isinstance(item, threading.Event):  # sync(): everything before it is written
                journal.flush()
                item.set()
            elif item is not None:
                self._write_item(item)
                # hand the GIL over at once: a reader thread woken by its next read stamps it now, not
                # after this thread's switch interval (5 ms) of working through a backlog
                time.sleep(0)
            if journal.dirty and time.monotonic() - journal.last_flush >= FLUSH_EVERY_S:
                journal.flush()

    def _drain(self) -> None:
        """At close: what is still queued, including what this thread queued itself while handing
        out the events before (a listener's error note)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                self._write_item(item)

    def _write_item(self, item: Event | tuple[int, list[Event]]) -> None:
        if isinstance(item, tuple):  # record_read: one read's events, of one run
            run, events = item
            for event in events:
                event["run"] = run
                self._write(event)
            self._read_events_written += len(events)
        else:
            self._write(item)

    def _write(self, event: Event) -> None:
        event["t"] = round6(event["t"])  # the one rounding of a time the backends' parsers leave to this thread
        with self._lock:
            self.session.apply(event)
            self._journal.append(event)
        notes = []
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken view must never lose data: logged, and said once
                if (note := self._listener_failed(listener, event, exc)) is not None:
                    notes.append(note)
        for note in notes:  # queued behind this event; a listener that fails again on it is only counted
            self.record(ev.note(self.now(), note, "warning"))

    def sync(self, timeout: float | None = 10.0) -> bool:
        """Wait until every event recorded so far is in the journal (flushed to the OS)."""
        if not self._writer.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    # -- views of what is recorded ------------------------------------------------------------------
    def snapshot(self) -> Session:
        """The whole session so far (a report of a live session), output lines left out: read back
        from the journal, or once the recorder is closed, from the saved document (or the journal
        kept when it could not be saved)."""
        if threading.current_thread() is not self._writer:
            self.sync()
        with self._lock:
            runs = [replace(r) for r in self.session.runs]
            if self._journal.closed:
                view = self._read_back()
            else:
                self._journal.flush()
                view, _pid = read_journal(self._journal.path, skip=MEASURED)
        view.runs = runs
        return view

    def _read_back(self) -> Session:
        try:
            if self.saved and self.final_path.is_file():
                view = load_session(self.final_path)
                view.events = [e for e in view.events if e["kind"] not in MEASURED]
                return view
            view, _pid = read_journal(self._journal.path, skip=MEASURED)
            return view
        except (OSError, ValueError, SessionError):  # gone or unreadable: the header and run table only
            return replace(self.session, events=[])

    def save_now(self) -> tuple[Path | None, str | None]:
        """The session so far written to the final path ('w' in the app): (path, None), or
        (None, "PATH: reason") when it cannot be written. The journal goes on either way."""
        self.sync()
        with self._lock:
            if self.saved:  # the session ended and its document is written: nothing more to save
                if self.final_path.is_file():
                    return self.final_path, None
                return None, f"{self.final_path}: no longer there"
            self._journal.flush()
            try:
                save_from_journal(self.session, self._journal.path, self.final_path)
            except (OSError, ValueError) as exc:
                return None, f"{self.final_path}: {getattr(exc, 'strerror', None) or exc}"
        return self.final_path, None

    # -- the end ---------------------------------------------------------------------------------
    def _stop_writer(self) -> None:
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join()

    def discard(self) -> None:
        """Nothing was run (the session could not start): leave no journal and no file behind."""
        self._stop_writer()
        with self._lock:
            self._journal.close(remove=True)
            self.saved = True

    def close(self, finish: Callable[[Session], None] | None = None) -> Path:
        """Write every queued event, then the final document from the journal by atomic rename (streamed),
        then drop the journal. Nothing is read back: ``session.events`` stays empty (the saved file has
        them all; ``snapshot`` reads them). ``finish(session)`` runs before the document is written and
        may set figures in the run table (validity flags, from the listeners' accumulators)."""
        self._stop_writer()
        with self._lock:
            if self.saved:
                return self.final_path
            self.session.ended_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            for name, count in self.listener_failures.items():
                if count > 1:
                    log_error(f"session {self.session.id}: listener {name} raised on {count} events in all")
            self._journal.close()
            if finish is not None:
                try:
                    finish(self.session)
                except Exception as exc:  # figures that cannot be computed must not cost the session
                    self.log_path = log_error(f"session {self.session.id}: finishing the session failed", exc)
            try:
                save_from_journal(self.session, self._journal.path, self.final_path)
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
