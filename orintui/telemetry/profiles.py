"""Device profiles as data, and the host facts a session records.

Peak bandwidth = EMC max frequency x 2 transfers x bus bytes. ``total_rail`` is the rail that
measures the whole module where the board has one; otherwise the total is the sum of rails and
is labelled so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orintui.telemetry import peak_bandwidth_gbs


@dataclass(frozen=True)
class DeviceProfile:
    key: str
    name: str
    bus_bits: int
    emc_max_mhz: int
    rails: tuple[str, ...]
    total_rail: str | None
    match: tuple[str, ...]  # substrings of /proc/device-tree/model
    ram_gb: int | None = None  # tells 32/64 GB and 4/8 GB apart

    @property
    def bus_bytes(self) -> int:
        return self.bus_bits // 8

    @property
    def peak_bandwidth_gbs(self) -> float | None:
        return peak_bandwidth_gbs(self.emc_max_mhz, self.bus_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bus_bytes": self.bus_bytes, "peak_bandwidth_gbs": self.peak_bandwidth_gbs}


ORIN_AGX_RAILS = ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO")
ORIN_NX_RAILS = ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")

PROFILES: tuple[DeviceProfile, ...] = (
    DeviceProfile("agx-orin-64gb", "Jetson AGX Orin 64GB", 256, 3200, ORIN_AGX_RAILS, None, ("AGX Orin",), 64),
    DeviceProfile("agx-orin-32gb", "Jetson AGX Orin 32GB", 256, 3200, ORIN_AGX_RAILS, None, ("AGX Orin",), 32),
    DeviceProfile("orin-nx-16gb", "Jetson Orin NX 16GB", 128, 3200, ORIN_NX_RAILS, "VDD_IN", ("Orin NX",), 16),
    DeviceProfile("orin-nx-8gb", "Jetson Orin NX 8GB", 128, 3200, ORIN_NX_RAILS, "VDD_IN", ("Orin NX",), 8),
    DeviceProfile("orin-nano-8gb-super", "Jetson Orin Nano 8GB (Super)", 128, 3200, ORIN_NX_RAILS, "VDD_IN",
                  ("Orin Nano", "Super"), 8),
    DeviceProfile("orin-nano-8gb", "Jetson Orin Nano 8GB", 128, 2133, ORIN_NX_RAILS, "VDD_IN", ("Orin Nano",), 8),
    DeviceProfile("orin-nano-4gb-super", "Jetson Orin Nano 4GB (Super)", 64, 3200, ORIN_NX_RAILS, "VDD_IN",
                  ("Orin Nano", "Super"), 4),
    DeviceProfile("orin-nano-4gb", "Jetson Orin Nano 4GB", 64, 2133, ORIN_NX_RAILS, "VDD_IN", ("Orin Nano",), 4),
    DeviceProfile("agx-xavier", "Jetson AGX Xavier", 256, 2133, ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"), None,
                  ("AGX Xavier",)),
    DeviceProfile("xavier-nx", "Jetson Xavier NX", 128, 1866, ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"), "VDD_IN",
                  ("Xavier NX",)),
    DeviceProfile("thor", "Jetson AGX Thor", 256, 4266, ("VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"), None, ("Thor",)),
    DeviceProfile("nano", "Jetson Nano", 64, 1600, ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"), "POM_5V_IN",
                  ("Jetson Nano",)),
)
BY_KEY = {p.key: p for p in PROFILES}


def match_profile(model: str | None, ram_total_mb: float | None = None) -> DeviceProfile | None:
    """The profile for a /proc/device-tree/model string; RAM size picks between memory variants."""
    if not model:
        return None
    candidates = [p for p in PROFILES if all(m in model for m in p.match)]
    # a plain 'Orin Nano' must not take a Super profile, whose match has more words
    if candidates:
        most = max(len(p.match) for p in candidates)
        candidates = [p for p in candidates if len(p.match) == most]
    if len(candidates) > 1 and ram_total_mb:
        gb = ram_total_mb / 1024
        return min(candidates, key=lambda p: abs((p.ram_gb or gb) - gb))
    return candidates[0] if candidates else None


# -- identifying the board without a device tree (containers mask /proc/device-tree) -----------
AGX_ORIN_ONLY_RAILS = {"VDD_GPU_SOC", "VDD_CPU_CV", "VDDQ_VDD2_1V8AO"}
ORIN_NX_NANO_RAILS = {"VDD_CPU_GPU_CV", "VDD_SOC"}


def describe_shape(shape: dict) -> str:
    parts = []
    if shape.get("cpus"):
        parts.append(f"{shape['cpus']} CPUs")
    if shape.get("ram_total_mb"):
        parts.append(f"RAM {shape['ram_total_mb']:.0f} MB")
    if shape.get("gpcs"):
        parts.append(f"{shape['gpcs']} GPC clock{'s' if shape['gpcs'] > 1 else ''}")
    if shape.get("emc_freq_mhz"):
        parts.append(f"EMC {shape['emc_freq_mhz']:.0f} MHz")
    if shape.get("rails"):
        parts.append("rails " + "+".join(shape["rails"]))
    return ", ".join(parts) or "no fields"


def profile_from_shape(shape: dict, l4t: str | None = None) -> tuple[DeviceProfile | None, str]:
    """The board a tegrastats line's shape (CPU count, RAM total, GPC clocks, rail names) and the
    L4T release point to, and why. Where two boards share the shape, the pick has the same memory
    bus width (what the EMC bandwidth needs) and the note names the other."""
    cpus, ram, gpcs = shape.get("cpus"), shape.get("ram_total_mb"), shape.get("gpcs")
    rails = set(shape.get("rails") or ())
    gb = ram / 1024 if ram else None
    major = l4t.split(".")[0] if l4t else None
    also = ""
    if "VDD_CPU_SOC_MSS" in rails or gpcs == 3 or major == "38":
        key = "thor"
    elif "POM_5V_IN" in rails or (cpus == 4 and major in (None, "32")):
        key = "nano"
    elif {"VDDRQ", "SYS5V"} & rails:
        key = "agx-xavier"
    elif AGX_ORIN_ONLY_RAILS & rails or (gb and gb > 20 and cpus in (None, 8, 12)):
        key = "agx-orin-64gb" if gb is None or gb > 48 else "agx-orin-32gb"
        if key == "agx-orin-32gb" and not AGX_ORIN_ONLY_RAILS & rails:
            also = " (AGX Xavier 32GB has the same shape; both 256-bit)"
    elif ORIN_NX_NANO_RAILS & rails or (gb and gb < 17 and cpus in (None, 6, 8)):
        if gb is None:
            return None, f"Orin NX or Nano rails but no RAM total ({describe_shape(shape)})"
        if gb > 10:
            key = "orin-nx-16gb"
        elif gb > 5:
            key = "orin-nx-8gb" if cpus == 8 else "orin-nano-8gb"
            also = "" if cpus == 8 else " (Orin NX 8GB has the same shape; both 128-bit)"
        else:
            key = "orin-nano-4gb"
    else:
        return None, f"no known board has this tegrastats shape ({describe_shape(shape)})"
    release = f", L4T {l4t}" if l4t else ""
    return BY_KEY[key], f"tegrastats line shape ({describe_shape(shape)}{release}){also}"


def identify_board(root: str | os.PathLike = "/", shape: dict | None = None,
                   ram_total_mb: float | None = None) -> tuple[DeviceProfile | None, str]:
    """The profile and how it was found: the device tree model under ``root`` where it is
    visible, else the tegrastats line's shape plus ``etc/nv_tegra_release`` (a container's view)."""
    base = Path(root)
    model = _read(str(base / "proc/device-tree/model"))
    if model:
        profile = match_profile(model, ram_total_mb or (shape or {}).get("ram_total_mb"))
        if profile:
            return profile, f"device tree model {model!r}"
    l4t = l4t_release(_read(str(base / "etc/nv_tegra_release")))
    if shape:
        profile, how = profile_from_shape(shape, l4t)
        return profile, how if model is None else f"unknown device tree model {model!r}; {how}"
    where = f"unknown device tree model {model!r}" if model else f"no device tree model under {base}"
    return None, where + (f" (L4T {l4t}), no tegrastats line to go by" if l4t else ", no tegrastats line to go by")


def rail_total(power_mw: dict[str, float], profile: DeviceProfile | None) -> tuple[float | None, str | None]:
    """Module power: the input rail where the board has one, else the sum of rails, labelled."""
    if not power_mw:
        return None, None
    for rail in ([profile.total_rail] if profile and profile.total_rail else []) + ["VDD_IN", "POM_5V_IN"]:
        if rail in power_mw:
            return power_mw[rail], rail
    names = sorted(power_mw)
    return sum(power_mw.values()), "sum of " + "+".join(names)


# -- host facts ------------------------------------------------------------------------------
def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").replace("\x00", "").strip() or None
    except OSError:
        return None


def l4t_release(text: str | None) -> str | None:
    """'# R36 (release), REVISION: 4.4, ...' -> '36.4.4'."""
    if not text:
        return None
    m = re.search(r"R(\d+) \(release\), REVISION: ([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


JETPACK_OF_L4T = {"36.4": "6.1/6.2", "36.3": "6.0", "36.2": "6.0 DP", "35.6": "5.1.4", "35.5": "5.1.3",
                  "35.4": "5.1.2", "35.3": "5.1.1", "32.7": "4.6.x", "38.2": "7.0", "39.2": "7.2"}


def jetpack_of(l4t: str | None) -> str | None:
    if not l4t:
        return None
    major_minor = ".".join(l4t.split(".")[:2])
    return JETPACK_OF_L4T.get(major_minor)


def _command(argv: list[str], timeout: float = 3.0) -> str | None:
    if not shutil.which(argv[0]):
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def nvpmodel_mode(text: str | None) -> str | None:
    """`nvpmodel -q` prints 'NV Power Mode: MAXN' then the mode number."""
    if not text:
        return None
    m = re.search(r"NV Power Mode:\s*(\S+)", text)
    return m.group(1) if m else None


def jetson_clocks_state(text: str | None) -> str | None:
    """`jetson_clocks --show`: clocks are locked when every CPU's MinFreq equals its MaxFreq."""
    if not text:
        return None
    pairs = re.findall(r"MinFreq=(\d+) MaxFreq=(\d+)", text)
    if not pairs:
        return None
    return "ON" if all(a == b for a, b in pairs) else "OFF"


