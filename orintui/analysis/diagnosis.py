"""Where a run's time went, one line per finding with the numbers behind it (docs/analysis.md).

Every rule needs its own data: without GPU telemetry inside the decode window there is no GPU
verdict, without the device's peak bandwidth no roofline verdict; the reason is said instead."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from orintui.figures.metrics import RunMetrics
from orintui.session import status as st
from orintui.session.events import TELEMETRY, Event, TelemetryLike
from orintui.session.model import RunInfo, Session

BANDWIDTH_BOUND_PCT = 60.0  # model bytes x tok/s at or above this share of the peak: memory-bound
FAR_BELOW_PCT = 30.0  # below this share of the peak the memory is not what limits the run
GPU_BUSY_PCT = 80.0  # mean GPU load at or above this: the GPU is saturated
GPU_SWING_PCT = 20.0  # stddev of GPU load above this (points): the load oscillates
GPU_IDLE_PCT = 5.0  # mean GPU load below this while tokens flow: the GPU is not doing the work
CLOCK_FALL = 0.10  # the GPU clock falling this far below its decode maximum ...
TEMP_RISE_C = 5.0  # ... while the hottest sensor rises this much: throttling
MIN_SAMPLES = 3  # telemetry samples inside the decode window needed for any GPU rule


@dataclass
class Finding:
    code: str  # bandwidth-bound, launch-bound, kernel-bound, throttled, cpu-fallback, cpu, warmup-dominated
    text: str


@dataclass
class Diagnosis:
    label: str
    run: int
    findings: list[Finding] = field(default_factory=list)
    not_judged: list[str] = field(default_factory=list)  # what could not be said, and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def bottleneck(self) -> Finding | None:
        order = ("cpu-fallback", "throttled", "bandwidth-bound", "kernel-bound", "launch-bound", "cpu")
        return next((f for code in order for f in self.findings if f.code == code), None)


def _numbers(window: list[Event], key: str) -> list[float]:
    return [float(e[key]) for e in window if isinstance(e.get(key), (int, float))]


def _hottest(e: TelemetryLike) -> float | None:
    temps = [v for v in (e.get("temp_c") or {}).values() if isinstance(v, (int, float)) and v > -100]
    return max(temps) if temps else None


def asks_for_gpu(run: RunInfo | None) -> bool:
    """The run's own settings ask for a GPU: tinygrad DEV/NV/CUDA, llama.cpp -ngl above 0."""
    if run is None:
        return False
    env = run.env or {}
    if str(env.get("DEV", "")).upper().split(":")[0] in ("NV", "CUDA", "GPU", "AMD", "METAL", "OPENCL", "CL"):
        return True
    if any(env.get(k) == "1" for k in ("NV", "CUDA", "GPU", "AMD")):
        return True
    argv = list(run.argv or [])
    for flag in ("-ngl", "--n-gpu-layers", "--gpu-layers"):
        if flag in argv[:-1] and argv[argv.index(flag) + 1].lstrip("-").isdigit() and int(argv[argv.index(flag) + 1]) > 0:
            return True
    return False


def diagnose(session: Session, m: RunMetrics, telemetry: list[Event] | None = None) -> Diagnosis:
    d = Diagnosis(m.label, m.run)
    run = next((r for r in session.runs if r.index == m.run), None)
    if m.status != st.OK:
        d.not_judged.append(f"no diagnosis: the run is {m.status}")
        return d
    if m.decode_window is None or m.first_token_t is None:  # llama-bench: totals only, so the roofline alone
        d.not_judged.append("no per-token times (llama-bench gives totals): the roofline alone is judged"
                            if m.bench else f"{m.steady_tokens} steady token(s): the roofline alone is judged")
        _roofline(d, m, session, None, run)
        return d
    start, end = m.decode_window  # the run's figures say where its tokens were: its events are not read
    if telemetry is None:
        telemetry = [e for e in session.events if e["kind"] == TELEMETRY]
    window = [e for e in telemetry if start <= e["t"] <= end]
    _warmup(d, m, m.first_token_t, start, end)
    load = _numbers(window, "gpu_load_pct")
    gpu_ok = len(load) >= MIN_SAMPLES
    if not gpu_ok:
        src = session.host.get("telemetry_source") or "none"
        d.not_judged.append(
            f"GPU rules not applied: {len(load)} GPU load sample(s) inside the {end - start:.2f} s decode window "
            f"(telemetry: {src}; {MIN_SAMPLES} needed)")
    _roofline(d, m, session, load if gpu_ok else None, run)
    if gpu_ok:
        _throttle(d, m, window)
    return d


