"""Per-run figures fed event by event: what the live table, the lanes and the headless progress
lines show, at a cost that does not grow with the run.

While a run is live, ``RunAccumulator.metrics()`` builds its figures from running state: counts,
first and last times, running sums, the last ROLLING_TOKENS tokens (the current rate), a log
histogram of ms/token (percentiles to within half a bucket, 1 %), and a ``TelemetryIndex`` of
cumulative energy and EMC sums (a window's J/token and EMC mean by bisection). Once the run has
ended, ``metrics()`` is the batch computation itself (``metrics.measure_run``, what ``run_metrics``
runs over a saved session's events), run once over the run's compact record, so the final figures
are the saved session's, exactly, and no event is rebuilt for them. That record is what keeps memory
linear and small: a ``metrics.TokenSeries`` (per token its arrival time and backend ms, 16 bytes, a
warm-up flag, 1 byte, and the enqueue time, 8 bytes, for adapters that print one); the run's few other
events (phases, summaries, start and end, not output lines); and the telemetry samples from the idle
window before the run to the first sample after it. The engine keeps one ``SessionAccumulator`` per
session for the end's figures, flags, report and Findings (``measured``), so the end of a session
reads nothing back from the journal.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from orintui.figures.metrics import (
    BUSY_CPU_PCT,
    IDLE_WINDOW_S,
    MAX_POWER_MODES,
    ROLLING_TOKENS,
    SLOW_FACTOR,
    Flag,
    RunMetrics,
    TokenSeries,
    across_runs,
    measure_run,
    model_bandwidth_gbs,
    observed_rate,
    rolling_rate,
    ttft_ms,
)
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.events import (
    Event,
    PhaseEvent,
    PrefillEvent,
    RunEndedEvent,
    RunStartedEvent,
    SummaryEvent,
    SummaryFigures,
    TelemetryEvent,
    TelemetryLike,
    TokenLike,
)
from orintui.session.model import RunInfo, Session

BUCKETS_PER_DOUBLING = 70  # log histogram of ms/token: each bucket 1 % wide
BIAS = 1 << 20  # keeps the log positive so int() floors it
HEAD = 16  # leading tokens kept to tell warm-up from the enqueue times while live
SLOW_WINDOW = 64  # recent enqueue times whose median the leading ones are held against while live


class Histogram:
    """Counts of positive values in log buckets: bounded, and a percentile to within 1 %."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0

    def add(self, value: float, count: int = 1) -> None:
        if value > 0:
            try:
                key = int(math.log2(value) * BUCKETS_PER_DOUBLING + BIAS) - BIAS  # floor, for negative logs too
            except OverflowError:  # infinity
                return
            self.counts[key] = self.counts.get(key, 0) + count
            self.n += count

    def percentile(self, q: float) -> float | None:
        """As ``metrics.percentile`` (linear between the closest ranks), each rank's value the
        geometric middle of its bucket: within half a bucket of the exact figure."""
        if not self.n:
            return None
        pos = (self.n - 1) * q / 100.0
        lo, hi = self._at(math.floor(pos)), self._at(math.ceil(pos))
        return lo + (hi - lo) * (pos - math.floor(pos))

    def _at(self, rank: int) -> float:
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen > rank:
                return 2 ** ((key + 0.5) / BUCKETS_PER_DOUBLING)
        return math.nan

    def copy(self) -> Histogram:
        new = Histogram()
        new.counts, new.n = dict(self.counts), self.n
        return new


