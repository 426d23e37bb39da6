"""Load and save session documents. Every refusal is a SessionError with one clear line."""

from __future__ import annotations

import gc
import gzip
import io
import json
import os
import re
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, cast

import msgspec

from orintui.session.codec import encode
from orintui.session.journal import (
    JOURNAL_SUFFIX,
    finish_recovered,
    journal_events,
    journal_locked,
    read_header,
    read_journal,
    registered_journals,
    session_from_header,
    try_lock,
    unregister,
)
from orintui.session.model import FORMAT, Session
from orintui.session.schema import check_event


class SessionError(Exception):
    """A session file that cannot be used; str() is the one line to show."""


MiB = 1 << 20
MAX_SESSION_BYTES = 512 * MiB  # the most JSON text a session may hold (after decompression) for replay, report, compare
LISTING_MAX_BYTES = 64 * MiB  # the most the menu's session list parses per file (it reads every file in the folder)


def _mib(n: int) -> str:
    return f"{n / MiB:g} MiB"


def _limit(limit: int) -> str:
    if limit == LISTING_MAX_BYTES:
        return f"{_mib(limit)}, the most the menu's session list reads (open it to replay it: up to {_mib(MAX_SESSION_BYTES)})"
    return f"{_mib(limit)}, the most orintui reads"


INFLATE_AT_ONCE = 64 * MiB  # a gzip file that expands to at most this is inflated once, kept as it goes


def _inflate(path: Path, limit: int, keep_up_to: int) -> bytes | None:
    """Stream-decompress a gzip file, never holding more than ``keep_up_to`` bytes of output; None when
    it expands to more (its size is then known to be within ``limit``): a small file that expands to
    gigabytes is refused once it passes ``limit``, in constant memory."""
    chunks: list[bytes] = []
    total = 0
    with gzip.open(path, "rb") as g:
        while chunk := g.read(MiB):
            total += len(chunk)
            if total > limit:
                raise SessionError(f"{path}: decompresses to more than {_limit(limit)}")
            if total <= keep_up_to:
                chunks.append(chunk)
            elif chunks:
                chunks = []
    return b"".join(chunks) if total <= keep_up_to else None


def _read_bytes(path: Path, limit: int = MAX_SESSION_BYTES) -> bytes:
    if not path.is_file():
        raise SessionError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        try:
            kept = _inflate(path, limit, min(limit, INFLATE_AT_ONCE))
            # larger: its size was checked in constant memory, now it is kept
            raw = kept if kept is not None else _inflate(path, limit, limit) or b""
        except (OSError, EOFError, zlib.error) as exc:
            raise SessionError(f"{path}: compressed session is damaged ({exc})") from None
    else:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
        if len(raw) > limit:
            raise SessionError(f"{path}: larger than {_limit(limit)}")
    return raw


def session_from_dict(doc: object, where: str) -> Session:
    if not isinstance(doc, dict):
        raise SessionError(f"{where}: not an orintui session (no \"format\": \"{FORMAT}\")")
    session = _header_session(doc, where)
    session.events = _checked_events(doc["events"], len(session.runs), where)
    return session


def _header_session(doc: dict[str, Any], where: str) -> Session:
    """The session without its events, every header field checked (journal.session_from_header)."""
    try:
        return session_from_header(doc, saved=True)
    except ValueError as exc:
        raise SessionError(f"{where}: {exc}") from None


def _checked_events(events: list, runs: int, where: str) -> list:
    for i, event in enumerate(events):
        problem = check_event(event, runs)
        if problem:
            raise SessionError(f"{where}: event {i}: {problem}")
    return events


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number orintui accepts (numbers must be finite)")


class _Header(msgspec.Struct):
    """A session document read for its header only: the events stay raw JSON (skipped in C, decoded
    later), every other field as it is (checked by check_header, as from a plain decode)."""

    format: Any = msgspec.UNSET
    version: Any = msgspec.UNSET
    id: Any = msgspec.UNSET
    label: Any = msgspec.UNSET
    orintui_version: Any = msgspec.UNSET
    started_at: Any = msgspec.UNSET
    ended_at: Any = msgspec.UNSET
    recovered: Any = msgspec.UNSET
    host: Any = msgspec.UNSET
    scenario: Any = msgspec.UNSET
    runs: Any = msgspec.UNSET
    journal_pid: Any = msgspec.UNSET
    events: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET

    def as_dict(self) -> dict[str, Any]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not msgspec.UNSET}


