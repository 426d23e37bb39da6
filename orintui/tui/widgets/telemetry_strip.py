"""GPU load and frequency, EMC % and GB/s, power total and rails, temperatures, RAM."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from orintui.format import emc_text, gpu_text, power_text, telemetry_line
from orintui.live_state import LiveState
from orintui.tui.data import data_line
from orintui.tui.glyphs import Spark
from orintui.tui.widgets.quiet import set_data, set_text


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
        self.query_one("#gauge-gpu", Gauge).show(gpu_text(s), state.history["gpu"])
        self.query_one("#gauge-emc", Gauge).show(emc_text(s), state.history["emc"])
        self.query_one("#gauge-power", Gauge).show(power_text(s), state.history["power"])
        set_text(self.query_one("#telemetry-detail", Static), data_line(telemetry_line(s, gauges=False)))