class TelemetryIndex:
    """The session's telemetry as cumulative sums, for any window's energy and EMC mean in
    O(log samples). Samples come in time order (one sampler thread); one that does not is left out
    here (the final figures read the samples themselves). 24-32 bytes a sample."""

    def __init__(self) -> None:
        self.pt, self.pw, self.pj = array("d"), array("d"), array("d")  # power: t, W, cumulative J
        self.et, self.ecum = array("d"), array("d")  # EMC GB/s: t, cumulative sum

    def add(self, sample: TelemetryLike) -> None:
        t, mw, emc = sample["t"], sample.get("power_total_mw"), sample.get("emc_bw_gbs")
        if mw is not None and (not self.pt or t >= self.pt[-1]):
            w = mw / 1000.0
            self.pj.append(self.pj[-1] + (t - self.pt[-1]) * (self.pw[-1] + w) / 2 if self.pt else 0.0)
            self.pt.append(t)
            self.pw.append(w)
        if emc is not None and (not self.et or t >= self.et[-1]):
            self.ecum.append((self.ecum[-1] if self.ecum else 0.0) + emc)
            self.et.append(t)

    def _energy_to(self, t: float) -> float:
        """Joules from the first power sample to ``t`` (inside the samples), the last piece interpolated."""
        i = max(1, bisect_left(self.pt, t))
        t0, t1, w0, w1 = self.pt[i - 1], self.pt[i], self.pw[i - 1], self.pw[i]
        w = w0 if t1 == t0 else w0 + (w1 - w0) * (t - t0) / (t1 - t0)
        return self.pj[i - 1] + (t - t0) * (w0 + w) / 2

    def energy(self, start: float, end: float) -> float | None:
        """Trapezoid energy over [start, end]; None where the samples do not cover it."""
        if len(self.pt) < 2 or end <= start or self.pt[0] > start or self.pt[-1] < end:
            return None
        return self._energy_to(end) - self._energy_to(start)

    def power_until(self) -> float | None:
        return self.pt[-1] if self.pt else None

    def emc_mean(self, start: float, end: float) -> float | None:
        lo, hi = bisect_left(self.et, start), bisect_right(self.et, end)
        if hi <= lo:
            return None
        return (self.ecum[hi - 1] - (self.ecum[lo - 1] if lo else 0.0)) / (hi - lo)

    def copy(self, cut: tuple[int, int] | None = None) -> TelemetryIndex:
        """An independent copy; ``cut``: of the first (power, EMC) samples only (the arrays only grow,
        so a replay keyframe keeps this index and its ``lengths()``, not a copy)."""
        power, emc = cut if cut is not None else self.lengths()
        new = TelemetryIndex()
        new.pt, new.pw, new.pj = self.pt[:power], self.pw[:power], self.pj[:power]
        new.et, new.ecum = self.et[:emc], self.ecum[:emc]
        return new

    def lengths(self) -> tuple[int, int]:
        return len(self.pt), len(self.et)


