"""Saved sessions for the menu: newest first, with scenario, date and headline figures.

A headline needs the whole session loaded and its metrics computed (2 s for a 26 MB session),
so headlines are kept in a cache keyed by path, size and mtime: the menu loads only new or
changed files.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orintui.core import paths
from orintui.figures.metrics import best_run, session_metrics
from orintui.session import SessionError, load_session
from orintui.session import status as st
from orintui.session.store import LISTING_MAX_BYTES

DEMO_SESSION = "demo-session.json.gz"


def demo_session_path() -> Path:
    """The real H100 session bundled with orintui: the first start's replay, `orintui replay demo`."""
    return paths.bundled_dir("data") / DEMO_SESSION


@dataclass(frozen=True)
class SessionEntry:
    path: str
    id: str
    scenario: str
    started_at: str
    runs: int
    headline: str
    label: str = ""
    bundled: bool = False
    error: str | None = None

    @property
    def title(self) -> str:  # as Session.title, without loading the session
        return f"{self.scenario}: {self.label}" if self.label else self.scenario


def headline(path: Path) -> tuple[str, str, str, int, str, str]:
    s = load_session(path, limit=LISTING_MAX_BYTES)
    best = best_run(session_metrics(s))  # only a complete run heads the list
    head = f"{best.decode:.1f} tok/s {best.label}" if best else "no complete run"  # the figure first: it is what narrow terminals keep
    counts = Counter(r.status for r in s.runs if r.status not in (st.OK, st.SKIPPED))
    if counts:
        head += ", " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return s.id, s.scenario.get("name", "?"), s.started_at[:19].replace("T", " "), len(s.runs), head, s.label


HEADLINE_CACHE_VERSION = 4  # bumped when headline() or what load_session accepts changes


def _cache_file() -> Path:
    return paths.cache_dir() / "session-headlines.json"


def _load_cache() -> dict:
    try:
        data = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == HEADLINE_CACHE_VERSION and isinstance(data.get("files"), dict)
    return data["files"] if ok else {}


def _save_cache(files: dict) -> None:
    target = _cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"version": HEADLINE_CACHE_VERSION, "files": files}))
        tmp.replace(target)
    except OSError:
        pass  # a read-only cache only costs speed


def _usable(values: object, error: object) -> bool:
    """A cached headline of the shape headline() returns (the cache is a file too)."""
    if values is None:
        return isinstance(error, str)
    return (isinstance(values, list) and len(values) == 6 and isinstance(values[3], int)
            and all(isinstance(v, str) for i, v in enumerate(values) if i != 3))


def _entry(path: Path, cache: dict, fresh: dict, bundled: bool = False) -> SessionEntry:
    st = path.stat()
    key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns]
    cached = cache.get(key)
    if isinstance(cached, dict) and cached.get("stamp") == stamp and _usable(cached.get("values"), cached.get("error")):
        values, error = cached.get("values"), cached.get("error")
    else:
        try:
            values, error = list(headline(path)), None
        except SessionError as exc:
            values, error = None, str(exc)
        except Exception as exc:  # one file must never stop the menu from listing the others
            values, error = None, f"{path}: cannot be read ({type(exc).__name__}: {exc})"
    fresh[key] = {"stamp": stamp, "values": values, "error": error}
    if error or not values:
        return SessionEntry(str(path), path.name, "?", "", 0, "", bundled=bundled, error=error or "unreadable")
    return SessionEntry(str(path), *values, bundled=bundled)  # type: ignore[misc]  # values: the fields before label


def list_sessions(folder: Path | None = None, include_demo: bool = True) -> list[SessionEntry]:
    folder = folder or paths.sessions_dir()
    stamped = []
    for path in [*folder.glob("*.json"), *folder.glob("*.json.gz")] if folder.is_dir() else []:
        try:
            stamped.append((path.stat().st_mtime, path))
        except OSError:
            continue  # deleted while we looked
    cache, fresh = _load_cache(), dict[str, Any]()
    entries = []
    for _, path in sorted(stamped, reverse=True):
        try:
            entries.append(_entry(path, cache, fresh))
        except OSError:
            continue
    # newest start first; a file whose start cannot be read keeps its place by modification time (stable sort)
    entries.sort(key=lambda e: e.started_at or "", reverse=True)
    demo = demo_session_path()
    if include_demo and demo.exists():
        entries.append(_entry(demo, cache, fresh, bundled=True))
    if fresh != cache:
        _save_cache(fresh)  # entries of deleted files drop out
    return entries


def label_session(entry: SessionEntry, label: str) -> None:
    """Give a saved session a name: the file is rewritten (atomic rename), its events untouched."""
    from orintui.session import save_session

    if entry.bundled:
        raise ValueError("the bundled demo session is part of orintui and cannot be renamed")
    from orintui.core.sanitize import clean_line

    session = load_session(entry.path)
    session.label = " ".join(clean_line(label).split())
    save_session(session, entry.path)


def delete_session(entry: SessionEntry) -> None:
    """Delete a saved session file; the bundled ones are part of orintui and stay."""
    if entry.bundled:
        raise ValueError("the bundled demo session is part of orintui and cannot be deleted")
    Path(entry.path).unlink()


class HandleError(ValueError):
    """A SESSION argument that names no session, or more than one."""


def resolve_session(handle: str, folder: Path | None = None) -> Path:
    """What every command's SESSION argument means: a path, ``demo`` (the bundled H100 session), ``last``
    (the newest saved session), or a session id or a prefix of one from ``orintui sessions``."""
    if os.path.exists(handle):
        return Path(handle)
    if handle == "demo":
        return demo_session_path()
    if os.sep in handle or handle.endswith((".json", ".json.gz")):
        raise HandleError(f"{handle}: no such file")
    saved = [e for e in list_sessions(folder, include_demo=False) if not e.error]
    if handle == "last":
        if not saved:
            raise HandleError(f"'last': no saved sessions in {folder or paths.sessions_dir()}")
        return Path(saved[0].path)
    exact = [e for e in saved if e.id == handle]
    found = exact or [e for e in saved if e.id.startswith(handle)]
    if len(found) == 1:
        return Path(found[0].path)
    if found:
        ids = ", ".join(e.id for e in found[:5]) + (", ..." if len(found) > 5 else "")
        raise HandleError(f"{handle!r} matches {len(found)} sessions ({ids}): give more of the id")
    raise HandleError(f"no session matches {handle!r}: give a path, a session id or its first characters "
                      "(orintui sessions lists them), last, or demo")
