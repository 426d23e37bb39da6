"""End to end with the real programs: tinygrad 0.13.0 on CPU and llama.cpp built from source."""

from __future__ import annotations

import json
import re
import sys

import pytest

from orintui.backends import get_adapter
from orintui.backends.runner import BackendRunner

pytestmark = pytest.mark.real


def run(argv, backend, env=None):
    events = []
    runner = BackendRunner(argv, get_adapter(backend).make_parser(argv), events.extend, lambda m: m,
                           env=env, idle_timeout=240, total_timeout=900)
    result = runner.run()
    return result, events


def of(events, kind):
    return [e for e in events if e["kind"] == kind]


def summary(events):
    s = {}
    for e in of(events, "summary"):
        if not e.get("bench"):
            s.update(e)
    return s


def test_tinygrad_llm_cpu(tinygrad_ready, tiny_model):
    result, events = run([sys.executable, "-m", "tinygrad.llm", "--model", str(tiny_model), "--benchmark", "32"],
                         "tinygrad-llm", env={"DEV": "CPU"})
    assert result.status == "ok", result.error
    tokens = of(events, "token")
    assert len(tokens) == 32
    # every per-token figure is exactly the one the backend printed
    printed = [float(m.group(1)) for e in of(events, "output")
               if (m := re.match(r"^\s*([\d.]+) ms, ", e["line"]))]
    assert [t["ms"] for t in tokens] == printed
    assert sum(t["warmup"] for t in tokens) == 3
    assert summary(events)["model_bytes"] > 0
    times = [t["t"] for t in tokens]
    assert times == sorted(times)


