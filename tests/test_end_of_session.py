"""The end of a session reads nothing back (issue 12, bounded memory): its figures, flags, report and
Findings come from per-run accumulators fed as the recorder writes (metrics_live.SessionAccumulator,
compact per-token arrays). They must be exactly what the batch ``session_metrics`` and the report give
for the saved session: on real recorded sessions, real backends' captured output, and a live run of
llama.cpp through the engine."""

from __future__ import annotations

from array import array
from dataclasses import replace
from pathlib import Path

import pytest
from test_live_state import CAPTURES, captured_session

from orintui.analysis.findings import session_findings
from orintui.figures.metrics import TokenSeries, run_metrics, session_metrics, split_run
from orintui.figures.metrics_live import SessionAccumulator
from orintui.reading.report import render_report
from orintui.session import load_session
from orintui.session.model import RunInfo, Session

ROOT = Path(__file__).resolve().parents[1]
RECORDED = sorted((ROOT / "tests" / "fixtures" / "sessions").iterdir()) + [
    ROOT / "orintui" / "data" / "demo-session.json.gz", ROOT / "orintui" / "data" / "nvidia-gpu-beam-session.json.gz"]


def fed(saved: Session) -> SessionAccumulator:
    """What the engine's accumulator holds at the end: every event of the session in recorded order
    (output lines included), each after Session.apply, as the recorder hands them to its listeners."""
    live = replace(saved, events=[], runs=[RunInfo.from_dict({**r.to_dict(), "status": "queued"}) for r in saved.runs])
    figures = SessionAccumulator(live)
    for e in saved.events:
        live.apply(e)
        figures.add(e)
    return figures


def same_end(saved: Session, figures: SessionAccumulator) -> tuple[Session, list]:
    """The accumulators' end against the batch computation over the saved session: every figure and
    flag, the per-token times the verdicts resample, the report (markdown and JSON) and the Findings."""
    report_session, metrics = figures.measured()
    batch = session_metrics(saved)
    assert [m.to_dict() for m in metrics] == [m.to_dict() for m in batch]
    assert [m.token_ms for m in metrics] == [m.token_ms for m in batch]
    assert not any(e["kind"] == "token" for e in report_session.events)  # the end holds no token events
    for form in ("md", "json", "csv"):
        assert render_report([report_session], form, metrics=[metrics]) == render_report([saved], form)
    assert session_findings(report_session, metrics).to_dict() == session_findings(saved).to_dict()
    return report_session, metrics


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_end_figures_from_accumulators_equal_the_saved_sessions(path):
    saved = load_session(path)
    _, metrics = same_end(saved, fed(saved))
    assert any(len(m.token_ms) > 10 for m in metrics)  # real per-token times went through the compact record


