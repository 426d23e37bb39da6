"""NVML (nvidia-ml-py) for desktop and data-centre GPUs.

NVML initialises on a Jetson but answers NotSupported for power: silence is never zero. Power
uses field 186 (instantaneous) where the driver has it, else the ~1 s averaged figure.
"""

from __future__ import annotations

from typing import Any

from orintui.session.events import Sample
from orintui.telemetry import emc_bandwidth_gbs, empty_sample, peak_bandwidth_gbs
from orintui.telemetry.base import Source, SourceDied, SourceUnavailable

FI_DEV_POWER_INSTANT = 186
# nvmlClocksEventReason bits (nvml.h) that hold the clocks below what the load asks for: software power cap
# 0x4, hardware slowdown 0x8, software thermal 0x20, hardware thermal 0x40, power brake 0x80. Idle 0x1,
# application clocks 0x2, sync boost 0x10 and display clocks 0x100 are not throttling. A real H100
# answered 0x1 idle and 0x4 under fp16 matmuls, its SM clock down from 1980 to ~1300 MHz
# (tests/fixtures/nvml/h100-clocks-event-reasons.json).
THROTTLING_REASONS = 0x4 | 0x8 | 0x20 | 0x40 | 0x80


class NvmlSource(Source):
    name = "nvml"

    def __init__(self, interval: float, index: int = 0):
        super().__init__(interval)
        self.index = index
        self._nv: Any = None  # the pynvml module once open
        self._handle: Any = None
        self._instant = True

    def open(self) -> None:
        try:
            import pynvml as nv
        except ImportError:
            raise SourceUnavailable("nvidia-ml-py is not installed") from None
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise SourceUnavailable(f"NVML cannot start here: {exc} (no NVIDIA driver?)") from None
        try:
            if nv.nvmlDeviceGetCount() == 0:
                raise SourceUnavailable("NVML sees no GPU")
            self._handle = nv.nvmlDeviceGetHandleByIndex(self.index)
        except nv.NVMLError as exc:
            raise SourceUnavailable(f"NVML: {exc}") from None
        self._nv = nv
        self.facts = self._device_facts()
        self.answers = self._probe()
        if not any(a == "ok" for a in self.answers.values()):
            why = next(iter(self.answers.values()), "no answer")
            name = self.facts.get("gpu_name") or "a GPU"
            nv.nvmlShutdown()
            self._nv = None
            raise SourceUnavailable(f"NVML initialises and names {name} but answers {why} to utilisation, clocks, "
                                    "power, energy and temperature (JetPack 7.2 on Orin does this): not used")
        self.real_interval = self.interval

    def _probe(self) -> dict[str, str]:
        """Which sampled queries answer here ('ok' or NVML's error). A source is chosen for the values
        it returns, never because it initialised: JetPack 7.2 Orin's NVML answers only the name."""
        nv = self._nv
        probes = {"utilisation": (nv.nvmlDeviceGetUtilizationRates,),
                  "SM clock": (nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM),
                  "memory clock": (nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_MEM),
                  "power": (nv.nvmlDeviceGetPowerUsage,), "energy": (nv.nvmlDeviceGetTotalEnergyConsumption,),
                  "temperature": (nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU)}
        answers = {}
        for what, (fn, *args) in probes.items():
            try:
                fn(self._handle, *args)
                answers[what] = "ok"
            except nv.NVMLError as exc:
                answers[what] = str(exc) or type(exc).__name__
        return answers

    def _try(self, fn, *args):
        try:
            return fn(self._handle, *args)
        except self._nv.NVMLError:
            return None

    def _device_facts(self) -> dict:
        nv = self._nv
        name = self._try(nv.nvmlDeviceGetName)
        bus_bits = self._try(nv.nvmlDeviceGetMemoryBusWidth)
        mem_max = self._try(nv.nvmlDeviceGetMaxClockInfo, nv.NVML_CLOCK_MEM)
        try:
            driver = nv.nvmlSystemGetDriverVersion()
        except nv.NVMLError:
            driver = None
        mem = self._try(nv.nvmlDeviceGetMemoryInfo)
        facts = nvml_facts(name, driver, bus_bits, mem_max, mem.total if mem else None)
        try:
            cuda = getattr(nv, "nvmlSystemGetCudaDriverVersion_v2", nv.nvmlSystemGetCudaDriverVersion)()
        except (nv.NVMLError, AttributeError):
            cuda = None
        if isinstance(cuda, int) and cuda > 0:  # 13000 -> "13.0": the CUDA version the driver supports
            facts["cuda"] = f"{cuda // 1000}.{cuda % 1000 // 10}"
        return facts

    def gpu_load(self) -> float:
        """Only the GPU utilisation (%), for a source that has the clocks but not the load (Thor)."""
        return float(self._nv.nvmlDeviceGetUtilizationRates(self._handle).gpu)

    def read(self) -> Sample:
        nv = self._nv
        s = empty_sample("nvml")
        if getattr(self, "answers", {}).get("utilisation", "ok") == "ok":  # Thor: utilisation only
            try:
                util = nv.nvmlDeviceGetUtilizationRates(self._handle)
            except nv.NVMLError as exc:
                raise SourceDied(f"NVML stopped answering: {exc}") from None
            s["gpu_load_pct"] = float(util.gpu)
            s["emc_util_pct"] = float(util.memory)  # memory controller busy %, the closest to EMC
        sm = self._try(nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM)
        memclk = self._try(nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_MEM)
        s["gpu_freq_mhz"] = float(sm) if sm is not None else None
        s["emc_freq_mhz"] = float(memclk) if memclk is not None else None
        # busy % of the *current* memory clock, as on the Jetson path (the peak would overstate it)
        bus_bits = self.facts.get("bus_bits")
        s["emc_bw_gbs"] = emc_bandwidth_gbs(s["emc_util_pct"], s["emc_freq_mhz"], bus_bits // 8 if bus_bits else None)
        power = None
        if self._instant:
            try:
                value = nv.nvmlDeviceGetFieldValues(self._handle, [FI_DEV_POWER_INSTANT])[0]
                if value.nvmlReturn == nv.NVML_SUCCESS:
                    power = float(value.value.uiVal)
                else:
                    self._instant = False
            except (nv.NVMLError, AttributeError, IndexError):
                self._instant = False
        label = "GPU board power (instant)"
        if power is None:
            raw = self._try(nv.nvmlDeviceGetPowerUsage)
            power, label = (float(raw) if raw is not None else None), "GPU board power (1 s average)"
        if power is not None:
            s["power_mw"] = {"GPU": power}
            s["power_total_mw"], s["power_total_label"] = power, label
        energy = self._try(nv.nvmlDeviceGetTotalEnergyConsumption)
        if energy is not None:
            s["energy_mj"] = float(energy)
        temp = self._try(nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU)
        s["temp_c"] = {"GPU": float(temp)} if temp is not None else {}
        mem = self._try(nv.nvmlDeviceGetMemoryInfo)
        if mem is not None:
            s["gpu_mem_used_mb"] = mem.used / 2**20
        # ClocksEventReasons since driver 535, ClocksThrottleReasons before (pynvml keeps both names)
        reasons_of = (getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
                      or getattr(nv, "nvmlDeviceGetCurrentClocksThrottleReasons", None))
        reasons = self._try(reasons_of) if reasons_of is not None else None
        if isinstance(reasons, int):
            s["throttled"] = bool(reasons & THROTTLING_REASONS)
        return s

    def close(self) -> None:
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except self._nv.NVMLError:
                pass
            self._nv = None


def nvml_facts(name: Any, driver: Any, bus_bits: int | None, mem_max_mhz: float | None, mem_total: int | None) -> dict[str, Any]:
    """Peak bandwidth from bus width and the memory clock NVML reports (HBM and GDDR: x2)."""
    if isinstance(name, bytes):
        name = name.decode()
    if isinstance(driver, bytes):
        driver = driver.decode()
    peak = peak_bandwidth_gbs(mem_max_mhz, bus_bits / 8 if bus_bits else None)
    return {"gpu_name": name, "driver": driver, "bus_bits": bus_bits, "mem_max_mhz": mem_max_mhz,
            "gpu_mem_total_mb": round(mem_total / 2**20) if mem_total else None, "peak_bandwidth_gbs": peak}
