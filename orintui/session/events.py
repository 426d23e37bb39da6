"""Event kinds and constructors.

An event is a flat dict: ``t`` (seconds since the session started, monotonic), ``kind``, ``run``
(index of the run it belongs to, or None for session-wide events such as telemetry) and the
kind's own fields. Dicts, not objects, because a session holds hundreds of thousands of them and
they go to JSON as they are. Once recorded an event is never mutated.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict, cast

from orintui.session.status import Status
from orintui.session.words import Word


class Kind(Word):
    """An event's kind; a str, so it goes to JSON as the word and equals it."""

    RUN_STARTED = "run_started"
    PHASE = "phase"
    TOKEN = "token"
    PREFILL = "prefill"
    SUMMARY = "summary"
    OUTPUT = "output"
    TELEMETRY = "telemetry"
    RUN_ENDED = "run_ended"
    NOTE = "note"


class Phase(Word):
    """Where a run is; a str like ``Kind``."""

    QUEUED = "queued"
    LOADING = "loading"
    PREFILL = "prefill"
    DECODE = "decode"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


RUN_STARTED, PHASE, TOKEN, PREFILL, SUMMARY = Kind.RUN_STARTED, Kind.PHASE, Kind.TOKEN, Kind.PREFILL, Kind.SUMMARY
OUTPUT, TELEMETRY, RUN_ENDED, NOTE = Kind.OUTPUT, Kind.TELEMETRY, Kind.RUN_ENDED, Kind.NOTE
KINDS = frozenset(Kind)

PHASES = tuple(Phase)


def end_phase(status: str) -> Phase:
    """The phase a run ends in, for its final status: done only when it is complete."""
    if status == Status.OK:
        return Phase.DONE
    if status in (Status.PARTIAL, Status.SKIPPED):
        return Phase(status)
    return Phase.FAILED

Event = dict[str, Any]  # what travels (recorder, journal, listeners); the kinds' shapes are the TypedDicts below


# Each kind's TypedDict names every field it carries, typed as a consumer may meet it: where the schema
# (schema.py) lets a loaded file say null, the type allows None too.
class EventFields(TypedDict):
    t: float  # seconds since the session started (monotonic clock)
    kind: str  # a Kind
    run: int | None  # the run's index; None for session-wide events (telemetry, notes)


class PhaseEvent(EventFields):
    phase: str  # a Phase
    detail: str | None


class _TokenFields(EventFields):
    text: str
    ms: float | None  # the backend's own figure for this token, when it prints one
    warmup: bool | None  # orintui writes a bool; a loaded file may say null (the schema allows it)


class TokenEvent(_TokenFields, total=False):
    """One generated token. The parser base numbers every token (``index``); the adapters add the
    figures their backend prints beside it."""

    index: int | None  # the token's place in its run, from 0 (null: a loaded file may say so)
    tok_s: float | None  # tinygrad.llm and llama3.py: the backend's tok/s, GB/s and parameter GB/s
    gbs: float | None
    param_gbs: float | None
    enqueue_ms: float | None  # llama3.py: the time to enqueue the step (its leading slow ones are warm-up)
    device_ms: float | None  # gpt2.py and llama3.py under DEBUG: the time on the device
    device: str  # gpt2.py under DEBUG: which device
    gops: float | None  # gpt2.py under DEBUG
    stream: int  # an endpoint run of concurrent streams: which stream the token came on


class PrefillEvent(EventFields):
    tokens: int | None
    ms: float | None
    source: str


class OutputEvent(EventFields):
    line: str  # one line of the backend's output, sanitised, cut at 2,000 characters


class _NoteFields(EventFields):
    text: str | None  # orintui writes a str; a loaded file may say null
    level: str | None  # info, warning or error


class NoteEvent(_NoteFields, total=False):
    gate: bool  # the quiet gate is holding the next run back (``run`` is that run)


class RunStartedEvent(EventFields, total=False):
    """A run's start: what it is (an imported log names only its label and where it came from), the
    machine's CPU load in the moment before, and what a sweep's power switch and quiet gate did."""

    label: str | None  # orintui writes these; a loaded file may say null (the schema allows it)
    backend: str | None
    repetition: int | None
    warmup: bool | None
    cpu_load_before_pct: float | None  # None: it could not be measured
    imported_from: str  # ``orintui import``: the log the run was read from
    nvpmodel: str | None  # a power-mode sweep's mode for this run, and its jetson_clocks
    nvpmodel_id: str | None
    jetson_clocks: str | None
    gate_passed: bool  # the quiet gate: whether the machine settled, how long it waited, what it saw
    gate_waited_s: float
    gate_cpu_pct: float | None
    gate_gpu_pct: float | None
    gate_temp_c: float | None
    gate_temp_band_c: float | None


