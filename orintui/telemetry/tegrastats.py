"""tegrastats: the parser for every line format seen from JetPack 4 to 7, and the source that
spawns ``tegrastats --interval MS`` through the same pexpect runner the backends use."""

from __future__ import annotations

import queue
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orintui.backends.base import Parser
from orintui.session.events import Event, Sample
from orintui.telemetry import emc_bandwidth_gbs, empty_sample
from orintui.telemetry.base import Source, SourceDied, SourceUnavailable
from orintui.telemetry.profiles import DeviceProfile, identify_board, rail_total

if TYPE_CHECKING:
    from orintui.backends.runner import BackendRunner

TIMESTAMP = re.compile(r"^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\s+")
RAM = re.compile(r"\bRAM (\d+)/(\d+)MB")
CPU = re.compile(r"\bCPU \[([^\]]*)\]")
CPU_CORE = re.compile(r"(\d+)%(?:@(\d+))?")
# 'EMC_FREQ 41%@3199', bare 'EMC_FREQ 0%' (not root), or Thor's 'EMC_FREQ @4266' (no load)
EMC = re.compile(r"\bEMC_FREQ (?:(\d+)%)?(?:@(\d+))?")
# '12%@[1300,1300]' (two GPCs), Thor's '@[1000,1000,1000]' (no load), '10%@1300', bare '10%'
GR3D = re.compile(r"\bGR3D2?_FREQ (?:(\d+)%)?(?:@\[?([\d,]+)\]?)?")
TEMP = re.compile(r"\b([A-Za-z][\w]*)@(-?\d+(?:\.\d+)?)C\b")
# VDD_GPU_SOC 2412mW/2412mW, VDD_GPU 4800mW/4800mW/4800mW, 'X/Y/Z mW', or JetPack 4's unit-less X/Y
POWER = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+))?( ?mW)?(?=\s|$)")
NOT_RAILS = {"RAM", "SWAP", "IRAM", "NC", "lfb", "cached"}
OFFLINE_C = -256.0


def parse_line(line: str, profile: DeviceProfile | None = None, t: float = 0.0) -> Sample | None:
    """One tegrastats line as a sample, or None when the line is not one."""
    line = TIMESTAMP.sub("", line.strip())
    ram = RAM.search(line)
    if not ram and "GR3D" not in line and "EMC_FREQ" not in line:
        return None
    s = empty_sample("tegrastats")
    s["t"] = t
    if ram:
        s["ram_used_mb"], s["ram_total_mb"] = float(ram.group(1)), float(ram.group(2))
    if cpu := CPU.search(line):
        cores = []
        for part in cpu.group(1).split(","):
            m = CPU_CORE.match(part.strip())
            cores.append(float(m.group(1)) if m else None)  # 'off' is an offline core
        s["cpu_load_pct"] = cores
    if (emc := EMC.search(line)) and (emc.group(1) or emc.group(2)):
        s["emc_util_pct"] = float(emc.group(1)) if emc.group(1) else None
        s["emc_freq_mhz"] = float(emc.group(2)) if emc.group(2) else None
        s["emc_bw_gbs"] = emc_bandwidth_gbs(s["emc_util_pct"], s["emc_freq_mhz"], profile.bus_bytes if profile else None)
    loads, freqs = [], []
    for m in GR3D.finditer(line):
        if m.group(1):
            loads.append(float(m.group(1)))
        if m.group(2):
            freqs += [float(f) for f in m.group(2).split(",") if f]
    s["gpu_load_pct"] = max(loads) if loads else None  # Thor prints no load: unknown, not 0
    s["gpu_freq_mhz"] = max(freqs) if freqs else None
    s["temp_c"] = {name: float(v) for name, v in TEMP.findall(line) if float(v) > OFFLINE_C}
    power = {}
    for m in POWER.finditer(line):
        name = m.group(1)
        if name in NOT_RAILS or name.isdigit():
            continue
        power[name] = float(m.group(2))  # the current value; the others are averages
    s["power_mw"] = power
    s["power_total_mw"], s["power_total_label"] = rail_total(power, profile)
    return s


