"""Event kinds and constructors.

An event is a flat dict: ``t`` (seconds since the session started, monotonic), ``kind``, ``run``
(index of the run it belongs to, or None for session-wide events such as telemetry) and the
kind's own fields. Dicts, not objects, because a session holds hundreds of thousands of them and
they go to JSON as they are. Once recorded an event is never mutated.
"""

from __future__ import annotations

from typing import Any

RUN_STARTED = "run_started"
PHASE = "phase"
TOKEN = "token"
PREFILL = "prefill"
SUMMARY = "summary"
OUTPUT = "output"
TELEMETRY = "telemetry"
RUN_ENDED = "run_ended"
NOTE = "note"
KINDS = frozenset({RUN_STARTED, PHASE, TOKEN, PREFILL, SUMMARY, OUTPUT, TELEMETRY, RUN_ENDED, NOTE})

PHASES = ("queued", "loading", "prefill", "decode", "done", "partial", "failed", "skipped")


def end_phase(status: str) -> str:
    """The phase a run ends in, for its final status: done only when it is complete."""
    if status == "ok":
        return "done"
    if status in ("partial", "skipped"):
        return status
    return "failed"

Event = dict[str, Any]


def make(kind: str, t: float, run: int | None = None, **fields: Any) -> Event:
    return {"t": round(t, 6), "kind": kind, "run": run, **fields}


def phase(t: float, name: str, detail: str | None = None) -> Event:
    return make(PHASE, t, phase=name, detail=detail)


def token(t: float, text: str, ms: float | None = None, warmup: bool = False, **extra: Any) -> Event:
    """One generated token. ``ms`` is the backend's own figure for it, when it prints one."""
    return make(TOKEN, t, text=text, ms=ms, warmup=warmup, **extra)


def prefill(t: float, tokens: int | None, ms: float | None, source: str = "backend") -> Event:
    return make(PREFILL, t, tokens=tokens, ms=ms, source=source)


def summary(t: float, **figures: Any) -> Event:
    """Totals the backend printed itself (llama.cpp perf lines, a llama-bench row)."""
    return make(SUMMARY, t, **figures)


def output(t: float, line: str) -> Event:
    return make(OUTPUT, t, line=line)


def note(t: float, text: str, level: str = "info") -> Event:
    return make(NOTE, t, text=text, level=level)


def validate(event: Any) -> str | None:
    """Why ``event`` is not a well-formed event, or None."""
    if not isinstance(event, dict):
        return "event is not an object"
    if event.get("kind") not in KINDS:
        return f"unknown event kind {event.get('kind')!r}"
    if not isinstance(event.get("t"), (int, float)):
        return "event has no numeric t"
    run = event.get("run")
    if run is not None and not isinstance(run, int):
        return "event run is not an integer"
    return None
