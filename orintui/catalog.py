"""Saved sessions for the menu: newest first, with scenario, date and headline figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orintui import paths
from orintui.metrics import session_metrics
from orintui.session import SessionError, load_session

DEMO_SESSION = "demo-session.json.gz"


@dataclass(frozen=True)
class SessionEntry:
    path: str
    id: str
    scenario: str
    started_at: str
    runs: int
    headline: str
    bundled: bool = False
    error: str | None = None


def headline(path: Path) -> tuple[str, str, str, int, str]:
    s = load_session(path)
    best = None
    for m in session_metrics(s):
        if m.decode and not m.warmup and (best is None or m.decode > best.decode):
            best = m
    head = f"best {best.label}: {best.decode:.1f} tok/s" if best else "no decode figures"
    failed = sum(1 for r in s.runs if r.status in ("failed", "timeout"))
    if failed:
        head += f", {failed} failed"
    return s.id, s.scenario.get("name", "?"), s.started_at[:19].replace("T", " "), len(s.runs), head


def list_sessions(folder: Path | None = None, include_demo: bool = True) -> list[SessionEntry]:
    folder = folder or paths.sessions_dir()
    entries = []
    files = sorted(list(folder.glob("*.json")) + list(folder.glob("*.json.gz")),
                   key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    for path in files:
        try:
            entries.append(SessionEntry(str(path), *headline(path)))
        except SessionError as exc:
            entries.append(SessionEntry(str(path), path.name, "?", "", 0, "", error=str(exc)))
    demo = paths.bundled_dir("data") / DEMO_SESSION
    if include_demo and demo.exists():
        entries.append(SessionEntry(str(demo), *headline(demo), bundled=True))
    return entries
