"""Results tables: ``orintui report`` (md, csv, json); ``orintui compare`` lives in compare.py."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any

from orintui.analysis.findings import Findings, session_findings
from orintui.core.format import flash_attn, fmt, measured_repetitions, repetition_tag, short_error
from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics, label_stats, session_metrics, window_telemetry
from orintui.session import status as st
from orintui.session.events import TELEMETRY
from orintui.session.model import Session

COLUMNS = ["Backend", "Model", "Prefill tok/s", "Decode tok/s", "TTFT (ms)", "ms/token p50", "p95", "J/token",
           "BW %", "Status", "Notes"]


def _model_name(m: RunMetrics) -> str:
    if not m.model:
        return "n/a"
    return m.model.rsplit("/", 1)[-1]


def notes(m: RunMetrics) -> str:
    parts = []
    if m.status != st.OK and m.error:  # the Status column says the word; the note says why
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
    if m.decode_window is None:
        return ""
    w = window_telemetry([e for e in session.events if e["kind"] == TELEMETRY], m.decode_window)
    parts = []
    if w.gpu_freq_mhz is not None:
        parts.append(f"GPU {fmt(w.gpu_freq_mhz, 0)} MHz")
    if w.gpu_load_pct is not None:
        parts.append(f"GPU load {fmt(w.gpu_load_pct, 0)}%")
    if w.emc_util_pct is not None:
        parts.append(f"EMC {fmt(w.emc_util_pct, 0)}%")
    if w.peak_temp_c is not None:
        parts.append(f"peak {fmt(w.peak_temp_c, 1)} C")
    if w.throttled is not None:  # no source reports it: say nothing
        parts.append("throttled" if w.throttled else "no throttling seen")
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
    for session, metrics in measured:
        for m in metrics:
            for flag in m.flags:
                lines.append(clean_line(f"- {_label(session, m)}: [{flag.code}] {flag.text}"))
    return lines


def rows(measured: list[tuple[Session, list[RunMetrics]]]) -> list[tuple[RunMetrics, list[str]]]:
    out = []
    for session, metrics in measured:
        for m in metrics:
            label = _label(session, m)
            note = "; ".join(p for p in (notes(m), telemetry_note(session, m)) if p)
            out.append((m, [label, _model_name(m), fmt(m.prefill_tok_s), fmt(m.decode), fmt(m.ttft_ms, 1),
                            fmt(m.itl_ms["p50"]), fmt(m.itl_ms["p95"]), fmt(m.energy_j_per_token, 4),
                            fmt(m.bandwidth_pct, 1), m.status, note]))
    return out


def _label(session: Session, m: RunMetrics) -> str:
    """The run's label as every table shows it: format.repetition_tag."""
    return m.label + repetition_tag(m.repetition, m.warmup, measured_repetitions(session.runs, m.label))


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


def session_name(session: Session) -> str:
    """The Session column of a report of several sessions: the user's label, else the id."""
    return session.label or session.id


def session_json(session: Session) -> dict[str, Any]:
    return {"id": session.id, "label": session.label, "title": session.title, "started_at": session.started_at,
            "ended_at": session.ended_at, "orintui_version": session.orintui_version, "host": session.host,
            "scenario": session.scenario, "versions": versions_line(session)}


# csv: raw numbers (empty when not measured) for spreadsheets and scripts; the label's repetition
# statistics repeated on each of its rows
CSV_COLUMNS = ["Session", "Backend", "Repetition", "Warm-up", "Status", "Model", "Tokens", "Prefill tok/s", "Decode tok/s",
               "Decode tok/s observed", "TTFT (ms)", "ms/token p50", "ms/token p95", "ms/token p99", "J/token",
               "BW %", "Avg power (W)", "Repetitions", "Decode tok/s mean", "Decode tok/s sd", "Prefill tok/s mean",
               "Prefill tok/s sd", "Flags", "Notes"]


def raw(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def render_csv(measured: list[tuple[Session, list[RunMetrics]]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for session, metrics in measured:
        stats = label_stats(metrics)
        for m in metrics:
            st = stats.get(m.label) if not m.warmup else None
            cells = [session_name(session), m.label, raw(m.repetition + 1), "yes" if m.warmup else "no", m.status,
                     _model_name(m) if m.model else "", raw(m.tokens)]
            cells += [raw(v) for v in (m.prefill_tok_s, m.decode, m.decode_tok_s["observed"], m.ttft_ms, m.itl_ms["p50"],
                                       m.itl_ms["p95"], m.itl_ms["p99"], m.energy_j_per_token, m.bandwidth_pct,
                                       m.avg_power_w)]
            cells += [raw(st.repetitions) if st else ""] + [raw(getattr(st, k)) if st else "" for k in
                                                            ("decode_mean", "decode_stddev", "prefill_mean", "prefill_stddev")]
            cells += [" ".join(f.code for f in m.flags), "; ".join(p for p in (notes(m), telemetry_note(session, m)) if p)]
            writer.writerow([csv_cell(c) for c in cells])
    return buf.getvalue().rstrip("\n")


def render_report(sessions: list[Session], form: str = "md", metrics: list[list[RunMetrics]] | None = None) -> str:
    """``metrics``: each session's figures where the caller has them already (the end of a live
    session: computed from its accumulators, the session holding no token events)."""
    measured = list(zip(sessions, metrics)) if metrics is not None else [(s, session_metrics(s)) for s in sessions]
    table = rows(measured)
    findings = [session_findings(session, metrics) for session, metrics in measured] if form != "csv" else []
    if form == "json":
        names = [session_name(s) for s, metrics in measured for _ in metrics]
        return json.dumps({"sessions": [session_json(s) for s in sessions],
                           "runs": [{"session": name, **report_json(m)} for name, (m, _) in zip(names, table)],
                           "findings": [{"session": session_name(s), **f.to_dict()} for s, f in zip(sessions, findings)]},
                          indent=2)
    if form == "csv":
        return render_csv(measured)
    out = []
    for session in sessions:
        out.append(clean_line(f"**{session.title}** ({session.id}, {session.started_at[:19]}): {host_line(session)}"))
        if versions := versions_line(session):
            out.append(clean_line(f"Versions: {versions}"))
        if device := device_line(session):
            out.append(clean_line(device))
    for session, f in zip(sessions, findings):
        out += findings_md(f, session_name(session) if len(sessions) > 1 else "")
    out.append("")
    if len(sessions) > 1:  # which session each row came from
        names = [session_name(s) for s, metrics in measured for _ in metrics]
        out.append(markdown_table(["Session", *COLUMNS], [[name, *r] for name, (_, r) in zip(names, table)]))
    else:
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


def findings_md(findings: Findings, name: str = "") -> list[str]:
    """The Findings section (above the table): the plan's questions answered as sentences."""
    lines = [f"- {md_escape(x)}" for x in findings.sentences()]
    return ["", f"Findings{f' ({name})' if name else ''}:", *lines] if lines else []


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
