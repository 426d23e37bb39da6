"""Seeking a replay without folding it again from t=0: snapshots of the state every so many events
(keyframes), made once in a worker; a seek restores the nearest one at or before the target and
folds the few events after it. A keyframe shares the per-token records with the state the build
folds (they only grow) and keeps their lengths (LiveState.frozen): kilobytes each, not a copy of
the run so far; a restore copies them cut to those lengths (LiveState.thawed). An ended run's final
figures (the batch computation over its record) are worked out once per record and kept for every
later seek that reaches the same record."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence

from orintui.figures.metrics import RunMetrics
from orintui.reading.live_state import LiveState
from orintui.session.events import Event
from orintui.session.model import Session

MIN_EVERY = 500  # events between keyframes at least: a short session needs few
MAX_FRAMES = 128  # at most this many: each tens of kilobytes; a seek folds at most ``every`` events (1,719 of 220,000)


class Keyframes:
    def __init__(self, session: Session, events: Sequence[Event]):
        self.session, self.events = session, events
        self.every = max(MIN_EVERY, -(-len(events) // MAX_FRAMES))
        self.indexes: list[int] = [0]  # frames[i] is the state after events[:indexes[i]]
        self.frames: list[LiveState] = [LiveState(session).frozen()]  # restored by thawed() only
        self._lock = threading.Lock()  # the builder appends while a seek reads
        self.complete = False
        self.final: dict[tuple[int, int], RunMetrics] = {}  # (run, its record's version) -> its final figures

    def build(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Fold every event once, keeping a snapshot every ``every`` events (run in a worker)."""
        state = self.frames[0].thawed()
        for i, event in enumerate(self.events, 1):
            state.apply(event)
            if i % self.every == 0:
                if cancelled():
                    return
                frame = state.frozen()
                with self._lock:
                    self.indexes.append(i)
                    self.frames.append(frame)
        self.figured(state)  # the runs as they end: what a seek past them shows
        self.complete = True

    def figured(self, state: LiveState) -> LiveState:
        """``state`` with every ended run's final figures worked out: taken from an earlier seek (or the
        build) that reached the same record, else computed once and kept. Runs in any thread (a seek's
        worker), so the UI loop's redraw finds them ready."""
        figures = state.figures
        for i, acc in enumerate(figures.runs):
            if acc.final:
                known = self.final.get((i, acc.version))
                if known is not None:
                    acc.adopt_final(known, acc.version)
                else:
                    self.final[(i, acc.version)] = figures.metrics(i)
        return state

    def state_at(self, index: int, cancelled: Callable[[], bool] = lambda: False) -> LiveState | None:
        """A new state after events[:index]: the nearest keyframe at or before it restored, plus a
        fold of the rest (short once the keyframes are built). Keyframes are never changed once kept
        (what they share with the build's state only grows past their lengths), so this runs in any
        thread; None when ``cancelled`` (a newer seek) says so on the way."""
        with self._lock:
            k = bisect.bisect_right(self.indexes, index) - 1
            start, frame = self.indexes[k], self.frames[k]
        state = frame.thawed()
        for i in range(start, index):
            if i % MIN_EVERY == 0 and cancelled():
                return None
            state.apply(self.events[i])
        return state
