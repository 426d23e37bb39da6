"""Results tables: ``orintui report`` (md, csv, json) and ``orintui compare``."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from typing import Any

from orintui.metrics import RunMetrics, label_stats, session_metrics
from orintui.sanitize import clean_line
from orintui.session.events import TOKEN
from orintui.session.model import Session

COLUMNS = ["Backend", "Model", "Prefill tok/s", "Decode tok/s", "TTFT (ms)", "ms/token p50", "p95", "J/token",
           "BW %", "Status", "Notes"]


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _model_name(m: RunMetrics) -> str:
    if not m.model:
        return "n/a"
    return m.model.rsplit("/", 1)[-1]


def short_error(error: str, keep: int = 2) -> str:
    """A failed run's error: its head ('exit code 1') and the backend's last meaningful lines.

    The runner joins the backend's last lines with ' | '; traceback marker lines (^^^^) say nothing."""
    head, sep, tail = error.partition(": ")
    parts = [p for p in (tail if sep else error).replace("\n", " ").split(" | ") if any(c.isalnum() for c in p)]
    shown = " | ".join(parts[-keep:])
    return f"{head}: {shown}" if sep else shown


def flash_attn(value: object) -> str:
    """llama-bench's flash_attn: 0 off, 1 on, -1 auto (newer builds choose per device)."""
    return {"-1": "auto", "0": "0", "1": "1"}.get(str(value).strip(), str(value))


def notes(m: RunMetrics) -> str:
    parts = []
    if m.status != "ok" and m.error:  # the Status column says the word; the note says why
        parts.append(short_error(m.error))
    if m.warmup:
        parts.append("warm-up run")
    if m.decode_tok_s["reported"] is not None and m.decode_tok_s["observed"] is not None:
        parts.append(f"observed {fmt(m.decode_tok_s['observed'])} tok/s")
    if m.warmup_tokens:
        parts.append(f"{m.warmup_tokens} warm-up tokens excluded")
    if m.avg_power_w is not None:
        parts.append(f"{fmt(m.avg_power_w, 1)} W ({m.power_label})")
    parts += energy_notes(m)
    if m.emc_gbs is not None:
        parts.append(f"EMC {fmt(m.emc_gbs, 1)} GB/s")
    for row in m.bench:
        spread = f" ± {fmt(row.get('stddev_ts'))}" if row.get("stddev_ts") is not None else ""
        parts.append(f"{row.get('test')} {fmt(row.get('avg_ts'))}{spread} t/s" +
                     (f" fa={flash_attn(row['flash_attn'])}" if "flash_attn" in row else "") +
                     (f" {fmt(row['j_per_token'], 4)} J/token" if row.get("j_per_token") is not None else ""))
    if m.flags:
        parts.append("flags: " + ", ".join(f.code for f in m.flags))
    return "; ".join(parts)


def energy_notes(m: RunMetrics) -> list[str]:
    """Tokens per joule beside J/token, prefill energy, the idle baseline and marginal J/token; an
    energy figure the samples could not cover says why."""
    parts = []
    if m.tokens_per_joule is not None:
        parts.append(f"{fmt(m.tokens_per_joule, 2)} tok/J")
    if m.prefill_j_per_token is not None:
        parts.append(f"prefill {fmt(m.prefill_j_per_token, 4)} J/token at {fmt(m.prefill_avg_power_w, 1)} W")
    if m.idle_power_w is not None:
        parts.append(f"idle {fmt(m.idle_power_w, 1)} W")
    if m.marginal_j_per_token is not None:
        parts.append(f"marginal {fmt(m.marginal_j_per_token, 4)} J/token above idle")
    parts += [f"{what} energy n/a: {why}" for what, why in m.energy_na.items() if what in ("decode", "prefill")]
    return parts


def telemetry_note(session: Session, m: RunMetrics) -> str:
    """Over the run's decode window: average GPU clock and load, EMC %, peak temperature, throttling."""
    times = [e["t"] for e in session.run_events(m.run) if e["kind"] == TOKEN and not e.get("warmup")]
    if len(times) < 2:
        return ""
    window = [e for e in session.events if e["kind"] == "telemetry" and times[0] <= e["t"] <= times[-1]]

    def mean(key: str) -> float | None:
        values = [e[key] for e in window if isinstance(e.get(key), (int, float))]
        return statistics.fmean(values) if values else None

    parts = []
    if (freq := mean("gpu_freq_mhz")) is not None:
        parts.append(f"GPU {fmt(freq, 0)} MHz")
    if (load := mean("gpu_load_pct")) is not None:
        parts.append(f"GPU load {fmt(load, 0)}%")
    if (emc := mean("emc_util_pct")) is not None:
        parts.append(f"EMC {fmt(emc, 0)}%")
    temps = [v for e in window for v in (e.get("temp_c") or {}).values() if isinstance(v, (int, float))]
    if temps:
        parts.append(f"peak {fmt(max(temps), 1)} C")
    known = [e["throttled"] for e in window if e.get("throttled") is not None]  # no source reports it: say nothing
    if known:
        parts.append("throttled" if any(known) else "no throttling seen")
    return "decode: " + ", ".join(parts) if parts else ""


