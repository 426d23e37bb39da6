"""Types and finite numbers of a session document, checked before anything reads it.

A session file comes from anywhere: a string where a number belongs, NaN, Infinity or an integer
too big for a float would reach metrics, the menu or a widget and fail there. Each check returns
why the document is not usable (one short phrase), or None. Fields orintui does not know may hold
JSON scalars (numbers finite); a summary's may also hold lists of them (llama-bench samples).
"""

from __future__ import annotations

import math
from typing import Any

from orintui.session.events import NOTE, OUTPUT, PHASE, PREFILL, RUN_ENDED, RUN_STARTED, SUMMARY, TELEMETRY, TOKEN

MAX_INT = 2**63  # a larger integer cannot become a float without overflow

_N, _S, _B, _F, _I, _L, _D = type(None), str, bool, float, int, list, dict
NUMBER = frozenset({_I, _F})
OPT_NUMBER, OPT_INT, OPT_STR, OPT_BOOL = NUMBER | {_N}, frozenset({_I, _N}), frozenset({_S, _N}), frozenset({_B, _N})
INT, STR, OBJECT = frozenset({_I}), frozenset({_S}), frozenset({_D})
SCALAR = frozenset({_N, _S, _B, _I, _F})
_PLAIN = SCALAR | {_L, _D}
NEEDS = {NUMBER: "a finite number", OPT_NUMBER: "a finite number", INT: "an integer", OPT_INT: "an integer",
         STR: "a string", OPT_STR: "a string", OPT_BOOL: "true or false", OBJECT: "an object",
         frozenset({_L, _N}): "a list of finite numbers", frozenset({_D, _N}): "an object of finite numbers"}


def number(v: Any) -> bool:
    """A finite int or float, not a bool."""
    if type(v) is _F:
        return math.isfinite(v)
    return type(v) is _I and -MAX_INT < v < MAX_INT


def _scalar(v: Any) -> bool:
    return type(v) in (_N, _S, _B) or number(v)


def _describe(v: Any) -> str:
    if type(v) in (_F, _I):
        return repr(v) if type(v) is _F else "an integer too large"
    return {_S: "a string", _B: "true/false", _D: "an object", _L: "a list", _N: "null"}.get(type(v), type(v).__name__)


def check_fields(d: dict, fields: dict, other: frozenset, what: str, inside: str | None = "scalars") -> str | None:
    """One pass over ``d``: each field of a type ``fields`` (or, for unknown fields, ``other``)
    allows, numbers finite. ``inside``: what lists and objects may hold ("scalars" for lists;
    "numbers" for telemetry's lists and maps; None: checked by the caller)."""
    for key, v in d.items():
        tv = type(v)
        if tv not in _PLAIN and isinstance(v, str):  # a Status or Kind of a live session is its word
            tv = _S
        allowed = fields.get(key, other)
        if tv not in allowed:
            return f"{what}{key} must be {NEEDS.get(allowed, 'a plain value')}, not {_describe(v)}"
        if tv is _F:
            if not math.isfinite(v):
                return f"{what}{key} must be a finite number, not {v!r}"
        elif tv is _I:
            if not -MAX_INT < v < MAX_INT:
                return f"{what}{key} must be {NEEDS.get(allowed, 'a number')}, not an integer too large"
        elif inside is None:
            continue
        elif tv is _L:
            numbers = inside == "numbers"
            if not all((x is None or number(x)) if numbers else _scalar(x) for x in v):
                return f"{what}{key} must be a list of " + ("finite numbers" if numbers else "plain values")
        elif tv is _D and not all(number(x) for x in v.values()):
            return f"{what}{key} must map names to finite numbers"
    return None


# -- events -------------------------------------------------------------------------------------
COMMON = {"t": NUMBER, "kind": STR, "run": OPT_INT}
SUMMARY_FIELDS = {k: OPT_NUMBER for k in ("eval_tok_s", "prompt_tok_s", "load_ms", "generated_tokens", "model_bytes",
                                          "avg_ts", "stddev_ts", "n_gen", "n_prompt", "eval_ms", "prompt_ms", "total_ms",
                                          "eval_runs", "prompt_tokens", "total_tokens")}
TELEMETRY_FIELDS = {k: OPT_NUMBER for k in ("gpu_load_pct", "gpu_freq_mhz", "emc_util_pct", "emc_freq_mhz", "emc_bw_gbs",
                                            "power_total_mw", "ram_used_mb", "ram_total_mb", "energy_mj", "gpu_mem_used_mb")}