def line_shape(line: str) -> dict[str, Any]:
    """What identifies a board in one line: CPU count, RAM total, GPC clocks, EMC MHz, rail names."""
    s: Sample | dict[str, Any] = parse_line(line) or {}
    gpcs = 0
    for m in GR3D.finditer(TIMESTAMP.sub("", line.strip())):
        gpcs += len([f for f in (m.group(2) or "").split(",") if f])
    return {"cpus": len(s.get("cpu_load_pct") or []) or None, "ram_total_mb": s.get("ram_total_mb"),
            "gpcs": gpcs or None, "emc_freq_mhz": s.get("emc_freq_mhz"), "rails": sorted(s.get("power_mw") or {})}


class TegrastatsLineParser(Parser):
    """Feeds tegrastats' stdout to ``parse_line`` through the parser base's public ``line`` hook, so
    tegrastats runs on the backends' PTY runner (the output events it also makes are dropped)."""

    backend = "tegrastats"

    def __init__(self, sink: queue.Queue, profile: DeviceProfile | None, root: str = "/", **options: Any):
        super().__init__(**options)
        self.sink, self.profile, self.root = sink, profile, root
        self.identified: str | None = None  # how the profile was found when none was given
        bwmgr = Path(root) / "sys/class/devfreq/bwmgr/cur_freq"
        self.bwmgr: Path | None = bwmgr if bwmgr.exists() else None

    def line(self, raw: str, t: float, out: list[Event]) -> None:
        if self.profile is None and self.identified is None and parse_line(raw) is not None:
            # a container hides /proc/device-tree: the line itself says which board this is
            self.profile, self.identified = identify_board(self.root, line_shape(raw))
        sample = parse_line(raw, self.profile, t)
        if sample is not None and sample["emc_freq_mhz"] is None and self.bwmgr is not None:
            # Thor: the EMC clock is in /sys/class/devfreq/bwmgr when tegrastats leaves it out
            try:
                sample["emc_freq_mhz"] = int(self.bwmgr.read_text().strip()) / 1e6
                sample["fields_from"] = "emc_freq_mhz=bwmgr"
                sample["emc_bw_gbs"] = emc_bandwidth_gbs(sample["emc_util_pct"], sample["emc_freq_mhz"],
                                                         self.profile.bus_bytes if self.profile else None)
            except (OSError, ValueError):
                self.bwmgr = None
        if sample is not None:
            self.recognised = True
            self.sink.put(sample)


class TegrastatsSource(Source):
    name = "tegrastats"
    pushes = True

    def __init__(self, interval: float, profile: DeviceProfile | None = None, clock: Callable[[float], float] | None = None,
                 binary: str = "tegrastats", root: str = "/"):
        super().__init__(interval)
        self.profile, self.binary, self.clock, self.root = profile, binary, clock or (lambda m: m), root
        self.identified: str | None = None
        self._samples: queue.Queue = queue.Queue()
        self._runner: BackendRunner | None = None

    def open(self) -> None:
        from orintui.backends.runner import BackendRunner
        from orintui.core.paths import resolve_binary

        if resolve_binary(self.binary) is None:
            raise SourceUnavailable("tegrastats is not on PATH (not a Jetson?)")
        parser = TegrastatsLineParser(self._samples, self.profile, self.root)
        ms = max(1, int(self.interval * 1000))
        self._runner = BackendRunner([self.binary, "--interval", str(ms)], parser, lambda events: None, self.clock)
        self._runner.start()
        try:
            first = self._samples.get(timeout=max(3.0, 3 * self.interval))
        except queue.Empty:
            self.close()
            raise SourceUnavailable(f"tegrastats printed no sample{parser.last_words()}") from None
        self._samples.put(first)
        if self.profile is None:
            self.profile, self.identified = parser.profile, parser.identified

    def read(self) -> Sample:
        assert self._runner is not None
        try:
            return self._samples.get(timeout=max(2.0, 4 * self.interval))
        except queue.Empty:
            result = self._runner.wait(0)
            why = result.describe() if result else f"no sample for {max(2.0, 4 * self.interval):g} s"
            raise SourceDied(f"tegrastats stopped: {why}") from None

    def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel("telemetry stopped")
            self._runner.wait(10)
