"""A run is ok only when orintui understood all of it; nothing a backend printed is lost.

Real child processes through the real runner; real llama.cpp where a figure depends on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, JTOP_SERVICE, NVML, TEGRASTATS, run_cli

from orintui.backends import get_adapter
from orintui.backends.runner import BackendRunner
from orintui.config.scenarios import parse_scenario
from orintui.figures.metrics import best_run, run_flags, session_metrics
from orintui.reading.report import render_report
from orintui.session import events as ev
from orintui.session import load_session
from orintui.session import status as st
from orintui.session.model import RunInfo, Session
from orintui.sharing.compare import render_compare

FAST = str(FIXTURES / "fake_backends" / "fast_llama.py")
STEADY = str(FIXTURES / "fake_backends" / "steady.py")
TRANSCRIPTS = FIXTURES / "transcripts"


def run(argv, backend):
    events = []
    result = BackendRunner(argv, get_adapter(backend).make_parser(argv), events.extend, lambda m: m,
                           idle_timeout=60).run()
    return result, events


def tokens(events):
    return [e for e in events if e["kind"] == "token"]


def summary(events):
    out = {}
    for e in events:
        if e["kind"] == "summary":
            out.update(e)
    return out


@pytest.fixture
def busy_cores():
    """A busy loop on every core, as on a shared board: the reader must still lose nothing."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield
    for p in loops:
        p.kill()
        p.wait()


# -- nothing recorded is lost ---------------------------------------------------------------------
def test_fast_streamer_that_exits_at_once_loses_nothing_under_load(busy_cores):
    """Thousands of tokens a second, the summary, and an immediate exit, 40 times over."""
    for _ in range(40):
        result, events = run([sys.executable, FAST, "300", "-p", "Hello"], "llama-completion")
        figures = summary(events)
        assert result.status == "ok", result
        assert figures.get("eval_runs") == 299 and figures.get("generated_tokens") == 300
        assert "".join(t["text"] for t in tokens(events)).split() == [f"w{i}" for i in range(300)]


def test_program_that_prints_nothing_is_unrecognised():
    result, events = run(["true"], "tinygrad-llm")
    assert result.status == "unrecognised"
    assert result.error == "tinygrad-llm: the program printed nothing"


def test_output_of_another_format_is_unrecognised_with_its_last_lines():
    log = TRANSCRIPTS / "llama-completion-cpu-b0.3.36.txt"
    result, events = run(["cat", str(log)], "tinygrad-llm")
    assert result.status == "unrecognised"
    assert "tinygrad-llm: nothing of this adapter's format in" in result.error
    assert "common_perf_print" in result.error  # the last lines say what the program did print
    assert st.fails_session(result.status)


def test_fewer_tokens_than_asked_is_partial():
    argv = [sys.executable, STEADY, "5", "1", "--benchmark", "12"]  # asks for 12, writes 5
    result, events = run(argv, "tinygrad-llm")
    assert len(tokens(events)) == 5
    assert result.status == "partial" and result.error == "5 of 12 tokens"


def test_all_tokens_asked_is_ok():
    result, events = run([sys.executable, STEADY, "6", "1", "--benchmark", "6"], "tinygrad-llm")
    assert result.status == "ok" and result.error is None


def test_llama_completion_without_its_summary_is_partial(tmp_path):
    log = (TRANSCRIPTS / "llama-completion-cpu-b0.3.36.txt").read_bytes()
    cut = tmp_path / "cut.txt"
    cut.write_bytes(log[: log.index(b"common_perf_print")])
    result, _ = run(["cat", str(cut)], "llama-completion")
    assert result.status == "partial"
    assert result.error.startswith("no perf summary")


def test_llama_completion_end_of_text_before_the_count_is_partial(tmp_path):
    script = tmp_path / "eos.py"
    script.write_text(Path(FAST).read_text().replace('os.write(out, b"\\n\\n")', 'os.write(out, b" [end of text]\\n\\n")'))
    result, events = run([sys.executable, str(script), "20", "-p", "Hello", "-n", "50"], "llama-completion")
    assert result.status == "partial"
    assert result.error == "end of text (EOS) after 20 of 50 tokens"


