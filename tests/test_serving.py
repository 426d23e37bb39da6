"""Served models (backend = "openai"): llama-server launched and attached, for real on CPU, and a
misbehaving server of the suite's own for the failures."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orintui.config.scenarios import ScenarioError, parse_scenario
from orintui.figures.metrics import session_metrics
from orintui.running.engine import Execution
from orintui.session import load_session

FAKE = Path(__file__).parent / "fixtures" / "fake_servers" / "openai_fake.py"
sys.path.insert(0, str(FAKE.parent))
from openai_fake import FakeServer  # noqa: E402

# llama-server's own per-request log (tools/server/server-context.cpp print_timing)
PROMPT_LINE = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens .*?([\d.]+) tokens per second")
EVAL_LINE = re.compile(r"\beval time =\s*([\d.]+) ms /\s*(\d+) tokens .*?([\d.]+) tokens per second")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_list(items) -> str:
    return "[" + ", ".join(json.dumps(str(i)) for i in items) + "]"


def execute(tmp_path, run_toml: str, name: str = "serving"):
    text = f'name = "{name}"\n[[runs]]\nlabel = "served"\nbackend = "openai"\n{run_toml}\n'
    path = tmp_path / "s.toml"
    path.write_text(text)
    execution = Execution(parse_scenario(text, str(path)), out=tmp_path / "s.json", telemetry="none")
    execution.start()
    assert execution.wait(120)
    session = load_session(tmp_path / "s.json")  # the record, output lines included
    return session, session.runs[0], session.run_events(0), session_metrics(session)[0]


def of(events, kind):
    return [e for e in events if e["kind"] == kind]


def summary(events) -> dict:
    out = {}
    for e in of(events, "summary"):
        out.update(e)
    return out


def pgid(events) -> int | None:
    return of(events, "run_ended")[0].get("pgid")


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def server_argv(llama_bin, model, port, *extra):
    return [str(llama_bin / "llama-server"), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
            "-t", "1", "-c", "512", "-np", "1", *extra]


def wait_health(url: str, proc, timeout: float = 60.0, path: str = "/health", log: Path | None = None) -> None:
    """Until the server started by the test answers ``path`` with 200; it must not exit meanwhile."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited{': ' + log.read_text()[-2000:] if log else ''}"
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server never answered {path}")


# -- real llama-server ------------------------------------------------------------------------------
@pytest.mark.real
@pytest.mark.parametrize("api", ["completions", "chat"])
def test_llama_server_launched(llama_bin, small_model, tmp_path, api):
    port = free_port()
    session, run, events, m = execute(tmp_path, f"""
server = {toml_list(server_argv(llama_bin, small_model, port))}
url = "http://127.0.0.1:{port}"
api = "{api}"
prompt = "Once upon a time there was a small robot"
max_tokens = 24
request = {{ ignore_eos = true, temperature = 0 }}
""")
    assert run.status == "ok", run.error
    s = summary(events)
    # the server's own figures, from its own log (output events of the launched server)
    lines = [e["line"] for e in of(events, "output")]
    prompt = [PROMPT_LINE.search(x) for x in lines if PROMPT_LINE.search(x)]
    evals = [EVAL_LINE.search(x) for x in lines if EVAL_LINE.search(x) and "prompt" not in x]
    assert len(prompt) == 1 and len(evals) == 1, lines[-10:]
    assert s["generated_tokens"] == 24 == int(evals[0].group(2))
    assert s["eval_tok_s"] == pytest.approx(float(evals[0].group(3)), abs=0.01)
    assert s["prompt_tok_s"] == pytest.approx(float(prompt[0].group(3)), abs=0.01)
    assert s["prompt_tokens"] == int(prompt[0].group(2))  # cache_prompt false: every prompt token processed
    assert s["decode_source"].startswith("server: llama-server") and s["prefill_source"].startswith("server: llama-server")
    assert s["cached_prompt_tokens"] == 0
    # one token event per chunk with text, stamped at arrival; merged chunks named, never hidden
    tokens = of(events, "token")
    assert len(tokens) == s["chunks"] and 20 <= len(tokens) <= 24
    assert [e["t"] for e in tokens] == sorted(e["t"] for e in tokens)
    assert m.decode_tok_s["reported"] == s["eval_tok_s"] and m.decode_tok_s["observed"] > 0
    assert m.prefill_tok_s == s["prompt_tok_s"] and m.tokens == 24
    assert 0 < s["ttft_ms"] <= m.ttft_ms + 5
    # the request asked for no prompt cache, and for usage
    phases = [e["phase"] for e in of(events, "phase")]
    assert phases == ["loading", "prefill", "decode", "done"]
    # the server orintui started is gone, group and all
    assert pgid(events) and group_gone(pgid(events))
    assert any("listening on http://127.0.0.1" in x for x in lines)


