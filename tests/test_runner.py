"""The shared runner with real child processes: faults, timeouts, cancel, process groups."""

from __future__ import annotations

import sys
import threading
import time

import psutil
import pytest
from conftest import FIXTURES

from orintui.backends import get_adapter
from orintui.backends.runner import BackendRunner, terminate_all

MISBEHAVE = str(FIXTURES / "fake_backends" / "misbehave.py")


def run(argv, idle=None, total=None, backend="tinygrad-llm", cancel_after=None):
    events = []
    runner = BackendRunner(argv, get_adapter(backend).make_parser(argv), events.extend, lambda m: m,
                           idle_timeout=idle, total_timeout=total)
    if cancel_after is not None:
        threading.Timer(cancel_after, runner.cancel).start()
    result = runner.run()
    return result, events, runner


def tokens(events):
    return [e for e in events if e["kind"] == "token"]


def test_segfault_mid_stream_keeps_tokens():
    result, events, _ = run([sys.executable, MISBEHAVE, "segfault"])
    assert result.status == "failed" and result.signal == 11
    assert "SIGSEGV" in result.error
    assert [t["text"] for t in tokens(events)] == [f"tok{i}" for i in range(5)]


def test_nonzero_exit_carries_last_words():
    result, events, _ = run([sys.executable, MISBEHAVE, "exit3"])
    assert result.status == "failed" and result.exit_code == 3
    assert "something went wrong" in result.error and len(tokens(events)) == 5


def test_silent_hang_hits_idle_timeout_and_group_is_gone():
    start = time.monotonic()
    result, events, runner = run([sys.executable, MISBEHAVE, "hang"], idle=1.0)
    assert result.status == "timeout" and "no output for 1 s" in result.error
    assert len(tokens(events)) == 5
    assert time.monotonic() - start < 15  # SIGINT is ignored: SIGTERM ends it
    assert not psutil.pid_exists(runner.pid) or psutil.Process(runner.pid).status() == psutil.STATUS_ZOMBIE


def test_total_timeout():
    result, _, _ = run([sys.executable, MISBEHAVE, "hang"], total=1.0)
    assert result.status == "timeout" and "longer than 1 s" in result.error


def test_cancel_kills_the_whole_process_group():
    result, events, runner = run([sys.executable, MISBEHAVE, "spawn"], cancel_after=1.5)
    assert result.status == "partial" and result.by_user  # stopped by the user after 5 tokens
    line = next(e["line"] for e in events if e["kind"] == "output" and e["line"].startswith("grandchild"))
    grandchild = int(line.split()[1])
    deadline = time.time() + 5
    while time.time() < deadline and psutil.pid_exists(grandchild):
        try:
            if psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    alive = psutil.pid_exists(grandchild) and psutil.Process(grandchild).status() != psutil.STATUS_ZOMBIE
    assert not alive, "the backend's grandchild outlived the cancel"
    assert len(tokens(events)) == 5


def test_terminate_all_on_exit():
    events = []
    runner = BackendRunner([sys.executable, MISBEHAVE, "hang"], get_adapter("tinygrad-llm").make_parser([]),
                           events.extend, lambda m: m)
    runner.start()
    deadline = time.monotonic() + 30
    while len(tokens(events)) < 5:  # the program is up and has printed what it prints before hanging
        assert time.monotonic() < deadline, events[-3:]
        time.sleep(0.02)  # polling the condition
    terminate_all("orintui is exiting")
    result = runner.wait(1)
    assert result is not None and result.status == "partial" and result.error == "orintui is exiting after 5 tokens"


def test_missing_binary_is_a_clear_error():
    result, events, _ = run(["/nonexistent/llama-completion", "-m", "x"], backend="llama-completion")
    assert result.status == "failed" and result.error == "binary not found: /nonexistent/llama-completion"
    assert events == []


def test_hostile_output_is_data():
    result, events, _ = run([sys.executable, MISBEHAVE, "hostile"])
    assert result.status == "ok"
    lines = [e["line"] for e in events if e["kind"] == "output"]
    assert any(line.startswith("[bold red]x[/] red \ufffd\ufffd bad utf8 \ufffd") for line in lines)
    assert tokens(events)[-1]["text"] == "[link=http://x]y[/link]\ufffd"
    assert any(line.startswith("zzzz") and line.endswith("more characters)") for line in lines)


@pytest.mark.parametrize("mode", ["segfault", "hang"])
def test_runner_never_raises(mode):
    result, _, _ = run([sys.executable, MISBEHAVE, mode], idle=1.0)
    assert result.status in ("failed", "timeout")


def test_a_run_gives_the_reader_the_gil_back_within_its_switch_interval():
    # the stamp is taken once the reader holds the GIL: at Python's default 5 ms a 2 ms token waited
    # behind the app's rendering and shared a stamp with the next (benchmarks/soak.py has the figures)
    from orintui.backends.runner import READER_SWITCH_INTERVAL_S

    sys.setswitchinterval(0.005)
    result, events, _ = run([sys.executable, MISBEHAVE, "exit3"])
    assert result.exit_code == 3 and tokens(events)
    assert sys.getswitchinterval() <= READER_SWITCH_INTERVAL_S < 0.005
