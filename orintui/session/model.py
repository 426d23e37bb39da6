"""The session: host facts, the resolved scenario, its runs and every event."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

from orintui.session import status as st
from orintui.session.events import RUN_ENDED, RUN_STARTED, SUMMARY, Event, RunEndedEvent

FORMAT = "orintui-session"
VERSION = 1


@dataclass
class RunInfo:
    """One execution of one backend command. Repetitions are separate runs."""

    index: int
    label: str
    backend: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    repetition: int = 0
    warmup: bool = False
    model_path: str | None = None
    model_bytes: int | None = None
    status: str = st.QUEUED  # queued, running, then one of session.status.FINAL
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None  # why a run is not ok (the reason travels with the status)
    by_user: bool = False  # the user stopped it: cancelled or partial, not a failure
    flags: list[str] = field(default_factory=list)  # validity flags (metrics.FLAGS), stored at the end
    versions: dict[str, str] = field(default_factory=dict)  # what produced the numbers (backends/versions.py)
    started_t: float | None = None
    ended_t: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Session:
    id: str
    started_at: str  # ISO 8601 wall-clock time of t=0
    host: dict[str, Any] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)
    runs: list[RunInfo] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    ended_at: str | None = None
    recovered: bool = False
    orintui_version: str = ""
    label: str = ""  # the user's name for it ("MAXN, clocks locked"); optional, readers ignore it

    @property
    def title(self) -> str:
        name = self.scenario.get("name", "session")
        return f"{name}: {self.label}" if self.label else name

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "id": self.id,
            "label": self.label,
            "orintui_version": self.orintui_version,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "recovered": self.recovered,
            "host": self.host,
            "scenario": self.scenario,
            "runs": [r.to_dict() for r in self.runs],
            "events": self.events,
        }

    @property
    def duration(self) -> float:
        return self.events[-1]["t"] if self.events else 0.0

    def run_events(self, index: int) -> list[Event]:
        return [e for e in self.events if e.get("run") == index]

    def apply(self, event: Event) -> None:
        """Keep the run table in step with run_started / run_ended events (live and recovery)."""
        run = event.get("run")
        if run is None or not 0 <= run < len(self.runs):
            return
        info = self.runs[run]
        if event["kind"] == RUN_STARTED:
            info.status = st.RUNNING
            info.started_t = event["t"]
        elif event["kind"] == RUN_ENDED:
            end = cast(RunEndedEvent, event)  # the TypedDict: mypy checks these fields
            info.status, info.error = st.of_end(end.get("status"), end.get("error"))
            info.exit_code = end.get("exit_code")
            info.signal = end.get("signal")
            info.by_user = bool(end.get("by_user", False))
            info.ended_t = end["t"]
        elif event["kind"] == SUMMARY:
            info.summary.update({k: v for k, v in event.items() if k not in ("t", "kind", "run")})
