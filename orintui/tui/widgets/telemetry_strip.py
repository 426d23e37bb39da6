"""GPU load and frequency, EMC % and GB/s, power total and rails, temperatures, RAM."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from orintui.live_state import LiveState
from orintui.tui.data import data_line
from orintui.tui.glyphs import Spark
from orintui.tui.widgets.quiet import set_data, set_text


def _num(value: float | None, fmt: str = "{:.0f}", unit: str = "") -> str:
    return "n/a" if value is None else fmt.format(value) + unit


class Gauge(Vertical):
    def __init__(self, title: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.title = title

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="gauge-value")
        yield Spark([], classes="gauge-spark")

    def show(self, value: str, history: Iterable[float]) -> None:
        set_text(self.query_one(".gauge-value", Static), Text(f"{self.title} {value}"))
        set_data(self.query_one(Sparkline), list(history))


class TelemetryStrip(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="gauges"):
            yield Gauge("GPU", id="gauge-gpu")
            yield Gauge("EMC", id="gauge-emc")
            yield Gauge("Power", id="gauge-power")
        yield Static("telemetry: waiting for the first sample", id="telemetry-detail")

    def show(self, state: LiveState) -> None:
        s = state.last_sample
        host = state.session.host
        if s is None:
            source = host.get("telemetry_source") or "none"
            set_text(self.query_one("#telemetry-detail", Static), data_line(f"telemetry: {source}, no sample yet"))
            return
        gpu = _num(s.get("gpu_load_pct"), unit="%") + (f" @{s['gpu_freq_mhz']:.0f}MHz" if s.get("gpu_freq_mhz") else "")
        emc = _num(s.get("emc_util_pct"), unit="%") + (f" {s['emc_bw_gbs']:.1f}GB/s" if s.get("emc_bw_gbs") is not None else "")
        power = _num((s.get("power_total_mw") or 0) / 1000 if s.get("power_total_mw") is not None else None, "{:.1f}", "W")
        self.query_one("#gauge-gpu", Gauge).show(gpu, state.history["gpu"])
        self.query_one("#gauge-emc", Gauge).show(emc, state.history["emc"])
        self.query_one("#gauge-power", Gauge).show(power, state.history["power"])
        parts = [f"{s.get('source')}"]
        if s.get("power_total_label"):
            parts.append(f"power = {s['power_total_label']}")
        rails = s.get("power_mw") or {}
        if len(rails) > 1:
            parts.append(" ".join(f"{k} {v / 1000:.1f}W" for k, v in rails.items()))
        temps = s.get("temp_c") or {}
        if temps:
            hottest = max(temps, key=lambda name: temps[name])
            parts.append(f"{hottest} {temps[hottest]:.0f}C")
        if s.get("ram_used_mb") is not None and s.get("ram_total_mb"):
            parts.append(f"RAM {s['ram_used_mb'] / 1024:.1f}/{s['ram_total_mb'] / 1024:.0f}GB")
        cpu = [c for c in (s.get("cpu_load_pct") or []) if c is not None]
        if cpu:
            parts.append(f"CPU {sum(cpu) / len(cpu):.0f}%")
        set_text(self.query_one("#telemetry-detail", Static), data_line("  ".join(parts)))
