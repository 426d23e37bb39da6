"""Choosing a source and sampling it on a background thread.

Order: jtop -> tegrastats -> NVML -> psutil. Each skipped source keeps its reason. A source that
dies mid-session is marked with a note event and the next one takes over; the samples show the
gap and the change of ``source``, nothing is filled in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from orintui.session import events as ev
from orintui.telemetry.base import Source, SourceDied, SourceUnavailable
from orintui.telemetry.profiles import DeviceProfile

ORDER = ("jtop", "tegrastats", "nvml", "psutil")


def make_source(name: str, interval: float, profile: DeviceProfile | None, clock: Callable[[float], float] | None = None) -> Source:
    if name == "jtop":
        from orintui.telemetry.jtop_source import JtopSource

        return JtopSource(interval, profile)
    if name == "tegrastats":
        from orintui.telemetry.tegrastats import TegrastatsSource

        return TegrastatsSource(interval, profile, clock=clock)
    if name == "nvml":
        from orintui.telemetry.nvml import NvmlSource

        return NvmlSource(interval)
    if name == "psutil":
        from orintui.telemetry.psutil_source import PsutilSource

        return PsutilSource(interval)
    raise ValueError(f"unknown telemetry source {name!r}")


def open_first(names: tuple[str, ...] | list[str], interval: float, profile: DeviceProfile | None,
               skipped: dict[str, str], clock: Callable[[float], float] | None = None) -> Source | None:
    """The first source in ``names`` that opens; the others' reasons go into ``skipped``."""
    for name in names:
        source = make_source(name, interval, profile, clock)
        try:
            source.open()
        except SourceUnavailable as exc:
            skipped[name] = str(exc)
            continue
        except Exception as exc:  # a source must never take orintui down
            skipped[name] = f"{name} failed: {exc}"
            continue
        return source
    return None


def chain_for(preference: str) -> tuple[str, ...]:
    if preference == "auto":
        return ORDER
    if preference not in ORDER:
        raise ValueError(f"unknown telemetry source {preference!r} (choose from auto, {', '.join(ORDER)})")
    return (preference,)


class TelemetrySampler:
    def __init__(self, preference: str, interval: float, emit: Callable[[ev.Event], None],
                 clock: Callable[[], float], profile: DeviceProfile | None = None,
                 mono_to_session: Callable[[float], float] | None = None):
        self.chain = chain_for(preference)
        self.interval = interval
        self.emit, self.clock, self.profile = emit, clock, profile
        self.mono_to_session = mono_to_session
        self.skipped: dict[str, str] = {}
        self.source: Source | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._helper: Source | None = None  # NVML for the GPU load tegrastats lacks (Thor)
        self._helper_tried = False

    def open(self) -> Source | None:
        self.source = open_first(self.chain, self.interval, self.profile, self.skipped, self.mono_to_session)
        return self.source

    def start(self) -> None:
        if self.source is None and self.open() is None:
            return
        self._thread = threading.Thread(target=self._loop, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.source is not None:
            self.source.close()
        if self._helper is not None:
            self._helper.close()

    def _gpu_load_helper(self) -> Source | None:
        """Thor's tegrastats prints GPU clocks but no load; NVML answers utilisation there. Opened once,
        the first time a sample lacks the load; kept only where it answers."""
        if not self._helper_tried:
            self._helper_tried = True
            self._helper = open_first(("nvml",), self.interval, self.profile, {}, None)
            if self._helper is not None and getattr(self._helper, "answers", {}).get("utilisation") != "ok":
                self._helper.close()
                self._helper = None
        return self._helper

    def _loop(self) -> None:
        from orintui.telemetry.psutil_source import cpu_and_ram

        next_tick = time.monotonic()
        announced = None
        while not self._stop.is_set() and self.source is not None:
            if self.source is not announced:
                announced = self.source
                how = getattr(self.source, "identified", None)
                if how:
                    found = getattr(self.source, "profile", None)
                    self.emit(ev.note(self.clock(), f"board {'identified as ' + found.name if found else 'not identified'}"
                                      f" from {how}", "info" if found else "warning"))
            try:
                sample = self.source.read()
            except (SourceDied, Exception) as exc:
                dead = self.source.name
                self.source.close()
                rest = self.chain[self.chain.index(dead) + 1:] if dead in self.chain else ()
                self.skipped[dead] = f"died mid-session: {exc}"
                self.source = open_first(rest, self.interval, self.profile, self.skipped, self.mono_to_session)
                now_name = self.source.name if self.source else "none"
                self.emit(ev.note(self.clock(), f"telemetry source {dead} died ({exc}); now: {now_name}", "warning"))
                continue
            borrowed = []
            if (sample.get("gpu_load_pct") is None and sample.get("gpu_freq_mhz") is not None
                    and self.source.name != "nvml" and (helper := self._gpu_load_helper()) is not None):
                try:
                    sample["gpu_load_pct"] = helper.gpu_load()
                    borrowed.append("gpu_load_pct=nvml")
                except Exception:
                    self._helper = None  # it stopped answering: the load is unknown again, not 0
            if sample.get("cpu_load_pct") is None or sample.get("ram_used_mb") is None:
                fields = cast("dict[str, Any]", sample)  # the same dict, filled by field name
                for key, value in cpu_and_ram().items():
                    if fields.get(key) is None:
                        fields[key] = value
                        borrowed.append(f"{key}=psutil")
            # per-field provenance: every field is from ``source`` except those named here
            if borrowed:
                sample["fields_from"] = ",".join(filter(None, [sample.get("fields_from"), *borrowed]))
            self.emit(ev.telemetry(self.clock(), sample))
            if not self.source.pushes:
                next_tick += self.interval
                delay = next_tick - time.monotonic()
                if delay < 0:
                    next_tick = time.monotonic()
                    delay = 0
                self._stop.wait(delay)
