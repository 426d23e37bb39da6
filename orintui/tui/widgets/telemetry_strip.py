"""GPU load and frequency, EMC % and GB/s, power total and rails, temperatures, RAM."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from orintui.core.format import emc_text, gpu_text, power_text, telemetry_line
from orintui.reading.live_state import LiveState
from orintui.tui.data import data_line
from orintui.tui.widgets.quiet import set_data, set_text
from orintui.tui.widgets.spark import Spark


class Gauge(Vertical):
    def __init__(self, title: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.title = title

    def compose(self) -> ComposeResult:
        self.value = Static(self.title, classes="gauge-value")
        self.spark = Spark([], classes="gauge-spark")
        yield self.value
        yield self.spark

    def show(self, value: str, history: Iterable[float]) -> None:
        set_text(self.value, Text(f"{self.title} {value}"))
        set_data(self.spark, list(history))


class TelemetryStrip(Vertical):
    _shown: tuple = ()  # (state, sample) last drawn: the strip changes with a sample, not with every token

    def compose(self) -> ComposeResult:
        self.gauges = {"gpu": Gauge("GPU", id="gauge-gpu"), "emc": Gauge("EMC", id="gauge-emc"),
                       "power": Gauge("Power", id="gauge-power")}
        self.detail = Static("telemetry: waiting for the first sample", id="telemetry-detail")
        with Horizontal(id="gauges"):
            yield from self.gauges.values()
        yield self.detail

    def show(self, state: LiveState) -> None:
        s = state.last_sample
        if len(self._shown) == 2 and self._shown[0] is state and self._shown[1] is s:
            return
        self._shown = (state, s)
        host = state.session.host
        if s is None:
            source = host.get("telemetry_source") or "none"
            set_text(self.detail, data_line(f"telemetry: {source}, no sample yet"))
            return
        for name, text in (("gpu", gpu_text(s)), ("emc", emc_text(s)), ("power", power_text(s))):
            self.gauges[name].show(text, state.history[name])
        set_text(self.detail, data_line(telemetry_line(s, gauges=False)))