class RunAccumulator:
    """One run's figures, fed its events (``add``) and the session's telemetry (``add_sample``)."""

    def __init__(self, run: RunInfo, keep_record: bool = True):
        self.run = run  # its status, start and end are kept in step by Session.apply
        self.keep_record = keep_record  # False: live figures only (the headless progress line)
        # the compact record the final figures are computed from
        self.series = TokenSeries()
        self.others: list[tuple[int, Event]] = []  # (tokens before it, event): phases, summaries...
        self.samples: list[Event] = []  # telemetry from the idle window to just after the run
        self.samples_open = False
        # running state for the live figures
        self.tokens = 0
        self.first_t: float | None = None
        self.prefill_starts: list[float] = []
        self.first_work_t: float | None = None
        self.ttft_ms: float | None = None
        self.ttft_origin = ""
        self.summary: SummaryFigures = {}  # the run's summaries merged (a llama-bench row is one of bench)
        self.bench: list[dict[str, Any]] = []
        self.prefill: tuple[float, str] | None = None
        self.started: RunStartedEvent | None = None
        self.ended: RunEndedEvent | None = None
        self.steady = 0
        self.steady_first_t: float | None = None
        self.steady_last_t: float | None = None
        self.ms_sum = 0.0
        self.ms_falsy = 0  # steady tokens after the first steady one without a backend ms
        self.first_steady_ms: float | None = None
        self.ms_hist, self.gap_hist = Histogram(), Histogram()
        self.recent: deque[tuple[float, float | None]] = deque(maxlen=ROLLING_TOKENS)
        self.head: list[tuple[float, float | None, Any]] = []  # (t, ms, enqueue ms) of the first HEAD tokens
        self.recent_enq: deque[float] = deque(maxlen=SLOW_WINDOW)
        self.enq_numeric = True
        self.version = 0
        self._final: RunMetrics | None = None
        self._final_version = -1
        self._cut: tuple[int, int, int] | None = None  # frozen(): the record's lengths at that moment

    # -- feeding ---------------------------------------------------------------------------------
    def add(self, event: Event) -> None:
        """One event of this run, in recorded order. O(1) amortised. A token goes to ``_token``, typed
        (TokenLike: no cast); the other kinds, a few a run, are cast to their TypedDict in their branch."""
        self.version += 1
        kind = event["kind"]
        if kind == ev.TOKEN:
            self._token(event)
            return
        if kind == ev.OUTPUT:
            return
        if self.keep_record:
            self.others.append((len(self.series.t), event))
        t = event["t"]
        if kind == ev.PHASE:
            phase = cast(PhaseEvent, event).get("phase")
            if phase == ev.Phase.PREFILL:
                self.prefill_starts.append(t)
            if self.first_work_t is None and phase in (ev.Phase.PREFILL, ev.Phase.DECODE):
                self.first_work_t = t
        elif kind == ev.PREFILL:
            prefill = cast(PrefillEvent, event)
            tokens, ms = prefill.get("tokens"), prefill.get("ms")
            if self.prefill is None and tokens and ms:
                self.prefill = (1000.0 * tokens / ms, "backend: prefill")
        elif kind == ev.SUMMARY:
            summary = cast(SummaryEvent, event)
            if summary.get("bench"):
                self.bench.append({k: v for k, v in summary.items() if k not in ("t", "kind", "run", "bench")})
            else:
                self.summary.update(summary)
        elif kind == ev.RUN_STARTED:
            self.started = cast(RunStartedEvent, event)
            self.samples_open = True
        elif kind == ev.RUN_ENDED:
            self.ended = cast(RunEndedEvent, event)

    def _token(self, e: TokenLike) -> None:
        t, ms, enq = e["t"], e.get("ms"), e.get("enqueue_ms")
        if self.first_t is None:
            self.first_t = t
            if self.first_work_t is None:
                self.first_work_t = t
            self.ttft_ms, self.ttft_origin = ttft_ms(t, self.prefill_starts, self.run.started_t)
        self.tokens += 1
        if self.keep_record:
            self.series.add(e)
        if isinstance(enq, (int, float)):
            self.recent_enq.append(enq)
        else:
            self.enq_numeric = False
        if len(self.head) < HEAD:
            self.head.append((t, ms, enq))
        if e.get("warmup"):
            return
        last = self.steady_last_t
        if last is None:
            self.steady_first_t, self.first_steady_ms = t, ms
        else:
            self.gap_hist.add((t - last) * 1000.0)
            if not ms:
                self.ms_falsy += 1
        if ms:
            self.ms_hist.add(ms)
            self.ms_sum += ms
        self.steady += 1
        self.steady_last_t = t
        self.recent.append((t, ms))

    def add_sample(self, sample: Event) -> None:
        """A telemetry sample, while this run may need it: from the start until the first sample at
        or after its end (the last energy window's closing edge)."""
        if not self.samples_open or not self.keep_record:
            return
        self.samples.append(sample)
        self.version += 1
        if self.ended is not None and sample["t"] >= self.ended["t"]:
            self.samples_open = False

    def seed_samples(self, samples: Iterable[Event]) -> None:
        """The samples before the run started: its idle baseline and the edges of its windows."""
        if self.keep_record:
            self.samples = [*samples, *self.samples]  # a new list: a keyframe may share the old one

    # -- figures --------------------------------------------------------------------------------
    @property
    def final(self) -> bool:
        return self.ended is not None and self.run.status in st.FINAL

    def current_rate(self) -> tuple[float | None, bool]:
        """(the current decode rate, whether it is the rolling one). Ended: the run's decode figure;
        live: the backend's reported rate where it printed one, else metrics.rolling_rate."""
        if self.summary.get("eval_tok_s") is not None:
            return self.summary["eval_tok_s"], False
        if self.bench:
            rows = [r.get("avg_ts") for r in self.bench if r.get("n_gen") and not r.get("n_prompt")]
            if rows:
                return rows[-1], False
        if self.ended is not None and self.steady >= 2:
            live = self.live_metrics()
            return live.decode, False
        return rolling_rate(list(self.recent)), True

    def _live_slow(self) -> int:
        """Leading warm-up tokens by their enqueue time (metrics.leading_slow), against the median of
        the recent ones rather than of the run's second half: exact again at the end."""
        if self.steady != self.tokens or not self.enq_numeric or self.tokens < 2 or not self.recent_enq:
            return 0
        ordered = sorted(self.recent_enq)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        n = 0
        while n < min(len(self.head), self.tokens) - 1 and self.head[n][2] > SLOW_FACTOR * median:
            n += 1
        return n

    def metrics(self, session: Session, telemetry: TelemetryIndex | None = None,
                first_samples: Iterable[Event] = ()) -> RunMetrics:
        """The run's figures: the batch ones once it has ended (computed once, again only if a late
        telemetry sample arrives), else the live ones."""
        if self.final and self.keep_record:
            return self.final_metrics(session, first_samples)
        if self.final and self._final is not None:  # no record here: the figures its keeper adopted
            return self._final
        return self.live_metrics(session, telemetry)

    def final_metrics(self, session: Session, first_samples: Iterable[Event] = ()) -> RunMetrics:
        """The batch figures over the record so far (``metrics.measure_run``: ``run_metrics`` over
        the saved session gives the same), whatever the run's state."""
        if self._final is None or self._final_version != self.version:
            self._final = measure_run(session, self.run, self.series, self.others, self._telemetry(first_samples))
            self._final_version = self.version
        return self._final

    def adopt_final(self, figures: RunMetrics, version: int) -> None:
        """Final figures already worked out for this run's record at ``version`` (a replay's seek folds
        the same events again: the same version is the same record; the live app keeps no record and
        takes the engine's); another version's are ignored."""
        if version == self.version:
            self._final, self._final_version = figures, version

    def _telemetry(self, first_samples: Iterable[Event]) -> list[Event]:
        """The run's samples, behind the session's first sample and first power sample (the batch
        figures read where telemetry begins and where power is first labelled)."""
        kept = {id(s) for s in self.samples}
        lead: list[Event] = []
        for s in first_samples:
            if id(s) not in kept and all(s is not x for x in lead):
                lead.append(s)
        lead.sort(key=lambda s: s["t"])
        return lead + self.samples

    def live_metrics(self, session: Session | None = None, telemetry: TelemetryIndex | None = None) -> RunMetrics:
        """The figures so far from the running state: O(1), percentiles O(histogram buckets)."""
        run = self.run
        m = RunMetrics(run=run.index, label=run.label, backend=run.backend, status=run.status,
                       repetition=run.repetition, warmup=run.warmup, model=run.model_path, error=run.error,
                       by_user=run.by_user, versions=dict(run.versions))
        host = session.host if session is not None else {}
        observed = not host.get("imported")
        slow = self._live_slow()
        n, first_t, ms_sum, falsy = self.steady, self.steady_first_t, self.ms_sum, self.ms_falsy
        first_ms, ms_hist, gap_hist = self.first_steady_ms, self.ms_hist, self.gap_hist
        if slow:
            first_t, first_ms = self.head[slow][0], self.head[slow][1]
            ms_hist, gap_hist = ms_hist.copy(), gap_hist.copy()
            for k in range(slow):
                t, ms, _ = self.head[k]
                if ms:
                    ms_sum -= ms
                    ms_hist.add(ms, -1)
                gap_hist.add((self.head[k + 1][0] - t) * 1000.0, -1)
                if k + 1 <= slow and not self.head[k + 1][1]:
                    falsy -= 1
            n -= slow
            m.sources["warmup"] = f"output: {slow} leading token(s) (live: against the recent median)"
        elif self.steady < self.tokens:
            m.sources["warmup"] = f"adapter: the first {self.tokens - self.steady} tokens (JIT compile)"
        m.tokens, m.warmup_tokens, m.steady_tokens = self.tokens, self.tokens - n, n
        m.first_token_t = self.first_t
        if n >= 2 and first_t is not None and self.steady_last_t is not None:
            m.decode_window = (first_t, self.steady_last_t)
        summary = self.summary
        if summary.get("eval_tok_s") is not None:
            m.decode_tok_s["reported"] = summary["eval_tok_s"]
            m.sources["decode_reported"] = summary.get("decode_source", "backend: eval time")
        elif n and ms_sum and falsy == 0 and first_ms:
            m.decode_tok_s["reported"] = 1000.0 * n / ms_sum
            m.sources["decode_reported"] = "backend: per-token ms"
        generated: int = summary.get("generated_tokens") or 0
        merged = max(0, generated - self.tokens)
        if merged:
            m.tokens, m.sources["tokens"] = generated, f"backend: {generated} generated, {self.tokens} reads"
        last_t = self.steady_last_t
        if observed and n >= 2 and first_t is not None and last_t is not None:
            m.decode_tok_s["observed"] = observed_rate([first_t, last_t], merged + n - 2)
            if m.decode_tok_s["observed"] is not None:
                m.sources["decode_observed"] = "observed: token arrival times"
        timed_all = n and falsy == 0
        if timed_all and ms_hist.n:
            m.itl_ms = {f"p{q}": ms_hist.percentile(q) for q in (50, 95, 99)}
            m.sources["itl_ms"] = "backend: per-token ms (live: 1 % histogram)"
        elif observed and gap_hist.n:
            m.itl_ms = {f"p{q}": gap_hist.percentile(q) for q in (50, 95, 99)}
            m.sources["itl_ms"] = "observed: token arrival gaps (live: 1 % histogram)"
        if summary.get("prompt_tok_s") is not None:
            m.prefill_tok_s = summary["prompt_tok_s"]
            m.sources["prefill_tok_s"] = summary.get("prefill_source", "backend: prompt eval time")
        elif self.prefill is not None:
            m.prefill_tok_s, m.sources["prefill_tok_s"] = self.prefill
        if observed and self.ttft_ms is not None:
            m.ttft_ms, m.sources["ttft_ms"] = self.ttft_ms, f"observed: {self.ttft_origin} to first token"
        load_ms = summary.get("load_ms")
        if load_ms is not None:
            m.load_s, m.sources["load_s"] = load_ms / 1000.0, "backend"
        elif run.started_t is not None and observed and self.first_work_t is not None:
            m.load_s, m.sources["load_s"] = self.first_work_t - run.started_t, "observed: run start to first work"
        m.bench = [dict(row) for row in self.bench]
        for row in m.bench:
            if row.get("n_gen") and not row.get("n_prompt"):
                m.decode_tok_s["reported"], m.sources["decode_reported"] = row.get("avg_ts"), f"backend: llama-bench {row.get('test')}"
            elif row.get("n_prompt") and not row.get("n_gen"):
                m.prefill_tok_s, m.sources["prefill_tok_s"] = row.get("avg_ts"), f"backend: llama-bench {row.get('test')}"
        if telemetry is not None and n >= 2 and first_t is not None and last_t is not None:
            self._live_energy(m, telemetry, first_t, last_t, n)
        model_bytes = run.model_bytes or summary.get("model_bytes")
        m.bandwidth_gbs = model_bandwidth_gbs(model_bytes, m.decode)
        peak = host.get("peak_bandwidth_gbs")
        if m.bandwidth_gbs is not None and peak:
            m.bandwidth_pct = 100.0 * m.bandwidth_gbs / peak
            m.sources["bandwidth"] = "model bytes x decode tok/s over the device's peak"
        m.flags = self._live_flags(host, n, merged)
        return m

    def _live_energy(self, m: RunMetrics, telemetry: TelemetryIndex, start: float, end: float, n: int) -> None:
        """Decode J/token and EMC over the window the samples reach so far."""
        until = telemetry.power_until()
        if until is not None and until < end:  # the last tokens are not covered yet: up to the last sample
            inside = bisect_right(self.series.t, until) - (self.tokens - n) if self.keep_record else 0
            end, n = until, inside
        joules = telemetry.energy(start, end) if n >= 2 else None
        if joules is not None:
            m.decode_energy_j, m.avg_power_w = joules, joules / (end - start)
            m.energy_j_per_token = joules / (n - 1)
            m.tokens_per_joule = (n - 1) / joules if joules > 0 else None
            m.sources["energy"] = "telemetry (live: up to the last sample)"
        emc = telemetry.emc_mean(start, self.steady_last_t or end)
        if emc is not None:
            m.emc_gbs, m.sources["emc_gbs"] = emc, "telemetry: EMC"

    def _live_flags(self, host: dict[str, Any], steady: int, merged: int) -> list[Flag]:
        """The flags a live run can already carry; few-tokens and those that need the whole decode
        window come with the final figures (metrics.run_flags)."""
        flags = []
        busy = self.started.get("cpu_load_before_pct") if self.started else None
        if isinstance(busy, (int, float)) and busy > BUSY_CPU_PCT:
            flags.append(Flag("busy", f"CPU {busy:.0f}% busy before the run started (above {BUSY_CPU_PCT:.0f}%)"))
        if merged:
            flags.append(Flag("merged-reads", f"{merged} tokens arrived inside other tokens' reads"))
        if self.tokens and host.get("jetson_clocks") == "OFF":
            flags.append(Flag("clocks-unlocked", "jetson_clocks was off: GPU and EMC clocks may scale during the run"))
        mode = host.get("nvpmodel")
        if self.tokens and mode and str(mode).upper() not in MAX_POWER_MODES:
            flags.append(Flag("power-mode", f"power mode {mode}, not MAXN"))
        return flags

    def copy(self) -> RunAccumulator:
        new = self._copy_running()
        new.series = self.series.copy()
        new.others, new.samples = list(self.others), list(self.samples)
        return new

    def frozen(self) -> RunAccumulator:
        """A snapshot for a replay keyframe, to be restored by ``thawed`` only: the compact record
        (token series, other events, samples) is not copied but shared with this accumulator, with
        its lengths now. This one only appends to them (what changes otherwise, the series' enqueue
        array made on its first enqueue time, the samples seeded at a run's start, is a new object),
        so cut to those lengths they are the record as it is now. The rest, bounded, is copied."""
        new = self._copy_running()
        new.series = self.series.shared()
        new._cut = (len(self.series), len(self.others), len(self.samples))
        return new

    def thawed(self) -> RunAccumulator:
        """An independent accumulator from a ``frozen`` snapshot: its shared record copied, cut to the
        snapshot's lengths (applying events to it changes neither the snapshot nor what it shares)."""
        assert self._cut is not None, "thawed() restores a frozen() snapshot"
        tokens, others, samples = self._cut
        new = self._copy_running()
        new.series = self.series.copy(tokens)
        new.others, new.samples = self.others[:others], self.samples[:samples]
        new._cut = None
        return new

    def _copy_running(self) -> RunAccumulator:
        """A copy of the running state; the record's containers are still this one's."""
        new = object.__new__(RunAccumulator)
        new.__dict__.update(self.__dict__)
        new.prefill_starts, new.summary = list(self.prefill_starts), self.summary.copy()
        new.bench, new.head = [dict(r) for r in self.bench], list(self.head)
        new.ms_hist, new.gap_hist = self.ms_hist.copy(), self.gap_hist.copy()
        new.recent = deque(self.recent, maxlen=self.recent.maxlen)
        new.recent_enq = deque(self.recent_enq, maxlen=self.recent_enq.maxlen)
        return new


