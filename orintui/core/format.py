"""How figures, labels, statuses and telemetry samples read as text: one home for the report, the
headless log, the widgets and the telemetry logger. Pure strings: no Textual or Rich (a widget
styles what it gets), no sanitising (the caller cleans data before a terminal or a file)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def fmt(value: float | None, digits: int = 2) -> str:
    """A figure with thousands separators; unknown (None, NaN) reads n/a, never 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, best: float | None) -> str:
    """A figure over the best one, as '0.87x'."""
    return f"{value / best:.2f}x" if value and best else "n/a"


def repetition_tag(repetition: int, warmup: bool, repetitions: int) -> str:
    """How a run is told from the other runs of its label: ' (warm-up)', ' #1'..' #n' where the label
    has more than one measured repetition, else nothing. The live table, the lanes, the report and
    the headless log all label runs this way."""
    if warmup:
        return " (warm-up)"
    return f" #{repetition + 1}" if repetitions > 1 else ""


def measured_repetitions(runs: Iterable[Any], label: str) -> int:
    """How many measured (not warm-up) runs of a session carry ``label``."""
    return sum(1 for r in runs if r.label == label and not r.warmup)


def run_label(run: Any, runs: Iterable[Any]) -> str:
    """A run's label with its repetition tag; ``run`` has label, repetition and warmup."""
    return run.label + repetition_tag(run.repetition, run.warmup, measured_repetitions(runs, run.label))


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


def badges(codes: Iterable[str]) -> str:
    """Validity flags after a status in a log line: ' [busy] [noisy]'."""
    return "".join(f" [{code}]" for code in codes)


def rate(value: float | None, rolling: bool = False, width: int = 0) -> str:
    """A decode rate: '123.45 tok/s', and 'rolling' while it is a live run's current rate
    (metrics.rolling_rate) rather than the run's figure."""
    number = f"{value:{width}.2f}" if value else "--".rjust(width)
    return f"{number} tok/s" + (" rolling" if rolling and value else "")


# -- telemetry ----------------------------------------------------------------------------------
def _known(s: Mapping[str, Any], *keys: str) -> bool:
    return all(s.get(k) is not None for k in keys)


def gpu_text(s: Mapping[str, Any]) -> str:
    """'45%@1300MHz'; what the source does not give is left out, never shown as 0."""
    load = f"{s['gpu_load_pct']:.0f}%" if _known(s, "gpu_load_pct") else "n/a"
    return load + (f"@{s['gpu_freq_mhz']:.0f}MHz" if s.get("gpu_freq_mhz") else "")


def emc_text(s: Mapping[str, Any]) -> str:
    """'41%@3199MHz 83.9GB/s'."""
    util = f"{s['emc_util_pct']:.0f}%" if _known(s, "emc_util_pct") else "n/a"
    return (util + (f"@{s['emc_freq_mhz']:.0f}MHz" if s.get("emc_freq_mhz") else "")
            + (f" {s['emc_bw_gbs']:.1f}GB/s" if _known(s, "emc_bw_gbs") else ""))


def power_text(s: Mapping[str, Any]) -> str:
    return f"{s['power_total_mw'] / 1000:.2f}W" if _known(s, "power_total_mw") else "n/a"


def telemetry_line(s: Mapping[str, Any], gauges: bool = True) -> str:
    """One sample as one line: the telemetry logger prints all of it; the live strip, whose gauges
    show GPU, EMC and power already, passes ``gauges=False`` for the rest."""
    parts = [str(s.get("source"))]
    if gauges:
        if _known(s, "gpu_load_pct"):
            parts.append(f"GPU {gpu_text(s)}")
        if _known(s, "emc_util_pct"):
            parts.append(f"EMC {emc_text(s)}")
    # temperature, RAM and CPU before the rail breakdown: what an 80-column strip must not lose
    temps = {k: v for k, v in (s.get("temp_c") or {}).items() if v is not None}
    if temps:
        hottest = max(temps, key=lambda k: temps[k])
        parts.append(f"{hottest} {temps[hottest]:.1f}C")
    if _known(s, "ram_used_mb", "ram_total_mb"):
        parts.append(f"RAM {s['ram_used_mb'] / 1024:.1f}/{s['ram_total_mb'] / 1024:.1f}GB")
    cpu = [c for c in (s.get("cpu_load_pct") or []) if c is not None]
    if cpu:
        parts.append(f"CPU {sum(cpu) / len(cpu):.0f}%")
    if _known(s, "power_total_mw"):
        label = s.get("power_total_label")
        parts.append(f"{power_text(s)} ({label})" if gauges else f"power = {label}")
    rails = s.get("power_mw") or {}
    if len(rails) > 1:
        parts.append(" ".join(f"{k} {v / 1000:.1f}W" for k, v in rails.items() if v is not None))
    return "  ".join(parts)


def abbreviate(text: str, width: int, mark: str = "…") -> str:
    """At most ``width`` characters, cut in the middle so both ends stay readable ('llama-b…fa off')."""
    if len(text) <= width:
        return text
    keep = max(0, width - len(mark))
    return text[: (keep + 1) // 2] + mark + text[len(text) - keep // 2:]
