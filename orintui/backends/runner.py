"""The one runner every backend shares: pexpect, a process group, timeouts, clean shutdown.

The child runs on a PTY (so Python backends stay line-buffered) in its own session and process
group. A background thread reads, stamps each chunk with the monotonic time it was read, decodes
UTF-8 incrementally and feeds the adapter's parser. Cancel, timeouts and orintui's own exit end
the whole group: SIGINT, then SIGTERM, then SIGKILL, so no backend keeps holding GPU memory.

pexpect starts the child, but the reader does its own ``select`` + ``os.read`` on the PTY master and
reads until the master reports EIO (every writer has closed the terminal). pexpect's
``read_nonblocking`` raises EOF as soon as the child is reaped and a zero-timeout select finds
nothing, while the kernel may still be moving the child's last writes to the master: on a busy
machine that lost the tail of a run (its last tokens and llama.cpp's perf summary).
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import select
import signal
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pexpect

from orintui.backends.base import Parser
from orintui.core.paths import resolve_binary, sessions_dir
from orintui.session import status as st
from orintui.session.events import Event

PTY_ROWS, PTY_COLS = 50, 200
READ_SIZE = 65536
POLL_S = 0.1
GRACE_S = 3.0
# after the program has exited, how long the terminal may stay open with nothing written (a helper
# that daemonised and kept it) before the reader stops waiting for EIO
HELD_OPEN_S = 2.0
# How long another thread may keep the GIL once the reader wakes with output (Python's default is
# 5 ms). The stamp is taken only once the reader holds the GIL, so while the app renders a frame a
# 2 ms token waited behind it and two tokens shared one stamp. Measured on a quiet 16-core box, a
# 1-minute soak at 500 tok/s in the app: 105 of 30,000 reads merged at 5 ms, 81 at 1 ms, 0 at 0.2 ms
# (headless 1), for 7.2 against 7.6 % of a core (benchmarks/soak.py, scripts/device-bench).
READER_SWITCH_INTERVAL_S = 0.0002

_live: weakref.WeakSet[BackendRunner] = weakref.WeakSet()

# -- leftover processes ----------------------------------------------------------------------------
# Every process a run starts carries ORINTUI_RUN=<owner>:<data folder tag>:<run id> in its
# environment, and keeps it through a double fork and setsid that take it out of the process group.
# The owner is the orintui process: <pid>.<its start time>.<its pid namespace>. When a run ends, the
# processes with its marker are killed (matched by marker and start time, never by name). At the next
# start, only what a gone orintui of the same data folder and user left is killed: an orintui that is
# running (another test run, another session), one of another data folder (ORINTUI_HOME) or user, and
# one in another pid namespace (a container, whose pids mean nothing here) are left alone.
MARKER_ENV = "ORINTUI_RUN"


def _start_ticks(pid: int) -> int | None:
    """A process's start time (clock ticks since boot): a pid reused later has a later one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_namespace() -> str:
    try:
        return "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    except OSError:
        return "?"


OWNER = f"{os.getpid()}.{_start_ticks(os.getpid())}.{_pid_namespace()}"


def _data_tag() -> str:
    """Which data folder (ORINTUI_HOME or the user's) the runs belong to, as a short tag."""
    return hashlib.sha256(os.fsencode(sessions_dir().parent)).hexdigest()[:12]


def run_marker() -> str:
    """The marker every process of a new run inherits."""
    return f"{OWNER}:{_data_tag()}:{uuid.uuid4().hex[:12]}"


def _marked() -> list[tuple[int, str, int | None]]:
    """(pid, marker, start ticks) of every readable process that carries a run marker."""
    found: list[tuple[int, str, int | None]] = []
    key = MARKER_ENV.encode() + b"="
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(key):
                found.append((int(name), item[len(key):].decode(errors="replace"), _start_ticks(int(name))))
                break
    return found


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
    except OSError:
        return "?"


KILL_WAIT_S = 2.0  # how long a killed leftover may take to die before it is reported as not killed


