"""Full disks, --out that would lose data, locked and stale journals, leftover processes, the
app's exit codes: each with the real thing (a real tmpfs, a real second process, real daemons)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from orintui.session import load_session
from orintui.session.journal import JournalBusy, JournalWriter, journal_locked, journal_path
from orintui.session.model import RunInfo, Session

FAKE = FIXTURES / "fake_backends"
STEADY = str(FAKE / "steady.py")


def _scenario(tmp_path: Path, argv: list[str], name: str = "one") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n[[runs]]\nlabel = "a"\nbackend = "tinygrad-llm"\n'
                    f'argv = {json.dumps([sys.executable, *argv])}\n')
    return path


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orintui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _has_token(journal: Path) -> bool:
    try:
        return '"kind":"token"' in journal.read_text().replace(" ", "")  # compact JSON (msgspec) or spaced
    except FileNotFoundError:
        return False


def _fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def tmpfs(tmp_path):
    """A real, small filesystem that fills up: mount -t tmpfs -o size=32k."""
    mounted = []

    def make(size: str = "32k") -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"a full disk is tested on a real tmpfs, and mount is not permitted here: "
                        f"{proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# -- a full disk ---------------------------------------------------------------------------------
def test_full_disk_during_a_run_stops_it_and_exits_1_promptly(tmp_path, tmpfs):
    out = tmpfs("32k") / "s.json"
    started = time.monotonic()
    # 3,000 tokens at 10 ms: 30 s if nothing stops it; the journal fills 32 KiB in about a second.
    # A real process: a run that fails part way (exit 1, session NOT saved), with its backend as its child
    proc = run_cli("run", str(_scenario(tmp_path, [STEADY, "3000", "10"])), "--headless", "--telemetry", "none",
                   "--out", str(out), timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert took < 15, f"took {took:.1f} s: the run was not stopped"
    assert "Traceback" not in proc.stderr and "session saved" not in proc.stdout
    assert f"the journal cannot be written: {out}.journal: No space left on device" in proc.stdout
    assert (f"orintui: session NOT saved: {out}: No space left on device; what was recorded is in "
            f"{out}.journal") in proc.stderr
    assert not out.exists()
    kept = load_session(journal_path(out))  # the journal keeps what it has
    assert sum(e["kind"] == "token" for e in kept.events) > 10


def test_full_disk_then_sigterm_exits_promptly(tmp_path, tmpfs):
    disk = tmpfs("256k")
    out = disk / "s.json"
    proc = _spawn("run", str(_scenario(tmp_path, [STEADY, "3000", "10"])), "--headless", "--telemetry", "none",
                  "--out", str(out))
    # the journal is made before the run starts and before SIGTERM unwinds into saving the session
    _wait(lambda: _has_token(journal_path(out)), 30, "a token in the journal")
    _fill(disk)  # the disk fills up while the run is live
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("orintui did not exit on SIGTERM with a full disk") from None
    assert proc.returncode not in (0, None), err
    assert "Traceback" not in err
    assert f"session NOT saved: {out}: No space left on device" in err


def test_out_naming_a_directory_is_refused_before_anything_runs(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    # a real process: the refusals before a run (--out, locks, NUL, sources, ports) are tested in process;
    # this one shows the exact stderr and exit status a shell sees, nothing beside the one line
    proc = run_cli("run", str(_scenario(tmp_path, [STEADY, "3", "1"])), "--headless", "--telemetry", "none",
                   "--out", str(target))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == f"orintui: --out {target}: is a directory; name the session file to write\n"
    assert list(tmp_path.glob("*.journal")) == [] and list(target.iterdir()) == []


async def test_w_on_a_full_disk_says_not_saved_and_does_not_crash(tmp_path, tmpfs):
    from orintui.config.scenarios import load_scenario
    from orintui.tui.app import make_app

    disk = tmpfs("256k")
    out = disk / "s.json"
    scenario = load_scenario(str(_scenario(tmp_path, [STEADY, "3000", "10"])))
    app = make_app(scenario=scenario, out=str(out), telemetry="none")
    async with app.run_test(size=(100, 30)) as pilot:
        while type(app.screen).__name__ != "LiveScreen":  # the run is prepared in a worker
            await pilot.pause(0.1)
        _fill(disk)
        calls = []
        real = app.execution.recorder.save_now
        app.execution.recorder.save_now = lambda: calls.append(1) or real()  # 'w' goes through the recorder
        await pilot.press("w")
        while not any("saved" in str(n.message) for n in app._notifications):  # saved in a worker
            await pilot.pause(0.1)
        assert calls == [1]
        texts = [str(n.message) for n in app._notifications]
        assert any(t.startswith(f"NOT saved: {out}: No space left on device") for t in texts), texts
        assert not any("saved so far" in t for t in texts)
        _wait(app.execution.done.is_set, 20, "the run to stop on the full disk")
        deadline = time.monotonic() + 20  # the screen hears of the end through a message
        while "NOT SAVED" not in (title := str(app.screen.title_text())):
            assert time.monotonic() < deadline, title
            await pilot.pause(0.05)
    assert not out.exists()
    assert app.execution.write_error and not app.execution.recorder.saved


# -- --out that would lose a session -------------------------------------------------------------
def test_out_naming_an_existing_file_needs_force(tmp_path, cli):
    out = tmp_path / "s.json"
    out.write_text("precious")
    scenario = str(_scenario(tmp_path, [STEADY, "3", "1"]))
    proc = cli("run", scenario, "--headless", "--telemetry", "none", "--out", str(out))
    assert proc.returncode == 2 and out.read_text() == "precious"
    assert proc.stderr == f"orintui: --out {out}: the file exists; use --force to overwrite it\n"
    proc = run_cli("run", scenario, "--headless", "--telemetry", "none", "--out", str(out), "--force")
    assert proc.returncode in (0, 1), proc.stderr
    assert load_session(out).runs[0].label == "a"


def test_a_second_instance_with_the_same_out_is_refused(tmp_path, cli):
    out = tmp_path / "elsewhere" / "s.json"
    first = _spawn("run", str(_scenario(tmp_path, [STEADY, "3000", "10"])), "--headless", "--telemetry", "none",
                   "--out", str(out))
    try:
        _wait(lambda: journal_path(out).exists() and journal_path(out).stat().st_size > 2000, 30, "tokens")
        second = cli("run", str(_scenario(tmp_path, [STEADY, "3", "1"], "two")), "--headless", "--telemetry",
                     "none", "--out", str(out))  # in process: the lock is held by the first, another process
        assert second.returncode == 2, second.stdout + second.stderr
        assert second.stderr == (f"orintui: --out {out}: another orintui is recording to this file now "
                                 f"({out}.journal is locked)\n")
        assert journal_locked(journal_path(out))
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 130
    assert sum(e["kind"] == "token" for e in load_session(out).events) > 0  # the first session is whole


def test_journal_lock_is_the_liveness_check(tmp_path):
    session = Session(id="x", started_at="2026-11-21T00:00:00", host={}, scenario={"name": "x"},
                      runs=[RunInfo(index=0, label="a", backend="tinygrad-llm", argv=["x"])])
    writer = JournalWriter(tmp_path / "s.json", session)
    with pytest.raises(JournalBusy):
        JournalWriter(tmp_path / "s.json", session)  # never truncates a live journal
    assert journal_locked(writer.path) and writer.path.stat().st_size > 0
    writer.close()
    assert not journal_locked(writer.path)  # stale: the next start recovers it, whatever pid it names


# -- recovery ------------------------------------------------------------------------------------
def test_sigkilled_run_with_out_outside_the_sessions_folder_is_recovered(tmp_path):
    out = tmp_path / "elsewhere" / "s.json"
    proc = _spawn("run", str(_scenario(tmp_path, [STEADY, "3000", "10"])), "--headless", "--telemetry", "none",
                  "--out", str(out))
    _wait(lambda: journal_path(out).exists() and journal_path(out).stat().st_size > 2000, 30, "tokens")
    proc.kill()
    proc.communicate()
    nxt = run_cli("run", str(_scenario(tmp_path, [STEADY, "3", "1"], "two")), "--headless", "--telemetry", "none",
                  "--out", str(tmp_path / "t.json"))
    assert f"orintui: recovered an interrupted session: {out}\n" in nxt.stderr
    recovered = load_session(out)
    assert recovered.recovered and recovered.runs[0].status == "interrupted"
    assert not journal_path(out).exists()


def test_a_stale_journal_at_out_is_recovered_not_truncated(tmp_path, cli):
    out = tmp_path / "elsewhere" / "s.json"
    session = Session(id="old", started_at="2026-11-21T00:00:00", host={}, scenario={"name": "x"},
                      runs=[RunInfo(index=0, label="a", backend="tinygrad-llm", argv=["x"])])
    JournalWriter(out, session).close()
    for entry in (Path(os.environ["ORINTUI_HOME"]) / "data" / "live-journals").glob("*"):
        entry.unlink()  # as an older orintui left it: in no registry
    scenario = str(_scenario(tmp_path, [STEADY, "3", "1"]))
    proc = cli("run", scenario, "--headless", "--telemetry", "none", "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == (f"orintui: recovered an interrupted session: {out}\n"
                           f"orintui: --out {out}: the file exists; use --force to overwrite it\n")
    assert load_session(out).id == "old" and not journal_path(out).exists()


def test_two_instances_recovering_the_same_journals_both_run(tmp_path, orintui_home):
    sessions = orintui_home / "data" / "sessions"
    session = Session(id="x", started_at="2026-11-21T00:00:00", host={}, scenario={"name": "x"},
                      runs=[RunInfo(index=0, label="a", backend="tinygrad-llm", argv=["x"])])
    for i in range(150):
        JournalWriter(sessions / f"orphan{i:03}.json", session).close()  # stale: lock free
    procs = [_spawn("run", str(_scenario(tmp_path, [STEADY, "3", "1"], f"s{k}")), "--headless", "--telemetry",
                    "none", "--out", str(tmp_path / f"out{k}.json")) for k in range(2)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code in (0, 1) and "Traceback" not in err, err
        assert "a: " in out  # its scenario ran
    assert sorted(p.name for p in sessions.iterdir()) == [f"orphan{i:03}.json" for i in range(150)]
    recovered = sum(err.count("recovered an interrupted session") for _, err, _ in results)
    assert recovered == 150


# -- leftover processes --------------------------------------------------------------------------
def test_a_daemonised_helper_is_killed_and_the_run_flagged(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    out = tmp_path / "s.json"
    proc = run_cli("run", str(_scenario(tmp_path, [str(FAKE / "daemonize.py"), str(pidfile), "20"])), "--headless",
                   "--telemetry", "none", "--out", str(out), timeout=60)
    pid = int(pidfile.read_text())
    try:
        assert not _alive(pid), "the daemon outlived the run"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    run = load_session(out).runs[0]
    assert "leftover-process" in run.flags, proc.stdout
    assert f"(pid {pid}): killed" in (run.error or "")
    ended = next(e for e in load_session(out).events if e["kind"] == "run_ended")
    assert ended["leftover_pids"] == str(pid) and isinstance(ended["pgid"], int)
    assert "[leftover-process]" in proc.stdout


def test_a_backend_that_ignores_sighup_after_a_sigkill_is_swept_at_the_next_start(tmp_path):
    pidfile = tmp_path / "hup.pid"
    proc = _spawn("run", str(_scenario(tmp_path, [str(FAKE / "hup_ignorer.py"), str(pidfile)])), "--headless",
                  "--telemetry", "none", "--out", str(tmp_path / "s.json"))
    _wait(pidfile.exists, 30, "the backend")
    pid = int(pidfile.read_text())
    try:
        proc.kill()
        proc.communicate()
        # once the backend has run on past the hang-up, a SIGHUP it did not ignore would have ended it
        _wait(Path(f"{pidfile}.hungup").exists, 30, "the backend to see its terminal go")
        assert _alive(pid), "the backend should survive its terminal here"
        nxt = run_cli("run", str(_scenario(tmp_path, [STEADY, "3", "1"], "two")), "--headless", "--telemetry",
                      "none", "--out", str(tmp_path / "t.json"))
        assert f"orintui: killed a process left by an earlier orintui run: pid {pid} (" in nxt.stderr, nxt.stderr
        _wait(lambda: not _alive(pid), 5, "the leftover backend to go")
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _pid_with_argument(arg: str) -> int:
    """The one process (as this pid namespace numbers it) with ``arg`` among its arguments."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if arg.encode() in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    assert len(found) == 1, found
    return found[0]


