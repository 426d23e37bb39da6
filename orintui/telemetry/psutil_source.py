"""psutil: CPU and RAM everywhere. The last resort, and what fills CPU and RAM for the others."""

from __future__ import annotations

from typing import Any

import psutil

from orintui.session.events import Sample
from orintui.telemetry import empty_sample
from orintui.telemetry.base import Source


def cpu_and_ram() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    return {"cpu_load_pct": [float(x) for x in psutil.cpu_percent(percpu=True)],
            "ram_used_mb": (vm.total - vm.available) / 2**20, "ram_total_mb": vm.total / 2**20}


class PsutilSource(Source):
    name = "psutil"

    def open(self) -> None:
        psutil.cpu_percent(percpu=True)  # the first call only starts the measurement
        self.real_interval = self.interval

    def read(self) -> Sample:
        s = empty_sample("psutil")
        host = cpu_and_ram()
        s["cpu_load_pct"], s["ram_used_mb"], s["ram_total_mb"] = host["cpu_load_pct"], host["ram_used_mb"], host["ram_total_mb"]
        return s
