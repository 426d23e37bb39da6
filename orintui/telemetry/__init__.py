"""Telemetry sources (jtop, tegrastats, NVML, psutil), device profiles and host facts.

One sample shape for every source, a flat JSON-friendly dict; a field a source cannot give is
None, never 0. No Textual here.
"""

from __future__ import annotations

from orintui.session.events import Sample


def empty_sample(source: str) -> Sample:
    return {"source": source, "gpu_load_pct": None, "gpu_freq_mhz": None, "emc_util_pct": None,
            "emc_freq_mhz": None, "emc_bw_gbs": None, "power_mw": {}, "power_total_mw": None, "power_total_label": None,
            "temp_c": {}, "ram_used_mb": None, "ram_total_mb": None, "cpu_load_pct": None}


def emc_bandwidth_gbs(util_pct: float | None, freq_mhz: float | None, bus_bytes: int | None) -> float | None:
    """EMC % is relative to the current EMC frequency: GB/s = util x f x 2 transfers x bus bytes."""
    if util_pct is None or freq_mhz is None or not bus_bytes:
        return None
    return util_pct / 100.0 * freq_mhz * 1e6 * 2 * bus_bytes / 1e9


def peak_bandwidth_gbs(max_mhz: float | None, bus_bytes: float | None) -> float | None:
    """A memory's peak: its maximum clock x 2 transfers x bus bytes (LPDDR on a Jetson; HBM and GDDR
    as NVML reports their clocks), in GB/s to one decimal. Device profiles and NVML both use it."""
    if not max_mhz or not bus_bytes:
        return None
    return round(max_mhz * 1e6 * 2 * bus_bytes / 1e9, 1)
