"""Load and save session documents. Every refusal is a SessionError with one clear line."""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

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
    try_lock,
    unregister,
)
from orintui.session.model import FORMAT, VERSION, RunInfo, Session
from orintui.session.schema import check_event, check_header

REQUIRED = ("id", "started_at", "host", "scenario", "runs", "events")


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


def _inflate(path: Path, limit: int, keep: bool) -> bytes:
    """Stream-decompress a gzip file, never holding more than ``limit`` bytes of output: a small
    file that expands to gigabytes is refused once it passes ``limit``."""
    chunks, total = [], 0
    with gzip.open(path, "rb") as g:
        while chunk := g.read(MiB):
            total += len(chunk)
            if total > limit:
                raise SessionError(f"{path}: decompresses to more than {_limit(limit)}")
            if keep:
                chunks.append(chunk)
    return b"".join(chunks)


def _read_bytes(path: Path, limit: int = MAX_SESSION_BYTES) -> bytes:
    if not path.is_file():
        raise SessionError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        try:
            _inflate(path, limit, keep=False)  # the size first, in constant memory
            raw = _inflate(path, limit, keep=True)
        except (OSError, EOFError, zlib.error) as exc:
            raise SessionError(f"{path}: compressed session is damaged ({exc})") from None
    else:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
        if len(raw) > limit:
            raise SessionError(f"{path}: larger than {_limit(limit)}")
    return raw


def session_from_dict(doc: object, where: str) -> Session:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{where}: not an orintui session (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SessionError(f"{where}: session version {version!r} is not an integer")
    if version != VERSION:
        raise SessionError(f"{where}: session version {version} is not supported (this orintui reads version {VERSION})")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise SessionError(f"{where}: session is missing {', '.join(missing)}")
    if not isinstance(doc["runs"], list) or not isinstance(doc["events"], list):
        raise SessionError(f"{where}: runs and events must be lists")
    problem = check_header(doc)
    if problem:
        raise SessionError(f"{where}: {problem}")
    runs = [RunInfo.from_dict(r) for r in doc["runs"]]
    for i, event in enumerate(doc["events"]):
        problem = check_event(event, len(runs))
        if problem:
            raise SessionError(f"{where}: event {i}: {problem}")
    return Session(
        id=doc["id"],
        started_at=doc["started_at"],
        host=doc["host"],
        scenario=doc["scenario"],
        runs=runs,
        events=doc["events"],
        ended_at=doc.get("ended_at"),
        recovered=bool(doc.get("recovered", False)),
        orintui_version=doc.get("orintui_version") or "",
        label=doc.get("label") or "",
    )


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number orintui accepts (numbers must be finite)")


def load_session(path: str | os.PathLike, limit: int = MAX_SESSION_BYTES) -> Session:
    """A session from a .json, .json.gz or a journal left behind by a crash. ``limit``: the most
    JSON text (after decompression) it will parse."""
    path = Path(path)
    if not path.exists():
        raise SessionError(f"{path}: no such file")
    if path.is_dir():
        raise SessionError(f"{path}: is a directory, not a session file")
    if path.name.endswith(JOURNAL_SUFFIX):
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
    raw = _read_bytes(path, limit)
    try:
        doc = _decoder.decode(raw)  # the common case: a well-formed document, decoded in C
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        doc = _decode_slowly(raw, path)  # the standard decoder's answer and message for everything else
    return session_from_dict(doc, str(path))


_decoder = msgspec.json.Decoder()


def _decode_slowly(raw: bytes, path: Path) -> object:
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
