"""jtop (jetson-stats): the preferred source on a Jetson with the jtop service running.

Imported lazily: importing jtop sets multiprocessing's start method to 'fork' process-wide.
The service decides the interval (the first client wins): ``real_interval`` records it.
"""

from __future__ import annotations

import re
from typing import Any

from orintui.session.events import Sample
from orintui.telemetry import emc_bandwidth_gbs, empty_sample
from orintui.telemetry.base import Source, SourceDied, SourceUnavailable
from orintui.telemetry.profiles import DeviceProfile, rail_total


def explain_jtop_error(message: str) -> str:
    """A JtopException's text as one short reason plus the remedy."""
    text = " ".join(message.split())
    if "not active" in text:
        return "jtop service is not active (fix: sudo jtop --install-service, or sudo systemctl start jtop)"
    if "can't access" in text or "Permission" in text or "Authentication" in text:
        return "no permission for jtop.service (fix: add yourself to the jtop group, then log out and in)"
    if m := re.search(r"Mismatch version jtop service: \[([^\]]*)\] and client: \[([^\]]*)\]", text):
        return (f"jetson-stats client {m.group(2)} does not match the jtop service {m.group(1)} "
                "(fix: install orintui with --system-site-packages, or pip install jetson-stats=={m.group(1)})")
    if "Mismatch of Python" in text:
        return "jtop service runs another Python version than this client (fix: sudo jtop --install-service)"
    return f"jtop: {text}"


def _kb_to_mb(value: Any) -> float | None:
    return float(value) / 1024.0 if isinstance(value, (int, float)) else None


def map_jtop(stats: dict, gpu: dict, memory: dict, power: dict, temperature: dict,
             profile: DeviceProfile | None) -> Sample:
    """jtop's properties (or recorded shapes of them) as one common sample."""
    s = empty_sample("jtop")
    cores = [k for k in stats if re.fullmatch(r"CPU\d+", str(k))]
    if cores:
        cores.sort(key=lambda k: int(k[3:]))
        s["cpu_load_pct"] = [float(stats[k]) if isinstance(stats[k], (int, float)) else None for k in cores]
    ram = memory.get("RAM") or {}
    s["ram_used_mb"], s["ram_total_mb"] = _kb_to_mb(ram.get("used")), _kb_to_mb(ram.get("tot"))
    emc = memory.get("EMC") or {}
    if emc.get("cur"):
        s["emc_freq_mhz"] = emc["cur"] / 1000.0
    # JetPack 6 reports val stuck at 0 (open upstream report): unknown, not idle
    if isinstance(emc.get("val"), (int, float)) and emc["val"] > 0:
        s["emc_util_pct"] = float(emc["val"])
    s["emc_bw_gbs"] = emc_bandwidth_gbs(s["emc_util_pct"], s["emc_freq_mhz"], profile.bus_bytes if profile else None)
    for info in gpu.values():  # the key differs between JetPack releases
        status, freq = info.get("status") or {}, info.get("freq") or {}
        if isinstance(status.get("load"), (int, float)):
            s["gpu_load_pct"] = float(status["load"])
        if freq.get("cur"):
            s["gpu_freq_mhz"] = freq["cur"] / 1000.0
        break
    rails = power.get("rail") or {}
    s["power_mw"] = {name: float(r["power"]) for name, r in rails.items()
                     if r.get("online", True) and isinstance(r.get("power"), (int, float))}
    s["power_total_mw"], s["power_total_label"] = rail_total(s["power_mw"], profile)
    s["temp_c"] = {name: float(v["temp"]) for name, v in temperature.items()
                   if isinstance(v, dict) and v.get("online", True) and isinstance(v.get("temp"), (int, float))
                   and v["temp"] > -256}
    return s


class JtopSource(Source):
    name = "jtop"
    pushes = True

    def __init__(self, interval: float, profile: DeviceProfile | None = None):
        super().__init__(interval)
        self.profile = profile
        self._jetson: Any = None

    def open(self) -> None:
        try:
            from jtop import JtopException, jtop
        except ImportError:
            raise SourceUnavailable("jetson-stats is not installed (pip install jetson-stats)") from None
        self._exc = JtopException
        try:
            self._jetson = jtop(interval=self.interval)
            self._jetson.start()
        except JtopException as exc:
            self._jetson = None
            raise SourceUnavailable(explain_jtop_error(str(exc))) from None
        except Exception as exc:
            self._jetson = None
            raise SourceUnavailable(f"jtop failed to start: {exc}") from None
        self.real_interval = float(self._jetson.interval)

    def read(self) -> Sample:
        j = self._jetson
        try:
            if not j.ok():
                raise SourceDied("jtop stopped answering")
            return map_jtop(j.stats, dict(j.gpu.items()), dict(j.memory.items()), j.power, j.temperature, self.profile)
        except self._exc as exc:
            raise SourceDied(explain_jtop_error(str(exc))) from None

    def close(self) -> None:
        if self._jetson is not None:
            try:
                self._jetson.close()
            except Exception:
                pass
            self._jetson = None