class _RunEndedFields(EventFields):
    status: str | None  # a final Status; a loaded file may say null: not a complete run
    exit_code: int | None
    signal: int | None
    error: str | None  # why, unless the status is ok


class RunEndedEvent(_RunEndedFields, total=False):
    by_user: bool | None  # the user stopped it
    pgid: int  # the process group it ran in
    leftover_pids: str  # processes it started that outlived it, space-separated


class SummaryFigures(TypedDict, total=False):
    """Totals the backend printed itself, each adapter its own; every one is a number, a string or a
    list (the schema checks the numbers orintui reads). A run's summary is these merged."""

    eval_tok_s: float | None  # the decode rate the backend reports
    prompt_tok_s: float | None
    decode_source: str  # where eval_tok_s came from, when not the eval time
    prefill_source: str
    load_ms: float | None
    generated_tokens: int | None  # more than the token events: reads that carried several tokens
    prompt_tokens: int | None
    model_bytes: int | None
    # llama.cpp's perf lines (llama-completion)
    eval_ms: float | None
    eval_runs: int | None
    eval_ms_per_token: float | None
    prompt_ms: float | None
    prompt_ms_per_token: float | None
    total_ms: float | None
    total_tokens: int | None
    sampling_ms: float | None
    # what the backends say of their build, device and model
    build: str
    build_commit: str
    build_number: int
    device: str
    compute_capability: str
    offloaded_layers: int
    total_layers: int
    model_file: str
    model_name: str
    model_params: int
    max_context: int
    loaded_gb: float | None
    seed: int
    # a llama-bench row: bench true, its test ("tg128") and the row's columns (msgspec-decoded)
    bench: bool
    test: str
    n_prompt: int | None
    n_gen: int | None
    n_depth: int
    avg_ts: float | None
    stddev_ts: float | None
    samples_ts: list[float]
    avg_ns: int
    stddev_ns: int
    samples_ns: list[int]
    model_type: str  # the row's other columns as llama-bench names them (llama_bench.KEEP)
    model_size: int
    model_n_params: int
    backends: str
    gpu_info: str
    cpu_info: str
    n_gpu_layers: int
    flash_attn: bool
    n_threads: int
    n_batch: int
    n_ubatch: int
    type_k: str
    type_v: str
    # an OpenAI-compatible or Ollama endpoint (one stream's figures, or ``streams`` of them)
    api: str
    url: str
    max_tokens: int
    concurrency: int
    streams: list[dict[str, Any]]
    chunks: int
    finish_reason: str | None
    tokens_source: str
    cached_prompt_tokens: int  # a prefix-cache hit: prompt tokens the server did not compute
    prompt_tokens_processed: int | None
    ttft_ms: float
    ttft_ms_max: float
    observed_tok_s: float | None
    aggregate_tok_s: float
    aggregate_source: str
    merged_chunks: bool


class SummaryEvent(EventFields, SummaryFigures):
    """A summary as recorded (an adapter may print several in a run; a llama-bench row is one each)."""


class _SampleFields(TypedDict):
    source: str
    gpu_load_pct: float | None
    gpu_freq_mhz: float | None
    emc_util_pct: float | None
    emc_freq_mhz: float | None
    emc_bw_gbs: float | None
    power_mw: dict[str, float]
    power_total_mw: float | None
    power_total_label: str | None
    temp_c: dict[str, float]
    ram_used_mb: float | None
    ram_total_mb: float | None
    cpu_load_pct: list[float | None] | None  # None per offline core


class _SampleExtras(TypedDict, total=False):
    fields_from: str  # which fields another source filled in ("gpu_load_pct=nvml")
    energy_mj: float  # NVML's energy counter
    gpu_mem_used_mb: float
    throttled: bool  # NVML's clock-event reasons say power cap, thermal or hardware slowdown (nvml.py)


class Sample(_SampleFields, _SampleExtras, total=False):
    """One telemetry sample, the same shape from every source; a field a source cannot give is None,
    never 0. A telemetry event is a sample plus ``kind`` and ``run`` (``TelemetryEvent``)."""

    t: float  # a telemetry event's time; the sampler stamps it, a source leaves it out


class TelemetryEvent(EventFields, _SampleFields, _SampleExtras):
    """A sample as recorded: stamped with the session's time, ``run`` None."""


# What a consumer of one kind takes: its TypedDict, or an Event as it travels (the backends build
# plain dicts, and a loaded session's events are decoded JSON). mypy checks every field the consumer
# reads against the TypedDict, so a misspelt key is an error and a value is typed as the TypedDict
# says (or Any), and the call costs nothing per event: no cast, no copy, no check.
TokenLike = TokenEvent | Event
TelemetryLike = TelemetryEvent | Event
SampleLike = Sample | TelemetryEvent | Event  # a source's sample or one as recorded


