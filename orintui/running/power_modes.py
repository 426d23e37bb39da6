"""Power-mode sweeps on Jetson: switch ``nvpmodel`` modes (and ``jetson_clocks``) between groups of
runs, and put the board back as it was at the end and on any exit orintui can see (the last run,
Ctrl-C, SIGTERM, a failure; not SIGKILL, which nothing survives).

How a group is set: ``nvpmodel -m ID`` (which also resets clocks to the mode's DVFS defaults, so
this is the "clocks off" state), then ``jetson_clocks`` when the group wants clocks locked. Before
the first switch orintui reads the original mode (``nvpmodel -q``: a line ``NV Power Mode: NAME``,
then the mode's id) and saves the clock state (``jetson_clocks --store FILE``, whenever the tool is
there: a mode switch drops a clock lock even in a sweep of modes alone); at the end it runs
``nvpmodel -m ORIGINAL`` then ``jetson_clocks --restore FILE``. Both tools need root.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Any

from orintui.config.scenarios import ScenarioError
from orintui.telemetry.profiles import nvpmodel_mode

TOOL_TIMEOUT_S = 60.0


class PowerModeError(ScenarioError):
    """A switch that failed: the session stops (the runs would be in an unknown mode)."""


def nvpmodel_id(text: str | None) -> str | None:
    """The mode's id: the first line after 'NV Power Mode: NAME' that is a number."""
    lines = (text or "").splitlines()
    for i, line in enumerate(lines):
        if "NV Power Mode" in line:
            return next((x.strip() for x in lines[i + 1:] if re.fullmatch(r"\s*\d+\s*", x)), None)
    return None


def needs(runs: list[Any]) -> tuple[set[str], bool]:
    """The modes and whether jetson_clocks is switched, over a scenario's runs."""
    modes = {r.nvpmodel for r in runs if r.nvpmodel is not None}
    return modes, any(r.jetson_clocks is not None for r in runs)


def check_can_switch(runs: list[Any], scenario_path: str) -> None:
    """Refused before anything starts: not root, or a tool missing."""
    modes, clocks = needs(runs)
    if not modes and not clocks:
        return
    if os.geteuid() != 0:
        raise ScenarioError(f"{scenario_path}: this scenario switches power modes (nvpmodel, jetson_clocks), which "
                            "needs root: run orintui as root (sudo -E orintui run ...)")
    for tool in ("nvpmodel",) + (("jetson_clocks",) if clocks else ()):
        if shutil.which(tool) is None:
            raise ScenarioError(f"{scenario_path}: this scenario switches power modes but {tool} is not on PATH "
                                "(a Jetson with L4T has it in /usr/sbin and /usr/bin)")


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PowerModeError(f"{' '.join(argv)}: {exc}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise PowerModeError(f"{' '.join(argv)} exited {done.returncode}" + (f": {said[-1]}" if said else ""))
    return done.stdout


class PowerModes:
    """One session's switching; ``restore`` is safe to call twice and from any thread."""

    def __init__(self) -> None:
        self.original_id: str | None = None
        self.original_name: str | None = None
        self._clocks_file: str | None = None
        self._changed = False
        self._current: tuple[str | None, bool | None] | None = None
        self._lock = threading.Lock()

    def begin(self, clocks: bool) -> str:
        """Read what to restore; returns the line to tell the user."""
        text = _run(["nvpmodel", "-q"])
        self.original_id, self.original_name = nvpmodel_id(text), nvpmodel_mode(text)
        if self.original_id is None:
            raise PowerModeError(f"nvpmodel -q printed no mode id: {text.strip()[:200]!r}")
        if clocks or shutil.which("jetson_clocks"):  # nvpmodel -m resets clocks: a lock the user had comes back too
            fd, self._clocks_file = tempfile.mkstemp(prefix="orintui-clocks-", suffix=".conf")
            os.close(fd)
            _run(["jetson_clocks", "--store", self._clocks_file])
        atexit.register(self.restore)
        return f"power mode now {self.original_name} (id {self.original_id}); restored at the end"

    def apply(self, mode: str | None, clocks: bool | None) -> dict[str, Any]:
        """Put the board in this group's state (nothing when it is already there); the fields for
        the run_started event."""
        with self._lock:
            if self._current != (mode, clocks):
                self._changed = True
                _run(["nvpmodel", "-m", mode if mode is not None else str(self.original_id)])
                if clocks:
                    _run(["jetson_clocks"])
                self._current = (mode, clocks)
        text = _run(["nvpmodel", "-q"])
        fields: dict[str, Any] = {"nvpmodel": nvpmodel_mode(text), "nvpmodel_id": nvpmodel_id(text)}
        if clocks is not None:
            fields["jetson_clocks"] = "ON" if clocks else "OFF"
        return fields

    def restore(self) -> str | None:
        """Back to the original mode and clocks; the error line when that failed, else None."""
        with self._lock:
            if not self._changed:
                self._forget_clocks_file()
                return None
            self._changed = False
            errors = []
            for argv in (["nvpmodel", "-m", str(self.original_id)],
                         ["jetson_clocks", "--restore", self._clocks_file] if self._clocks_file else None):
                if argv is None:
                    continue
                try:
                    _run(argv)
                except PowerModeError as exc:
                    errors.append(str(exc))
            self._forget_clocks_file()
            return "; ".join(errors) or None

    def _forget_clocks_file(self) -> None:
        if self._clocks_file:
            try:
                os.unlink(self._clocks_file)
            except OSError:
                pass
