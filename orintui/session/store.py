"""Load and save session documents. Every refusal is a SessionError with one clear line."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import zlib
from pathlib import Path

from orintui.session.events import validate
from orintui.session.journal import JOURNAL_SUFFIX, finish_recovered, read_journal, writer_alive
from orintui.session.model import FORMAT, VERSION, RunInfo, Session

REQUIRED = ("id", "started_at", "host", "scenario", "runs", "events")


class SessionError(Exception):
    """A session file that cannot be used; str() is the one line to show."""


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SessionError(f"{path}: compressed session is damaged ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not a session file (not UTF-8 text)") from None


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
    try:
        runs = [RunInfo.from_dict(r) for r in doc["runs"]]
    except (TypeError, AttributeError) as exc:
        raise SessionError(f"{where}: a run is malformed ({exc})") from None
    for i, event in enumerate(doc["events"]):
        problem = validate(event)
        if problem:
            raise SessionError(f"{where}: event {i}: {problem}")
    return Session(
        id=str(doc["id"]),
        started_at=str(doc["started_at"]),
        host=doc["host"] if isinstance(doc["host"], dict) else {},
        scenario=doc["scenario"] if isinstance(doc["scenario"], dict) else {},
        runs=runs,
        events=doc["events"],
        ended_at=doc.get("ended_at"),
        recovered=bool(doc.get("recovered", False)),
        orintui_version=str(doc.get("orintui_version", "")),
        label=doc["label"] if isinstance(doc.get("label"), str) else "",
    )


def load_session(path: str | os.PathLike) -> Session:
    """A session from a .json, .json.gz or a journal left behind by a crash."""
    path = Path(path)
    if not path.exists():
        raise SessionError(f"{path}: no such file")
    if path.is_dir():
        raise SessionError(f"{path}: is a directory, not a session file")
    if path.name.endswith(JOURNAL_SUFFIX):
        try:
            session, pid = read_journal(path)
        except (OSError, ValueError) as exc:
            raise SessionError(f"{path}: {exc}") from None
        if writer_alive(pid):
            session.recovered = True  # a live session, read as it stands
            return session
        return finish_recovered(session)
    text = _read_text(path)
    if not text.strip():
        raise SessionError(f"{path}: file is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (truncated?)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise SessionError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}{hint}") from None
    return session_from_dict(doc, str(path))


def save_session(session: Session, path: str | os.PathLike) -> Path:
    """Write the whole document by atomic rename (gzip when the name ends in .gz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(session.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def recover_orphans(directory: str | os.PathLike) -> list[Path]:
    """Turn every journal whose writer is gone into a saved session; returns the saved paths."""
    recovered = []
    directory = Path(directory)
    if not directory.is_dir():
        return recovered
    for journal in sorted(directory.glob("*" + JOURNAL_SUFFIX)):
        try:
            session, pid = read_journal(journal)
        except (OSError, ValueError):
            continue
        if writer_alive(pid):
            continue
        final = Path(str(journal)[: -len(JOURNAL_SUFFIX)])
        if final.exists():
            final = final.with_name(final.stem + "-recovered" + final.suffix)
        save_session(finish_recovered(session), final)
        journal.unlink()
        recovered.append(final)
    return recovered