def device_line(session: Session) -> str:
    """Where the numbers were made: power mode, jetson_clocks, max GPU and EMC clocks, the board."""
    h = session.host
    if not (h.get("model") or h.get("l4t") or h.get("profile")):
        return ""
    clocks = {"ON": "clocks locked", "OFF": "clocks NOT locked"}.get(h.get("jetson_clocks") or "", "jetson_clocks n/a")
    parts = [f"power mode {h.get('nvpmodel') or 'n/a'}", clocks,
             f"max GPU {fmt(h.get('gpu_max_mhz'), 0)} MHz", f"max EMC {fmt(h.get('emc_max_mhz'), 0)} MHz"]
    if h.get("profile_from"):
        parts.append(f"board from {h['profile_from']}")
    return "Device: " + ", ".join(parts)


def flag_notes(measured: list[tuple[Session, list[RunMetrics]]]) -> list[str]:
    """One line per flagged run: what the badge means here, with its numbers."""
    lines = []
    for _, metrics in measured:
        for m in metrics:
            for flag in m.flags:
                lines.append(clean_line(f"- {m.label}{'' if not m.repetition else f' #{m.repetition + 1}'}: "
                                        f"[{flag.code}] {flag.text}"))
    return lines


def rows(measured: list[tuple[Session, list[RunMetrics]]]) -> list[tuple[RunMetrics, list[str]]]:
    out = []
    for session, metrics in measured:
        for m in metrics:
            label = m.label + (f" #{m.repetition + 1}" if _reps(session, m.label) > 1 else "")
            note = "; ".join(p for p in (notes(m), telemetry_note(session, m)) if p)
            out.append((m, [label, _model_name(m), fmt(m.prefill_tok_s), fmt(m.decode), fmt(m.ttft_ms, 1),
                            fmt(m.itl_ms["p50"]), fmt(m.itl_ms["p95"]), fmt(m.energy_j_per_token, 4),
                            fmt(m.bandwidth_pct, 1), m.status, note]))
    return out


def _reps(session: Session, label: str) -> int:
    return sum(1 for r in session.runs if r.label == label and not r.warmup)


def md_escape(text: str) -> str:
    return clean_line(text).replace("|", "\\|")


NUMERIC = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def csv_cell(text: str) -> str:
    """A cell a spreadsheet takes as text: no control characters, and text that starts like a
    formula (=, +, -, @, or a tab or CR before sanitising) gets a leading quote. Numbers stay numbers."""
    cell = clean_line(text)
    if text[:1] in ("\t", "\r") or (cell.lstrip()[:1] in ("=", "+", "-", "@") and not NUMERIC.fullmatch(cell.strip())):
        return "'" + cell
    return cell


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def host_line(session: Session) -> str:
    h = session.host
    parts = [h.get("model") or h.get("gpu_name") or h.get("hostname") or "unknown host"]
    if h.get("gpu_name") and h.get("model"):
        parts.append(h["gpu_name"])
    for key, name in (("driver", "driver"), ("cuda", "CUDA"), ("jetpack", "JetPack"), ("nvpmodel", "power mode"),
                      ("telemetry_source", "telemetry")):
        if h.get(key):
            parts.append(f"{name} {h[key]}")
    return ", ".join(parts)


def version_text(versions: dict[str, str]) -> str:
    """'tinygrad 0.13.0 (checkout 1a2b3c4d5e6f)', 'llama.cpp build 7000 (commit 0c1e570)'."""
    parts = []
    if versions.get("tinygrad_version"):
        parts.append(f"tinygrad {versions['tinygrad_version']}" +
                     (f" (checkout {versions['tinygrad_commit']})" if versions.get("tinygrad_commit") else ""))
    if versions.get("llama_cpp_build"):
        parts.append(f"llama.cpp build {versions['llama_cpp_build']} (commit {versions.get('llama_cpp_commit', '?')})")
    return ", ".join(parts)


