"""The journal: every event of a live session, appended to a JSON-lines file beside the final path.

Line 1 is a header (the session without its events, and the writer's pid, for people); every later
line is one event. Lines are written as events arrive and flushed to the OS at least every 0.5 s, so a
killed orintui or a dropped SSH connection loses at most that much. The writer holds an exclusive flock
on the journal for as long as it writes: a held lock is a live session (a second orintui with the same
--out is refused), a free one a journal whose writer is gone, recovered into a session (the last line
may be cut mid-write and is ignored). Every journal is listed in a small registry in the data folder,
so one outside the sessions folder is found after a kill.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from orintui.session import status as st
from orintui.session.codec import decode, encode, is_raw_list
from orintui.session.events import OUTPUT, Event
from orintui.session.model import FORMAT, VERSION, RunInfo, Session
from orintui.session.schema import check_event, check_header

JOURNAL_SUFFIX = ".journal"
FLUSH_EVERY_S = 0.5


def journal_path(final_path: str | os.PathLike) -> Path:
    return Path(str(final_path) + JOURNAL_SUFFIX)


class JournalBusy(Exception):
    """Another orintui holds the lock on this journal: it is recording to the same file now."""


def try_lock(fd: int) -> bool:
    """An exclusive flock on the open journal, without waiting. The kernel drops it when the writer
    dies however it dies (SIGKILL included), so a free lock means a stale journal."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def journal_locked(path: str | os.PathLike) -> bool:
    """Whether a live writer (this process or another) holds the journal's lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not try_lock(fd)
    finally:
        os.close(fd)  # closing drops the lock this probe may have taken


# -- the registry of live journals: where every journal is, so one outside the sessions folder
# (``--out elsewhere``) is found and recovered after a kill ---------------------------------------
def registry_dir() -> Path:
    from orintui.core.paths import live_journals_dir

    return live_journals_dir()


def _entry(path: Path) -> Path:
    return registry_dir() / (hashlib.sha1(str(path).encode()).hexdigest()[:20] + ".path")


def register(path: Path) -> None:
    """Best effort: a registry that cannot be written must not stop a run."""
    try:
        entry = _entry(path.resolve())
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(path.resolve()) + "\n", encoding="utf-8")
        os.replace(tmp, entry)
    except OSError:
        pass


def unregister(path: Path) -> None:
    try:
        _entry(path.resolve()).unlink(missing_ok=True)
    except OSError:
        pass


def registered_journals() -> list[Path]:
    """The journals the registry names (entries whose journal is gone are dropped)."""
    out: list[Path] = []
    directory = registry_dir()
    if not directory.is_dir():
        return out
    for entry in sorted(directory.glob("*.path")):
        try:
            path = Path(entry.read_text(encoding="utf-8").strip())
        except OSError:
            continue
        if path.is_file():
            out.append(path)
        else:
            entry.unlink(missing_ok=True)
    return out


class JournalWriter:
    """Appends events. One thread writes (the recorder's writer); the lock only keeps ``close`` and a
    reader's ``flush`` from meeting a write half-way. ``offset`` is how many bytes are written."""

    def __init__(self, final_path: str | os.PathLike, session: Session,
                 on_error: Callable[[str], None] | None = None):
        self.path = journal_path(final_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.on_error = on_error  # called once, from the writing thread, when a write first fails
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not try_lock(fd):  # never truncate what another orintui is writing
            os.close(fd)
            raise JournalBusy(f"{self.path}: another orintui is recording to this file now")
        os.ftruncate(fd, 0)
        self._file = open(fd, "wb")  # the lock lives as long as this descriptor
        register(self.path)
        header = session.to_dict()
        del header["events"]
        header["journal_pid"] = os.getpid()
        line = encode(header) + b"\n"
        self._file.write(line)
        self._file.flush()
        self.offset = len(line)
        self.dirty = False
        self.last_flush = time.monotonic()

    error: str | None = None  # the first failed write ("No space left on device"): later writes are dropped

    def append(self, event: Event) -> None:
        line = encode(event) + b"\n"
        with self._lock:
            if self._file.closed or self.error:
                return
            self._guard(self._file.write, line)
            self.offset += len(line)
            self.dirty = True

    @property
    def closed(self) -> bool:
        return self._file.closed

    def flush(self) -> None:
        """What is buffered to the OS (a kill loses nothing written before)."""
        with self._lock:
            if self.dirty and not self._file.closed and not self.error:
                self._guard(self._file.flush)
            self.dirty = False
            self.last_flush = time.monotonic()

    def _guard(self, op: Callable[..., Any], *args: Any) -> None:
        """A failed write (a full disk) must not stop the runs: the journal keeps what it has, and
        the error is reported when the session ends."""
        try:
            op(*args)
        except (OSError, ValueError) as exc:
            if self.error:
                return
            self.error = f"{self.path}: {getattr(exc, 'strerror', None) or exc}"
            if self.on_error is not None:
                try:
                    self.on_error(self.error)
                except Exception:
                    pass

    def close(self, remove: bool = False) -> None:
        with self._lock:
            if not self._file.closed:
                if not self.error:
                    self._guard(self._file.flush)
                    self._guard(lambda: os.fsync(self._file.fileno()))
                try:
                    self._file.close()
                except OSError:
                    pass
        if remove:
            self.path.unlink(missing_ok=True)
            unregister(self.path)


MAX_JOURNAL_LINE = 16 << 20  # a longer line is not one orintui wrote: it is skipped, never held whole


def _lines(f: IO[bytes]) -> Iterator[bytes]:
    """The file's lines, each cut at MAX_JOURNAL_LINE bytes (the rest of a longer one is skipped)."""
    while True:
        line = f.readline(MAX_JOURNAL_LINE)
        if not line:
            return
        if len(line) == MAX_JOURNAL_LINE and not line.endswith(b"\n"):
            while (rest := f.readline(MAX_JOURNAL_LINE)) and not rest.endswith(b"\n"):
                pass
            if not rest:
                return  # cut mid-write at the end
            continue
        yield line


SAVED_FIELDS = ("id", "started_at", "host", "scenario", "runs", "events")  # what a saved document must name


def session_from_header(header: object, fallback_id: str = "", saved: bool = False) -> Session:
    """The one way from a session's header to a session (runs as the header has them, no events yet):
    a journal's first line, or a saved document (``saved``: every field of SAVED_FIELDS present, its
    events a list or the raw JSON of one; a journal's header may leave out what it did not know, and
    ``fallback_id`` names it then). Every header field is checked; raises ValueError with the reason."""
    what = "session" if saved else "journal"
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"not an orintui session (no \"format\": \"{FORMAT}\")" if saved else "not an orintui journal")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{what} version {version!r} is not an integer")
    if version != VERSION:
        raise ValueError(f"{what} version {version} is not supported (this orintui reads version {VERSION})")
    if saved:
        missing = [k for k in SAVED_FIELDS if k not in header]
        if missing:
            raise ValueError(f"session is missing {', '.join(missing)}")
        events = header["events"]
        if not isinstance(header["runs"], list) or not (isinstance(events, list) or is_raw_list(events)):
            raise ValueError("runs and events must be lists")
    problem = check_header({**header, "events": []} if saved else header)
    if problem:
        raise ValueError(problem if saved else f"journal header: {problem}")
    return Session(
        id=header.get("id") or fallback_id,
        started_at=header.get("started_at") or "",
        host=header.get("host") or {},
        scenario=header.get("scenario") or {},
        runs=[RunInfo.from_dict(r) for r in header.get("runs") or []],
        ended_at=header.get("ended_at"),
        recovered=bool(header.get("recovered", False)),
        orintui_version=header.get("orintui_version") or "",
        label=header.get("label") or "",
    )


def journal_pid(header: dict[str, Any]) -> int | None:
    """The pid of the journal's writer, from its header."""
    pid = header.get("journal_pid")
    if pid is not None and (type(pid) is not int or pid < 0):
        raise ValueError("journal header: journal_pid must be a process id")
    return pid


def journal_events(f: IO[bytes], runs: int) -> Iterator[tuple[Event, bytes]]:
    """Every whole, well-typed event line from the file position on, with the line's JSON (as
    written, or re-encoded when only the standard decoder could read it). A line that is not JSON or
    not a valid event is skipped; a last line cut mid-write by a kill ends it."""
    for line in _lines(f):
        if not line.endswith(b"\n"):
            return  # cut mid-write by a kill: everything before it is whole
        raw = line[:-1]
        try:
            event = decode(raw)
        except (ValueError, RecursionError):
            continue
        if check_event(event, runs) is None:
            yield event, raw if raw.isascii() or _utf8(raw) else encode(event)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_header(f: IO[bytes], where: str) -> tuple[Session, int | None]:
    first = next(_lines(f), b"")
    try:
        header = decode(first)
    except json.JSONDecodeError as exc:
        raise ValueError(f"journal header is not JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"journal header is not usable ({exc.__class__.__name__})") from None
    session = session_from_header(header, where)
    return session, journal_pid(header)


def read_journal(path: str | os.PathLike, since: int = 0, skip: frozenset[str] = frozenset(),
                 keep: bool = True) -> tuple[Session, int | None]:
    """The session a journal holds, and its writer's pid. Raises ValueError on a bad header; an
    event line that is not JSON or not a well-typed event is skipped. ``since``: a byte offset to
    read events from (the header is always read); ``skip``: event kinds left out (``OUTPUT`` for a
    measurement view: metrics never read output lines, which a flooding backend makes millions of);
    ``keep=False``: the run table only, no events held."""
    path = Path(path)
    with open(path, "rb") as f:
        session, pid = read_header(f, path.stem)
        if since > f.tell():
            f.seek(since)
        for event, _raw in journal_events(f, len(session.runs)):
            session.apply(event)
            if keep and event["kind"] not in skip:
                session.events.append(event)
    return session, pid


MEASURED = frozenset({OUTPUT})  # what a measurement view of a journal leaves out


def finish_recovered(session: Session) -> Session:
    """Mark runs that were live when the writer died, so nobody mistakes them for finished."""
    session.recovered = True
    for run in session.runs:
        if run.status == st.RUNNING:
            run.status = st.INTERRUPTED
            run.error = "orintui stopped while this run was live (recovered from the journal)"
    return session
