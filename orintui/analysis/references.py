"""Published reference results and "explain my number": the nearest reference to a run and the
conditions that differ. Bundled rows are in orintui/data/references.toml; a user adds rows in
references.toml in orintui's config folder (the same keys). A user file is data from outside:
sized, typed and checked row by row; a bad row is left out with a one-line reason."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orintui.core import paths
from orintui.figures.metrics import RunMetrics
from orintui.session.model import RunInfo, Session

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

BUNDLED = paths.PACKAGE_DIR / "data" / "references.toml"
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT = 200
TEXT_KEYS = ("board", "jetpack", "power_mode", "backend", "version", "model", "quant", "source", "notes")
INT_KEYS = ("prompt_tokens", "output_tokens", "concurrency")
BOOL_KEYS = ("flash_attn", "beam")
METRICS = ("decode", "prefill")
# how much a differing condition moves a reference away (unknown on either side: half)
WEIGHTS = {"model": 8, "quant": 4, "backend": 4, "board": 4, "beam": 2, "flash_attn": 1, "power_mode": 1,
           "jetpack": 1, "output_tokens": 1}
NAMES = {"model": "model", "quant": "quantisation", "backend": "backend", "board": "board", "beam": "BEAM",
         "flash_attn": "flash attention", "power_mode": "power mode", "jetpack": "JetPack",
         "output_tokens": "output length"}


@dataclass
class Reference:
    metric: str
    value: float
    source: str
    conditions: dict[str, Any] = field(default_factory=dict)
    origin: str = "bundled"  # bundled or user


def parse_references(text: str, origin: str) -> tuple[list[Reference], list[str]]:
    """Rows and the problems found (one line each); never raises on bad content."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{origin} references: not valid TOML: {str(exc)[:MAX_TEXT]}"]
    rows = doc.get("reference", [])
    if not isinstance(rows, list):
        return [], [f"{origin} references: [[reference]] must be a list of tables"]
    out, problems = [], []
    for i, row in enumerate(rows, 1):
        ref, why = _row(row)
        if ref is None:
            problems.append(f"{origin} references: row {i} left out: {why}")
        else:
            ref.origin = origin
            out.append(ref)
    return out, problems


def _row(row: Any) -> tuple[Reference | None, str]:
    if not isinstance(row, dict):
        return None, "not a table"
    unknown = set(row) - set(TEXT_KEYS) - set(INT_KEYS) - set(BOOL_KEYS) - {"metric", "value"}
    if unknown:
        return None, f"unknown key {sorted(unknown)[0][:40]!r}"
    metric, value = row.get("metric", "decode"), row.get("value")
    if metric not in METRICS:
        return None, f"metric must be one of {', '.join(METRICS)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None, "value must be a positive number (tok/s)"
    conditions: dict[str, Any] = {}
    for key in TEXT_KEYS:
        if key in row:
            if not isinstance(row[key], (str, int, float)) or isinstance(row[key], bool):
                return None, f"{key} must be text"
            text = str(row[key])
            if len(text) > MAX_TEXT:
                return None, f"{key} is longer than {MAX_TEXT} characters"
            conditions[key] = text
    for key in INT_KEYS:
        if key in row:
            if isinstance(row[key], bool) or not isinstance(row[key], int) or not 0 < row[key] < 10**7:
                return None, f"{key} must be a positive whole number"
            conditions[key] = row[key]
    for key in BOOL_KEYS:
        if key in row:
            if not isinstance(row[key], bool):
                return None, f"{key} must be true or false"
            conditions[key] = row[key]
    source = conditions.pop("source", None)
    if not source:
        return None, "a reference needs a source"
    return Reference(metric, float(value), source, conditions), ""


def user_references_path() -> Path:
    return paths.config_dir() / "references.toml"


def load_references(user_file: Path | None = None) -> tuple[list[Reference], list[str]]:
    """Bundled rows, then the user's (if the file exists)."""
    refs, problems = parse_references(BUNDLED.read_text(encoding="utf-8"), "bundled")
    user = user_file or user_references_path()
    try:
        if user.is_file():
            if user.stat().st_size > MAX_FILE_BYTES:
                problems.append(f"user references: {user.name} is larger than {MAX_FILE_BYTES // 1024} KiB: not read")
            else:
                more, why = parse_references(user.read_text(encoding="utf-8", errors="replace"), "user")
                refs += more
                problems += why
    except OSError as exc:
        problems.append(f"user references: cannot read {user.name}: {exc.strerror}")
    return refs, problems


# -- a run's conditions, from what the session recorded ------------------------------------------
MODEL_RE = re.compile(r"(llama)[-_. ]?(3(?:\.\d)?)[-_. ]?(\d+(?:\.\d+)?)b|(qwen)[-_. ]?(\d(?:\.\d)?)[-_. ]?(\d+(?:\.\d+)?)b",
                      re.IGNORECASE)
QUANT_RE = re.compile(r"(?<![a-z0-9])(iq\d_[a-z]+|q\d_k(?:_[sml])?|q\d_\d|bf16|f16|f32|int4|int8|w4a16|awq|gptq)(?![a-z0-9])",
                      re.IGNORECASE)


def model_of(text: str) -> str | None:
    m = MODEL_RE.search(text)
    if not m:
        return None
    if m.group(1):
        return f"Llama {m.group(2)} {m.group(3).upper()}B"
    return f"Qwen{m.group(5)} {m.group(6).upper()}B"