def _mhz(path: Path) -> float | None:
    text = _read(str(path))
    return round(int(text) / 1e6) if text and text.isdigit() else None


def gpu_max_mhz(root: str | os.PathLike = "/") -> float | None:
    """max_freq (Hz) of the first devfreq node named like a GPU (17000000.gpu on Orin)."""
    for node in sorted((Path(root) / "sys/class/devfreq").glob("*")):
        if ("gpu" in node.name or "gpc" in node.name) and (mhz := _mhz(node / "max_freq")) is not None:
            return mhz
    return None


def emc_max_mhz(root: str | os.PathLike = "/") -> float | None:
    """Thor's EMC devfreq (bwmgr), else the BPMP debugfs clock (root only); None when neither reads."""
    return (_mhz(Path(root) / "sys/class/devfreq/bwmgr/max_freq")
            or _mhz(Path(root) / "sys/kernel/debug/bpmp/debug/clk/emc/max_rate"))


def cuda_version(folder: Path) -> str | None:
    """The CUDA toolkit's version from its version.json (JetPack 6 and 7, CUDA 11.1+) or version.txt."""
    try:
        doc = json.loads((folder / "version.json").read_text())
        version = doc.get("cuda", {}).get("version")
        return version if isinstance(version, str) else None
    except (OSError, ValueError, AttributeError):
        pass
    try:
        m = re.search(r"CUDA Version (\S+)", (folder / "version.txt").read_text())
    except OSError:
        return None
    return m.group(1) if m else None


