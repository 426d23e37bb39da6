"""The replay clock: hands a recorded session's events out in time order, at a speed, with
pause and seek. Replaying never starts a process."""

from __future__ import annotations

import bisect
from operator import itemgetter

from orintui.session.events import RUN_STARTED, Event
from orintui.session.model import Session

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, float("inf"))


class ReplayClock:
    def __init__(self, session: Session, speed: float = 1.0):
        self.times = [e["t"] for e in session.events]
        if any(a > b for a, b in zip(self.times, self.times[1:])):  # written in order, but a file may say otherwise
            self.events = sorted(session.events, key=itemgetter("t"))
            self.times = [e["t"] for e in self.events]
        else:
            self.events = list(session.events)
        self.duration = self.times[-1] if self.times else 0.0
        self.position = 0.0
        self.index = 0  # events[:index] have been handed out
        self.speed = speed
        self.paused = False
        self.loading = False  # a placeholder while the session's events are read (the replay screen)

    @property
    def finished(self) -> bool:
        return self.index >= len(self.events)

    def advance(self, wall_dt: float) -> list[Event]:
        """Events due after ``wall_dt`` seconds of wall time at the current speed."""
        if self.paused or self.finished:
            return []
        if self.speed == float("inf"):
            target = self.duration
        else:
            target = min(self.duration, self.position + wall_dt * self.speed)
        return self._until(target)

    def _until(self, target: float) -> list[Event]:
        end = bisect.bisect_right(self.times, target, lo=self.index)
        out = self.events[self.index:end]
        self.index, self.position = end, target
        return out

    def seek(self, target: float) -> list[Event]:
        """Move to ``target``; returns every event up to it (the caller rebuilds its state)."""
        target = max(0.0, min(self.duration, target))
        self.index, self.position = 0, 0.0
        return self._until(target)

    def run_start(self, run: int) -> float | None:
        for e in self.events:
            if e["kind"] == RUN_STARTED and e.get("run") == run:
                return e["t"]
        return None

    def faster(self) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 1
        self.speed = SPEEDS[min(i + 1, len(SPEEDS) - 1)]

    def slower(self) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 1
        self.speed = SPEEDS[max(i - 1, 0)]