def _warmup(d: Diagnosis, m: RunMetrics, first_token: float, start: float, end: float) -> None:
    """Time before steady decode (TTFT and the JIT/BEAM tokens) against the steady decode itself."""
    if m.ttft_ms is None:
        d.not_judged.append("warm-up not judged: no time to first token")
        return
    ttft, jit, decode = m.ttft_ms / 1000.0, max(0.0, start - first_token), end - start
    if ttft + jit > decode:
        d.findings.append(Finding("warmup-dominated", (
            f"warm-up dominated: {ttft + jit:.2f} s before steady decode (TTFT {ttft:.2f} s"
            + (f", {m.warmup_tokens} JIT/BEAM token(s) {jit:.2f} s" if m.warmup_tokens else "")
            + f") against {decode:.2f} s of steady decode: its tok/s says little about the run's wall time")))


def _roofline(d: Diagnosis, m: RunMetrics, session: Session, load: list[float] | None, run: RunInfo | None) -> None:
    rate = m.decode
    mean_load = statistics.fmean(load) if load else None
    if mean_load is not None and mean_load < GPU_IDLE_PCT:
        fallback = asks_for_gpu(run)
        d.findings.append(Finding("cpu-fallback" if fallback else "cpu", (
            ("CPU fallback" if fallback else "runs on the CPU")
            + f": GPU load {mean_load:.1f} % on average while {rate:.2f} tok/s flowed"
            + (" although the run asked for a GPU" if fallback else ""))))
        return
    if m.bandwidth_pct is None:
        why = ("the device's peak bandwidth is unknown" if not session.host.get("peak_bandwidth_gbs")
               else "no model size or decode rate")
        d.not_judged.append(f"roofline not judged: {why}")
        return
    gb = (m.bandwidth_gbs or 0.0)
    peak = session.host.get("peak_bandwidth_gbs")
    head = f"{gb:.1f} GB/s (model bytes x {rate:.2f} tok/s) is {m.bandwidth_pct:.1f} % of the {peak:g} GB/s peak"
    if m.bandwidth_pct > 100.0:
        d.not_judged.append(f"roofline not judged: {head}, above the peak (the model is not read whole per token, "
                            "or the peak is wrong)")
        return
    if m.bandwidth_pct >= BANDWIDTH_BOUND_PCT:
        d.findings.append(Finding("bandwidth-bound", f"bandwidth-bound: {head}"))
        return
    if m.bandwidth_pct >= FAR_BELOW_PCT:
        d.not_judged.append(f"no bottleneck named: {head}, between the {FAR_BELOW_PCT:g} % and "
                            f"{BANDWIDTH_BOUND_PCT:g} % rules")
        return
    if load is None or mean_load is None:
        d.not_judged.append(f"far below the roofline ({head}), and no GPU load in the decode window to say why")
        return
    swing = statistics.pstdev(load)
    if mean_load >= GPU_BUSY_PCT and swing <= GPU_SWING_PCT:
        d.findings.append(Finding("kernel-bound", (
            f"kernel-bound: {head} while the GPU was busy {mean_load:.0f} % of the time: "
            "the kernels are slow, not the memory (unoptimised or unsearched kernels)")))
    else:
        d.findings.append(Finding("launch-bound", (
            f"launch/overhead-bound: {head} while the GPU was busy {mean_load:.0f} % on average "
            f"(load swinging by {swing:.0f} points, {min(load):.0f}-{max(load):.0f} %): "
            "it waits on launches, Python or synchronisation between kernels")))


def _throttle(d: Diagnosis, m: RunMetrics, window: Sequence[TelemetryLike]) -> None:
    flagged = next((f for f in m.flags if f.code == "throttled"), None)
    if flagged:
        d.findings.append(Finding("throttled", f"throttled: {flagged.text}"))
        return
    freqs = [(e["t"], float(f)) for e in window if isinstance(f := e.get("gpu_freq_mhz"), (int, float))]
    temps = [(e["t"], t) for e in window if (t := _hottest(e)) is not None]
    if len(freqs) < MIN_SAMPLES or len(temps) < MIN_SAMPLES:
        d.not_judged.append("throttling not judged: no GPU clock or temperature samples in the decode window")
        return
    top_t, top = max(freqs, key=lambda x: x[1])
    later = [f for t, f in freqs if t > top_t]
    low = min(later) if later else top
    rise = max(t for _, t in temps) - temps[0][1]
    if low < (1 - CLOCK_FALL) * top and rise >= TEMP_RISE_C:
        d.findings.append(Finding("throttled", (
            f"throttled: GPU clock fell from {top:.0f} to {low:.0f} MHz during decode while the temperature rose "
            f"{rise:.1f} C (from {temps[0][1]:.1f} C)")))


def session_diagnoses(session: Session, metrics: list[RunMetrics]) -> list[Diagnosis]:
    telemetry = [e for e in session.events if e["kind"] == TELEMETRY]
    return [diagnose(session, m, telemetry) for m in metrics if m.ranks]