_KIND_FIELDS: dict[str, dict[str, frozenset[Any]]] = {
    RUN_STARTED: {"label": OPT_STR, "backend": OPT_STR, "repetition": OPT_INT, "warmup": OPT_BOOL,
                  "cpu_load_before_pct": OPT_NUMBER, "gate_passed": OPT_BOOL, "nvpmodel": OPT_STR, "nvpmodel_id": OPT_STR,
                  "jetson_clocks": OPT_STR,  # what the quiet gate saw and the power group (sweeps)
                  **{k: OPT_NUMBER for k in ("gate_waited_s", "gate_cpu_pct", "gate_gpu_pct", "gate_temp_c",
                                             "gate_temp_band_c")}},
    PHASE: {"phase": STR, "detail": OPT_STR},
    TOKEN: {"text": STR, "ms": OPT_NUMBER, "warmup": OPT_BOOL, "index": OPT_INT},
    PREFILL: {"tokens": OPT_NUMBER, "ms": OPT_NUMBER, "source": OPT_STR},
    SUMMARY: SUMMARY_FIELDS,
    OUTPUT: {"line": STR},
    TELEMETRY: {**TELEMETRY_FIELDS, "source": OPT_STR, "power_total_label": OPT_STR, "throttled": OPT_BOOL,
                "power_mw": frozenset({_D, _N}),
                "temp_c": frozenset({_D, _N}), "cpu_load_pct": frozenset({_L, _N})},
    RUN_ENDED: {"status": OPT_STR, "exit_code": OPT_INT, "signal": OPT_INT, "error": OPT_STR, "by_user": OPT_BOOL},
    NOTE: {"text": OPT_STR, "level": OPT_STR},
}
EVENT_FIELDS = {kind: {**COMMON, **fields} for kind, fields in _KIND_FIELDS.items()}
OTHER: dict[str, frozenset[Any]] = {SUMMARY: SCALAR | {_L}}  # what fields orintui does not know may hold; elsewhere scalars
REQUIRED: dict[str, tuple[str, ...]] = {PHASE: ("phase",), OUTPUT: ("line",)}


def check_summary(d: dict, what: str, fields: dict = SUMMARY_FIELDS) -> str | None:
    """A summary's figures: scalars and lists of them, and ``streams`` (a served run's concurrent
    streams: a list of objects of scalars, one per stream)."""
    streams = d.get("streams")
    if streams is not None:
        if type(streams) is not _L or not all(type(x) is _D for x in streams):
            return f"{what}streams must be a list of objects"
        for x in streams:
            problem = check_fields(x, SUMMARY_FIELDS, SCALAR, f"{what}streams: ")
            if problem:
                return problem
        d = {k: v for k, v in d.items() if k != "streams"}
    return check_fields(d, fields, OTHER[SUMMARY], what)


_TOKEN_TYPES = {"t": (_F,), "kind": (_S,), "run": (_I, _N), "text": (_S,), "ms": (_F, _N), "warmup": (_B, _N),
                "index": (_I, _N)}  # exact types: an int t or ms takes the full check
_TOKEN_KEYS = frozenset(_TOKEN_TYPES)
_TELEMETRY_TYPES = {"t": (_F,), "kind": (_S,), "run": (_I, _N), "source": (_S, _N), "power_total_label": (_S, _N),
                    "power_mw": (_D, _N), "temp_c": (_D, _N), "cpu_load_pct": (_L, _N), "throttled": (_B, _N),
                    **{k: (_F, _I, _N) for k in TELEMETRY_FIELDS}}
_NUMBERS = frozenset({_F, _I})
_FINITE = (_F, _I)


def _plain_token(event: dict, runs: int) -> bool:
    """A token event as orintui writes them, every field well typed and in range: the common case of a
    200,000-event session, decided without a loop when it has exactly orintui's fields. False means only
    that the full check decides."""
    if event.keys() == _TOKEN_KEYS:
        t, run, ms, index, warmup = event["t"], event["run"], event["ms"], event["index"], event["warmup"]
        if (type(t) is _F and t - t == 0.0 and type(event["kind"]) is _S and type(event["text"]) is _S
                and (run is None or type(run) is _I and 0 <= run < runs) and (ms is None or type(ms) is _F and ms - ms == 0.0)
                and (warmup is None or type(warmup) is _B) and (index is None or type(index) is _I and -MAX_INT < index < MAX_INT)):
            return True
    return _plain_fields(event, runs, _TOKEN_TYPES)


def _plain_fields(event: dict, runs: int, types: dict[str, tuple[type, ...]]) -> bool:
    """An event whose fields all have one of ``types``' exact types (numbers finite and in range; lists
    and objects of finite numbers, None allowed in lists), or are scalars where ``types`` does not name
    them: decided in one pass. False means only that the full check decides."""
    for key, v in event.items():
        allowed = types.get(key)
        tv = type(v)
        if allowed is None:  # a backend's extra figure (tok_s, gbs, device): a scalar
            if tv is _F:
                if v - v != 0.0:
                    return False
            elif tv is _I:
                if not -MAX_INT < v < MAX_INT:
                    return False
            elif tv is not _S and tv is not _B and v is not None:
                return False
        elif tv is _D or tv is _L:
            if tv not in allowed or not _plain_numbers(list(v.values()) if tv is _D else [x for x in v if x is not None]):
                return False
        elif tv not in allowed or tv is _F and v - v != 0.0 or tv is _I and not (0 <= v < runs if key == "run" else -MAX_INT < v < MAX_INT):
            return False
    return "t" in event


