"""Run statuses: one vocabulary for the lane, the tables, reports, compare, headless lines and the
exit code. Every run ends with exactly one of the final statuses, and a reason unless it is ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orintui.session.words import Word


class Status(Word):
    """A run's status. A str, so it compares equal to the word, goes to JSON as it and formats as it
    (``str(Status.OK) == "ok"``); loaded sessions hold the plain words."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"  # complete: the adapter saw its end-of-run marker or the expected token count
    PARTIAL = "partial"  # figures, but incomplete (fewer tokens than asked, no summary, EOS, context full)
    UNRECOGNISED = "unrecognised"  # the program ran, nothing of its adapter's format came out
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # recovered from a journal: orintui itself was cut off mid-run


QUEUED, RUNNING, OK, PARTIAL = Status.QUEUED, Status.RUNNING, Status.OK, Status.PARTIAL
UNRECOGNISED, FAILED, TIMEOUT, CANCELLED = Status.UNRECOGNISED, Status.FAILED, Status.TIMEOUT, Status.CANCELLED
SKIPPED, INTERRUPTED = Status.SKIPPED, Status.INTERRUPTED

FINAL = (OK, PARTIAL, UNRECOGNISED, FAILED, TIMEOUT, CANCELLED, SKIPPED, INTERRUPTED)

MEANING: dict[str, str] = {
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
STYLE: dict[str, str] = {OK: "green", PARTIAL: "yellow", UNRECOGNISED: "magenta", FAILED: "red", TIMEOUT: "red",
         CANCELLED: "dim", SKIPPED: "dim", INTERRUPTED: "yellow", QUEUED: "dim", RUNNING: "cyan"}


def of_end(status: object, error: str | None) -> tuple[str, str | None]:
    """A run_ended's status and reason as the run keeps them, live and in replay alike (Session.apply,
    which LiveState's lanes read): a final status, with a reason unless it is ok. An end that names no
    final status (null, missing, or a word outside this vocabulary: a truncated or hostile file) is
    failed, never left as it was: nothing vouches for the run, and an ended run must hold a final
    status for its figures to be final."""
    if status in FINAL:
        return str(status), error
    return FAILED, error or "its end named no status"


def ranks(status: str) -> bool:
    """Only complete runs count for "best", headlines and repetition statistics."""
    return status == OK


def fails_session(status: str, by_user: bool = False) -> bool:
    """Whether this run makes ``orintui run`` exit 1: anything but ok and skipped, unless the user
    stopped it."""
    if status in (OK, SKIPPED, QUEUED, RUNNING):
        return False
    return not (by_user and status in (CANCELLED, PARTIAL))


def failing_runs(runs: Iterable[Any]) -> list[Any]:
    """The runs (RunInfo) that make a session's ``orintui run`` exit 1."""
    return [r for r in runs if fails_session(r.status, getattr(r, "by_user", False))]
