"""The source interface every telemetry source implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orintui.session.events import Sample

if TYPE_CHECKING:
    from orintui.telemetry.profiles import DeviceProfile


class SourceUnavailable(Exception):
    """This source cannot work here; str() is the reason (and remedy) to show."""


class SourceDied(Exception):
    """The source worked and then stopped mid-session."""


class Source:
    name = "source"
    pushes = False  # True when read() blocks until the source's own next sample

    def __init__(self, interval: float):
        self.interval = interval
        self.real_interval: float | None = None  # what the source really uses (jtop's service decides)
        self.profile: DeviceProfile | None = None  # the board, where the source knows or found it
        self.identified: str | None = None  # how the source found the board (a tegrastats line's shape)
        self.facts: dict[str, Any] = {}  # what the source says of the device (NVML: name, driver, bus width)

    def open(self) -> None:
        """Start; raise SourceUnavailable with the reason when this source cannot work here."""

    def read(self) -> Sample:
        """One sample in the common shape (t is filled in by the sampler)."""
        raise NotImplementedError

    def gpu_load(self) -> float:
        """Only the GPU utilisation (%), for a source kept to fill the load another one lacks (NVML on Thor)."""
        raise NotImplementedError

    def close(self) -> None:
        pass