@pytest.mark.parametrize(("name", "argv", "backend", "slow"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_end_figures_equal_batch_on_real_captured_output(name, argv, backend, slow):
    """Real backends' output through their adapters (JIT tokens told from enqueue times, a first token
    without ms, merged reads) with real telemetry samples around the run."""
    saved = captured_session(name, argv, backend)
    _, metrics = same_end(saved, fed(saved))
    if slow is not None:
        assert metrics[0].warmup_tokens >= slow


def test_the_compact_record_costs_at_most_25_bytes_a_token():
    saved = load_session(RECORDED[-1])
    series, _others = split_run(saved.run_events(0) * 50)
    size = sum(a.buffer_info()[1] * a.itemsize for a in (series.t, series.ms)) + len(series.warm)
    if series.enq is not None:
        size += series.enq.buffer_info()[1] * series.enq.itemsize
    assert len(series) > 1000 and size / len(series) <= 25
    assert isinstance(run_metrics(saved, saved.runs[0]).token_ms, array)
    empty = TokenSeries()
    assert len(empty) == 0 and empty.enq is None


def test_a_live_llama_cpp_session_ends_with_the_saved_sessions_figures(llama_bin, small_model, tmp_path):
    """A real session through the engine (two llama.cpp labels on CPU, one run each, the machine's own
    telemetry): the flags stored in the run table, the figures, the report and the Findings the engine
    finishes from its accumulators are those of the saved file, read back afterwards."""
    from orintui.config.scenarios import parse_scenario
    from orintui.running.engine import Execution

    run = ('[[runs]]\nlabel = "{label}"\nbackend = "llama-completion"\n'
           'argv = ["{bin}/llama-completion", "-m", "{model}", "-p", "Hello", "-n", "40", "--ignore-eos", "-no-cnv",'
           ' "--temp", "0", "-t", "{threads}"]\n')
    text = 'name = "two-llamas"\n' + "".join(run.format(label=label, bin=llama_bin, model=small_model, threads=n)
                                            for label, n in (("one thread", 1), ("two threads", 2)))
    out = tmp_path / "s.json"
    execution = Execution(parse_scenario(text, str(tmp_path / "two.toml")), out=out, telemetry="auto", interval=0.1)
    execution.start()
    assert execution.wait(240)
    assert execution.recorder.saved and execution.measured is not None
    assert execution.session.events == []  # nothing was read back from the journal at the end
    saved = load_session(out)
    report_session, metrics = execution.measured
    assert [m.to_dict() for m in metrics] == [m.to_dict() for m in session_metrics(saved)]
    assert [m.token_ms for m in metrics] == [m.token_ms for m in session_metrics(saved)]
    assert [r.flags for r in saved.runs] == [[f.code for f in m.flags] for m in metrics]
    assert render_report([report_session], metrics=[metrics]) == render_report([saved])
    assert session_findings(report_session, metrics).to_dict() == session_findings(saved).to_dict()
    assert sum(m.tokens for m in metrics) >= 40 and any(e["kind"] == "telemetry" for e in report_session.events)


@pytest.mark.parametrize("shape", ["recorded", "ties", "outliers", "sorted", "equal"])
def test_long_series_percentiles_and_median_are_selected_exactly(shape):
    """An hour of tokens is not sorted as Python floats at the end: the order statistics are selected
    (metrics.ranked). They must be the sorted list's, to the last bit, whatever the series looks like."""
    import math
    import random
    import statistics

    from orintui.figures.metrics import SORT_UP_TO, median, percentiles

    real = [g for m in session_metrics(load_session(RECORDED[-1])) for g in m.token_ms]
    rng = random.Random(7)
    n = 2 * SORT_UP_TO + 11
    values = {"recorded": [rng.choice(real) * rng.uniform(0.9, 1.1) for _ in range(n)],
              "ties": [round(rng.gauss(2.0, 0.2), 2) for _ in range(n)],
              "outliers": [2.0] * (n - 6) + [1e9, 3e9, -1.0, -2.0, 1e-300, 5e300],
              "sorted": sorted(rng.random() for _ in range(n)),
              "equal": [2.5] * n}[shape]
    if shape != "sorted":
        rng.shuffle(values)
    series = array("d", values)
    qs = (0, 1, 50, 95, 99, 99.9, 100)
    ordered = sorted(values)
    by_sorting = []
    for q in qs:  # numpy's default, from the sorted list
        pos = (n - 1) * q / 100.0
        lo, hi = math.floor(pos), math.ceil(pos)
        by_sorting.append(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))
    assert percentiles(series, qs) == by_sorting
    for start in (0, n // 2, n // 2 + 1):
        assert median(series, start) == statistics.median(values[start:])


def _high_water(pid: int) -> int | None:
    """A process's peak RSS so far (VmHWM), however short the peak."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")), None)
    except OSError:
        return None


def test_a_long_headless_session_ends_without_a_memory_peak(tmp_path):
    """A real orintui (headless) records 60,000 tokens of a real process on a PTY; its peak RSS while the
    backend runs against its peak over the whole session (the end's figures, flags, report and save).
    Reading the session back at the end cost over 700 bytes a token (42 MB here); the accumulators'
    end costs a few bytes a token, so the end stays within a few MB of the run."""
    import subprocess
    import sys
    import time

    import psutil

    tokens = 60_000
    emitter = ROOT / "benchmarks" / "emitter.py"
    argv = [sys.executable, str(emitter), "--benchmark", str(tokens), "--rate", "3000"]
    scenario = tmp_path / "long.toml"
    scenario.write_text('name = "long"\n[[runs]]\nlabel = "emitter"\nbackend = "tinygrad-llm"\n'
                        f"argv = [{', '.join(repr(a).replace(chr(39), chr(34)) for a in argv)}]\n")
    out = tmp_path / "long.json"
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(scenario), "--headless", "--telemetry", "none",
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    me = psutil.Process(proc.pid)
    run_peak = end_peak = None
    while proc.poll() is None:
        hwm = _high_water(proc.pid)
        try:
            if me.children():  # the backend is running (or a version probe before it)
                run_peak = hwm
        except psutil.NoSuchProcess:
            break
        end_peak = hwm or end_peak
        time.sleep(0.02)  # the sampling interval (VmHWM keeps the peak between samples)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert sum(1 for e in load_session(out).events if e["kind"] == "token") == tokens
    assert run_peak is not None and end_peak is not None
    growth = (end_peak - run_peak) / (1 << 20)
    print(f"peak RSS {run_peak / (1 << 20):.1f} MB while the backend ran, {end_peak / (1 << 20):.1f} MB over the "
          f"session: the end added {growth:.1f} MB for {tokens} tokens")
    assert growth < 8, f"the end of the session added {growth:.1f} MB for {tokens} tokens"
