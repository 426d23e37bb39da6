"""Run statuses: one vocabulary for the lane, the tables, reports, compare, headless lines and the
exit code. Every run ends with exactly one of the final statuses, and a reason unless it is ``ok``.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["queued", "running", "ok", "partial", "unrecognised", "failed", "timeout", "cancelled",
                 "skipped", "interrupted"]

QUEUED: Status = "queued"
RUNNING: Status = "running"
OK: Status = "ok"  # complete: the adapter saw its end-of-run marker or the expected token count
PARTIAL: Status = "partial"  # figures, but incomplete (fewer tokens than asked, no summary, EOS, context full)
UNRECOGNISED: Status = "unrecognised"  # the program ran, nothing of its adapter's format came out
FAILED: Status = "failed"
TIMEOUT: Status = "timeout"
CANCELLED: Status = "cancelled"
SKIPPED: Status = "skipped"
INTERRUPTED: Status = "interrupted"  # recovered from a journal: orintui itself was cut off mid-run

FINAL = (OK, PARTIAL, UNRECOGNISED, FAILED, TIMEOUT, CANCELLED, SKIPPED, INTERRUPTED)

MEANING = {
    OK: "complete: every figure the backend promised was seen",
    PARTIAL: "figures, but the run is incomplete",
    UNRECOGNISED: "the program ran, but nothing of its adapter's format came out",
    FAILED: "the program failed (exit code, signal, or could not start)",
    TIMEOUT: "stopped by a timeout",
    CANCELLED: "stopped before it produced a figure",
    SKIPPED: "not run: something it needs is missing",
    INTERRUPTED: "orintui was cut off while it ran (recovered from the journal)",
}

# Rich style names, the same in the app and wherever a report is coloured
STYLE = {OK: "green", PARTIAL: "yellow", UNRECOGNISED: "magenta", FAILED: "red", TIMEOUT: "red",
         CANCELLED: "dim", SKIPPED: "dim", INTERRUPTED: "yellow", QUEUED: "dim", RUNNING: "cyan"}


def ranks(status: str) -> bool:
    """Only complete runs count for "best", headlines and repetition statistics."""
    return status == OK


def fails_session(status: str, by_user: bool = False) -> bool:
    """Whether this run makes ``orintui run`` exit 1: anything but ok and skipped, unless the user
    stopped it."""
    if status in (OK, SKIPPED, QUEUED, RUNNING):
        return False
    return not (by_user and status in (CANCELLED, PARTIAL))


def failing_runs(runs) -> list:
    """The runs (RunInfo) that make a session's ``orintui run`` exit 1."""
    return [r for r in runs if fails_session(r.status, getattr(r, "by_user", False))]