@pytest.mark.real
def test_llama_server_attached_is_left_running(llama_bin, small_model, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(server_argv(llama_bin, small_model, port), stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_health(url, proc)
        session, run, events, m = execute(tmp_path, f"""
url = "{url}"
max_tokens = 16
repetitions = 2
request = {{ ignore_eos = true }}
""")
        assert [r.status for r in session.runs] == ["ok", "ok"], [r.error for r in session.runs]
        assert proc.poll() is None  # orintui never stops what it did not start
        assert pgid(events) is None and run.exit_code is None
        events = session.run_events(1)  # the second repetition: the same prompt as the first
        s = summary(events)
        text = log.read_text(errors="replace")
        evals = [x for x in text.splitlines() if EVAL_LINE.search(x) and "prompt" not in x]
        prompts = [x for x in text.splitlines() if PROMPT_LINE.search(x)]
        assert len(evals) == 2
        assert s["eval_tok_s"] == pytest.approx(float(EVAL_LINE.search(evals[-1]).group(3)), abs=0.01)
        assert s["prompt_tok_s"] == pytest.approx(float(PROMPT_LINE.search(prompts[-1]).group(3)), abs=0.01)
        # the same prompt as the first repetition's, on the same slot, still processed in full (cache_prompt false)
        assert int(PROMPT_LINE.search(prompts[-1]).group(2)) == s["prompt_tokens"]
        assert s["cached_prompt_tokens"] == 0
        assert len(of(events, "token")) == s["chunks"]
        assert s["generated_tokens"] == 16
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


# -- failures, against the suite's own server ---------------------------------------------------------
def test_fake_good_run_and_request_body(tmp_path):
    with FakeServer("good") as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8\napi = "chat"\nprompt = "hi"\n'
                                                    'warmup_requests = 2')
        body = fake.bodies[-1]
        warmups = fake.bodies[:-1]
    # warm-ups first, not recorded, and different at the start (no prefix cache hit from them)
    assert [b["messages"][0]["content"] for b in warmups] == ["Warm-up 1. hi", "Warm-up 2. hi"]
    assert run.status == "ok", run.error
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["cache_prompt"] is False and body["max_tokens"] == 8 and body["model"] == "fake-model"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert [e["text"] for e in of(events, "token")] == [f" t{i}" for i in range(8)]
    s = summary(events)
    assert s["eval_tok_s"] == 100.0 and s["prompt_tok_s"] == 700.0 and s["generated_tokens"] == 8


@pytest.mark.parametrize("api", ["ollama", "ollama-chat"])
def test_ollama_native_api_figures(tmp_path, api):
    """Ollama's own counts and nanosecond durations, in the last object of its NDJSON stream."""
    with FakeServer("good") as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8\napi = "{api}"\nprompt = "hi"')
        body = fake.bodies[-1]
    assert run.status == "ok", run.error
    assert body["options"] == {"num_predict": 8} and body["stream"] is True and body["model"] == "fake-model"
    assert ("messages" in body) == (api == "ollama-chat")
    assert [e["text"] for e in of(events, "token")] == [f" t{i}" for i in range(8)]
    s = summary(events)
    assert s["generated_tokens"] == 8 and s["eval_tok_s"] == pytest.approx(8 / 0.052479709)
    assert s["prompt_tok_s"] == pytest.approx(11 / 0.013074791)
    assert m.sources["decode_reported"] == "server: Ollama eval_count / eval_duration"
    with FakeServer("short") as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8\napi = "{api}"')
    assert run.status == "partial" and "3 of 8 tokens" in run.error


@pytest.mark.parametrize("api", ["completions", "ollama"])
def test_figures_no_session_can_hold_are_left_out(tmp_path, api):
    """A server whose counts and rates are true, a string, a list or 10**400: the run neither fails in
    orintui's own code (10**400 as a float overflows) nor writes a summary the schema refuses (execute
    loads the saved file); those figures are left out, and the tokens are the chunks seen."""
    with FakeServer("hostile_figures") as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8\napi = "{api}"')
    assert run.status == "ok", run.error
    assert [e["text"] for e in of(events, "token")] == [f" t{i}" for i in range(8)]
    s = summary(events)
    assert s["generated_tokens"] == 8 and s["tokens_source"] == "observed: chunks with text"
    if api == "ollama":  # its one sane count is kept; a duration of 1e-320 ns gives no rate (it divided by zero)
        assert s["prompt_tokens"] == 11 and s.get("prompt_tok_s") is None and s.get("load_ms") is None
    else:
        assert s.get("prompt_tokens") is None and s.get("cached_prompt_tokens") is None and s.get("eval_runs") is None
        assert s.get("prompt_tok_s") is None and s.get("prompt_tokens_processed") is None


def test_short_output_is_partial(tmp_path):
    with FakeServer("short") as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8')
    assert run.status == "partial"
    assert "3 of 8 tokens (finish_reason stop)" in run.error


def test_merged_chunks_use_the_servers_count(tmp_path):
    with FakeServer("merged", timings=False) as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8')
    assert run.status == "ok", run.error
    s = summary(events)
    assert s["generated_tokens"] == 8 and s["chunks"] == 2 and s["merged_chunks"] is True
    assert s["tokens_source"] == "server: usage.completion_tokens"
    assert m.tokens == 8 and "merged-reads" in [f.code for f in m.flags]
    assert any("8 tokens" in e["text"] and "2 chunks" in e["text"] for e in of(events, "note"))


def test_prefix_cache_hit_is_flagged(tmp_path):
    with FakeServer("good", cached=5) as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 4')
    assert summary(events)["cached_prompt_tokens"] == 5
    assert any("prefix-cache hit" in e["text"] and e["level"] == "warning" for e in of(events, "note"))
    assert {f.code: f.text for f in m.flags}["cache-hit"] == "the server reports 5 prompt tokens from its cache"


def test_a_ttft_that_implies_a_cache_hit_is_flagged():
    """A server that reports no cached tokens: a repetition of the same prompt whose TTFT is below a third
    of the first repetition's is flagged; one within that is not."""
    from orintui.session import events as ev
    from orintui.session.model import RunInfo, Session

    session = Session(id="x", started_at="2026-11-21T00:00:00", scenario={"name": "x"},
                      runs=[RunInfo(i, "served", "openai", [], repetition=i) for i in range(3)])
    t = 0.0
    for i, ttft in enumerate((0.300, 0.250, 0.060)):  # the third: five times faster than the first
        for event in (ev.make(ev.RUN_STARTED, t, i), {**ev.phase(t, "prefill"), "run": i},
                      *({**ev.token(t + ttft + k * 0.01, f"t{k}"), "run": i} for k in range(12)),
                      ev.make(ev.RUN_ENDED, t + ttft + 0.2, i, status="ok")):
            session.events.append(event)
            session.apply(event)
        t += 1.0
    flags = [[f.code for f in m.flags] for m in session_metrics(session)]
    assert ["cache-hit" in f for f in flags] == [False, False, True]


def test_stall_mid_stream_times_out_and_keeps_tokens(tmp_path):
    with FakeServer("stall") as fake:
        t0 = time.monotonic()
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8\nidle_timeout = 1')
        took = time.monotonic() - t0
    assert run.status == "timeout"
    assert "sent nothing for 1 s mid-stream" in run.error
    assert [e["text"] for e in of(events, "token")] == [" t0", " t1", " t2"]
    assert took < 10


@pytest.mark.parametrize("mode, words", [
    ("garbage", "malformed SSE from http://127.0.0.1"),
    ("notsse", "is not an event stream line"),
    ("http500", "HTTP 500 from http://127.0.0.1"),
    ("error_event", "the server reported an error mid-stream: out of memory in the fake"),
])
def test_bad_servers_fail_clearly(tmp_path, mode, words):
    with FakeServer(mode) as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 8')
    assert run.status == "failed"
    assert words in run.error
    if mode == "http500":
        assert "the fake server fell over" in run.error  # the body, not just the code
    if mode in ("garbage", "notsse"):
        assert [e["text"] for e in of(events, "token")] == [" t0", " t1"]  # recorded before the fault, kept
    assert session.runs[0].ended_t is not None


def test_connection_refused(tmp_path):
    port = free_port()
    session, run, events, m = execute(tmp_path, f'url = "http://127.0.0.1:{port}"')
    assert run.status == "failed"
    assert f"cannot connect to http://127.0.0.1:{port}" in run.error and "orintui starts no server" in run.error


def test_server_never_ready_fails_with_its_last_lines(tmp_path):
    port = free_port()
    argv = [sys.executable, "-c", "import time; print('warming the widgets', flush=True); time.sleep(60)"]
    t0 = time.monotonic()
    session, run, events, m = execute(tmp_path, f'server = {toml_list(argv)}\nurl = "http://127.0.0.1:{port}"\nready_timeout = 1.5')
    assert time.monotonic() - t0 < 20
    assert run.status == "failed"
    assert "not ready after 1.5 s" in run.error and "warming the widgets" in run.error
    assert pgid(events) and group_gone(pgid(events))


def test_server_exits_before_ready(tmp_path):
    port = free_port()
    argv = [sys.executable, "-c", "import sys; print('error: model file not found'); sys.exit(3)"]
    session, run, events, m = execute(tmp_path, f'server = {toml_list(argv)}\nurl = "http://127.0.0.1:{port}"')
    assert run.status == "failed"
    assert "exit code 3" in run.error and "model file not found" in run.error and "before it was ready" in run.error


def test_launched_server_waited_for_while_loading(tmp_path):
    port = free_port()
    argv = [sys.executable, str(FAKE), "loading", str(port), "1.0"]
    session, run, events, m = execute(tmp_path, f'server = {toml_list(argv)}\nurl = "http://127.0.0.1:{port}"\nmax_tokens = 4')
    assert run.status == "ok", run.error
    assert any("fake server (loading) listening" in e["line"] for e in of(events, "output"))
    assert any("server ready at" in e["text"] for e in of(events, "note"))
    assert pgid(events) and group_gone(pgid(events))


def test_cancel_mid_stream_is_partial(tmp_path):
    with FakeServer("stall") as fake:
        text = f'name = "x"\n[[runs]]\nlabel = "served"\nbackend = "openai"\nurl = "{fake.url}"\nmax_tokens = 8\n'
        execution = Execution(parse_scenario(text, str(tmp_path / "x.toml")), out=tmp_path / "x.json", telemetry="none")
        seen: list = []
        execution.recorder.subscribe(seen.append)
        execution.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(of(seen, "token")) < 3:
            time.sleep(0.05)
        execution.skip_current()
        assert execution.wait(20)
    run = execution.session.runs[0]
    assert run.status == "partial" and run.by_user and "skipped by the user" in run.error


# -- scenario keys --------------------------------------------------------------------------------
@pytest.mark.parametrize("body, message, line", [
    ('url = "http://127.0.0.1:1"\nargv = ["x"]', "an openai run has no argv", 6),
    ('prompt = "x"', "needs url", 4),
    ('url = "ftp://x"', "url must be http://HOST:PORT", 5),
    ('url = "http://127.0.0.1:1"\napi = "embeddings"', 'api must be "chat", "completions", "ollama" or "ollama-chat"', 6),
    ('url = "http://127.0.0.1:1"\nmax_tokens = 0', "max_tokens must be a whole number from 1", 6),
    ('url = "http://127.0.0.1:1"\nconcurrency = 1000', "concurrency must be a whole number from 1 to 256", 6),
    ('url = "http://127.0.0.1:1"\nserver = []', "server must be a non-empty list", 6),
    ('url = "http://127.0.0.1:1"\nrequest = 3', "request must be a table", 6),
    ('url = "http://127.0.0.1:1"\nready_timeout = -1', "ready_timeout must be a finite number", 6),
])
def test_endpoint_keys_are_validated(tmp_path, body, message, line):
    text = f'name = "x"\n[[runs]]\nlabel = "a"\nbackend = "openai"\n{body}\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "x.toml")
    assert message in str(info.value) and str(info.value).startswith(f"x.toml:{line}:"), str(info.value)


def test_endpoint_keys_refused_on_other_backends():
    text = 'name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["x"]\nprompt = "hi"\n'
    with pytest.raises(ScenarioError, match=r'x.toml:6: run 1 \(a\): prompt is for backend = "openai"'):
        parse_scenario(text, "x.toml")


def test_attached_run_needs_no_binary():
    text = 'name = "x"\n[[runs]]\nlabel = "a"\nbackend = "openai"\nurl = "http://127.0.0.1:9"\n'
    scenario = parse_scenario(text, "x.toml")
    assert scenario.runs[0].argv == [] and scenario.problems() == []
    text = 'name = "x"\n[[runs]]\nlabel = "a"\nbackend = "openai"\nurl = "http://127.0.0.1:9"\nserver = ["/no/such/llama-server"]\n'
    scenario = parse_scenario(text, "x.toml")
    assert scenario.runs[0].server == ["/no/such/llama-server"]
    assert [why for _, why in scenario.problems()] == ["binary not found: /no/such/llama-server"]


# -- tinygrad --serve, concurrency ------------------------------------------------------------------
TINYGRAD_LOG = re.compile(r"in:\s*(\d+)\s*\+\s*(\d+)\s.*?prefill:\s*([\d.]+)\s*tok/s.*?gen:\s*([\d.]+)\s*tok/s")


@pytest.mark.real
def test_tinygrad_serve_launched(tinygrad_ready, tiny_model, tmp_path):
    port = free_port()
    argv = [sys.executable, "-m", "tinygrad.llm", "--model", str(tiny_model), "--serve", str(port)]
    session, run, events, m = execute(tmp_path, f"""
server = {toml_list(argv)}
device = "CPU"
url = "http://127.0.0.1:{port}"
api = "chat"
max_tokens = 12
warmup_requests = 1
ready_timeout = 240
""")
    assert run.status == "ok", run.error
    s = summary(events)
    logged = [TINYGRAD_LOG.search(e["line"]) for e in of(events, "output") if TINYGRAD_LOG.search(e["line"])]
    assert len(logged) == 2  # the warm-up, then the measured request
    cached, processed, prefill, gen = logged[-1].groups()
    assert s["eval_tok_s"] == float(gen) and s["prompt_tok_s"] == float(prefill)
    assert s["decode_source"] == "server log: tinygrad gen: tok/s"
    assert s["prompt_tokens_processed"] == int(processed) and s.get("cached_prompt_tokens", 0) == int(cached)
    assert s["generated_tokens"] == 12 == len(of(events, "token"))
    # the warm-up began with other words: the measured prompt was not served from the warm-up's prefix
    assert int(cached) < int(processed)
    assert pgid(events) and group_gone(pgid(events))


@pytest.mark.real
def test_tinygrad_serve_attached_is_left_running(tinygrad_ready, tiny_model, tmp_path):
    """A tinygrad --serve started elsewhere (as a container would be): orintui attaches, measures one
    request, reads the server's usage count, and leaves it running."""
    port = free_port()
    env = {**os.environ, "DEV": "CPU"}
    log = tmp_path / "server.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "tinygrad.llm", "--model", str(tiny_model), "--serve", str(port)],
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_health(url, proc, timeout=240, path="/v1/models", log=log)
        session, run, events, m = execute(tmp_path, f"""
url = "{url}"
api = "chat"
max_tokens = 12
warmup_requests = 1
""")
        assert run.status == "ok", run.error
        s = summary(events)
        assert s["generated_tokens"] == 12 and s["tokens_source"] == "server: usage.completion_tokens"
        assert len(of(events, "token")) == s["chunks"] and m.ttft_ms and m.decode_tok_s["observed"]
        assert proc.poll() is None and pgid(events) is None  # never stopped what it did not start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_concurrent_streams_fake(tmp_path):
    with FakeServer("good", delay=0.01) as fake:
        session, run, events, m = execute(tmp_path, f'url = "{fake.url}"\nmax_tokens = 6\nconcurrency = 3')
    assert run.status == "ok", run.error
    s = summary(events)
    assert len(s["streams"]) == 3 and s["generated_tokens"] == 18
    assert sorted({e["stream"] for e in of(events, "token")}) == [0, 1, 2]
    assert s["eval_tok_s"] == 100.0 and s["decode_source"] == "server: mean of 3 streams' timings.predicted_per_second"
    assert s["aggregate_tok_s"] > 0 and all(f["ttft_ms"] > 0 for f in s["streams"])


@pytest.mark.real
def test_llama_server_two_streams(llama_bin, small_model, tmp_path):
    port = free_port()
    session, run, events, m = execute(tmp_path, f"""
server = {toml_list(server_argv(llama_bin, small_model, port)[:-2] + ["-np", "2"])}
url = "http://127.0.0.1:{port}"
max_tokens = 16
concurrency = 2
request = {{ ignore_eos = true }}
""")
    assert run.status == "ok", run.error
    s = summary(events)
    lines = [e["line"] for e in of(events, "output")]
    rates = sorted(float(EVAL_LINE.search(x).group(3)) for x in lines if EVAL_LINE.search(x) and "prompt" not in x)
    assert sorted(f["eval_tok_s"] for f in s["streams"]) == pytest.approx(rates, abs=0.01)
    assert s["generated_tokens"] == 32


def test_bundled_serving_scenarios_parse():
    from orintui.config.scenarios import list_scenarios

    serve = {e.name: e for e in list_scenarios() if e.name.startswith("serve-")}
    assert set(serve) >= {"serve-llama-server", "serve-tinygrad", "serve-vllm", "serve-mlc", "serve-ollama", "serve-trt-edge-llm"}
    assert all(e.error is None for e in serve.values()), {n: e.error for n, e in serve.items()}
    for name in ("serve-vllm", "serve-mlc", "serve-ollama", "serve-trt-edge-llm"):
        assert serve[name].description.startswith("TEMPLATE, needs "), name


def test_stop_while_waiting_for_the_server_ends_it(tmp_path):
    port = free_port()
    argv = [sys.executable, "-c", "import time; print('loading forever', flush=True); time.sleep(120)"]
    text = (f'name = "x"\n[[runs]]\nlabel = "served"\nbackend = "openai"\nserver = {toml_list(argv)}\n'
            f'url = "http://127.0.0.1:{port}"\n')
    execution = Execution(parse_scenario(text, str(tmp_path / "x.toml")), out=tmp_path / "x.json", telemetry="none")
    seen: list = []
    execution.recorder.subscribe(seen.append)
    execution.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(e.get("line") == "loading forever" for e in seen):
        time.sleep(0.05)
    execution.stop("stopped by the user")
    assert execution.wait(30)
    run, events = execution.session.runs[0], execution.recorder.snapshot().run_events(0)  # from the saved file
    assert run.status == "cancelled" and run.by_user
    assert pgid(events) and group_gone(pgid(events))
