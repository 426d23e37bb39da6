"""Every figure orintui shows, defined once. The README's "Metrics" section documents these.

All functions are pure: they read a session's events and return numbers, never None-as-zero.
"""

from __future__ import annotations

import math
import statistics
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from itertools import compress, islice
from operator import add
from typing import Any, cast

from orintui.session import status as st
from orintui.session.events import (
    OUTPUT,
    PHASE,
    PREFILL,
    RUN_ENDED,
    RUN_STARTED,
    SUMMARY,
    TELEMETRY,
    TOKEN,
    Event,
    Phase,
    RunEndedEvent,
    RunStartedEvent,
    SummaryEvent,
    SummaryFigures,
    TelemetryLike,
    TokenLike,
)
from orintui.session.model import RunInfo, Session

# -- validity flags ------------------------------------------------------------------------------
# A figure orintui cannot fully stand behind carries a flag: shown as a badge, listed in the JSON.
BUSY_CPU_PCT = 25.0  # machine CPU load (all cores) in the moment before a run that marks it busy
MIN_STEADY_TOKENS = 10  # fewer steady-state tokens than this: rates and percentiles are shaky
NOISY_CV = 0.10  # repetitions whose decode rates vary more than this (stddev / mean)
GAP_FACTOR = 3.0  # a telemetry gap: no sample for this many intervals (at least GAP_MIN_S)
GAP_MIN_S = 1.5
MAX_POWER_MODES = ("MAXN", "MAXN_SUPER", "0")


@dataclass(frozen=True)
class Flag:
    code: str  # short, stable: the badge and the JSON name
    text: str  # one line a person reads, with the numbers behind it


FLAGS = {
    "busy": "the machine was busy before the run started",
    "few-tokens": f"fewer than {MIN_STEADY_TOKENS} steady-state tokens",
    "noisy": f"repetitions vary by more than {NOISY_CV:.0%} (coefficient of variation)",
    "merged-reads": "some reads carried several tokens (arrival times are not all per-token)",
    "telemetry-gap": "telemetry has a gap inside the decode window",
    "clocks-unlocked": "GPU clocks not locked (jetson_clocks off)",
    "power-mode": "not the maximum power mode",
    "throttled": "throttling (power cap or heat) during decode",
    "leftover-process": "a process the run started outlived it (daemonised, or ignored the hang-up)",
    "cache-hit": "a server answered part of the prompt from its prefix cache: TTFT and prefill are not cold",
    "dirty-start": "the quiet-machine gate timed out: the run started on a machine that was not idle or settled",
}


def cpu_busy_pct(before: Any, after: Any) -> float:
    """Share of CPU time not idle between two psutil.cpu_times() readings, in % of all cores."""
    idle = lambda t: t.idle + getattr(t, "iowait", 0.0)  # noqa: E731
    total = sum(after) - sum(before)
    return 0.0 if total <= 0 else max(0.0, 100.0 * (1.0 - (idle(after) - idle(before)) / total))


# -- small statistics ------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in 0..100."""
    return percentiles(values, (q,))[0]


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float | None]:
    """``percentile`` at each of ``qs``. A long series (an hour of tokens) is not sorted: its values at
    the ranks needed are selected exactly (``ranked``), so no copy of it is made as Python floats."""
    if not values:
        return [None for _ in qs]
    n = len(values)
    spots = [(n - 1) * q / 100.0 for q in qs]
    need = {r for pos in spots for r in (math.floor(pos), math.ceil(pos))}
    at: Callable[[int], float]
    if n <= SORT_UP_TO:
        at = sorted(values).__getitem__
    else:
        at = ranked(values, need).__getitem__
    out: list[float | None] = []
    for pos in spots:
        lo, hi = math.floor(pos), math.ceil(pos)
        out.append(at(lo) + (at(hi) - at(lo)) * (pos - lo))
    return out


SORT_UP_TO = 1 << 16  # longer series: order statistics selected without a sorted copy
SAMPLES = 4096  # values sampled to cut a long series into slices of about len / SAMPLES values


