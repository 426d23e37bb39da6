"""Telemetry sources (jtop, tegrastats, NVML, psutil), device profiles and host facts.

One sample shape for every source, a flat JSON-friendly dict; a field a source cannot give is
None, never 0. No Textual here.
"""

from __future__ import annotations

SAMPLE_FIELDS = ("t", "source", "gpu_load_pct", "gpu_freq_mhz", "emc_util_pct", "emc_freq_mhz", "emc_bw_gbs",
                 "power_mw", "power_total_mw", "power_total_label", "temp_c", "ram_used_mb", "ram_total_mb",
                 "cpu_load_pct")


def empty_sample(source: str) -> dict:
    sample = dict.fromkeys(SAMPLE_FIELDS)
    sample["source"] = source
    sample["power_mw"] = {}
    sample["temp_c"] = {}
    return sample


def emc_bandwidth_gbs(util_pct: float | None, freq_mhz: float | None, bus_bytes: int | None) -> float | None:
    """EMC % is relative to the current EMC frequency: GB/s = util x f x 2 transfers x bus bytes."""
    if util_pct is None or freq_mhz is None or not bus_bytes:
        return None
    return util_pct / 100.0 * freq_mhz * 1e6 * 2 * bus_bytes / 1e9
