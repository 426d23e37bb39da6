"""The one runner every backend shares: pexpect, a process group, timeouts, clean shutdown.

The child runs on a PTY (so Python backends stay line-buffered) in its own session and process
group. A background thread reads, stamps each chunk with the monotonic time it was read, decodes
UTF-8 incrementally and feeds the adapter's parser. Cancel, timeouts and orintui's own exit end
the whole group: SIGINT, then SIGTERM, then SIGKILL, so no backend keeps holding GPU memory.
"""

from __future__ import annotations

import codecs
import os
import shutil
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import pexpect

from orintui.backends.base import Parser
from orintui.session.events import Event

PTY_ROWS, PTY_COLS = 50, 200
READ_SIZE = 65536
POLL_S = 0.1
GRACE_S = 3.0

_live: weakref.WeakSet[BackendRunner] = weakref.WeakSet()


@dataclass(frozen=True)
class RunResult:
    status: str  # ok, failed, timeout, cancelled
    exit_code: int | None
    signal: int | None
    error: str | None

    def describe(self) -> str:
        if self.status == "ok":
            return "ok"
        return f"{self.status}: {self.error}" if self.error else self.status


def resolve_binary(argv0: str, env: dict[str, str] | None = None, cwd: str | None = None) -> str | None:
    """The executable argv0 names, looked up the way the child will see it, or None."""
    if os.sep in argv0:
        path = argv0 if os.path.isabs(argv0) or not cwd else os.path.join(cwd, argv0)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    search = (env or os.environ).get("PATH", os.defpath)
    return shutil.which(argv0, path=search)


class BackendRunner:
    def __init__(
        self,
        argv: list[str],
        parser: Parser,
        emit: Callable[[Event], None],
        clock: Callable[[float], float],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        idle_timeout: float | None = None,
        total_timeout: float | None = None,
    ):
        if not argv:
            raise ValueError("empty argv")
        self.argv = list(argv)
        self.parser = parser
        self.emit = emit
        self.clock = clock  # monotonic time -> session time
        self.env = {**os.environ, **(env or {}), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": str(PTY_COLS)}
        self.cwd = cwd
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout
        self.child: pexpect.spawn | None = None
        self.pid: int | None = None
        self._stop_reason: tuple[str, str] | None = None
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._done = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"runner-{self.argv[0]}", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> RunResult | None:
        self._done.wait(timeout)
        return self._result

    def run(self) -> RunResult:
        self.start()
        result = self.wait()
        assert result is not None
        return result

    def cancel(self, reason: str = "cancelled by the user", status: str = "cancelled") -> None:
        """Ask the run to stop; the reader thread ends the process group and records why."""
        if self._stop_reason is None:
            self._stop_reason = (status, reason)

    # -- the reader thread -----------------------------------------------------------------
    def _emit_all(self, events: list[Event]) -> None:
        for event in events:
            self.emit(event)

    def _run(self) -> None:
        try:
            self._result = self._read_loop()
        except Exception as exc:  # never let a runner thread die silently
            self._kill_group()
            self._result = RunResult("failed", None, None, f"orintui runner error: {exc!r}")
        finally:
            _live.discard(self)
            self._done.set()

    def _read_loop(self) -> RunResult:
        binary = resolve_binary(self.argv[0], self.env, self.cwd)
        if binary is None:
            return RunResult("failed", None, None, f"binary not found: {self.argv[0]}")
        if self.cwd and not os.path.isdir(self.cwd):
            return RunResult("failed", None, None, f"working directory not found: {self.cwd}")
        started = time.monotonic()
        try:
            self.child = pexpect.spawn(
                binary, self.argv[1:], env=self.env, cwd=self.cwd,
                dimensions=(PTY_ROWS, PTY_COLS), echo=False, encoding=None,
            )
        except (pexpect.ExceptionPexpect, OSError) as exc:
            return RunResult("failed", None, None, f"could not start {self.argv[0]}: {exc}")
        self.pid = self.child.pid
        _live.add(self)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        last_output = started
        while True:
            if self._stop_reason:
                break
            now = time.monotonic()
            if self.total_timeout and now - started > self.total_timeout:
                self.cancel(f"ran longer than {self.total_timeout:g} s", "timeout")
                break
            if self.idle_timeout and now - last_output > self.idle_timeout:
                self.cancel(f"no output for {self.idle_timeout:g} s", "timeout")
                break
            try:
                data = self.child.read_nonblocking(READ_SIZE, timeout=POLL_S)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                break
            stamp = time.monotonic()
            last_output = stamp
            # an incomplete UTF-8 sequence decodes to "": the read is still fed, since for a
            # streaming backend it is a token whose character completes in the next one
            self._emit_all(self.parser.feed(decoder.decode(data), self.clock(stamp)))
            while (reply := self.parser.input_request()) is not None:
                self.child.send(reply.encode())
            if self.parser.stop_requested:
                self.cancel("the backend answered and waits for more input", "ok")
        tail = decoder.decode(b"", final=True)
        if self._stop_reason:
            # drain what the group prints while it shuts down (llama.cpp prints its summary on SIGINT)
            for chunk_time, data in self._terminate_and_drain():
                tail += decoder.decode(data)
                if tail:
                    self._emit_all(self.parser.feed(tail, self.clock(chunk_time)))
                    tail = ""
            tail += decoder.decode(b"", final=True)
        end = self.clock(time.monotonic())
        if tail:
            self._emit_all(self.parser.feed(tail, end))
        self._emit_all(self.parser.finish(end))
        return self._collect_status()

    def _terminate_and_drain(self):
        assert self.child is not None
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self._signal_group(sig)
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline:
                try:
                    data = self.child.read_nonblocking(READ_SIZE, timeout=POLL_S)
                    yield time.monotonic(), data
                except pexpect.TIMEOUT:
                    if not self._group_alive():
                        return
                except pexpect.EOF:
                    if not self._group_alive():
                        return
                    time.sleep(POLL_S)

    def _collect_status(self) -> RunResult:
        assert self.child is not None
        try:
            self.child.close(force=True)
        except pexpect.ExceptionPexpect:
            self._kill_group()
        # a backend's helpers may outlive it in the group: leave nothing behind
        self._kill_group()
        code, sig = self.child.exitstatus, self.child.signalstatus
        if self._stop_reason:
            status, reason = self._stop_reason
            return RunResult(status, code, sig, reason)
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return RunResult("failed", code, sig, f"killed by {name}{self.parser.last_words()}")
        if code:
            return RunResult("failed", code, sig, f"exit code {code}{self.parser.last_words()}")
        return RunResult("ok", code, sig, None)

    # -- process group helpers ----------------------------------------------------------------
    def _signal_group(self, sig: int) -> None:
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _group_alive(self) -> bool:
        if self.pid is None:
            return False
        if self.child is not None:
            self.child.isalive()  # reaps an exited leader: a zombie still counts for killpg
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _kill_group(self) -> None:
        self._signal_group(signal.SIGKILL)


def terminate_all(reason: str = "orintui is exiting") -> None:
    """Cancel every live run and wait for their process groups to go (orintui's exit path)."""
    runners = list(_live)
    for runner in runners:
        runner.cancel(reason)
    for runner in runners:
        runner.wait(timeout=3 * GRACE_S + 2)