class SessionAccumulator:
    """Every run's accumulator plus the session's telemetry: what LiveState and the headless printer
    feed events to. ``runs`` are kept in step by the caller's Session.apply."""

    RECENT_SAMPLES = 256  # the samples before a run starts, for its idle baseline (3 s at up to 85 Hz)

    def __init__(self, session: Session, keep_record: bool = True):
        self.session = session
        self.runs = [RunAccumulator(r, keep_record) for r in session.runs]
        self.telemetry = TelemetryIndex()
        self.recent: deque[Event] = deque(maxlen=self.RECENT_SAMPLES)
        self.first_sample: Event | None = None
        self.first_power: Event | None = None
        self.keep_record = keep_record
        self._telemetry_cut: tuple[int, int] | None = None  # frozen(): the telemetry index's lengths then

    def add(self, event: Event) -> None:
        """One event, after Session.apply has seen it."""
        kind, run = event["kind"], event.get("run")
        if kind == ev.TELEMETRY:
            self.telemetry.add(event)
            self.first_sample = self.first_sample or event
            if self.first_power is None and cast(TelemetryEvent, event).get("power_total_mw") is not None:
                self.first_power = event
            self.recent.append(event)
            for acc in self.runs:
                if acc.samples_open:
                    acc.add_sample(event)
            return
        if run is None or not 0 <= run < len(self.runs):
            return
        acc = self.runs[run]
        acc.add(event)
        if kind == ev.RUN_STARTED and self.keep_record:
            acc.seed_samples(self._before(event["t"]))

    def _before(self, started: float) -> list[Event]:
        """The recent samples inside the idle window, and the last one (and last power one) before it."""
        cut = started - IDLE_WINDOW_S
        inside = [s for s in self.recent if s["t"] >= cut]
        older = [s for s in self.recent if s["t"] < cut]
        edge = older[-1:] + [s for s in reversed(older) if s.get("power_total_mw") is not None][:1]
        return sorted({id(s): s for s in edge}.values(), key=lambda s: s["t"]) + inside

    def _first(self) -> list[Event]:
        return [s for s in (self.first_sample, self.first_power) if s is not None]

    def metrics(self, index: int) -> RunMetrics:
        return self.runs[index].metrics(self.session, self.telemetry, self._first())

    def measured(self) -> tuple[Session, list[RunMetrics]]:
        """The end of a session: every run's batch figures with the flags that hold runs against each
        other (what ``metrics.session_metrics`` gives for the saved session), and a copy of the session
        holding what they were computed from other than tokens and output lines (each run's phases,
        summaries, start and end, and the telemetry samples kept for it): what the report and the
        Findings read. Nothing is read back from the journal; the per-token figures come from each
        run's compact record (the verdicts' per-token times are ``RunMetrics.token_ms``)."""
        first = self._first()
        # copies: the flags across runs are added to these, not to the figures each run keeps
        metrics = [replace(acc.final_metrics(self.session, first)) for acc in self.runs]
        for m in metrics:
            m.flags = list(m.flags)
        by_run = [[e for _, e in acc.others] for acc in self.runs]
        across_runs(metrics, lambda i: by_run[i])
        kept: dict[int, Event] = {id(s): s for s in first}
        for acc in self.runs:
            kept.update((id(s), s) for s in acc.samples)
        events = sorted([*kept.values(), *(e for run in by_run for e in run)], key=lambda e: e["t"])
        return replace(self.session, events=events, runs=list(self.session.runs)), metrics

    def copy(self, session: Session) -> SessionAccumulator:
        return self._copied(session, [acc.copy() for acc in self.runs], self.telemetry.copy())

    def frozen(self, session: Session) -> SessionAccumulator:
        """A replay keyframe's snapshot (RunAccumulator.frozen): the per-token records and the
        telemetry index shared with this one, with their lengths now; ``thawed`` restores it."""
        new = self._copied(session, [acc.frozen() for acc in self.runs], self.telemetry)
        new._telemetry_cut = self.telemetry.lengths()
        return new

    def thawed(self, session: Session) -> SessionAccumulator:
        assert self._telemetry_cut is not None, "thawed() restores a frozen() snapshot"
        new = self._copied(session, [acc.thawed() for acc in self.runs], self.telemetry.copy(self._telemetry_cut))
        new._telemetry_cut = None
        return new

    def _copied(self, session: Session, runs: list[RunAccumulator], telemetry: TelemetryIndex) -> SessionAccumulator:
        new = object.__new__(SessionAccumulator)
        new.__dict__.update(self.__dict__)
        new.session, new.runs, new.telemetry = session, runs, telemetry
        for acc, run in zip(new.runs, session.runs):
            acc.run = run
        new.recent = deque(self.recent, maxlen=self.recent.maxlen)
        return new