def _plain_numbers(values: list) -> bool:
    """Finite ints and floats only (no bools), the ints in range: a few calls in C however many."""
    kinds = set(map(type, values))
    if not kinds <= _NUMBERS:
        return False
    if not values:
        return True
    total = sum(values)
    if total - total != 0.0:
        return False  # a NaN or an infinity (or floats whose sum is too large: the full check decides)
    return _I not in kinds or (min(values) > -MAX_INT and max(values) < MAX_INT)


_TOKEN, _TELEMETRY = TOKEN.value, TELEMETRY.value  # plain words: compared at str speed, once an event


def check_event(event: Any, runs: int) -> str | None:
    """Why ``event`` cannot be replayed or measured, or None. ``runs``: how many runs the session has."""
    if type(event) is not dict:
        return "event is not an object"
    kind = event.get("kind")
    if kind == _TOKEN and _plain_token(event, runs):
        return None
    if kind == _TELEMETRY and _plain_fields(event, runs, _TELEMETRY_TYPES):
        return None
    fields = EVENT_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return f"unknown event kind {kind!r}" if _scalar(kind) else "event kind is not a string"
    for key in ("t", *REQUIRED.get(str(kind), ())):
        if key not in event:
            return f"{kind} event has no {key}"
    if kind == SUMMARY:
        problem = check_summary(event, f"{kind} event: ", fields)
    else:
        problem = check_fields(event, fields, OTHER.get(str(kind), SCALAR), f"{kind} event: ",
                               "numbers" if kind == TELEMETRY else "scalars")
    if problem:
        return problem
    run = event.get("run")
    if run is not None and not 0 <= run < runs:
        return f"{kind} event: run {run} is not one of the session's {runs} runs"
    return None


# -- the document -------------------------------------------------------------------------------
RUN_FIELDS = {"index": INT, "label": STR, "backend": STR, "argv": frozenset({_L}), "env": OBJECT, "cwd": OPT_STR,
              "repetition": OPT_INT, "warmup": OPT_BOOL, "model_path": OPT_STR, "model_bytes": OPT_INT, "status": OPT_STR,
              "exit_code": OPT_INT, "signal": OPT_INT, "error": OPT_STR, "started_t": OPT_NUMBER, "ended_t": OPT_NUMBER,
              "summary": OBJECT, "by_user": OPT_BOOL, "flags": frozenset({_L, _N}), "versions": frozenset({_D, _N})}  # values: check_run
HOST_FIELDS = {**{k: OPT_NUMBER for k in ("peak_bandwidth_gbs", "bus_bytes", "bus_bits", "ram_total_mb",
                                          "telemetry_interval_s", "mem_max_mhz", "gpu_mem_total_mb")},
               **{k: OPT_STR for k in ("hostname", "machine", "model", "gpu_name", "driver", "jetpack", "l4t", "nvpmodel",
                                       "jetson_clocks", "telemetry_source")}}
ANY = frozenset({_N, _S, _B, _I, _F, _L, _D})
HEADER_FIELDS = {"id": STR, "started_at": STR, "ended_at": OPT_STR, "recovered": OPT_BOOL, "orintui_version": OPT_STR,
                 "label": OPT_STR, "host": OBJECT, "scenario": OBJECT, "runs": frozenset({_L}), "events": frozenset({_L}),
                 "format": STR, "version": INT, "journal_pid": OPT_INT}


def check_run(i: int, run: Any) -> str | None:
    what = f"run {i}: "
    if type(run) is not dict:
        return f"run {i} is not an object"
    for key in ("index", "label", "backend", "argv"):
        if key not in run:
            return f"{what}no {key}"
    problem = check_fields(run, RUN_FIELDS, ANY, what, inside=None)
    if problem:
        return problem
    if run["index"] != i:
        return f"{what}index {run['index']} does not match its place in the list"
    if not all(type(a) is _S for a in run["argv"]):
        return f"{what}argv must be a list of strings"
    if not all(type(v) is _S for v in run.get("env", {}).values()):
        return f"{what}env must map names to strings"
    if not all(type(f) is _S for f in run.get("flags") or ()):
        return f"{what}flags must be a list of strings"
    if not all(type(k) is _S and type(v) is _S for k, v in (run.get("versions") or {}).items()):
        return f"{what}versions must map names to strings"
    for key in ("repetition", "model_bytes"):
        if (run.get(key) or 0) < 0:
            return f"{what}{key} cannot be negative"
    return check_summary(run.get("summary", {}), f"{what}summary ")


def check_header(doc: dict) -> str | None:
    """The session without its events: id, dates, label, host, scenario and every run."""
    problem = check_fields(doc, HEADER_FIELDS, ANY, "", inside=None)
    if problem:
        return problem
    if not doc.get("id", "x"):
        return "id must not be empty"
    host, scenario = doc.get("host", {}), doc.get("scenario", {})
    problem = check_fields(host, HOST_FIELDS, ANY, "host ", inside=None)
    if problem:
        return problem
    if type(scenario.get("name", "")) is not _S:
        return f"scenario name must be a string, not {_describe(scenario['name'])}"
    for i, run in enumerate(doc.get("runs", [])):
        problem = check_run(i, run)
        if problem:
            return problem
    return None