def test_llama_bench_fewer_tests_than_announced_is_partial(tmp_path):
    lines = (TRANSCRIPTS / "llama-bench-jsonl.txt").read_text().splitlines()
    rows = [line for line in lines if line.startswith("{")]
    log = tmp_path / "bench.txt"
    log.write_text(f"llama-bench: benchmark 1/{len(rows) + 1}: starting\n" + "\n".join(rows) + "\n")
    result, _ = run(["cat", str(log)], "llama-bench")
    assert result.status == "partial" and result.error == f"{len(rows)} of {len(rows) + 1} tests"


def test_nul_byte_in_argv_is_refused_before_start():
    result, events = run(["echo", "a\0b"], "tinygrad-llm")
    assert result.status == "failed" and "NUL" in result.error and events == []


# -- statuses everywhere ----------------------------------------------------------------------------
def _session(statuses: list[tuple[str, str, float | None]], host: dict | None = None) -> Session:
    """A session whose runs ended with these (label, status, decode ms per token) as a real one records them."""
    runs, events = [], []
    t = 0.0
    for i, (label, status, ms) in enumerate(statuses):
        runs.append(RunInfo(index=i, label=label, backend="tinygrad-llm", argv=["x"]))
        events.append(ev.make(ev.RUN_STARTED, t, i, label=label, backend="tinygrad-llm"))
        for k in range(20 if ms else 0):
            t += ms / 1000.0
            events.append({**ev.token(t, f"t{k}", ms), "run": i})
        t += 0.1
        events.append(ev.make(ev.RUN_ENDED, t, i, status=status, error=None if status == "ok" else f"why {status}"))
    session = Session(id="s", started_at="2026-11-21T00:00:00", host=host or {}, scenario={"name": "x"}, runs=runs)
    for event in events:
        session.events.append(event)
        session.apply(event)
    return session


def test_partial_runs_never_rank_or_head_a_list():
    session = _session([("fast but partial", "partial", 1.0), ("slow but whole", "ok", 10.0)])
    metrics = session_metrics(session)
    assert best_run(metrics).label == "slow but whole"
    report = render_report([session])
    row = next(line for line in report.splitlines() if line.startswith("| fast but partial |"))
    assert "| partial | why partial" in row and "*" not in row  # its status, its reason, never marked best
    cancelled = _session([("a", "cancelled", 1.0), ("b", "failed", 2.0)])
    assert best_run(session_metrics(cancelled)) is None


def test_headline_of_a_session_without_a_complete_run(tmp_path):
    from orintui.reading.catalog import headline
    from orintui.session import save_session

    path = save_session(_session([("a", "cancelled", 1.0), ("b", "partial", 2.0)]), tmp_path / "s.json")
    head = headline(path)[4]
    assert head.startswith("no complete run") and "1 cancelled" in head and "1 partial" in head


def test_compare_says_how_a_run_stands_in_each_session():
    a = _session([("x", "ok", 2.0), ("y", "partial", 2.0), ("z", "ok", 2.0)])
    b = _session([("x", "failed", None), ("y", "ok", 2.0)])
    text = render_compare([a, b])
    assert "| x (failed) | B |" in text and "| y (partial) | A |" in text and "z (not in B)" in text
    assert "only A" not in text and "only B" not in text


def test_exit_rule_counts_user_stops_apart():
    assert not st.fails_session("ok") and not st.fails_session("skipped")
    assert not st.fails_session("cancelled", by_user=True) and not st.fails_session("partial", by_user=True)
    for status in ("partial", "unrecognised", "failed", "timeout", "interrupted"):
        assert st.fails_session(status)


# -- validity flags -----------------------------------------------------------------------------------
def test_flags_few_tokens_clocks_and_power_mode():
    session = _session([("a", "ok", 2.0)], host={"jetson_clocks": "OFF", "nvpmodel": "15W"})
    run = session.runs[0]
    session.events[0]["cpu_load_before_pct"] = 80.0
    events = session.run_events(0)
    steady = [e for e in events if e["kind"] == "token"][:5]
    codes = [f.code for f in run_flags(session, run, events, [], steady, merged=3)]
    assert codes == ["busy", "few-tokens", "merged-reads", "clocks-unlocked", "power-mode"]
    quiet = _session([("a", "ok", 2.0)], host={"jetson_clocks": "ON", "nvpmodel": "MAXN"})
    assert session_metrics(quiet)[0].flags == []