def ranked(values: Sequence[float], ranks: Iterable[int]) -> dict[int, float]:
    """The values at ``ranks`` (0-based positions in sorted order), exactly, for finite values. A long
    series is cut at the distinct values of an even sample of it: each sampled value is a slice of its
    own (its copies: no sorting needed), each open interval between two is a slice of about
    len / SAMPLES values. Two passes in C count the slices (bisect, Counter); only the intervals that
    hold a wanted rank are gathered and sorted (or cut again, should one be crowded)."""
    want = sorted(set(ranks))
    if len(values) <= SORT_UP_TO:
        ordered = sorted(values)
        return {r: ordered[r] for r in want}
    bounds = sorted(set(islice(values, 0, None, max(1, len(values) // SAMPLES))))
    left, right = partial(bisect_left, bounds), partial(bisect_right, bounds)
    # a value equal to bounds[i] counts as slice 2i + 1, one between bounds[i - 1] and bounds[i] as 2i
    counts = Counter(map(add, map(left, values), map(right, values)))
    out: dict[int, float] = {}
    start = 0
    for key in range(2 * len(bounds) + 1):
        count = counts.get(key, 0)
        inner = [r for r in want if start <= r < start + count]
        if inner and key % 2:
            out.update((r, bounds[key // 2]) for r in inner)
        elif inner:
            i = key // 2
            low = bounds[i - 1] if i else -math.inf
            high = bounds[i] if i < len(bounds) else math.inf
            inside = array("d", [v for v in values if low < v < high])
            found = ranked(inside, [r - start for r in inner])  # strictly fewer values: the sample is not in it
            out.update((r, found[r - start]) for r in inner)
        start += count
    return out


def mean_stddev(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n-1), as llama-bench reports repetitions."""
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


ROLLING_TOKENS = 32  # the current rate of a live run: over its last this many steady tokens


def rolling_rate(recent: Sequence[tuple[float, float | None]]) -> float | None:
    """The current decode rate of a live run, from its last steady tokens as (arrival t, backend ms):
    the backend's own ms where every one has it (as the reported rate), else their arrival times.
    The lane, the live table's current rate and the headless progress line all show this; once the
    run has ended they show its decode figure (``RunMetrics.decode``)."""
    ms = [m for _, m in recent if m]
    if ms and len(ms) == len(recent):
        return 1000.0 * len(ms) / sum(ms)
    return observed_rate([t for t, _ in recent])


def ttft_ms(first_token_t: float, prefill_starts: Iterable[float], started_t: float | None) -> tuple[float | None, str]:
    """Time to first token: from the last prefill start before the first token (llama3.py --no_api
    loads, then waits for the question), else from the run's start; and where it counts from."""
    starts = [t for t in prefill_starts if t <= first_token_t]
    origin = starts[-1] if starts else started_t
    if origin is None:
        return None, ""
    return (first_token_t - origin) * 1000.0, "prefill start" if starts else "run start"


def observed_rate(times: Sequence[float], merged: int = 0) -> float | None:
    """Tokens per second from arrival times: (n-1) / (t_last - t_first).

    ``merged`` counts tokens that arrived inside another token's read (the backend's own count
    says how many): they are intervals too."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1 + merged) / (times[-1] - times[0])


# -- energy and bandwidth ----------------------------------------------------------------------
def _interpolate(samples: Sequence[tuple[float, float]], t: float) -> float:
    for (t0, p0), (t1, p1) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return p0 if t1 == t0 else p0 + (p1 - p0) * (t - t0) / (t1 - t0)
    return samples[0][1] if t < samples[0][0] else samples[-1][1]


def energy_joules(samples: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Trapezoid integral of power (t seconds, W) over [start, end], the edges interpolated.

    None when the samples do not cover the window: a gap is not zero power."""
    pts = sorted((t, p) for t, p in samples if p is not None)
    if len(pts) < 2 or end <= start or pts[0][0] > start or pts[-1][0] < end:
        return None
    inner = [(t, p) for t, p in pts if start < t < end]
    window = [(start, _interpolate(pts, start)), *inner, (end, _interpolate(pts, end))]
    return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(window, window[1:]))


IDLE_WINDOW_S = 3.0  # the idle baseline: power in the seconds before run_started (after the previous run)


def power_coverage_gap(samples: Sequence[tuple[float, float]], start: float, end: float) -> str:
    """Why ``energy_joules`` gave None for [start, end], as a sentence (a gap is never zero)."""
    if not samples:
        return "no power samples in this session (the telemetry source gives no power)"
    if end <= start:
        return "the window is empty"
    lo, hi = min(t for t, _ in samples), max(t for t, _ in samples)
    return f"power samples span {lo:.2f}-{hi:.2f} s; the window {start:.2f}-{end:.2f} s is not covered"


def window_energy(samples: Sequence[tuple[float, float]], start: float, end: float,
                  tokens: float | None) -> tuple[dict[str, float | None], str | None]:
    """Energy J, average W, J/token and tokens/J over [start, end]; the reason where n/a."""
    out: dict[str, float | None] = {"energy_j": None, "avg_w": None, "j_per_token": None, "tokens_per_j": None}
    joules = energy_joules(samples, start, end)
    if joules is None:
        return out, power_coverage_gap(samples, start, end)
    out["energy_j"], out["avg_w"] = joules, joules / (end - start)
    if not tokens:
        return out, "no token count for this window"
    out["j_per_token"] = joules / tokens
    out["tokens_per_j"] = tokens / joules if joules > 0 else None
    return out, None


def idle_power_w(samples: Sequence[tuple[float, float]], started: float,
                 not_before: float | None = None) -> tuple[float | None, str | None]:
    """Mean power over the IDLE_WINDOW_S before a run starts, never reaching back into the previous
    run: the time-weighted average of the samples there (at least two, 1 s apart or more)."""
    lo = max(started - IDLE_WINDOW_S, not_before if not_before is not None else -math.inf)
    inside = sorted((t, p) for t, p in samples if lo <= t <= started)
    if len(inside) < 2 or inside[-1][0] - inside[0][0] < 1.0:
        span = started - lo
        return None, (f"{len(inside)} power sample(s) in the {span:.1f} s before the run"
                      + (" (the previous run ended then)" if not_before is not None and not_before > started - IDLE_WINDOW_S
                         else "") + "; a baseline needs two, at least 1 s apart")
    joules = energy_joules(inside, inside[0][0], inside[-1][0])
    return (joules / (inside[-1][0] - inside[0][0]) if joules is not None else None), None


def model_bandwidth_gbs(model_bytes: int | None, tok_s: float | None) -> float | None:
    """Effective bandwidth if every weight is read once per token."""
    if not model_bytes or not tok_s:
        return None
    return model_bytes * tok_s / 1e9


# -- per run -----------------------------------------------------------------------------------
@dataclass
class RunMetrics:
    run: int
    label: str
    backend: str
    status: str
    repetition: int
    warmup: bool
    model: str | None
    tokens: int = 0
    warmup_tokens: int = 0
    decode_tok_s: dict[str, float | None] = field(default_factory=lambda: {"reported": None, "observed": None})
    prefill_tok_s: float | None = None
    ttft_ms: float | None = None
    itl_ms: dict[str, float | None] = field(default_factory=lambda: {"p50": None, "p95": None, "p99": None})
    load_s: float | None = None
    energy_j_per_token: float | None = None
    avg_power_w: float | None = None
    power_label: str | None = None
    decode_energy_j: float | None = None
    tokens_per_joule: float | None = None
    prefill_energy_j: float | None = None
    prefill_j_per_token: float | None = None
    prefill_avg_power_w: float | None = None
    idle_power_w: float | None = None
    marginal_j_per_token: float | None = None
    energy_na: dict[str, str] = field(default_factory=dict)  # energy figure -> why it is n/a
    bandwidth_gbs: float | None = None
    bandwidth_pct: float | None = None
    emc_gbs: float | None = None
    error: str | None = None
    bench: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    by_user: bool = False
    versions: dict[str, str] = field(default_factory=dict)  # what produced the numbers
    # what the analysis reads instead of the run's events (diagnosis windows, the verdicts' bootstrap)
    steady_tokens: int = 0
    first_token_t: float | None = None
    decode_window: tuple[float, float] | None = None  # first to last steady token
    token_ms: array[float] = field(default_factory=lambda: array("d"), repr=False)  # token_times: 8 bytes a token

    @property
    def ranks(self) -> bool:
        """Only complete, measured runs count for "best", headlines and repetition statistics."""
        return st.ranks(self.status) and not self.warmup

    @property
    def decode(self) -> float | None:
        """The figure shown first: the backend's own, else the observed one."""
        return self.decode_tok_s["reported"] or self.decode_tok_s["observed"]

    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain values; the per-token times left out (a run's worth of numbers)."""
        out = asdict(replace(self, token_ms=array("d")))
        del out["token_ms"]
        return out


def _power_samples(events: Iterable[Event]) -> tuple[list[tuple[float, float]], str | None]:
    samples, label = [], None
    for e in events:
        if e["kind"] == TELEMETRY and e.get("power_total_mw") is not None:
            samples.append((e["t"], e["power_total_mw"] / 1000.0))
            label = label or e.get("power_total_label")
    return samples, label


class TokenSeries:
    """A run's tokens, compact: per token its arrival time and backend ms (NaN: none) as ``array('d')``
    and a warm-up flag (1 byte), plus the enqueue ms where the adapter prints one (NaN where a token
    has none or not a number): 17 bytes a token, 25 with enqueue times. Every per-token figure is
    computed from this, whether the tokens come from a saved session's events (``split_run``) or were
    fed one at a time while the run was live (metrics_live)."""

    __slots__ = ("t", "ms", "warm", "enq", "enq_all")

    def __init__(self) -> None:
        self.t: array[float] = array("d")
        self.ms: array[float] = array("d")
        self.warm = bytearray()
        self.enq: array[float] | None = None  # None: no token had an enqueue time
        self.enq_all = True  # every token so far has a numeric enqueue time (what leading_slow needs)

    def __len__(self) -> int:
        return len(self.t)

    def add(self, e: TokenLike) -> None:
        ms, enq = e.get("ms"), e.get("enqueue_ms")
        self.t.append(e["t"])
        self.ms.append(NAN if ms is None else ms)  # a number: the schema says so
        self.warm.append(1 if e.get("warmup") else 0)
        value = NAN
        if isinstance(enq, (int, float)):
            value = float(enq)
        else:
            self.enq_all = False
        if enq is not None and self.enq is None:
            self.enq = array("d", [NAN]) * (len(self.t) - 1)
        if self.enq is not None:
            self.enq.append(value)

    def copy(self, n: int | None = None) -> TokenSeries:
        """An independent copy of the first ``n`` tokens (all by default). The arrays only ever grow
        (``enq`` is made once, as long as ``t``), so a replay keyframe keeps this series and a length,
        not a copy (metrics_live.RunAccumulator.frozen), and copies them cut to it on restore."""
        new = TokenSeries()
        n = len(self.t) if n is None else n
        new.t, new.ms, new.warm = self.t[:n], self.ms[:n], self.warm[:n]
        new.enq = self.enq[:n] if self.enq is not None else None
        new.enq_all = self.enq_all
        return new

    def shared(self) -> TokenSeries:
        """This series' arrays as they are, not copied (``copy(n)`` cuts them to a length)."""
        new = TokenSeries()
        new.t, new.ms, new.warm, new.enq, new.enq_all = self.t, self.ms, self.warm, self.enq, self.enq_all
        return new


NAN = float("nan")
Placed = list[tuple[int, Event]]  # a run's events other than tokens and output lines, each with the tokens before it


def split_run(events: Iterable[Event]) -> tuple[TokenSeries, Placed]:
    """A run's events as its figures read them: the tokens compact, every other event (output lines
    left out: no figure reads them) with how many tokens came before it."""
    series, others = TokenSeries(), []
    for e in events:
        kind = e["kind"]
        if kind == TOKEN:
            series.add(e)
        elif kind != OUTPUT:
            others.append((len(series.t), e))
    return series, others


def steady_part(series: TokenSeries) -> tuple[Sequence[float], Sequence[float], int]:
    """The steady-state tokens' arrival times and ms, and how many leading tokens are warm-up by their
    own enqueue time (``leading_slow``; only where the adapter flags no warm-up itself)."""
    if 1 in series.warm:
        return (array("d", compress(series.t, (not w for w in series.warm))),
                array("d", compress(series.ms, (not w for w in series.warm))), 0)
    slow = slow_prefix(series.enq) if series.enq is not None and series.enq_all else 0
    if slow:
        return series.t[slow:], series.ms[slow:], slow
    return series.t, series.ms, 0


def _all_set(values: Iterable[float]) -> bool:
    """Every value a number other than 0 (NaN: none), as ``all(e.get("ms") for e in tokens)``."""
    return all(v == v and v != 0 for v in values)


def _gaps_ms(times: Sequence[float]) -> array[float]:
    return array("d", ((b - a) * 1000.0 for a, b in zip(times, islice(times, 1, None))))


def run_metrics(session: Session, run: RunInfo, telemetry: list[Event] | None = None,
                events: list[Event] | None = None) -> RunMetrics:
    """``events`` (the run's own) and ``telemetry`` may be passed in by callers that keep them
    apart already, so a live view need not scan the whole session."""
    if events is None:
        events = session.run_events(run.index)
    if telemetry is None:
        telemetry = [e for e in session.events if e["kind"] == TELEMETRY]
    series, others = split_run(events)
    return measure_run(session, run, series, others, telemetry)


def measure_run(session: Session, run: RunInfo, series: TokenSeries, others: Placed,
                telemetry: list[Event]) -> RunMetrics:
    """The run's figures from its compact record: what ``run_metrics`` computes over its events, and
    what an accumulator fed while the run was live gives at its end (metrics_live), the same numbers."""
    events = [e for _, e in others]
    m = RunMetrics(run=run.index, label=run.label, backend=run.backend, status=run.status,
                   repetition=run.repetition, warmup=run.warmup, model=run.model_path, error=run.error,
                   by_user=run.by_user, versions=dict(run.versions))
    n = len(series)
    steady_t, steady_ms, slow = steady_part(series)
    k = len(steady_t)
    if slow:  # warm-up told from the output itself: the JIT's capture shows in the enqueue time
        m.sources["warmup"] = (f"output: {slow} leading token(s) whose enqueue took more than {SLOW_FACTOR:g}x "
                               "the steady median (JIT compile or capture)")
    elif k < n:
        m.sources["warmup"] = f"adapter: the first {n - k} tokens (JIT compile)"
    m.tokens, m.warmup_tokens, m.steady_tokens = n, n - k, k
    m.first_token_t = series.t[0] if n else None
    m.decode_window = (steady_t[0], steady_t[-1]) if k >= 2 else None
    observed = not session.host.get("imported")  # an imported log's times are rebuilt, not observed
    summary: SummaryFigures = {}
    for e in events:
        if e["kind"] == SUMMARY:
            figures = cast(SummaryEvent, e)
            if figures.get("bench"):
                m.bench.append({key: v for key, v in figures.items() if key not in ("t", "kind", "run", "bench")})
            else:
                summary.update(figures)

    # decode rate: the backend's figure first, then the observed one
    if summary.get("eval_tok_s") is not None:
        m.decode_tok_s["reported"] = summary["eval_tok_s"]
        m.sources["decode_reported"] = summary.get("decode_source", "backend: eval time")
    elif k and _all_set(steady_ms):
        m.decode_tok_s["reported"] = 1000.0 * k / sum(steady_ms)
        m.sources["decode_reported"] = "backend: per-token ms"
    generated: int = summary.get("generated_tokens") or 0
    merged = max(0, generated - n) if generated else 0
    if merged:
        m.tokens, m.sources["tokens"] = generated, f"backend: {generated} generated, {n} reads"
    m.decode_tok_s["observed"] = observed_rate(steady_t, merged) if observed else None
    if m.decode_tok_s["observed"] is not None:
        m.sources["decode_observed"] = "observed: token arrival times"

    # inter-token latency: the backend's per-token ms where it prints one (llama.cpp --log-jsonl's clock
    # gives none for the first token: it has no predecessor), else arrival gaps
    timed = steady_ms[1:] if k and steady_ms[0] != steady_ms[0] else steady_ms
    itl: Sequence[float]
    if len(timed) and _all_set(timed):
        itl, m.sources["itl_ms"] = timed, "backend: per-token ms"
    else:
        itl = _gaps_ms(steady_t) if observed else ()
        if itl:
            m.sources["itl_ms"] = "observed: token arrival gaps"
    m.itl_ms = dict(zip(("p50", "p95", "p99"), percentiles(itl, (50, 95, 99))))
    m.token_ms = token_times(timed, steady_t, observed)

    if summary.get("prompt_tok_s") is not None:
        m.prefill_tok_s = summary["prompt_tok_s"]
        m.sources["prefill_tok_s"] = summary.get("prefill_source", "backend: prompt eval time")
    else:
        for e in events:
            if e["kind"] == PREFILL and e.get("tokens") and e.get("ms"):
                m.prefill_tok_s, m.sources["prefill_tok_s"] = 1000.0 * e["tokens"] / e["ms"], "backend: prefill"
                break

    # time to first token: from the start of prefill (or of the run) to the first token
    if n and observed:
        starts = [e["t"] for e in events if e["kind"] == PHASE and e.get("phase") == Phase.PREFILL]
        m.ttft_ms, origin = ttft_ms(series.t[0], starts, run.started_t)
        if m.ttft_ms is not None:
            m.sources["ttft_ms"] = f"observed: {origin} to first token"

    load_ms = summary.get("load_ms")
    if load_ms is not None:
        m.load_s, m.sources["load_s"] = load_ms / 1000.0, "backend"
    elif run.started_t is not None and observed:
        # the first token or prefill/decode phase, in recorded order
        work = next(((before, e["t"]) for before, e in others
                     if e["kind"] == PHASE and e.get("phase") in (Phase.PREFILL, Phase.DECODE)), None)
        first_work = work[1] if work is not None and work[0] == 0 else series.t[0] if n else None
        if first_work is not None:
            m.load_s, m.sources["load_s"] = first_work - run.started_t, "observed: run start to first work"

    # llama-bench: the rows are the figures
    for row in m.bench:
        if row.get("n_gen") and not row.get("n_prompt"):
            m.decode_tok_s["reported"], m.sources["decode_reported"] = row.get("avg_ts"), f"backend: llama-bench {row.get('test')}"
        elif row.get("n_prompt") and not row.get("n_gen"):
            m.prefill_tok_s, m.sources["prefill_tok_s"] = row.get("avg_ts"), f"backend: llama-bench {row.get('test')}"

    energy_ledger(m, session, run, events, telemetry, series, steady_t, summary)
    # EMC over the decode window
    if m.decode_window is not None:
        m.emc_gbs = window_mean(telemetry, m.decode_window, "emc_bw_gbs")
        if m.emc_gbs is not None:
            m.sources["emc_gbs"] = "telemetry: EMC"

    model_bytes = run.model_bytes or summary.get("model_bytes")
    m.bandwidth_gbs = model_bandwidth_gbs(model_bytes, m.decode)
    peak = session.host.get("peak_bandwidth_gbs")
    if m.bandwidth_gbs is not None and peak:
        m.bandwidth_pct = 100.0 * m.bandwidth_gbs / peak
        m.sources["bandwidth"] = "model bytes x decode tok/s over the device's peak"
    m.flags = flags_of(session, run, events, telemetry, n, m.decode_window, k, merged)
    return m


def token_times(timed: Sequence[float], steady_t: Sequence[float], observed: bool) -> array[float]:
    """A run's steady per-token times in ms (what the verdicts' block bootstrap resamples): the
    backend's ms where every timed token has a positive one, else the arrival gaps (gaps of 0, reads
    that carried several tokens, left out)."""
    if len(timed) and all(v > 0 for v in timed):  # NaN (no ms) is not > 0
        return array("d", timed)
    if not observed:
        return array("d")
    return array("d", ((b - a) * 1000.0 for a, b in zip(steady_t, islice(steady_t, 1, None)) if b > a))


def energy_ledger(m: RunMetrics, session: Session, run: RunInfo, events: list[Event], telemetry: list[Event],
                  series: TokenSeries, steady_t: Sequence[float], summary: SummaryFigures) -> None:
    """Prefill and decode energy, the idle baseline, marginal J/token, llama-bench per test. Every
    figure the samples cannot cover is None with its reason in ``m.energy_na``, never 0. ``events``:
    the run's events other than tokens."""
    samples, label = _power_samples(telemetry)
    if label:
        m.power_label, m.sources["energy"] = label, f"telemetry: {label}"
    k = len(steady_t)
    # decode: first to last steady token, over the n-1 tokens that arrived inside it
    if k >= 2:
        start, end = steady_t[0], steady_t[-1]
        d, why = window_energy(samples, start, end, k - 1)
        m.decode_energy_j, m.avg_power_w = d["energy_j"], d["avg_w"]
        m.energy_j_per_token, m.tokens_per_joule = d["j_per_token"], d["tokens_per_j"]
        if why:
            m.energy_na["decode"] = why
    elif len(series):
        m.energy_na["decode"] = f"{k} steady token(s): no decode window"
    # prefill: from the prefill phase's start to the first token, over the prompt tokens
    starts = [e["t"] for e in events if e["kind"] == PHASE and e.get("phase") == Phase.PREFILL]
    prompt = summary.get("prompt_tokens") or next((e.get("tokens") for e in events if e["kind"] == PREFILL
                                                   and e.get("tokens")), None)
    if starts and len(series):
        p, why = window_energy(samples, starts[0], series.t[0], prompt)
        m.prefill_energy_j, m.prefill_avg_power_w, m.prefill_j_per_token = p["energy_j"], p["avg_w"], p["j_per_token"]
        if why:
            m.energy_na["prefill"] = why
    elif len(series):
        m.energy_na["prefill"] = "the backend marks no prefill phase"
    # idle baseline and the marginal energy above it
    if run.started_t is not None and samples:
        before = [r.ended_t for r in session.runs if r.index != run.index and r.ended_t is not None
                  and r.ended_t <= run.started_t]
        m.idle_power_w, why = idle_power_w(samples, run.started_t, max(before) if before else None)
        if why:
            m.energy_na["idle"] = why
    if m.idle_power_w is not None and m.decode_energy_j is not None and k >= 2:
        span = steady_t[-1] - steady_t[0]
        m.marginal_j_per_token = (m.decode_energy_j - m.idle_power_w * span) / (k - 1)
    elif m.energy_j_per_token is not None:
        m.energy_na["marginal"] = "no idle baseline"
    # llama-bench: each test's window runs from the previous row (or the run's start) to its own row
    rows = [e for e in events if e["kind"] == SUMMARY and e.get("bench")]
    prev = run.started_t
    for e, row in zip(rows, m.bench):
        reps = len(row.get("samples_ts") or []) or 1
        n = ((row.get("n_prompt") or 0) + (row.get("n_gen") or 0)) * reps
        if prev is None:
            row["energy_na"] = "no start for this test's window"
        else:
            b, why = window_energy(samples, prev, e["t"], n)
            row.update({"energy_j": b["energy_j"], "avg_w": b["avg_w"], "j_per_token": b["j_per_token"],
                        "tokens_per_j": b["tokens_per_j"]})
            if why:
                row["energy_na"] = why
        prev = e["t"]


SLOW_FACTOR = 10.0  # a leading token this many times slower than the steady median is warm-up


def leading_slow(tokens: list[Event], key: str = "enqueue_ms") -> int:
    """How many leading tokens are warm-up by their own timing: each took more than SLOW_FACTOR x
    the median of the second half of the run. tinygrad's llama3.py prints the enqueue time per
    token: on v0.12.0 the first one captures the JIT (about 2,000 ms against 2 ms); on master the
    prompt already went through the JIT, so no decode token is slow and none is excluded."""
    values: list[Any] = [e.get(key) for e in tokens]
    if any(not isinstance(v, (int, float)) for v in values):
        return 0
    return slow_prefix(values)


def median(values: Sequence[float], start: int = 0) -> float:
    """``statistics.median(values[start:])``, the same number, without copying a long series."""
    n = len(values) - start
    if n <= SORT_UP_TO:
        return statistics.median(values[start:])
    mid = n // 2
    part = islice(values, start, None)
    if n % 2:
        return ranked(array("d", part), (mid,))[mid]
    at = ranked(array("d", part), (mid - 1, mid))
    return (at[mid - 1] + at[mid]) / 2


def slow_prefix(values: Sequence[float]) -> int:
    """``leading_slow`` over the values themselves (every one a number)."""
    if len(values) < 2:
        return 0
    steady = median(values, len(values) // 2)
    n = 0
    while n < len(values) - 1 and values[n] > SLOW_FACTOR * steady:
        n += 1
    return n


def run_flags(session: Session, run: RunInfo, events: list[Event], telemetry: list[Event], steady: list[Event],
              merged: int) -> list[Flag]:
    """What makes this run's figures less than fully trustworthy; see FLAGS. ``steady``: its
    steady-state token events."""
    tokens = sum(1 for e in events if e["kind"] == TOKEN)
    window = (steady[0]["t"], steady[-1]["t"]) if len(steady) >= 2 else None
    return flags_of(session, run, events, telemetry, tokens, window, len(steady), merged)


def flags_of(session: Session, run: RunInfo, events: list[Event], telemetry: Sequence[TelemetryLike], tokens: int,
             window: tuple[float, float] | None, steady: int, merged: int) -> list[Flag]:
    """The flags from a run's events (tokens need not be among them), its token count, its decode
    window (first to last steady token) and its count of steady tokens."""
    flags = []
    started = cast("RunStartedEvent | None", next((e for e in events if e["kind"] == RUN_STARTED), None))
    busy = started.get("cpu_load_before_pct") if started else None
    if isinstance(busy, (int, float)) and busy > BUSY_CPU_PCT:
        flags.append(Flag("busy", f"CPU {busy:.0f}% busy before the run started (above {BUSY_CPU_PCT:.0f}%)"))
    if started and started.get("gate_passed") is False:
        flags.append(Flag("dirty-start", gate_text(started)))
    if tokens and steady < MIN_STEADY_TOKENS:
        flags.append(Flag("few-tokens", f"{steady} steady-state tokens (fewer than {MIN_STEADY_TOKENS})"))
    if merged:
        flags.append(Flag("merged-reads", f"{merged} tokens arrived inside other tokens' reads"))
    if window is not None and run.status in st.FINAL:  # a live run's window still grows past the last sample
        start, end = window
        gap = telemetry_gap(telemetry, start, end, session.host.get("telemetry_interval_s"))
        if gap is not None:
            flags.append(Flag("telemetry-gap", gap))
        inside = [e for e in telemetry if start <= e["t"] <= end]
        throttled = [e for e in inside if e.get("throttled")]
        if throttled:
            flags.append(Flag("throttled", f"{len(throttled)} telemetry samples report throttling during decode"))
        elif why := clock_drop(inside, session.host):
            flags.append(Flag("throttled", why))
    ended = cast("RunEndedEvent | None", next((e for e in events if e["kind"] == RUN_ENDED), None))
    if ended and ended.get("leftover_pids"):
        flags.append(Flag("leftover-process", f"pid {ended['leftover_pids']} outlived the run (see its error)"))
    host = {**session.host, **{k: started[k] for k in ("nvpmodel", "jetson_clocks") if started and started.get(k)}}
    if tokens and host.get("jetson_clocks") == "OFF":
        flags.append(Flag("clocks-unlocked", "jetson_clocks was off: GPU and EMC clocks may scale during the run"))
    mode = host.get("nvpmodel")
    if tokens and mode and str(mode).upper() not in MAX_POWER_MODES:
        flags.append(Flag("power-mode", f"power mode {mode}, not MAXN"))
    return flags


def gate_text(started: RunStartedEvent) -> str:
    """What the quiet gate saw when it gave up (a power-mode sweep's run: per run, not per host)."""
    seen = [f"CPU {started['gate_cpu_pct']:.0f}%" if isinstance(started.get("gate_cpu_pct"), (int, float)) else None,
            f"GPU {started['gate_gpu_pct']:.0f}%" if isinstance(started.get("gate_gpu_pct"), (int, float)) else None,
            f"temperature moved {started['gate_temp_band_c']:.1f} C"
            if isinstance(started.get("gate_temp_band_c"), (int, float)) else None]
    waited = started.get("gate_waited_s")
    after = f" after {waited:.0f} s" if isinstance(waited, (int, float)) else ""
    return f"not quiet{after} ({', '.join(x for x in seen if x) or 'no figures'}): started anyway"


CLOCK_DROP = 0.10  # locked GPU clocks that fall this far below their decode maximum: throttling


def clock_drop(window: Sequence[TelemetryLike], host: dict[str, Any]) -> str | None:
    """With jetson_clocks on, the GPU clock is pinned: one that falls during decode was pulled down
    (thermal or power throttling). With clocks unlocked DVFS moves it anyway, so nothing is said."""
    if host.get("jetson_clocks") != "ON":
        return None
    freqs = [f for e in window if isinstance(f := e.get("gpu_freq_mhz"), (int, float))]
    if len(freqs) < 2 or not max(freqs):
        return None
    top, low = max(freqs), min(freqs)
    if low >= (1 - CLOCK_DROP) * top:
        return None
    return f"GPU clock fell from {top:.0f} to {low:.0f} MHz during decode with clocks locked"


def telemetry_gap(telemetry: Sequence[TelemetryLike], start: float, end: float, interval: float | None) -> str | None:
    """Where samples are missing inside [start, end], as a sentence, or None. No telemetry at all is
    not a gap (the session says it had none); a source that died and left a hole is."""
    if not telemetry:
        return None
    limit = max(GAP_MIN_S, GAP_FACTOR * (interval or 0.5))
    if telemetry[0]["t"] > start or telemetry[-1]["t"] < end:
        return "telemetry does not cover the whole decode window"
    # the samples that bracket the window and those inside it: gaps between them are holes
    before = max(e["t"] for e in telemetry if e["t"] <= start)
    after = min(e["t"] for e in telemetry if e["t"] >= end)
    times = [before] + [e["t"] for e in telemetry if start < e["t"] < end] + [after]
    worst = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    return f"no telemetry sample for {worst:.1f} s inside the decode window" if worst > limit else None


def session_metrics(session: Session) -> list[RunMetrics]:
    telemetry = [e for e in session.events if e["kind"] == TELEMETRY]
    metrics = [run_metrics(session, run, telemetry) for run in session.runs]
    return across_runs(metrics, session.run_events)


def across_runs(metrics: list[RunMetrics], run_events: Callable[[int], Iterable[Event]]) -> list[RunMetrics]:
    """The flags that hold runs against each other (noisy repetitions, prefix-cache hits), once every
    run's figures are in. ``run_events(index)``: a run's events (its summaries are read)."""
    flag_noisy(metrics)
    flag_cache_hits(metrics, run_events)
    return metrics


CACHE_TTFT_FACTOR = 3.0  # a repeated prompt answered this many times faster than its first time: a cache hit


def flag_cache_hits(metrics: list[RunMetrics], run_events: Callable[[int], Iterable[Event]]) -> None:
    """Served runs only: a server that says it reused cached prompt tokens, or (where it says nothing)
    a repetition whose TTFT fell below a third of the first repetition's for the same prompt."""
    firsts: dict[str, float] = {}
    for m in metrics:
        if m.backend != "openai" or not m.ranks:
            continue
        cached = max((e.get("cached_prompt_tokens") or 0 for e in run_events(m.run) if e["kind"] == SUMMARY),
                     default=0)
        if cached:
            m.flags.append(Flag("cache-hit", f"the server reports {cached} prompt tokens from its cache"))
        elif m.ttft_ms is not None:
            first = firsts.setdefault(m.label, m.ttft_ms)
            if m.ttft_ms * CACHE_TTFT_FACTOR < first:
                m.flags.append(Flag("cache-hit", f"TTFT {m.ttft_ms:.1f} ms against {first:.1f} ms for the first "
                                                 "repetition of the same prompt: likely a prefix-cache hit"))


def flag_noisy(metrics: list[RunMetrics]) -> None:
    """Repetitions of one label whose decode rates spread by more than NOISY_CV: flag each of them."""
    for label, stats in label_stats(metrics).items():
        if stats.decode_cv is not None and stats.decode_cv > NOISY_CV:
            for m in metrics:
                if m.label == label and m.ranks and all(f.code != "noisy" for f in m.flags):
                    m.flags.append(Flag("noisy", f"decode rates of {stats.repetitions} repetitions vary by "
                                                 f"{stats.decode_cv:.0%} (stddev / mean)"))


def best_run(metrics: Iterable[RunMetrics]) -> RunMetrics | None:
    """The fastest complete, measured run: partial, failed and warm-up runs never head a list."""
    ranked = [m for m in metrics if m.ranks and m.decode]
    return max(ranked, key=lambda m: m.decode or 0.0, default=None)


def decode_standard_error(times: Sequence[float], rate: float) -> float | None:
    """A single run's spread of its decode rate: its standard error from the per-token intervals."""
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) < 3:
        return None
    cv = statistics.stdev(gaps) / statistics.fmean(gaps)
    return rate * cv / math.sqrt(len(gaps))


def steady_tokens(events: Iterable[Event]) -> tuple[Sequence[float], Sequence[float]]:
    """A run's steady-state tokens' arrival times and backend ms (NaN: none): warm-up left out as its
    figures leave it out, whether the adapter flagged it or the output showed it (``steady_part``)."""
    series, _ = split_run(events)
    times, ms, _ = steady_part(series)
    return times, ms


def run_decode_standard_error(events: Iterable[Event], rate: float) -> float | None:
    """``decode_standard_error`` over a run's steady tokens."""
    return decode_standard_error(steady_tokens(events)[0], rate)


def figure(m: RunMetrics, key: str) -> float | None:
    """One figure of a run by its key: ``decode``, ``p50``/``p95``/``p99`` or a RunMetrics field."""
    if key == "decode":
        return m.decode
    if key in m.itl_ms:
        return m.itl_ms[key]
    return getattr(m, key)


@dataclass(frozen=True)
class Spread:
    """Mean and sample stddev (n-1) of repeated values, as llama-bench reports repetitions."""

    mean: float | None
    stddev: float | None
    n: int

    @property
    def cv(self) -> float | None:
        """The coefficient of variation (stddev / mean); None without a spread or with a mean of 0."""
        if self.mean and self.stddev is not None:
            return self.stddev / self.mean
        return None


def spread(values: Sequence[float]) -> Spread:
    return Spread(*mean_stddev(values), len(values))


def figure_spread(runs: Iterable[RunMetrics], key: str) -> Spread:
    """A figure over runs (the repetitions of a label), those without it left out."""
    return spread([v for v in (figure(r, key) for r in runs) if v is not None])


@dataclass
class LabelStats:
    """One label's measured repetitions: mean and sample stddev of per-repetition rates."""

    label: str
    repetitions: int
    decode_mean: float | None
    decode_stddev: float | None
    prefill_mean: float | None
    prefill_stddev: float | None
    runs: list[RunMetrics] = field(default_factory=list, repr=False)  # the repetitions, in run order

    @property
    def decode_cv(self) -> float | None:
        return Spread(self.decode_mean, self.decode_stddev, self.repetitions).cv

    def spread(self, key: str) -> Spread:
        """Any figure (``figure``'s keys) over this label's repetitions."""
        return figure_spread(self.runs, key)


def repetitions_by_label(metrics: Iterable[RunMetrics]) -> dict[str, list[RunMetrics]]:
    """Each label's complete measured repetitions (``RunMetrics.ranks``), in run order."""
    groups: dict[str, list[RunMetrics]] = {}
    for m in metrics:
        if m.ranks:
            groups.setdefault(m.label, []).append(m)
    return groups


def label_stats(metrics: Iterable[RunMetrics]) -> dict[str, LabelStats]:
    """Per label, over its complete measured repetitions only."""
    out = {}
    for label, runs in repetitions_by_label(metrics).items():
        decode, prefill = figure_spread(runs, "decode"), figure_spread(runs, "prefill_tok_s")
        out[label] = LabelStats(label, len(runs), decode.mean, decode.stddev, prefill.mean, prefill.stddev, runs)
    return out


def window_mean(telemetry: Iterable[Mapping[str, Any]], window: tuple[float, float], key: str) -> float | None:
    """The mean of one telemetry field over the samples inside [start, end] that have it."""
    start, end = window
    values = [e[key] for e in telemetry if start <= e["t"] <= end and isinstance(e.get(key), (int, float))]
    return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class WindowTelemetry:
    """What the telemetry says over a run's decode window (the report's note beside its figures)."""

    gpu_freq_mhz: float | None
    gpu_load_pct: float | None
    emc_util_pct: float | None
    peak_temp_c: float | None
    throttled: bool | None  # None: no sample in the window says either way


def window_telemetry(telemetry: Sequence[TelemetryLike], window: tuple[float, float]) -> WindowTelemetry:
    start, end = window
    inside = [e for e in telemetry if start <= e["t"] <= end]
    temps = [v for e in inside for v in (e.get("temp_c") or {}).values() if isinstance(v, (int, float))]
    known = [e["throttled"] for e in inside if e.get("throttled") is not None]
    return WindowTelemetry(window_mean(inside, window, "gpu_freq_mhz"), window_mean(inside, window, "gpu_load_pct"),
                           window_mean(inside, window, "emc_util_pct"), max(temps) if temps else None,
                           any(known) if known else None)