def versions_line(session: Session) -> str:
    """The distinct backend versions of a session's runs, llama-bench's own build included."""
    seen: list[str] = []
    for run in session.runs:
        text = version_text(run.versions)
        bench = run.summary.get("build_commit")
        if not text and bench:
            text = f"llama.cpp build {run.summary.get('build_number', '?')} (commit {bench})"
        if text and text not in seen:
            seen.append(text)
    return "; ".join(seen)


def render_report(sessions: list[Session], form: str = "md") -> str:
    measured = [(session, session_metrics(session)) for session in sessions]
    table = rows(measured)
    if form == "json":
        return json.dumps({"runs": [report_json(m) for m, _ in table]}, indent=2)
    if form == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(COLUMNS)
        writer.writerows([csv_cell(c) for c in r] for _, r in table)
        return buf.getvalue().rstrip("\n")
    out = []
    for session in sessions:
        out.append(clean_line(f"**{session.title}** ({session.id}, {session.started_at[:19]}): {host_line(session)}"))
        if versions := versions_line(session):
            out.append(clean_line(f"Versions: {versions}"))
        if device := device_line(session):
            out.append(clean_line(device))
    out.append("")
    out.append(markdown_table(COLUMNS, [r for _, r in table]))
    flagged = flag_notes(measured)
    if flagged:
        out += ["", "Flags (figures to read with care):", *flagged]
    reps = [(s, st) for _, metrics in measured for s, st in label_stats(metrics).items() if st.repetitions > 1]
    if reps:
        out.append("")
        out.append(markdown_table(
            ["Backend", "Repetitions", "Decode tok/s (mean ± sd)", "Prefill tok/s (mean ± sd)"],
            [[label, str(st.repetitions), f"{fmt(st.decode_mean)} ± {fmt(st.decode_stddev)}",
              f"{fmt(st.prefill_mean)} ± {fmt(st.prefill_stddev)}"] for label, st in reps]))
    return "\n".join(out)


def report_json(m: RunMetrics) -> dict[str, Any]:
    return {"label": m.label, "backend": m.backend, "status": m.status, "repetition": m.repetition,
            "warmup": m.warmup, "tokens": m.tokens, "decode_tok_s": dict(m.decode_tok_s),
            "prefill_tok_s": m.prefill_tok_s, "ttft_ms": m.ttft_ms, "itl_ms": dict(m.itl_ms), "load_s": m.load_s,
            "energy_j_per_token": m.energy_j_per_token, "avg_power_w": m.avg_power_w,
            "energy": {k: getattr(m, k) for k in ("power_label", "decode_energy_j", "tokens_per_joule",
                                                  "prefill_energy_j", "prefill_j_per_token", "prefill_avg_power_w",
                                                  "idle_power_w", "marginal_j_per_token", "energy_na")},
            "bandwidth_gbs": m.bandwidth_gbs, "bandwidth_pct": m.bandwidth_pct, "model": m.model,
            "error": m.error, "by_user": m.by_user, "bench": m.bench, "sources": m.sources,
            "flags": [{"code": f.code, "text": f.text} for f in m.flags], "versions": m.versions}


# -- compare ---------------------------------------------------------------------------------
FIGURES = (("Decode tok/s", "decode", True), ("Prefill tok/s", "prefill_tok_s", True), ("TTFT (ms)", "ttft_ms", False),
           ("ms/token p50", "p50", False), ("J/token", "energy_j_per_token", False))
# in the text compare only (the compare screen keeps its columns to fit 80 columns)
ENERGY_FIGURES = (("tok/J", "tokens_per_joule", True), ("marginal J/token", "marginal_j_per_token", False),
                  ("prefill J/token", "prefill_j_per_token", False))


def _figure(m: RunMetrics, key: str) -> float | None:
    if key == "decode":
        return m.decode
    if key == "p50":
        return m.itl_ms["p50"]
    return getattr(m, key)


def label_figures(session: Session) -> dict[str, dict[str, tuple[float | None, float | None]]]:
    """Per label and figure: the mean over measured repetitions and its spread.

    The spread is the sample stddev over repetitions; with one repetition, the decode rate's
    spread is its standard error from the per-token intervals."""
    groups: dict[str, list[RunMetrics]] = {}
    for m in session_metrics(session):
        if not m.warmup and m.status == "ok":
            groups.setdefault(m.label, []).append(m)
    out = {}
    for label, runs in groups.items():
        figs = {}
        for _, key, _ in FIGURES + ENERGY_FIGURES:
            values = [v for v in (_figure(m, key) for m in runs) if v is not None]
            if not values:
                figs[key] = (None, None)
                continue
            mean = statistics.fmean(values)
            spread = statistics.stdev(values) if len(values) > 1 else None
            if spread is None and key == "decode":
                spread = _decode_standard_error(session, runs[0], mean)
            figs[key] = (mean, spread)
        out[label] = figs
    return out