def test_flag_telemetry_gap_inside_the_decode_window():
    session = _session([("a", "ok", 100.0)])  # 20 tokens over 2 s, from t=0.1 to t=2.0
    samples = [ev.make(ev.TELEMETRY, t, None, power_total_mw=1000) for t in (0.0, 0.5, 2.5)]
    session.events.extend(samples)
    flags = {f.code: f.text for f in session_metrics(session)[0].flags}
    assert "telemetry-gap" in flags and "2.0 s" in flags["telemetry-gap"]
    session.events[-1:] = [ev.make(ev.TELEMETRY, t, None, power_total_mw=1000) for t in (1.0, 1.5, 2.1)]
    assert "telemetry-gap" not in {f.code for f in session_metrics(session)[0].flags}


def test_flag_noisy_repetitions():
    session = _session([("a", "ok", 1.0), ("a", "ok", 2.0), ("b", "ok", 1.0), ("b", "ok", 1.02)])
    for i, run in enumerate(session.runs):
        run.repetition = i % 2
    flags = {(m.label, m.repetition): [f.code for f in m.flags] for m in session_metrics(session)}
    assert "noisy" in flags[("a", 0)] and "noisy" in flags[("a", 1)]
    assert "noisy" not in flags[("b", 0)]


# -- scenarios and telemetry that cannot be honoured ----------------------------------------------------
def test_mistyped_model_path_is_missing_not_generated(tmp_path, cli):
    typo = tmp_path / "nowhere" / "typo.gguf"
    out = tmp_path / "s.json"
    proc = cli("run", "demo", "--headless", "--set", f"model={typo}", "--out", str(out), "--telemetry", "none")
    assert proc.returncode == 2, proc.stderr
    assert f"model not found: {typo}" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not typo.exists() and not typo.parent.exists() and not out.exists()


def test_generated_model_only_at_the_default_path_in_the_model_folder(orintui_home, tmp_path):
    text = (Path(__file__).resolve().parent.parent / "scenarios" / "demo.toml").read_text()
    default = parse_scenario(text, "demo.toml")
    assert default.generate == {"model": "small"}
    moved = parse_scenario(text, "demo.toml", {"model": str(tmp_path / "elsewhere.gguf")})
    assert moved.generate == {}
    assert any("model not found" in why for _, why in moved.problems())


@pytest.mark.parametrize("source", [pytest.param(name, marks=pytest.mark.skipif(works, reason=f"{name} works on this machine"))
                                    for name, works in (("nvml", NVML), ("jtop", JTOP_SERVICE), ("tegrastats", TEGRASTATS))])