def _running(pid: int) -> bool:
    """Whether pid is a process that has not exited yet (a zombie has: only its parent must reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _kill(pids: list[tuple[int, int | None]]) -> list[int]:
    """SIGKILL each (pid, start ticks) still the same process and wait until it has exited, so that
    "killed" is true when it is said; the pids that could not be killed."""
    refused, sent = [], []
    for pid, ticks in pids:
        if ticks is not None and _start_ticks(pid) != ticks:
            continue  # gone, or the pid now names another process
        try:
            os.kill(pid, signal.SIGKILL)
            sent.append(pid)
        except ProcessLookupError:
            pass
        except PermissionError:
            refused.append(pid)
    deadline = time.monotonic() + KILL_WAIT_S
    while (alive := [pid for pid in sent if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return refused + alive


def sweep_run(marker: str, since_ticks: int | None) -> tuple[list[int], list[int]]:
    """Processes of the run ``marker`` still alive after its group was ended: (all found, those that
    could not be killed)."""
    found = [(pid, ticks) for pid, m, ticks in _marked()
             if m == marker and (since_ticks is None or ticks is None or ticks >= since_ticks)]
    return [pid for pid, _ in found], _kill(found)


def _owner_gone(owner: str) -> bool:
    """Whether the orintui that wrote ``owner`` has certainly exited; anything that cannot be checked
    (another pid namespace, a marker of another format) counts as running."""
    pid, ticks, namespace = (owner.split(".") + ["", ""])[:3]
    if not (pid.isdigit() and ticks.isdigit()) or namespace != _pid_namespace():
        return False
    return _start_ticks(int(pid)) != int(ticks)


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def sweep_orphans() -> list[str]:
    """At start: kill processes left by runs of an orintui of this data folder and user that is gone
    (SIGKILLed, a lost terminal). Returns one line per process for the user."""
    lines, orphans = [], []
    tag, uid = _data_tag(), os.geteuid()
    for pid, marker, ticks in _marked():
        owner, _, rest = marker.partition(":")
        if rest.partition(":")[0] == tag and _uid(pid) == uid and owner != OWNER and _owner_gone(owner):
            orphans.append((pid, ticks))
            lines.append(f"pid {pid} ({_command(pid)})")
    refused = set(_kill(orphans))
    return [f"{'could not kill' if pid in refused else 'killed'} a process left by an earlier orintui run: {line}"
            for (pid, _), line in zip(orphans, lines)]


@dataclass(frozen=True)
class RunResult:
    status: str  # one of session.status.FINAL
    exit_code: int | None
    signal: int | None
    error: str | None
    by_user: bool = False  # the user stopped it (skip, stop, Ctrl-C): not a failure of the run
    pgid: int | None = None  # the run's session and process group (the leader's pid)
    leftover_pids: tuple[int, ...] = ()  # processes it started that outlived it (killed, or named if not)

    def describe(self) -> str:
        if self.status == st.OK:
            return st.OK
        return f"{self.status}: {self.error}" if self.error else self.status


class BackendRunner:
    def __init__(
        self,
        argv: list[str],
        parser: Parser,
        emit: Callable[[list[Event]], None],
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
        self.emit = emit  # the events of one read, handed over whole (never an empty list)
        self.clock = clock  # monotonic time -> session time
        self.marker = run_marker()  # every process of this run inherits it
        self.env = {**os.environ, **(env or {}), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": str(PTY_COLS),
                    MARKER_ENV: self.marker}
        self.cwd = cwd
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout
        self.child: pexpect.spawn | None = None
        self.pid: int | None = None
        self._stop_reason: tuple[str, str | None, bool] | None = None
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._done = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if sys.getswitchinterval() > READER_SWITCH_INTERVAL_S:
            sys.setswitchinterval(READER_SWITCH_INTERVAL_S)
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

    def cancel(self, reason: str = "cancelled by the user", status: str = st.CANCELLED, by_user: bool = True) -> None:
        """Ask the run to stop; the reader thread ends the process group and records why."""
        if self._stop_reason is None:
            self._stop_reason = (status, reason, by_user)

    # -- the reader thread -----------------------------------------------------------------
    def _emit_all(self, events: list[Event]) -> None:
        if events:
            self.emit(events)

    def _run(self) -> None:
        try:
            self._result = self._read_loop()
        except Exception as exc:  # never let a runner thread die silently
            self._kill_group()
            self._result = RunResult(st.FAILED, None, None, f"orintui runner error: {exc!r}")
        finally:
            _live.discard(self)
            self._done.set()

    def _read_loop(self) -> RunResult:
        if any("\0" in a for a in self.argv) or any("\0" in k + v or "=" in k or not k for k, v in self.env.items()):
            # the forked child would raise before exec and exit 0: a run that never ran, recorded ok
            return RunResult(st.FAILED, None, None, "argv or env holds a NUL byte, or an env name is empty or has '='")
        binary = resolve_binary(self.argv[0], self.env, self.cwd)
        if binary is None:
            return RunResult(st.FAILED, None, None, f"binary not found: {self.argv[0]}")
        if self.cwd and not os.path.isdir(self.cwd):
            return RunResult(st.FAILED, None, None, f"working directory not found: {self.cwd}")
        started = time.monotonic()
        try:
            self.child = pexpect.spawn(
                binary, self.argv[1:], env=self.env, cwd=self.cwd,
                dimensions=(PTY_ROWS, PTY_COLS), echo=False, encoding=None,
            )
        except (pexpect.ExceptionPexpect, OSError) as exc:
            return RunResult(st.FAILED, None, None, f"could not start {self.argv[0]}: {exc}")
        self.pid = self.child.pid
        self.started_ticks = _start_ticks(self.pid)
        _live.add(self)
        fd = self.child.child_fd
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        last_output = started
        exited_at: float | None = None  # when the reader first saw the program gone
        while True:
            if self._stop_reason:
                break
            now = time.monotonic()
            if self.total_timeout and now - started > self.total_timeout:
                self.cancel(f"ran longer than {self.total_timeout:g} s", st.TIMEOUT, by_user=False)
                break
            if self.idle_timeout and now - last_output > self.idle_timeout:
                self.cancel(f"no output for {self.idle_timeout:g} s", st.TIMEOUT, by_user=False)
                break
            data = _read_ready(fd, POLL_S)
            if data is None:  # EIO: every writer has closed the terminal, all output is read
                break
            if not data:
                if exited_at is None and not self.child.isalive():
                    exited_at = now
                elif exited_at is not None and now - exited_at > HELD_OPEN_S:
                    self.held_open = True  # something outside the program keeps the terminal open
                    break
                continue
            stamp = time.monotonic()
            last_output = stamp
            # an incomplete UTF-8 sequence decodes to "": the read is still fed, since for a
            # streaming backend it is a token whose character completes in the next one
            self._emit_all(self.parser.feed(decoder.decode(data), self.clock(stamp)))
            while (reply := self.parser.input_request()) is not None:
                os.write(fd, reply.encode())
            if self.parser.stop_requested:
                self.cancel("the backend answered and waits for more input", st.OK, by_user=False)
        tail = decoder.decode(b"", final=True)
        if self._stop_reason:
            # drain what the group prints while it shuts down (llama.cpp prints its summary on SIGINT)
            for chunk_time, data in self._terminate_and_drain(fd):
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

    held_open = False

    def _terminate_and_drain(self, fd: int) -> Iterator[tuple[float, bytes]]:
        """Signal the group, step by step, and yield what it still prints until the terminal closes."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self._signal_group(sig)
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline:
                data = _read_ready(fd, POLL_S)
                if data is None:
                    return
                if data:
                    yield time.monotonic(), data
                elif not self._group_alive():
                    yield from _drain(fd)
                    return
        yield from _drain(fd)

    started_ticks: int | None = None

    def _collect_status(self) -> RunResult:
        from dataclasses import replace

        result = self._judge()
        found, refused = sweep_run(self.marker, self.started_ticks)
        if not found:
            return replace(result, pgid=self.pid)
        note = (f"{len(found)} process(es) it started outlived it (pid {', '.join(map(str, found))}): "
                + (f"could not kill pid {', '.join(map(str, refused))}" if refused else "killed"))
        return replace(result, pgid=self.pid, leftover_pids=tuple(found),
                       error=f"{result.error}; {note}" if result.error else note)

    def _judge(self) -> RunResult:
        assert self.child is not None
        # the terminal is closed; the leader may take a moment to be reaped
        deadline = time.monotonic() + GRACE_S
        while self.child.isalive() and time.monotonic() < deadline and not self._stop_reason:
            time.sleep(0.01)
        try:
            self.child.close(force=True)
        except pexpect.ExceptionPexpect:
            self._kill_group()
        # a backend's helpers may outlive it in the group: leave nothing behind
        self._kill_group()
        code, sig = self.child.exitstatus, self.child.signalstatus
        if self._stop_reason:
            status, reason, by_user = self._stop_reason
            if status == st.OK:  # it answered and waits: ended by orintui, judged by what it printed
                verdict, why = self.parser.verdict()
                return RunResult(verdict, code, sig, why)
            if status == st.CANCELLED and self.parser.has_figures():
                return RunResult(st.PARTIAL, code, sig, f"{reason} after {self.parser.token_count} tokens", by_user)
            return RunResult(status, code, sig, reason, by_user)
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return RunResult(st.FAILED, code, sig, f"killed by {name}{self.parser.last_words()}")
        if code:
            return RunResult(st.FAILED, code, sig, f"exit code {code}{self.parser.last_words()}")
        status, reason = self.parser.verdict()
        if self.held_open:
            note = f"the terminal stayed open {HELD_OPEN_S:g} s after the program exited (a helper kept it)"
            reason = f"{reason}; {note}" if reason else note
        return RunResult(status, code, sig, reason)

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


def _read_ready(fd: int, timeout: float) -> bytes | None:
    """What the PTY master has within ``timeout``: bytes, b"" for nothing yet, None at the end
    (EIO once every writer has closed the slave; Linux hands out all buffered output first)."""
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except InterruptedError:
        return b""
    if not ready:
        return b""
    try:
        data = os.read(fd, READ_SIZE)
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.EBADF):
            return None
        if exc.errno in (errno.EAGAIN, errno.EINTR):
            return b""
        raise
    return data or None


def _drain(fd: int) -> Iterator[tuple[float, bytes]]:
    """The program and its group are gone: read what is left until EIO, or until the terminal has
    been quiet for HELD_OPEN_S (a daemonised helper keeps it open)."""
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < HELD_OPEN_S:
        data = _read_ready(fd, POLL_S)
        if data is None:
            return
        if data:
            quiet_since = time.monotonic()
            yield quiet_since, data


def terminate_all(reason: str = "orintui is exiting") -> None:
    """Cancel every live run and wait for their process groups to go (orintui's exit path)."""
    runners = list(_live)
    for runner in runners:
        runner.cancel(reason)
    for runner in runners:
        runner.wait(timeout=3 * GRACE_S + 2)