def test_llama_completion_cpu(llama_bin, small_model):
    argv = [str(llama_bin / "llama-completion"), "-m", str(small_model), "-p", "The quick brown fox", "-n", "64",
            "--ignore-eos", "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]
    from conftest import llama_run_retried

    result, events = llama_run_retried(lambda: run(argv, "llama-completion"))
    assert result.status == "ok", result.error
    s = summary(events)
    tokens = of(events, "token")
    assert s["eval_runs"] + 1 == 64 == s["generated_tokens"]
    # one read per token, unless the reader lagged on a busy machine: then a note says so, with the count
    # (on 2 cores with two busy loops and other tests beside it, 36 to 64 reads were measured)
    merged = [e for e in of(events, "note") if e["level"] == "warning"
              and e["text"].startswith(f"{len(tokens)} token reads for 64 tokens")]
    assert len(tokens) == 64 or (32 <= len(tokens) < 64 and merged), (len(tokens), merged)
    # the figures equal the ones in llama.cpp's own summary lines
    perf = "\n".join(e["line"] for e in of(events, "output") if "perf_print" in e["line"])
    eval_ms, runs, per_token, tok_s = re.search(
        r"eval time =\s+([\d.]+) ms /\s+(\d+) runs\s+\(\s*([\d.]+) ms per token,\s+([\d.]+) tokens per second", perf).groups()
    assert (s["eval_ms"], s["eval_runs"], s["eval_ms_per_token"], s["eval_tok_s"]) == (
        float(eval_ms), int(runs), float(per_token), float(tok_s))
    assert s["prompt_tokens"] > 0 and s["load_ms"] > 0
    assert s["eval_ms_per_token"] >= 1.0, "the test model must take at least 1 ms per token"
    # The reads' stamps against llama.cpp's own clock. From the first token (the prompt's) to the last,
    # llama.cpp ran the 63 decode evals (eval time) plus sampling and printing between them, which its
    # eval time leaves out: so the stamps span at least the eval time, and at most its total time less
    # the prompt eval (which also holds setup before and the summary after). On a loaded machine the
    # time outside the evals grows (+1 % to +24 % of the eval time measured under two busy loops: the
    # old +-5 % check failed there), so the window widens with it. Beyond it a read may be stamped
    # late by the scheduler: at most 0.45 of a token's time was measured, two are allowed. A reader
    # that stamps late, in batches, or on a wrong clock falls outside.
    observed_ms = (tokens[-1]["t"] - tokens[0]["t"]) * 1000
    late = 2 * s["eval_ms_per_token"]
    low, high = s["eval_ms"] - late, s["total_ms"] - s["prompt_ms"] + late
    assert low <= observed_ms <= high, f"observed {observed_ms:.1f} ms, not in [{low:.1f}, {high:.1f}]: {s}"


def test_llama_bench_jsonl(llama_bin, small_model):
    argv = [str(llama_bin / "llama-bench"), "-m", str(small_model), "-p", "64", "-n", "32", "-r", "2", "-t", "2",
            "-o", "jsonl"]
    result, events = run(argv, "llama-bench")
    assert result.status == "ok", result.error
    rows = [json.loads(e["line"]) for e in of(events, "output") if e["line"].startswith("{")]
    bench = [e for e in of(events, "summary") if e.get("bench")]
    assert [b["test"] for b in bench] == ["pp64", "tg32"]
    for b, row in zip(bench, rows):
        assert (b["avg_ts"], b["stddev_ts"], b["samples_ts"]) == (row["avg_ts"], row["stddev_ts"], row["samples_ts"])
        assert len(b["samples_ts"]) == 2


def _demo_args(llama_bin, small_model, out, tokens="32"):
    return ["run", "demo", "--headless", "--set", f"llama_completion={llama_bin / 'llama-completion'}",
            "--set", f"model={small_model}", "--set", f"tokens={tokens}", "--out", str(out)]


def test_headless_demo_with_real_backends(tinygrad_ready, llama_bin, small_model, tmp_path):
    from conftest import llama_lost_its_tail, run_cli

    from orintui.session import load_session

    out = tmp_path / "demo.json"
    for _ in range(3):
        r = run_cli(*_demo_args(llama_bin, small_model, out), timeout=600)
        if not (r.returncode == 1 and llama_lost_its_tail(load_session(out))):
            break
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/2] tinygrad CPU: ok: 32 tokens" in r.stdout and "[2/2] llama.cpp CPU: ok: 32 tokens" in r.stdout
    assert "| Backend | Model | Prefill tok/s | Decode tok/s |" in r.stdout
    s = load_session(out)
    assert [run.status for run in s.runs] == ["ok", "ok"]
    reads = [sum(1 for e in s.run_events(run.index) if e["kind"] == "token") for run in s.runs]
    assert reads[0] == 32 and 28 <= reads[1] <= 32  # tinygrad prints a line per token; llama.cpp reads may merge
    assert any(e["kind"] == "telemetry" for e in s.events) and s.host["telemetry_source"]


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGHUP", 130)])
def test_interrupt_mid_run_keeps_what_was_recorded(tinygrad_ready, llama_bin, small_model, tmp_path, sig, code):
    """Ctrl-C, or a dropped SSH connection (SIGHUP): runs stop, the session is saved, nothing lost."""
    import json
    import os
    import signal
    import subprocess
    import time

    from conftest import ctrl_c_default

    from orintui.session import load_session

    out = tmp_path / "interrupted.json"
    proc = subprocess.Popen([sys.executable, "-m", "orintui", *_demo_args(llama_bin, small_model, out, "400")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=ctrl_c_default)  # SIGINT as from a terminal, even under `pytest &`
    journal = out.with_name(out.name + ".journal")
    deadline = time.time() + 240
    while time.time() < deadline:  # wait for steady-state tinygrad tokens in the journal
        if journal.exists():
            lines = journal.read_text().splitlines()[1:-1]  # events; the last may be half written
            if sum(e.get("kind") == "token" and e.get("warmup") is False for e in map(json.loads, lines)) >= 5:
                break
        time.sleep(0.2)
    os.killpg(proc.pid, getattr(signal, sig)) if sig == "SIGHUP" else proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "session saved" in err
    s = load_session(out)
    assert s.runs[0].status == "partial" and s.runs[0].by_user  # stopped by the user after its tokens
    assert s.runs[1].status == "cancelled" and s.runs[1].error == "not started: the session was stopped"
    assert sum(1 for e in s.events if e["kind"] == "token") >= 8
    assert not journal.exists()