def _decode_standard_error(session: Session, m: RunMetrics, rate: float) -> float | None:
    times = [e["t"] for e in session.run_events(m.run) if e["kind"] == TOKEN and not e.get("warmup")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) < 3:
        return None
    cv = statistics.stdev(gaps) / statistics.fmean(gaps)
    return rate * cv / math.sqrt(len(gaps))


def label_states(session: Session) -> dict[str, tuple[str, list[str]]]:
    """Per label of measured runs: its state in this session (``ok`` when a complete run exists,
    else the status of its runs, such as failed or partial) and the validity flags of its ok runs."""
    out: dict[str, tuple[str, list[str]]] = {}
    for m in session_metrics(session):
        if m.warmup:
            continue
        state, flags = out.get(m.label, (None, []))
        if m.ranks:
            state = "ok"
            flags = sorted(set(flags) | {f.code for f in m.flags})
        elif state is None:
            state = m.status
        out[m.label] = (state, flags)
    return out


def presence(state: str | None, side: str) -> str:
    """How a label stands in one session, in words: '' when it ran completely."""
    if state is None:
        return f"missing in {side}"
    return "" if state == "ok" else f"{state} in {side}"


def compare_row_title(row: dict[str, Any]) -> str:
    """The label of a compare row with how it stands in each session ('failed in B')."""
    where = "; ".join(p for p in (presence(None if row["state_a"] == "missing" else row["state_a"], "A"),
                                  presence(None if row["state_b"] == "missing" else row["state_b"], "B")) if p)
    return row["label"] + (f" ({where})" if where else "") + (" !" if row["flags_differ"] else "")


def compare(a: Session, b: Session) -> list[dict[str, Any]]:
    fa, fb = label_figures(a), label_figures(b)
    sa_, sb_ = label_states(a), label_states(b)
    labels = list(dict.fromkeys([*sa_, *sb_]))
    labels.sort(key=lambda x: (not (x in fa and x in fb), x not in fa))
    out = []
    for label in labels:
        state_a, flags_a = sa_.get(label, (None, []))
        state_b, flags_b = sb_.get(label, (None, []))
        row: dict[str, Any] = {"label": label, "in_a": label in fa, "in_b": label in fb,
                               "state_a": state_a or "missing", "state_b": state_b or "missing",
                               "flags_a": flags_a, "flags_b": flags_b,
                               "flags_differ": state_a == state_b == "ok" and flags_a != flags_b, "figures": {},
                               "energy": {}}
        for name, key, higher_better in FIGURES + ENERGY_FIGURES:
            va, sa = fa.get(label, {}).get(key, (None, None))
            vb, sb = fb.get(label, {}).get(key, (None, None))
            ratio = vb / va if va and vb is not None else None
            spread = max(s for s in (sa, sb, 0.0) if s is not None)
            moved = va is not None and vb is not None and spread > 0 and abs(vb - va) > spread
            group = "figures" if (name, key, higher_better) in FIGURES else "energy"
            row[group][key] = {"name": name, "a": va, "b": vb, "ratio": ratio, "spread": spread or None,
                               "moved": moved, "better": (None if not moved else (vb > va) == higher_better)}
        out.append(row)
    return out


def render_compare(a: Session, b: Session, form: str = "md") -> str:
    result = compare(a, b)
    if form == "json":
        return json.dumps({"a": a.id, "b": b.id, "runs": result}, indent=2)
    header = ["Backend"] + [f"{name} A / B (B/A)" for name, _, _ in FIGURES + ENERGY_FIGURES]
    body = []
    differ = []
    for row in result:
        cells = [compare_row_title(row)]
        if row["flags_differ"]:
            differ.append(clean_line(f"! {row['label']}: flags A {', '.join(row['flags_a']) or 'none'}; "
                                     f"B {', '.join(row['flags_b']) or 'none'}"))
        for _, key, _ in FIGURES + ENERGY_FIGURES:
            f = row["figures"].get(key) or row["energy"][key]
            flag = " *" if f["moved"] else ""
            ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "n/a"
            cells.append(f"{fmt(f['a'])} / {fmt(f['b'])} ({ratio}){flag}")
        body.append(cells)
    lines = [clean_line(f"A: {a.title} ({a.id}): {host_line(a)}"),
             clean_line(f"B: {b.title} ({b.id}): {host_line(b)}"), "",
             markdown_table(header, body), "",
             "* moved by more than the runs' own spread (stddev over repetitions, or the standard error "
             "of the decode rate for a single run); only complete (ok) runs are compared", *differ]
    return "\n".join(lines)
