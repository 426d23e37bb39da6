"""Surviving a dropped SSH connection.

When the terminal hangs up, the kernel sends SIGHUP, and reads from and writes to the terminal
fail with EIO. Textual takes the failed read for a crash (its panic prints a traceback), and its
writer thread dies on a failed write, after which redraws block once its queue fills. This
driver turns both into the app's one orderly hang-up: stop the runs, save, exit 130.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver

GONE = (errno.EIO, errno.ENXIO, errno.EBADF, errno.EPIPE)


class TerminalFile:
    """The terminal's file; once a write fails, later writes are dropped."""

    def __init__(self, file: IO[str], on_hangup: Callable[[], None]) -> None:
        self._file = file
        self._on_hangup = on_hangup
        self.gone = False

    def _guard(self, op: Callable[..., Any], *args: Any) -> Any:
        if self.gone:
            return None
        try:
            return op(*args)
        except OSError as exc:
            if exc.errno not in GONE:
                raise
            self.gone = True
            self._on_hangup()
            return None

    def write(self, text: str) -> int:
        self._guard(self._file.write, text)
        return len(text)

    def flush(self) -> None:
        self._guard(self._file.flush)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding ...
        return getattr(self._file, name)


class HangupAwareDriver(LinuxDriver):
    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._file = TerminalFile(self._file, self._hung_up)  # type: ignore[assignment,arg-type]  # a wrapper of it

    def _hung_up(self) -> None:
        if hasattr(self._app, "hang_up"):
            self._loop.call_soon_threadsafe(self._app.hang_up, signal.SIGHUP)

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError as exc:
            if exc.errno not in GONE:
                raise
            self._hung_up()
