"""The state every screen shows, folded from events. Live runs and replays feed it the same
events, so every panel replays. Standard library only: the UI reads it, never parses."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

from orintui.core.format import measured_repetitions, repetition_tag
from orintui.figures.metrics import RunMetrics
from orintui.figures.metrics_live import RunAccumulator, SessionAccumulator
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.events import Event, NoteEvent, OutputEvent, PhaseEvent, TelemetryEvent, TokenLike
from orintui.session.model import RunInfo, Session

HISTORY = 120  # telemetry samples kept for sparklines
MS_SERIES = 400  # per-token ms kept per lane
OUTPUT_LINES = 2000
TEXT_CHARS = 400  # the latest text a lane shows


@dataclass
class Lane:
    """What a run's lane shows. Its figures come from the run's accumulator (metrics_live), so the
    lane, the live table and the headless log say the same; the ms series is bounded."""

    index: int
    label: str
    backend: str
    warmup_run: bool
    repetition: int
    acc: RunAccumulator
    phase: str = ev.Phase.QUEUED
    status: str = st.QUEUED
    started_t: float | None = None
    text: str = ""
    error: str | None = None
    ms: deque = field(default_factory=lambda: deque(maxlen=MS_SERIES))
    last_token_t: float | None = None
    tag: str = ""  # ' (warm-up)', ' #2': format.repetition_tag, as the report labels it

    @property
    def tokens(self) -> int:
        generated = self.acc.summary.get("generated_tokens")  # reads that carried two tokens
        return max(self.acc.tokens, generated) if isinstance(generated, int) else self.acc.tokens

    @property
    def ttft_ms(self) -> float | None:
        return self.acc.ttft_ms

    @property
    def rate(self) -> tuple[float | None, bool]:
        """(current decode rate, whether it is the rolling one): RunAccumulator.current_rate."""
        return self.acc.current_rate()

    @property
    def tok_s(self) -> float | None:
        return self.rate[0]

    def copy(self, acc: RunAccumulator) -> Lane:
        return replace(self, acc=acc, ms=deque(self.ms, maxlen=self.ms.maxlen))


class LiveState:
    """Bounded whatever the run's length: per run, a RunAccumulator (counts and running sums; in
    replay the compact per-token record its final figures come from, 17 bytes a token; live, none:
    the engine keeps that record and the app adopts its final figures), the lanes' last
    MS_SERIES ms values and TEXT_CHARS of text, HISTORY samples per gauge, OUTPUT_LINES lines. Events
    are folded, never kept."""

    def __init__(self, session: Session, keep_record: bool = True):
        # a private session: its run table is kept in step by the events, for the metrics code
        self.session = Session(id=session.id, started_at=session.started_at, host=session.host,
                               scenario=session.scenario, runs=[RunInfo.from_dict(r.to_dict()) for r in session.runs],
                               label=session.label)
        for run in self.session.runs:
            run.status, run.started_t, run.ended_t, run.exit_code, run.signal, run.error = st.QUEUED, None, None, None, None, None
            run.summary = {}
        # keep_record=False (the live app): no per-token record here, the engine keeps the one record of
        # the session and its final figures for an ended run are adopted (LiveScreen)
        self.figures = SessionAccumulator(self.session, keep_record)
        runs = self.session.runs
        self.lanes = [Lane(r.index, r.label, r.backend, r.warmup, r.repetition, acc,
                           tag=repetition_tag(r.repetition, r.warmup, measured_repetitions(runs, r.label)))
                      for r, acc in zip(runs, self.figures.runs)]
        self.last_sample: Event | None = None
        self.history: dict[str, deque] = {k: deque(maxlen=HISTORY) for k in ("gpu", "emc", "power")}
        self.output: deque = deque(maxlen=OUTPUT_LINES)
        self.output_total = 0  # lines ever added: the deque's length stops growing once it is full
        self.t = 0.0
        self.current: int | None = None
        self.version = 0
        self._shown: dict[int, tuple[float, int, RunMetrics]] = {}  # run -> (when, its version, figures)

    def copy(self) -> LiveState:
        """An independent snapshot: applying events to either leaves the other as it was. Costs a
        copy of the per-token arrays (17 bytes a token), nothing per event."""
        return self._copied(self.figures.copy)

    def frozen(self) -> LiveState:
        """A replay keyframe, to be restored by ``thawed`` only (never folded or shown itself): the
        per-token records and the telemetry index are shared with this state, which only appends to
        them, with their lengths now (SessionAccumulator.frozen); the rest, bounded, is copied. A
        keyframe costs kilobytes, not a copy of the run so far."""
        return self._copied(self.figures.frozen)

    def thawed(self) -> LiveState:
        """A state to fold from, restored from a ``frozen`` keyframe: the shared records copied, cut
        to the keyframe's lengths, so applying events to it changes no keyframe and not the state
        the keyframe was taken from."""
        return self._copied(self.figures.thawed)

    def _copied(self, figures: Callable[[Session], SessionAccumulator]) -> LiveState:
        new = object.__new__(LiveState)
        new.__dict__.update(self.__dict__)
        s = self.session
        new.session = Session(id=s.id, started_at=s.started_at, host=s.host, scenario=s.scenario,
                              runs=[RunInfo.from_dict(r.to_dict()) for r in s.runs], label=s.label)
        new.figures = figures(new.session)
        new.lanes = [lane.copy(acc) for lane, acc in zip(self.lanes, new.figures.runs)]
        new.history = {k: deque(v, maxlen=v.maxlen) for k, v in self.history.items()}
        new.output = deque(self.output, maxlen=self.output.maxlen)
        new._shown = dict(self._shown)
        return new

    # -- folding --------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one event. A token goes to ``_token``, typed (TokenLike: no cast); the other kinds are
        cast to their TypedDict in their branch, so mypy checks each field read."""
        self.version += 1
        self.t = max(self.t, event["t"])
        kind, run = event["kind"], event.get("run")
        self.session.apply(event)
        self.figures.add(event)
        if kind == ev.TELEMETRY:
            self.last_sample = event
            sample = cast(TelemetryEvent, event)
            emc = sample.get("emc_bw_gbs")
            self.history["gpu"].append(sample.get("gpu_load_pct") or 0.0)
            self.history["emc"].append(emc if emc is not None else (sample.get("emc_util_pct") or 0.0))
            self.history["power"].append((sample.get("power_total_mw") or 0.0) / 1000.0)
            return
        if kind == ev.NOTE:
            self._output(run, f"[note] {cast(NoteEvent, event).get('text')}")
            return
        if run is None or not 0 <= run < len(self.lanes):
            return
        lane = self.lanes[run]
        if kind == ev.RUN_STARTED:
            lane.status, lane.phase, lane.started_t = st.RUNNING, ev.Phase.LOADING, event["t"]
            self.current = run
        elif kind == ev.PHASE:
            lane.phase = cast(PhaseEvent, event)["phase"]
        elif kind == ev.TOKEN:
            self._token(lane, event)
        elif kind == ev.OUTPUT:
            self._output(run, cast(OutputEvent, event)["line"])
        elif kind == ev.RUN_ENDED:
            info = self.session.runs[run]  # its run table, which Session.apply keeps: one rule, st.of_end
            lane.status, lane.error = info.status, info.error
            lane.phase = ev.end_phase(lane.status)
            if self.current == run:
                self.current = None

    def _output(self, run: int | None, line: str) -> None:
        self.output.append((run, line))
        self.output_total += 1

    def _token(self, lane: Lane, event: TokenLike) -> None:
        t = event["t"]
        if lane.acc.tokens == 1:
            lane.phase = ev.Phase.DECODE
        ms = event.get("ms")
        if ms is None and lane.last_token_t is not None:
            ms = (t - lane.last_token_t) * 1000.0
        lane.last_token_t = t
        if not event.get("warmup") and ms is not None:
            lane.ms.append(ms)
        lane.text = (lane.text + event.get("text", ""))[-TEXT_CHARS:]

    # -- derived --------------------------------------------------------------------------------
    def metrics(self, max_age_s: float = 1.0) -> list[RunMetrics]:
        """Per-run figures (metrics_live): a live run's from running state, O(1) whatever its length,
        refreshed at most once per ``max_age_s`` (a table that changes ten times a second costs
        repaints, not figures); an ended run's are run_metrics over its record, at once, computed once."""
        now = time.monotonic()
        out = []
        for acc in self.figures.runs:
            i = acc.run.index
            cached = self._shown.get(i)
            if acc.final or cached is None or (cached[1] != acc.version and now - cached[0] >= max_age_s):
                cached = (now, acc.version, self.figures.metrics(i))
                self._shown[i] = cached
            out.append(cached[2])
        return out
