"""The quiet-machine gate: before each run, wait until the machine is near idle and its temperature
has settled, up to a maximum wait; what the gate saw goes into the run's ``run_started`` event.

CPU load is measured by the gate itself (psutil's CPU times over each step, all cores); GPU load and
temperature come from the newest telemetry sample the session's source recorded (None where the
source has none: that condition is then not checked, and the record says so by its None).
The wait runs on the execution thread and ends at once when the session is stopped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orintui.figures.metrics import cpu_busy_pct
from orintui.session.events import SampleLike

GATE_ENV = "ORINTUI_GATE"  # "off": no gate on this machine, whatever the scenarios say (CI, a machine never idle)


@dataclass
class GateConfig:
    """A scenario's ``[gate]`` table; every key optional."""

    enabled: bool = True
    cpu_pct: float = 20.0  # whole-machine CPU load (all cores), at most
    gpu_pct: float = 10.0  # GPU load, at most (where the telemetry source reports it)
    temp_band_c: float = 2.0  # the hottest zone's max - min over the window, at most
    window_s: float = 2.0  # how long the conditions must hold
    max_wait_s: float = 30.0  # then the run starts anyway, flagged dirty-start
    cooldown_s: float = 0.0  # a pause after each run, before the next one's gate


GATE_KEYS = set(GateConfig.__dataclass_fields__)


def gate_disabled_here() -> bool:
    return os.environ.get(GATE_ENV, "").strip().lower() in ("off", "0", "no", "false")


@dataclass
class Reading:
    t: float  # monotonic, end of the step
    span: float  # seconds this CPU figure covers
    cpu: float
    gpu: float | None
    temp: float | None


@dataclass
class GateResult:
    waited_s: float
    passed: bool
    cpu_pct: float | None
    gpu_pct: float | None
    temp_c: float | None
    temp_band_c: float | None

    def fields(self) -> dict[str, Any]:
        """Flat scalars for the run_started event (the session schema keeps events flat)."""
        return {"gate_waited_s": round(self.waited_s, 2), "gate_passed": self.passed, "gate_cpu_pct": self.cpu_pct,
                "gate_gpu_pct": self.gpu_pct, "gate_temp_c": self.temp_c, "gate_temp_band_c": self.temp_band_c}


def hottest(sample: SampleLike | None) -> float | None:
    """The hottest zone of a telemetry sample, else of psutil's sensors (None when neither has one)."""
    temps = [v for v in ((sample or {}).get("temp_c") or {}).values() if isinstance(v, (int, float))]
    if not temps:
        try:
            import psutil

            sensors = psutil.sensors_temperatures() if hasattr(psutil, "sensors_temperatures") else {}
        except Exception:  # a sensor that cannot be read is an unknown temperature
            sensors = {}
        temps = [e.current for entries in sensors.values() for e in entries if isinstance(e.current, (int, float))]
    return max(temps) if temps else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


class QuietGate:
    def __init__(self, config: GateConfig, stop: threading.Event, latest_sample: Callable[[], SampleLike | None],
                 step: float = 0.5):
        self.config, self.stop, self.latest_sample, self.step = config, stop, latest_sample, step

    def why_not(self, window: list[Reading]) -> str | None:
        """What keeps the machine from being quiet over ``window``, or None when it is."""
        c = self.config
        cpu = max(r.cpu for r in window)
        if cpu > c.cpu_pct:
            return f"CPU {cpu:.0f}% (gate {c.cpu_pct:g}%)"
        gpus = [r.gpu for r in window if r.gpu is not None]
        if gpus and max(gpus) > c.gpu_pct:
            return f"GPU {max(gpus):.0f}% (gate {c.gpu_pct:g}%)"
        temps = [r.temp for r in window if r.temp is not None]
        if temps and max(temps) - min(temps) > c.temp_band_c:
            return f"temperature moving {min(temps):.1f}..{max(temps):.1f} C (band {c.temp_band_c:g} C)"
        return None

    def wait(self, on_waiting: Callable[[str], None] | None = None) -> GateResult | None:
        """Block until quiet or max_wait_s; None when the session was stopped meanwhile.
        ``on_waiting(reason)`` once, when the first full window is not quiet."""
        import psutil

        c = self.config
        start = time.monotonic()
        window: list[Reading] = []
        told = False
        before, before_t = psutil.cpu_times(), start
        while True:
            if self.stop.wait(self.step):
                return None
            now, after = time.monotonic(), psutil.cpu_times()
            sample = self.latest_sample()
            gpu = sample.get("gpu_load_pct") if sample else None
            window.append(Reading(now, now - before_t, cpu_busy_pct(before, after),
                                  gpu if isinstance(gpu, (int, float)) else None, hottest(sample)))
            before, before_t = after, now
            while len(window) > 1 and sum(r.span for r in window[1:]) >= c.window_s:
                window.pop(0)  # the newest readings that cover window_s are the window
            full = sum(r.span for r in window) >= c.window_s - 1e-6
            waited = now - start
            if full:
                why = self.why_not(window)
                if why is None or waited >= c.max_wait_s:
                    return self._result(window, waited, why is None)
                if not told and on_waiting is not None:
                    told = True
                    on_waiting(why)
            elif waited >= c.max_wait_s:
                return self._result(window, waited, False)

    def _result(self, window: list[Reading], waited: float, passed: bool) -> GateResult:
        span = sum(r.span for r in window) or 1.0
        gpus = [r.gpu for r in window if r.gpu is not None]
        temps = [r.temp for r in window if r.temp is not None]
        return GateResult(waited_s=waited, passed=passed, cpu_pct=_round(sum(r.cpu * r.span for r in window) / span),
                          gpu_pct=_round(max(gpus)) if gpus else None, temp_c=_round(temps[-1]) if temps else None,
                          temp_band_c=_round(max(temps) - min(temps)) if temps else None)

    def cooldown(self) -> bool:
        """The pause after a run; False when the session was stopped during it."""
        return not (self.config.cooldown_s > 0 and self.stop.wait(self.config.cooldown_s))