CONTAINER = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


@pytest.mark.parametrize("a_in", [[], CONTAINER], ids=["a-beside-b", "a-in-its-own-pid-namespace"])
def test_a_start_sweeps_only_what_a_gone_orintui_of_the_same_data_folder_left(tmp_path, a_in):
    """Two orintuis at once: B's start must not touch the backend of A, which is running (beside it,
    or in a container whose pids mean nothing to B), nor one left by a SIGKILLed orintui of another
    data folder (another test run, another user); it kills the one left by a SIGKILLed orintui of
    its own. A's run then ends ok."""
    if a_in and subprocess.run([*a_in, "true"], capture_output=True).returncode != 0:
        pytest.skip("a pid namespace cannot be made here (unshare --pid needs CAP_SYS_ADMIN)")
    held, release, orphan, foreign = (tmp_path / n for n in ("held.pid", "release", "orphan.pid", "foreign.pid"))
    a = subprocess.Popen([*a_in, sys.executable, "-m", "orintui", "run", str(_scenario(
        tmp_path, [str(FAKE / "held.py"), str(held), str(release)], "a")), "--headless", "--telemetry", "none",
        "--out", str(tmp_path / "a.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids = []
    try:
        _wait(held.exists, 30, "A's backend")
        kept = _pid_with_argument(str(held))  # here, not in A's pid namespace (the pid file's)
        for pidfile, home in ((orphan, os.environ["ORINTUI_HOME"]), (foreign, str(tmp_path / "other-home"))):
            gone = subprocess.Popen(
                [sys.executable, "-m", "orintui", "run", str(_scenario(tmp_path, [str(FAKE / "hup_ignorer.py"),
                 str(pidfile)], pidfile.stem)), "--headless", "--telemetry", "none", "--out", str(tmp_path / f"{pidfile.stem}.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ORINTUI_HOME": home})
            _wait(pidfile.exists, 30, f"the {pidfile.stem} backend")
            pids.append(int(pidfile.read_text()))
            gone.kill()
            gone.communicate()
            _wait(Path(f"{pidfile}.hungup").exists, 30, f"the {pidfile.stem} backend to outlive its terminal")
        b = run_cli("run", str(_scenario(tmp_path, [STEADY, "3", "1"], "b")), "--headless", "--telemetry", "none",
                    "--out", str(tmp_path / "b.json"))
        assert b.returncode == 0, b.stdout + b.stderr
        assert _alive(kept), "the backend of A, a running orintui, was killed"
        assert _alive(pids[1]), "what an orintui of another data folder left was killed"
        assert b.stderr.count("orintui: killed a process left by an earlier orintui run:") == 1, b.stderr
        assert f"left by an earlier orintui run: pid {pids[0]} (" in b.stderr
        _wait(lambda: not _alive(pids[0]), 5, "the orphan to go")
        assert a.poll() is None
        release.touch()
        _, err = a.communicate(timeout=60)
        assert a.returncode == 0, err
        run = load_session(tmp_path / "a.json").runs[0]
        assert run.status == "ok" and not run.error, (run.status, run.error)
    finally:
        release.touch()
        if a.poll() is None:
            a.kill()
            a.communicate()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- the app's exit codes ------------------------------------------------------------------------
async def test_app_crash_keeps_no_traceback_screen_and_names_a_log(tmp_path, monkeypatch):
    from orintui.tui.app import OrintuiApp, make_app

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(OrintuiApp, "action_toggle_help", broken)
    app = make_app(first_screen="menu")
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("question_mark")
            deadline = time.monotonic() + 20
            while not app.crash:  # the key's handler raises on the app's loop
                assert time.monotonic() < deadline, "the app did not crash"
                await pilot.pause(0.05)
    assert app.crash and app.crash.startswith("orintui: the app crashed (RuntimeError: a bug); the details are in ")
    assert app.return_code == 1 and app._exit_renderables == []


async def test_app_ctrl_c_is_130(tmp_path):
    from orintui.config.scenarios import load_scenario
    from orintui.tui.app import make_app

    app = make_app(scenario=load_scenario(str(_scenario(tmp_path, [STEADY, "3000", "10"]))),
                   out=str(tmp_path / "s.json"), telemetry="none")
    async with app.run_test(size=(100, 30)) as pilot:
        journal = journal_path(tmp_path / "s.json")
        while not (app.execution is not None and journal.exists()  # prepared in a worker, started, a token written
                   and b'"kind":"token"' in journal.read_bytes().replace(b" ", b"")):
            await pilot.pause(0.1)
        await pilot.press("ctrl+c")
        while app.is_running:  # the run is stopped and saved in a worker, then the app exits
            await pilot.pause(0.1)
    assert app.exit_code == 130
    assert app.execution.done.is_set() and (tmp_path / "s.json").is_file()


def test_app_in_a_real_terminal_ctrl_c_exits_130(tmp_path):
    import pexpect

    out = tmp_path / "s.json"
    child = pexpect.spawn(sys.executable, ["-m", "orintui", "run", str(_scenario(tmp_path, [STEADY, "3000", "10"])),
                                           "--telemetry", "none", "--out", str(out)],
                          env={**os.environ, "TERM": "xterm-256color"}, dimensions=(30, 100), timeout=60)
    try:
        _wait(lambda: _has_token(journal_path(out)), 30, "a token")
        child.send("\x03")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130, child.before
    assert out.is_file() and f"session saved: {out}" in child.before.decode(errors="replace")


def test_app_in_a_real_terminal_on_a_full_disk_says_not_saved_and_exits_1(tmp_path, tmpfs):
    import pexpect

    out = tmpfs("32k") / "s.json"
    child = pexpect.spawn(sys.executable, ["-m", "orintui", "run", str(_scenario(tmp_path, [STEADY, "3000", "10"])),
                                           "--telemetry", "none", "--out", str(out)],
                          env={**os.environ, "TERM": "xterm-256color"}, dimensions=(30, 120), timeout=30)
    try:
        child.expect("NOT SAVED")  # the title, once the run was stopped by the full disk (30 s otherwise)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    text = child.before.decode(errors="replace")
    assert child.exitstatus == 1, text
    assert (f"orintui: session NOT saved: {out}: No space left on device; what was recorded is in "
            f"{out}.journal") in text
    assert "session saved" not in text and "Traceback" not in text


def test_app_crash_is_one_line_and_a_log(orintui_home):
    from orintui.tui.app import write_crash_log

    try:
        raise RuntimeError("boom \x1b]52;c;eA==\x07")
    except RuntimeError as exc:
        line = write_crash_log(exc)
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("orintui: the app crashed (RuntimeError: boom ); the details are in ")
    log = Path(line.rsplit(" ", 1)[1])
    assert log.parent == orintui_home / "data" / "logs"
    assert "Traceback" in log.read_text()


def test_sigterm_while_telemetry_opens_leaves_no_journal(tmp_path):
    # the journal exists before telemetry opens (up to 3 s for tegrastats' first line): a signal then
    # used to unwind past the recorder and leave a journal that the next start recovered as a session
    bin_dir, opened = tmp_path / "bin", tmp_path / "tegrastats-started"
    bin_dir.mkdir()
    fake = bin_dir / "tegrastats"  # a tegrastats that starts and never prints a sample
    fake.write_text(f"#!/bin/sh\ntouch {opened}\nexec sleep 60\n")
    fake.chmod(0o755)
    out = tmp_path / "s.json"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(_scenario(tmp_path, [STEADY, "3", "1"])),
                             "--headless", "--telemetry", "tegrastats", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait(opened.exists, 30, "tegrastats started")
    assert journal_path(out).exists()  # the signal comes while the journal is there
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err == "orintui: interrupted\n"
    assert not journal_path(out).exists() and not out.exists()