def test_named_telemetry_source_that_cannot_start_exits_2(tmp_path, source, cli):
    out = tmp_path / "s.json"
    scenario = tmp_path / "one.toml"
    scenario.write_text(f'name = "one"\n[[runs]]\nlabel = "a"\nbackend = "tinygrad-llm"\n'
                        f'argv = ["{sys.executable}", "{STEADY}", "3", "1"]\n')
    proc = cli("run", str(scenario), "--headless", "--telemetry", source, "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"orintui: telemetry source {source} cannot start: ") and proc.stderr.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob("*.journal*"))


def test_headless_exit_code_and_status_words(tmp_path, cli):
    scenario = tmp_path / "two.toml"
    scenario.write_text(f'name = "two"\n'
                        f'[[runs]]\nlabel = "whole"\nbackend = "tinygrad-llm"\n'
                        f'argv = ["{sys.executable}", "{STEADY}", "4", "1", "--benchmark", "4"]\n'
                        f'[[runs]]\nlabel = "short"\nbackend = "tinygrad-llm"\n'
                        f'argv = ["{sys.executable}", "{STEADY}", "3", "1", "--benchmark", "9"]\n')
    out = tmp_path / "s.json"
    proc = run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[1/2] whole: ok: 4 tokens" in proc.stdout
    assert "[2/2] short: partial (3 of 9 tokens): 3 tokens" in proc.stdout
    assert "orintui: 1 run(s) not ok: short: partial" in proc.stderr
    saved = load_session(out)
    assert [r.status for r in saved.runs] == ["ok", "partial"]
    assert "few-tokens" in saved.runs[1].flags
    report = json.loads(cli("report", str(out), "--format", "json").stdout)
    assert [r["status"] for r in report["runs"]] == ["ok", "partial"]


# -- many runs on a busy machine -------------------------------------------------------------------------
PACED = str(FIXTURES / "fake_backends" / "paced_llama.py")


def _load_scenario(tmp_path, argv: list[str], repetitions: int) -> Path:
    path = tmp_path / "load.toml"
    quoted = ", ".join(json.dumps(a) for a in argv)
    path.write_text(f'name = "load"\n[[runs]]\nlabel = "llama.cpp CPU"\nbackend = "llama-completion"\n'
                    f'argv = [{quoted}]\nrepetitions = {repetitions}\n')
    return path


def _paced(tokens=128):
    return [sys.executable, PACED, str(tokens), "-p", "Hello", "-n", str(tokens)]


def _real(llama_bin, model, tokens=128):
    return [f"{llama_bin}/llama-completion", "-m", str(model), "-p", "Hello", "-n", str(tokens), "--ignore-eos",
            "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]


def _check(session, tokens, strict: bool):
    """strict: every token and the summary, every time. Otherwise (real llama.cpp, whose own logger can
    drop its last lines at exit on a busy machine, exit code 0): a run is ok with every token and the
    summary, or partial for want of the summary; never ok with less."""
    assert len(session.runs) >= 2
    for run, m in zip(session.runs, session_metrics(session)):
        complete = m.tokens == tokens and m.decode_tok_s["reported"] is not None
        if strict or run.status == "ok":
            assert run.status == "ok" and complete, (run.index, run.status, run.error, m.tokens)
        else:
            assert run.status == "partial" and run.exit_code == 0, (run.index, run.status, run.error)
            assert run.error.startswith("no perf summary: llama.cpp's output ended early")
    return sum(r.status == "ok" for r in session.runs)


def _headless(tmp_path, argv, repetitions):
    out = tmp_path / "s.json"
    proc = run_cli("run", str(_load_scenario(tmp_path, argv, repetitions)), "--headless", "--telemetry", "psutil",
                   "--out", str(out), timeout=900)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return load_session(out)


async def _in_app(tmp_path, argv, repetitions):
    from orintui.config.scenarios import load_scenario
    from orintui.tui.app import make_app

    out = tmp_path / "s.json"
    app = make_app(scenario=load_scenario(str(_load_scenario(tmp_path, argv, repetitions))), out=str(out),
                   telemetry="psutil")
    async with app.run_test(size=(120, 40)) as pilot:
        while app.execution is None or not app.execution.done.is_set():  # prepared in a worker, then run
            await pilot.pause(0.2)
        deadline = time.monotonic() + 30  # the screen hears of each run's end through a message
        while (shown := [lane.status for lane in app.screen.state.lanes]) != [r.status for r in app.execution.session.runs]:
            assert time.monotonic() < deadline, (shown, [r.status for r in app.execution.session.runs])
            await pilot.pause(0.05)
    return load_session(out)


def test_paced_streamer_under_load_headless(tmp_path, busy_cores):
    _check(_headless(tmp_path, _paced(), 8), 128, strict=True)


async def test_paced_streamer_under_load_in_the_app(tmp_path, busy_cores):
    _check(await _in_app(tmp_path, _paced(), 8), 128, strict=True)


@pytest.mark.real
def test_real_llama_completion_under_load_headless(llama_bin, small_model, tmp_path, busy_cores):
    assert _check(_headless(tmp_path, _real(llama_bin, small_model), 8), 128, strict=False) >= 1


@pytest.mark.real
async def test_real_llama_completion_under_load_in_the_app(llama_bin, small_model, tmp_path, busy_cores):
    assert _check(await _in_app(tmp_path, _real(llama_bin, small_model), 8), 128, strict=False) >= 1


def test_flag_throttled_when_locked_clocks_fall_during_decode():
    session = _session([("a", "ok", 100.0)], host={"jetson_clocks": "ON", "nvpmodel": "MAXN"})
    session.events.extend(ev.make(ev.TELEMETRY, t, None, gpu_freq_mhz=f)
                          for t, f in ((0.0, 1300), (0.5, 1300), (1.0, 918), (1.5, 1300), (2.1, 1300)))
    flags = {f.code: f.text for f in session_metrics(session)[0].flags}
    assert flags.get("throttled") == "GPU clock fell from 1300 to 918 MHz during decode with clocks locked"
    session.host["jetson_clocks"] = "OFF"  # DVFS moves unlocked clocks: nothing can be said
    assert "throttled" not in {f.code for f in session_metrics(session)[0].flags}