_header_decoder = msgspec.json.Decoder(_Header)
_decoder = msgspec.json.Decoder()


class SessionFile:
    """A session file opened for replay: its header (host, scenario, runs) read and checked at once,
    its events decoded and checked by ``load()`` (a 200,000-event session's events are most of the
    work: the replay screen shows its first frame from the header and loads them in a worker)."""

    def __init__(self, path: Path, header: Session, events: list | msgspec.Raw, raw: bytes = b""):
        self.path, self.header = path, header
        self._events, self._raw = events, raw
        self._session: Session | None = None

    def load(self) -> Session:
        """The whole session (``header`` with its events); raises SessionError like load_session."""
        if self._session is None:
            events = self._events
            if isinstance(events, msgspec.Raw):
                gc_was = gc.isenabled()
                gc.disable()  # hundreds of thousands of new dicts: a collection pass on each batch is wasted
                try:
                    events = _decode_in_slices(memoryview(events))
                except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                    events = _decode_slowly(self._raw, self.path)["events"]  # the standard decoder's message
                finally:
                    if gc_was:
                        gc.enable()
            self.header.events = _checked_events(events, len(self.header.runs), str(self.path))
            self._session, self._events, self._raw = self.header, [], b""
        return self._session


SLICE_BYTES = 1 << 20
_EVENT_START = re.compile(rb',\{"t":')  # how orintui writes the next event of a list (msgspec, compact)


def _decode_in_slices(array: memoryview) -> list:
    """A JSON array of events decoded about a MiB at a time, cut before the next ``{"t":`` that follows
    a comma: each slice holds the GIL for a few ms, so the app's own threads (its terminal writer among
    them) run between slices while a worker loads a long session. A cut that is not between two events
    (inside a string, in a nested value) leaves a slice that is not a JSON array of at least one value:
    then the whole array is decoded at once, as any other file's is."""
    if bytes(array[:1]) != b"[" or bytes(array[-1:]) != b"]":
        return _decoder.decode(array)
    out: list = []
    start, end = 1, len(array) - 1  # inside the brackets
    try:
        while start < end:
            cut = _EVENT_START.search(array, start + SLICE_BYTES, end) if end - start > 2 * SLICE_BYTES else None
            stop = cut.start() if cut else end
            part = _decoder.decode(b"[" + array[start:stop] + b"]")
            if not part:
                return _decoder.decode(array)
            out += part
            start = stop + 1
    except msgspec.DecodeError:
        return _decoder.decode(array)
    return out


def open_session(path: str | os.PathLike, limit: int = MAX_SESSION_BYTES) -> SessionFile:
    """A session file with its header read and checked (SessionError as load_session raises it); its
    events are decoded by ``load()``. A journal is read whole."""
    path = Path(path)
    if not path.exists():
        raise SessionError(f"{path}: no such file")
    if path.is_dir():
        raise SessionError(f"{path}: is a directory, not a session file")
    if path.name.endswith(JOURNAL_SUFFIX):
        session = _load_journal(path, limit)
        return SessionFile(path, session, session.events)
    raw = _read_bytes(path, limit)
    try:
        head = _header_decoder.decode(raw)  # the common case: well-formed JSON, the events skipped in C
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        doc = _decode_slowly(raw, path)  # the standard decoder's answer and message for everything else
        if not isinstance(doc, dict):
            raise SessionError(f"{path}: not an orintui session (no \"format\": \"{FORMAT}\")") from None
        return SessionFile(path, _header_session(doc, str(path)), doc["events"])
    header = _header_session(head.as_dict(), str(path))
    return SessionFile(path, header, cast(msgspec.Raw, head.events), raw)  # present: the header says so


def _load_journal(path: Path, limit: int) -> Session:
    if path.is_file() and path.stat().st_size > limit:
        raise SessionError(f"{path}: larger than {_limit(limit)}")
    try:
        session, _pid = read_journal(path)
    except (OSError, ValueError) as exc:
        raise SessionError(f"{path}: {exc}") from None
    if journal_locked(path):
        session.recovered = True  # a live session, read as it stands
        return session
    return finish_recovered(session)