def quant_of(text: str) -> str | None:
    m = QUANT_RE.search(text)
    return m.group(1).upper() if m else None


def backend_of(run: RunInfo) -> str:
    env = run.env or {}
    if run.backend.startswith("tinygrad"):
        dev = str(env.get("DEV", "")).upper().split(":")[0] or next(
            (k for k in ("NV", "CUDA", "CPU", "GPU", "AMD") if env.get(k) == "1"), "")
        return f"tinygrad {dev}".strip()
    if run.backend.startswith("llama"):
        return "llama.cpp"
    return run.backend


def run_conditions(session: Session, m: RunMetrics, run: RunInfo) -> dict[str, Any]:
    host = session.host
    name = " ".join(str(x) for x in (run.model_path or "", run.summary.get("model_name") or "",
                                      run.summary.get("model_type") or "") if x)
    argv = list(run.argv or [])
    out: dict[str, Any] = {"board": host.get("model") or host.get("gpu_name") or "CPU",
                           "backend": backend_of(run), "model": model_of(name), "quant": quant_of(name),
                           "jetpack": host.get("jetpack"), "power_mode": host.get("nvpmodel"),
                           "beam": bool((run.env or {}).get("BEAM") or (run.env or {}).get("JITBEAM"))
                           if run.backend.startswith("tinygrad") else None}
    fa = next((row.get("flash_attn") for row in m.bench if "flash_attn" in row), None)
    if fa is None and "-fa" in argv[:-1]:
        fa = argv[argv.index("-fa") + 1]
    if fa is not None:
        out["flash_attn"] = str(fa).lower() in ("1", "on", "true")
    elif run.backend.startswith("llama"):
        out["flash_attn"] = None
    tokens = next((row.get("n_gen") for row in m.bench if row.get("n_gen")), None)
    for flag in ("-n", "--benchmark", "--n-predict"):
        if tokens is None and flag in argv[:-1] and argv[argv.index(flag) + 1].isdigit():
            tokens = int(argv[argv.index(flag) + 1])
    out["output_tokens"] = tokens
    return out


def _same(key: str, mine: Any, theirs: Any) -> bool:
    if key == "board":
        return str(theirs).lower() in str(mine).lower() or str(mine).lower() in str(theirs).lower()
    if key == "jetpack":
        return str(mine).split(".")[0] == str(theirs).split(".")[0]
    if key == "backend" and str(theirs).lower() == "tinygrad":
        return str(mine).lower().startswith("tinygrad")
    return str(mine).lower() == str(theirs).lower()


@dataclass
class Match:
    reference: Reference
    distance: float
    differs: list[str]  # "board (NVIDIA H100 here, Jetson AGX Orin 64GB there)"
    ratio: float | None  # the run's figure over the reference's
    text: str


def nearest(conditions: dict[str, Any], value: float | None, refs: list[Reference], metric: str = "decode") -> Match | None:
    best: Match | None = None
    for ref in refs:
        if ref.metric != metric:
            continue
        distance, differs = 0.0, []
        for key, weight in WEIGHTS.items():
            mine, theirs = conditions.get(key), ref.conditions.get(key)
            if mine is None and theirs is None:
                continue
            if mine is None or theirs is None:
                distance += weight / 2
                if key in ("model", "quant", "backend", "board"):
                    differs.append(f"{NAMES[key]} " + ("not recorded here" if mine is None else "not stated there"))
            elif not _same(key, mine, theirs):
                distance += weight
                differs.append(f"{NAMES[key]} ({_show(key, mine)} here, {_show(key, theirs)} there)")
        if best is None or distance < best.distance:
            ratio = value / ref.value if value else None
            best = Match(ref, distance, differs, ratio, "")
    if best is not None:
        best.text = match_text(best, value)
    return best


def _show(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return ("with" if value else "without") + (" BEAM" if key == "beam" else " flash attention")
    return str(value)


def describe(ref: Reference) -> str:
    c = ref.conditions
    what = " ".join(str(x) for x in (c.get("model"), c.get("quant")) if x)
    where = c.get("board", "board not stated") + (f", JetPack {c['jetpack']}" if c.get("jetpack") else "")
    return f"{c.get('backend', 'backend not stated')}, {what or 'model not stated'} on {where}"


def match_text(match: Match, value: float | None) -> str:
    """With another model (or none recorded) a ratio would mean nothing: the reference is named only."""
    ref = match.reference
    other_model = any(d.startswith("model") for d in match.differs)
    if other_model:
        match.ratio = None
    head = (("no reference for this model; the closest is " if other_model else "nearest reference: ")
            + f"{describe(ref)}: {ref.value:g} tok/s ({ref.source})")
    if match.ratio is not None and value is not None:
        head += f"; this run {value:.2f} tok/s, {match.ratio:.2f}x"
    return head + ("; differs: " + ", ".join(match.differs) if match.differs else "; same conditions")


def session_references(session: Session, metrics: list[RunMetrics],
                       refs: list[Reference] | None = None) -> list[tuple[str, Match]]:
    """One nearest reference per measured label (its first measured run)."""
    if refs is None:
        refs, _ = load_references()
    out, seen = [], set()
    for m in metrics:
        if not m.ranks or not m.decode or m.label in seen:
            continue
        run = next((r for r in session.runs if r.index == m.run), None)
        if run is None:
            continue
        seen.add(m.label)
        match = nearest(run_conditions(session, m, run), m.decode, refs)
        if match is not None:
            out.append((m.label, match))
    return out
