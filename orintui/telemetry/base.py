"""The source interface every telemetry source implements."""

from __future__ import annotations


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

    def open(self) -> None:
        """Start; raise SourceUnavailable with the reason when this source cannot work here."""

    def read(self) -> dict:
        """One sample in the common shape (t is filled in by the sampler)."""
        raise NotImplementedError

    def close(self) -> None:
        pass