_floor = math.floor


def round6(t: float) -> float:
    """A time as a session keeps it, to the microsecond: where an event enters a session (the recorder's
    writer thread; the importer), not where it is made, so the constructors below leave ``t`` as given.
    ``round(t, 6)``, the same float, in a third of the time (every recorded time is rounded): t times
    10**6 rounded to an integer, over 10**6. The product's rounding error is at most half an ulp, so
    the integer is the exact product's unless the product lies within an ulp of a half (a tie, or
    nearly): those, and what is not a positive float below 9e9, take ``round`` itself."""
    if type(t) is float and 0.0 < t < 9e9:
        s = t * 1e6
        k = _floor(s)
        f = s - k  # exact: s and k are within a factor of two
        if abs(f - 0.5) > s * 4.5e-16:  # 2**-51: twice the product's largest error
            return (k + 1 if f > 0.5 else k) / 1e6  # k below 2**53: exact as a float, one rounding
    return round(t, 6)


def make(kind: str, t: float, run: int | None = None, **fields: Any) -> Event:
    return {"t": t, "kind": kind, "run": run, **fields}


# Each constructor builds its kind's TypedDict (mypy checks the fields) and hands it on as an Event,
# the one type the recorder, the journal and the listeners take (no copy: it is the same dict).
def phase(t: float, name: Phase, detail: str | None = None) -> Event:
    event: PhaseEvent = {"t": t, "kind": PHASE, "run": None, "phase": name, "detail": detail}
    return cast(Event, event)


def token(t: float, text: str, ms: float | None = None, warmup: bool = False, **extra: Any) -> Event:
    """One generated token. ``ms`` is the backend's own figure for it, when it prints one."""
    event: TokenEvent = {"t": t, "kind": TOKEN, "run": None, "text": text, "ms": ms, "warmup": warmup}
    return {**event, **extra} if extra else cast(Event, event)


def prefill(t: float, tokens: int | None, ms: float | None, source: str = "backend") -> Event:
    event: PrefillEvent = {"t": t, "kind": PREFILL, "run": None, "tokens": tokens, "ms": ms, "source": source}
    return cast(Event, event)


def summary(t: float, **figures: Any) -> Event:
    """Totals the backend printed itself (llama.cpp perf lines, a llama-bench row): SummaryEvent's
    fields and the adapter's own."""
    event: SummaryEvent = {"t": t, "kind": SUMMARY, "run": None}
    return {**event, **figures}


def _known(kind: str, optional: frozenset[str], fields: dict[str, Any]) -> None:
    """Refuse a field the kind's TypedDict does not name (a misspelt one would be saved as it is)."""
    unknown = fields.keys() - optional
    if unknown:
        raise TypeError(f"{kind} has no field {', '.join(sorted(unknown))}")


def run_started(t: float, run: int, label: str, **fields: Any) -> Event:
    """A run's start; ``fields`` are RunStartedEvent's (the engine's: backend, repetition, warm-up, the
    CPU load before, a sweep's power mode and quiet gate; the importer's: the log it came from)."""
    _known(RUN_STARTED, RunStartedEvent.__optional_keys__, fields)
    event: RunStartedEvent = {"t": t, "kind": RUN_STARTED, "run": run, "label": label}
    return {**event, **fields}


def run_ended(t: float, run: int, status: str, exit_code: int | None, signal: int | None, error: str | None,
              **fields: Any) -> Event:
    """A run's end with its final status; ``fields`` are RunEndedEvent's optional ones."""
    _known(RUN_ENDED, RunEndedEvent.__optional_keys__, fields)
    event: RunEndedEvent = {"t": t, "kind": RUN_ENDED, "run": run, "status": status, "exit_code": exit_code,
                            "signal": signal, "error": error}
    return {**event, **fields}


def telemetry(t: float, sample: Sample) -> Event:
    """A sample recorded at session time ``t`` (a source's own ``t``, if any, is replaced)."""
    untimed = cast(Sample, {k: v for k, v in sample.items() if k != "t"})
    event: TelemetryEvent = {"t": t, "kind": TELEMETRY, "run": None, **untimed}
    return cast(Event, event)


def output(t: float, line: str) -> Event:
    event: OutputEvent = {"t": t, "kind": OUTPUT, "run": None, "line": line}
    return cast(Event, event)


def note(t: float, text: str, level: str = "info") -> Event:
    event: NoteEvent = {"t": t, "kind": NOTE, "run": None, "text": text, "level": level}
    return cast(Event, event)


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