def load_session(path: str | os.PathLike, limit: int = MAX_SESSION_BYTES) -> Session:
    """A session from a .json, .json.gz or a journal left behind by a crash. ``limit``: the most
    JSON text (after decompression) it will parse."""
    return open_session(path, limit).load()


def _decode_slowly(raw: bytes, path: Path) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not a session file (not UTF-8 text)") from None
    if not text.strip():
        raise SessionError(f"{path}: file is empty")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        hint = " (truncated?)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise SessionError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}{hint}") from None
    except ValueError as exc:  # NaN, Infinity, an integer of thousands of digits
        raise SessionError(f"{path}: {exc}") from None
    except RecursionError:
        raise SessionError(f"{path}: nested too deeply to be a session") from None


def save_session(session: Session, path: str | os.PathLike) -> Path:
    """Write the whole document by atomic rename (gzip when the name ends in .gz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode(session.to_dict())
    return _write_atomically(path, lambda f: f.write(data))


def _write_atomically(path: Path, write: Callable[[io.BufferedIOBase], object]) -> Path:
    """``write(file)`` into a temporary file beside ``path`` (through gzip when the name ends in
    .gz), synced, then renamed over ``path``: a reader never sees half a document."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if path.suffix == ".gz":
                with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
                    write(g)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _snapshot_of(path: Path, session_id: str) -> bool:
    """Whether ``path`` holds a 'save now' ('w') copy of this journal's session: the journal holds all of
    it and more, so the recovered session replaces it instead of landing beside it."""
    try:
        saved = load_session(path)
    except SessionError:
        return False
    return saved.id == session_id and not saved.ended_at


def save_from_journal(session: Session, journal: str | os.PathLike, path: str | os.PathLike) -> Path:
    """The final document written from the journal, streamed: ``session``'s header and run table
    (it holds no events while recording), then every whole, valid event line of the journal as it
    stands. Memory stays flat however long the session ran."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = session.to_dict()
    del head["events"]  # the last key: the document goes on with the journal's events
    opening = encode(head)[:-1] + b',"events":['

    def stream(out: io.BufferedIOBase) -> None:
        out.write(opening)
        with open(journal, "rb") as f:
            read_header(f, path.stem)  # the events start after it
            sep = b""
            for _event, raw in journal_events(f, len(session.runs)):
                out.write(sep + raw)
                sep = b","
        out.write(b"]}")

    return _write_atomically(path, stream)


def recover_journal(journal: Path) -> Path | None:
    """A stale journal (its lock free: the writer is gone) saved as a session; None when it is live,
    unreadable, or another orintui is recovering it at this moment (that one wins, this one skips)."""
    try:
        fd = os.open(journal, os.O_RDONLY)
    except OSError:
        return None
    try:
        if not try_lock(fd):
            return None  # a live writer, or another instance recovering it now
        try:
            if os.stat(journal).st_ino != os.fstat(fd).st_ino:
                return None  # recovered and removed by another instance while we opened it
        except FileNotFoundError:
            return None
        try:
            session, _pid = read_journal(journal, keep=False)  # the run table; the events are streamed
        except (OSError, ValueError):
            return None
        final = Path(str(journal)[: -len(JOURNAL_SUFFIX)])
        if final.exists() and not _snapshot_of(final, session.id):
            final = final.with_name(final.stem + "-recovered" + final.suffix)
        try:
            save_from_journal(finish_recovered(session), journal, final)
            journal.unlink()
        except OSError:
            return None  # a full disk: the journal stays, a later start tries again
        unregister(journal)
        return final
    finally:
        os.close(fd)


def recover_orphans(directory: str | os.PathLike) -> list[Path]:
    """Turn every stale journal (in ``directory`` and wherever the live-journal registry says one
    is) into a saved session; returns the saved paths. Safe to run in two instances at once."""
    directory = Path(directory)
    journals = sorted(directory.glob("*" + JOURNAL_SUFFIX)) if directory.is_dir() else []
    journals += [j for j in registered_journals() if j not in journals]
    recovered = []
    for journal in journals:
        final = recover_journal(journal)
        if final is not None:
            recovered.append(final)
    return recovered
