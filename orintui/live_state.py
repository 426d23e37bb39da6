"""The state every screen shows, folded from events. Live runs and replays feed it the same
events, so every panel replays. Standard library only: the UI reads it, never parses."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace

from orintui.metrics import RunMetrics, run_metrics
from orintui.session import events as ev
from orintui.session.model import RunInfo, Session

HISTORY = 120  # telemetry samples kept for sparklines
MS_SERIES = 400  # per-token ms kept per lane
OUTPUT_LINES = 2000


@dataclass
class Lane:
    index: int
    label: str
    backend: str
    warmup_run: bool
    repetition: int
    phase: str = "queued"
    status: str = "queued"
    tokens: int = 0
    started_t: float | None = None
    first_token_t: float | None = None
    last_token_t: float | None = None
    ttft_ms: float | None = None
    prefill_t: float | None = None
    text: str = ""
    error: str | None = None
    ms: deque = field(default_factory=lambda: deque(maxlen=MS_SERIES))
    recent: deque = field(default_factory=lambda: deque(maxlen=32))  # (t, ms) of steady tokens
    reported_tok_s: float | None = None

    @property
    def tok_s(self) -> float | None:
        """Current rate: the backend's own figure where it prints one, else recent arrivals."""
        if self.reported_tok_s:
            return self.reported_tok_s
        ms = [m for _, m in self.recent if m]
        if ms:
            return 1000.0 * len(ms) / sum(ms)
        times = [t for t, _ in self.recent]
        if len(times) >= 2 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
        return None

    def copy(self) -> Lane:
        return replace(self, ms=deque(self.ms, maxlen=self.ms.maxlen), recent=deque(self.recent, maxlen=self.recent.maxlen))


class LiveState:
    def __init__(self, session: Session):
        # a private session: the comparison uses the same metrics code as reports
        self.session = Session(id=session.id, started_at=session.started_at, host=session.host,
                               scenario=session.scenario, runs=[RunInfo.from_dict(r.to_dict()) for r in session.runs],
                               label=session.label)
        for run in self.session.runs:
            run.status, run.started_t, run.ended_t, run.exit_code, run.signal, run.error = "queued", None, None, None, None, None
            run.summary = {}
        self.lanes = [Lane(r.index, r.label, r.backend, r.warmup, r.repetition) for r in self.session.runs]
        self.by_run: list[list[dict]] = [[] for _ in self.session.runs]
        self.telemetry: list[dict] = []
        self.last_sample: dict | None = None
        self.history: dict[str, deque] = {k: deque(maxlen=HISTORY) for k in ("gpu", "emc", "power")}
        self.output: deque = deque(maxlen=OUTPUT_LINES)
        self.output_total = 0  # lines ever added: the deque's length stops growing once it is full
        self.t = 0.0
        self.current: int | None = None
        self.version = 0
        self._metrics: dict[int, RunMetrics] = {}
        self._metrics_version: dict[int, int] = {}
        self._run_versions = [0] * len(self.session.runs)
        self._metrics_at = 0.0

    def copy(self) -> LiveState:
        """An independent snapshot (a replay keyframe): applying events to either leaves the other as
        it was. Events are never mutated once recorded, so they are shared, not copied."""
        new = object.__new__(LiveState)
        new.__dict__.update(self.__dict__)
        s = self.session
        new.session = Session(id=s.id, started_at=s.started_at, host=s.host, scenario=s.scenario,
                              runs=[RunInfo.from_dict(r.to_dict()) for r in s.runs], label=s.label)
        new.lanes = [lane.copy() for lane in self.lanes]
        new.by_run = [list(events) for events in self.by_run]
        new.telemetry = list(self.telemetry)
        new.history = {k: deque(v, maxlen=v.maxlen) for k, v in self.history.items()}
        new.output = deque(self.output, maxlen=self.output.maxlen)
        new._metrics, new._metrics_version = dict(self._metrics), dict(self._metrics_version)
        new._run_versions = list(self._run_versions)
        return new

    # -- folding --------------------------------------------------------------------------------
    def apply(self, event: dict) -> None:
        self.version += 1
        self.t = max(self.t, event["t"])
        kind, run = event["kind"], event.get("run")
        self.session.apply(event)
        if kind == ev.TELEMETRY:
            self.telemetry.append(event)
            self.last_sample = event
            self.history["gpu"].append(event.get("gpu_load_pct") or 0.0)
            self.history["emc"].append(event.get("emc_bw_gbs") if event.get("emc_bw_gbs") is not None
                                       else (event.get("emc_util_pct") or 0.0))
            self.history["power"].append((event.get("power_total_mw") or 0.0) / 1000.0)
            return
        if kind == ev.NOTE:
            self._output(run, f"[note] {event.get('text')}")
            return
        if run is None or not 0 <= run < len(self.lanes):
            return
        self.by_run[run].append(event)
        self._run_versions[run] += 1
        lane = self.lanes[run]
        if kind == ev.RUN_STARTED:
            lane.status, lane.phase, lane.started_t = "running", "loading", event["t"]
            self.current = run
        elif kind == ev.PHASE:
            lane.phase = event["phase"]
            if event["phase"] == "prefill" and lane.prefill_t is None:
                lane.prefill_t = event["t"]
        elif kind == ev.TOKEN:
            self._token(lane, event)
        elif kind == ev.SUMMARY:
            if event.get("eval_tok_s"):
                lane.reported_tok_s = event["eval_tok_s"]
            if event.get("generated_tokens", 0) > lane.tokens:  # reads that carried two tokens
                lane.tokens = event["generated_tokens"]
            if event.get("bench") and event.get("n_gen") and event.get("avg_ts"):
                lane.reported_tok_s = event["avg_ts"]
        elif kind == ev.OUTPUT:
            self._output(run, event["line"])
        elif kind == ev.RUN_ENDED:
            lane.status = event.get("status") or "done"
            lane.phase = ev.end_phase(lane.status)
            lane.error = event.get("error")
            if self.current == run:
                self.current = None

    def _output(self, run: int | None, line: str) -> None:
        self.output.append((run, line))
        self.output_total += 1

    def _token(self, lane: Lane, event: dict) -> None:
        t = event["t"]
        if lane.first_token_t is None:
            lane.first_token_t = t
            origin = lane.prefill_t if lane.prefill_t is not None else lane.started_t
            lane.ttft_ms = (t - origin) * 1000.0 if origin is not None else None
            lane.phase = "decode"
        ms = event.get("ms")
        if ms is None and lane.last_token_t is not None:
            ms = (t - lane.last_token_t) * 1000.0
        lane.last_token_t = t
        lane.tokens += 1
        if not event.get("warmup"):
            lane.recent.append((t, event.get("ms")))
            if ms is not None:
                lane.ms.append(ms)
        lane.text = (lane.text + event.get("text", ""))[-400:]

    # -- derived --------------------------------------------------------------------------------
    def metrics(self, max_age_s: float = 1.0) -> list[RunMetrics]:
        """Per-run figures through metrics.py, recomputed at most once a second per changed run."""
        now = time.monotonic()
        stale = now - self._metrics_at >= max_age_s
        for run in self.session.runs:
            i = run.index
            changed = self._metrics_version.get(i) != self._run_versions[i]
            just_ended = changed and self.lanes[i].status not in ("queued", "running")  # final figures at once
            if i not in self._metrics or (changed and (stale or just_ended)):
                self._metrics[i] = run_metrics(self.session, run, self.telemetry, self.by_run[i])
                self._metrics_version[i] = self._run_versions[i]
        if stale:
            self._metrics_at = now
        return [self._metrics[r.index] for r in self.session.runs]