def host_facts(root: str | os.PathLike = "/") -> dict[str, Any]:
    """``root``: where /proc and /etc are (a test points it at an empty folder, as a container's
    masked device tree looks)."""
    import platform
    import socket

    import psutil

    model = _read(str(Path(root) / "proc/device-tree/model"))
    ram_mb = psutil.virtual_memory().total / 2**20
    profile = match_profile(model, ram_mb)
    l4t = l4t_release(_read(str(Path(root) / "etc/nv_tegra_release")))
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "machine": platform.machine(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "model": model,
        "profile": profile.key if profile else None,
        "profile_from": f"device tree model {model!r}" if profile else None,
        "l4t": l4t,
        "cuda": cuda_version(Path(root) / "usr/local/cuda"),
        "jetpack": jetpack_of(l4t),
        "nvpmodel": nvpmodel_mode(_command(["nvpmodel", "-q"])) if model or l4t else None,
        "jetson_clocks": (jetson_clocks_state(_command(["jetson_clocks", "--show"]))
                          if (model or l4t) and os.geteuid() == 0 else None),
        "gpu_name": "Orin (nvgpu)" if profile and "orin" in profile.key else None,
        "ram_total_mb": round(ram_mb),
        "gpu_max_mhz": gpu_max_mhz(root),
        "emc_max_mhz": emc_max_mhz(root) or (profile.emc_max_mhz if profile else None),
        "peak_bandwidth_gbs": profile.peak_bandwidth_gbs if profile else None,
        "bus_bytes": profile.bus_bytes if profile else None,
    }
    return facts
