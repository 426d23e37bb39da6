"""Every real output form of llama.cpp's programs the users run, against real captures (see
tests/fixtures/transcripts/README.md for each command and version) and against the real programs."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import FIXTURES, run_cli

from orintui.backends import get_adapter
from orintui.backends.runner import BackendRunner
from orintui.config.importer import import_logs
from orintui.figures.metrics import run_metrics

T = FIXTURES / "transcripts"
QUESTION = "What is the answer to life, the universe, and everything?"


def feed(name: str, argv: list[str], backend: str, chunk: int | None = None):
    """The capture through the adapter, whole or in reads of ``chunk`` characters."""
    text = (T / name).read_bytes().decode("utf-8", errors="replace")
    parser = get_adapter(backend).make_parser(argv)  # argv None: as an import makes it
    events = []
    pieces = [text] if chunk is None else [text[i:i + chunk] for i in range(0, len(text), chunk)]
    for i, piece in enumerate(pieces):
        events += parser.feed(piece, i / 1000)
    events += parser.finish(len(pieces) / 1000)
    return parser, events


def merged_summary(events):
    out = {}
    for e in events:
        if e["kind"] == "summary" and not e.get("bench"):
            out.update(e)
    return out


def printed(name: str, pattern: str) -> list[str]:
    return re.findall(pattern, (T / name).read_bytes().decode("utf-8", errors="replace"))


# -- llama-cli, the chat program -------------------------------------------------------------------
CLI_ARGV = ["llama-cli", "-m", "M", "--prompt", QUESTION, "-n", "50", "--temp", "0"]


@pytest.mark.parametrize("name", ["llama-cli-chat-exit-t1.txt", "llama-cli-chat-exit-t2.txt", "llama-cli-chat-eof.txt",
                                  "llama-cli-chat-stdin-null.txt"])
@pytest.mark.parametrize("chunk", [None, 3, 64])
def test_llama_cli_answer_and_figures_from_captures(name, chunk):
    parser, events = feed(name, CLI_ARGV, "llama-cli", chunk)
    prompt_ts, gen_ts = printed(name, r"\[ Prompt: ([\d.]+) t/s \| Generation: ([\d.]+) t/s \]")[0]
    figures = merged_summary(events)
    assert figures["eval_tok_s"] == float(gen_ts) and figures["prompt_tok_s"] == float(prompt_ts)
    assert parser.verdict() == ("ok", None)
    text = "".join(e["text"] for e in events if e["kind"] == "token")
    assert text.split() == printed(name, r"\n( w[^\n]*)\r?\n\r?\n\[ Prompt")[0].split()  # the answer, nothing else
    assert "Prompt" not in text and ">" not in text


def test_llama_cli_without_its_figures_line_is_partial(tmp_path):
    text = (T / "llama-cli-chat-eof.txt").read_bytes()
    cut = tmp_path / "cut.txt"
    cut.write_bytes(text[: text.index(b"[ Prompt:")])
    result, events = run(["cat", str(cut)], "llama-cli", CLI_ARGV)
    assert result.status == "partial" and result.error.startswith("no [ Prompt | Generation ] line")


def test_llama_cli_no_cnv_refused_says_what_to_use():
    result, _ = run(["sh", "-c", f"cat {T / 'llama-cli-no-cnv-refused.txt'}; exit 1"], "llama-completion",
                    ["llama-cli", "-no-cnv"])
    assert result.status == "failed" and "error: invalid argument: -no-cnv" in result.error
    assert "use llama-completion" in result.error


def run(argv, backend, parser_argv=None):
    events = []
    parser = get_adapter(backend).make_parser(parser_argv or argv)
    result = BackendRunner(argv, parser, events.extend, lambda m: m, idle_timeout=120).run()
    return result, events


@pytest.mark.real
def test_real_llama_cli_answers_once_and_exits_ok(llama_bin, small_model):
    argv = [str(llama_bin / "llama-cli"), "-m", str(small_model), "--prompt", QUESTION, "-n", "24", "--temp", "0",
            "-t", "1", "--seed", "1"]
    from conftest import llama_run_retried

    result, events = llama_run_retried(lambda: run(argv, "llama-cli"))
    assert result.status == "ok", result
    assert result.exit_code == 0  # it ended itself after orintui typed /exit: no timeout, no signal
    line = next(e["line"] for e in events if e["kind"] == "output" and "Generation:" in e["line"])
    gen = float(re.search(r"Generation: ([\d.]+) t/s", line).group(1))
    assert merged_summary(events)["eval_tok_s"] == gen
    assert sum(1 for e in events if e["kind"] == "token") >= 1


# -- llama-completion --------------------------------------------------------------------------------
COMPLETION = ["llama-completion", "-m", "M", "-p", QUESTION]


def test_context_full_is_partial_with_its_reason():
    parser, events = feed("llama-completion-context-full.txt", [*COMPLETION, "-n", "400"], "llama-completion", 7)
    assert parser.verdict() == ("partial", "context full after 211 of 400 tokens")
    assert not any("context full" in e["text"] for e in events if e["kind"] == "token")


def test_end_of_text_before_the_count_is_partial():
    parser, _ = feed("llama-completion-eos.txt", [*COMPLETION, "-n", "200"], "llama-completion")
    assert parser.verdict() == ("partial", "end of text (EOS) after 61 of 200 tokens")


@pytest.mark.parametrize("chunk", [None, 5, 200])
def test_log_jsonl_gives_the_plain_runs_figures(chunk):
    """The same command with and without --log-jsonl: the same count and llama.cpp's own eval figure."""
    jsonl, jsonl_events = feed("llama-completion-log-jsonl.txt", [*COMPLETION, "-n", "20", "--log-jsonl"],
                               "llama-completion", chunk)
    assert jsonl.verdict() == ("ok", None)
    figures = merged_summary(jsonl_events)
    runs = int(printed("llama-completion-log-jsonl.txt", r"eval time = +[\d.]+ ms / +(\d+) runs")[0])
    assert figures["eval_runs"] == runs and figures["generated_tokens"] == runs + 1
    tokens = [e for e in jsonl_events if e["kind"] == "token"]
    assert len(tokens) == runs + 1  # every piece its own JSON line: merged reads lose none
    assert all(e["ms"] is not None for e in tokens[1:])  # llama.cpp's own clock between pieces
    plain, plain_events = feed("llama-completion-plain.txt", [*COMPLETION, "-n", "20"], "llama-completion", chunk)
    assert merged_summary(plain_events)["generated_tokens"] == figures["generated_tokens"]


@pytest.mark.real
def test_log_jsonl_live_and_imported_agree(llama_bin, small_model, tmp_path):
    argv = [str(llama_bin / "llama-completion"), "-m", str(small_model), "-p", "Hello", "-n", "48", "--ignore-eos",
            "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1", "--log-jsonl"]
    events, chunks = [], []
    parser = get_adapter("llama-completion").make_parser(argv)
    feed_ = parser.feed
    parser.feed = lambda text, t: (chunks.append(text), feed_(text, t))[1]
    result = BackendRunner(argv, parser, events.extend, lambda m: m).run()
    if result.status == "partial":
        pytest.skip(f"llama.cpp dropped its own tail this time: {result.error}")
    assert result.status == "ok", result
    log = tmp_path / "run.log"
    log.write_text("".join(chunks))
    session, _ = import_logs("llama-completion", [str(log)])
    imported = run_metrics(session, session.runs[0])
    live_tokens = [e for e in events if e["kind"] == "token"]
    assert imported.tokens == len(live_tokens) == 48
    assert imported.decode_tok_s["reported"] == merged_summary(events)["eval_tok_s"]
    live_ms = sorted(e["ms"] for e in live_tokens if e["ms"] is not None)
    assert imported.itl_ms["p50"] == pytest.approx(live_ms[len(live_ms) // 2], rel=0.2)


# -- llama-bench -------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["json", "csv", "jsonl", "md"])
@pytest.mark.parametrize("chunk", [None, 11])
def test_llama_bench_every_output_form(form, chunk):
    name = f"llama-bench-fa01-{form}.txt"
    parser, events = feed(name, ["llama-bench", "-o", form], "llama-bench", chunk)
    rows = [e for e in events if e["kind"] == "summary" and e.get("bench")]
    assert parser.verdict() == ("ok", None)
    assert [(r["test"], int(r["flash_attn"])) for r in rows] == [("pp16", 0), ("tg8", 0), ("pp16", 1), ("tg8", 1)]
    if form in ("json", "jsonl"):
        text = (T / name).read_text()
        expected = [o["avg_ts"] for o in (json.loads(text) if form == "json" else map(json.loads, text.splitlines()))]
        assert [r["avg_ts"] for r in rows] == expected
        assert all(len(r["samples_ts"]) == 3 for r in rows)
    elif form == "csv":
        assert [round(r["avg_ts"], 6) for r in rows] == [float(x) for x in printed(name, r',"([\d.]+)","[\d.]+"\r?\n')]
    else:
        assert [r["avg_ts"] for r in rows] == [float(x) for x in printed(name, r"\| +([\d.]+) ± [\d.]+ \|")]


def test_llama_bench_json_array_never_closed_is_partial(tmp_path):
    text = (T / "llama-bench-fa01-json.txt").read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(text[: text.rindex("]")])
    result, _ = run(["cat", str(cut)], "llama-bench")
    assert result.status == "partial" and result.error == "the JSON array of results never closed"


@pytest.mark.real
@pytest.mark.parametrize("form", ["json", "csv"])
def test_real_llama_bench_json_and_csv(llama_bin, small_model, form):
    argv = [str(llama_bin / "llama-bench"), "-m", str(small_model), "-p", "8", "-n", "4", "-r", "2", "-t", "1",
            "-o", form]
    result, events = run(argv, "llama-bench")
    assert result.status == "ok", result
    rows = [e for e in events if e["kind"] == "summary" and e.get("bench")]
    assert [r["test"] for r in rows] == ["pp8", "tg4"] and all(r["avg_ts"] > 0 for r in rows)


def test_unknown_backend_lists_llama_cli(cli):
    proc = cli("import", "--backend", "nope", str(T / "llama-cli-chat-eof.txt"), "--out", "/dev/null")
    assert proc.returncode == 2 and "llama-cli" in proc.stderr


# -- versions --------------------------------------------------------------------------------------
@pytest.mark.real
def test_versions_recorded_per_run_and_shown_in_the_report(llama_bin, small_model, tinygrad_ready, tmp_path, cli):
    """tinygrad's version from the run's own interpreter, llama.cpp's build and commit from --version."""
    from importlib.metadata import version as installed

    from orintui.session import load_session

    scenario = tmp_path / "v.toml"
    scenario.write_text(f'''name = "v"
[[runs]]
label = "llama.cpp"
backend = "llama-completion"
argv = ["{llama_bin}/llama-completion", "-m", "{small_model}", "-p", "Hi", "-n", "4", "--ignore-eos", "-no-cnv", "-t", "1"]
[[runs]]
label = "tinygrad"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "-c", "print('  1.00 ms, 1.00 tok/s,    0.10 GB/s, 0/0 MB  --  x')"]
''')
    out = tmp_path / "s.json"
    proc = run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(out), timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    runs = load_session(out).runs
    version = (llama_bin / "llama-completion").parent
    printed_version = __import__("subprocess").run([str(version / "llama-completion"), "--version"], capture_output=True,
                                                   text=True).stderr
    build, commit = re.search(r"build (\d+), commit (\S+)\)", printed_version).groups()
    assert runs[0].versions == {"llama_cpp_version": re.search(r"version: (\S+)", printed_version).group(1),
                                "llama_cpp_build": build, "llama_cpp_commit": commit}
    assert runs[1].versions["tinygrad_version"] == installed("tinygrad")
    report = cli("report", str(out)).stdout
    assert f"Versions: llama.cpp build {build} (commit {commit}); tinygrad {installed('tinygrad')}" in report
    assert json.loads(cli("report", str(out), "--format", "json").stdout)["runs"][1]["versions"]["tinygrad_version"]


# -- the user's plan as scenarios ------------------------------------------------------------------------
@pytest.mark.real
def test_plan_llama_cpp_scenario_runs_as_written(llama_bin, small_model, tmp_path):
    from conftest import llama_lost_its_tail

    from orintui.session import load_session

    for attempt in range(3):
        out = tmp_path / f"plan{attempt}.json"
        proc = run_cli("run", "plan-llama-cpp", "--headless", "--telemetry", "none", "--out", str(out),
                       "--set", f"llama_bin={llama_bin}", "--set", f"model={small_model}", "--set", "tokens=16",
                       timeout=300)
        if not (proc.returncode == 1 and out.exists() and llama_lost_its_tail(load_session(out))):
            break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    session = load_session(out)
    assert [r.status for r in session.runs] == ["ok", "ok"]
    assert "| Backend | Model | Prefill tok/s | Decode tok/s | TTFT (ms) |" in proc.stdout  # the plan's table
    assert session.runs[0].versions.get("llama_cpp_build") is not None


@pytest.mark.real
def test_plan_llama_bench_scenario_sweeps_models_and_flash_attention(llama_bin, small_model, tiny_model, tmp_path):
    from orintui.figures.metrics import session_metrics
    from orintui.session import load_session

    out = tmp_path / "bench.json"
    proc = run_cli("run", "plan-llama-bench", "--headless", "--telemetry", "none", "--out", str(out),
                   "--set", f"llama_bin={llama_bin}", "--set", f"model_1b={small_model}",
                   "--set", f"model_1b_q4={tiny_model}", "--set", f"model_3b={small_model}",
                   "--set", "prompt_tokens=16", "--set", "gen_tokens=4", "--set", "reps=2", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    metrics = session_metrics(load_session(out))
    for m, fa in zip(metrics, (0, 1)):
        assert len(m.bench) == 6 and {int(row["flash_attn"]) for row in m.bench} == {fa}
        assert all(len(row["samples_ts"]) == 2 for row in m.bench)


# -- tinygrad ------------------------------------------------------------------------------------------
def tokens_of(events):
    return [e for e in events if e["kind"] == "token"]


def test_tinygrad_apps_llm_0_12_lines_are_tokens():
    name = "tinygrad-apps-llm-cpu-0.12.0.txt"
    parser, events = feed(name, ["python", "-m", "tinygrad.apps.llm", "--model", "llama3.2:1b", "--benchmark", "8"],
                          "tinygrad-llm")
    assert parser.verdict() == ("ok", None)
    assert [e["ms"] for e in tokens_of(events)] == [float(x) for x in printed(name, r"(?m)^\s*([\d.]+) ms,")]
    assert len(tokens_of(events)) == 8


def test_tinygrad_device_variable_refused_says_which_style():
    result, _ = run(["sh", "-c", f"cat {T / 'tinygrad-llm-cpu1-refused-0.13.0.txt'}; exit 1"], "tinygrad-llm")
    assert result.status == "failed" and 'device_style = "DEV"' in result.error and "DEV=CPU, not CPU=1" in result.error


@pytest.mark.parametrize("name", ["tinygrad-gpt2-cpu-master-debug0.txt", "tinygrad-gpt2-cpu-master-debug2.txt",
                                  "tinygrad-gpt2-cpu-0.12.0-debug0.txt", "tinygrad-gpt2-cpu-0.12.0-debug2.txt"])
def test_gpt2_every_step_at_any_debug_level(name):
    argv = ["python", "examples/gpt2.py", "--model_size", "gpt2", "--count", "10", "--temperature", "0", "--timing"]
    parser, events = feed(name, argv, "tinygrad-gpt2")
    assert parser.verdict() == ("ok", None)
    assert [e["ms"] for e in tokens_of(events)] == [float(x) for x in printed(name, r"ran model in\s+([\d.]+) ms")]
    assert [e["warmup"] for e in tokens_of(events)][:4] == [True, True, True, False]  # prompt, JIT call, capture


BENCHMARK = ["python", "examples/llama3.py", "--benchmark"]


def _llama3(name, argv):
    from orintui.session.model import RunInfo, Session

    parser, events = feed(name, argv, "tinygrad-llama3")
    session = Session(id="x", started_at="2026-11-21T00:00:00", runs=[RunInfo(0, "r", "tinygrad-llama3", [])])
    run_events = [{**e, "run": 0} for e in events]
    session.events = run_events
    return parser, events, run_metrics(session, session.runs[0], [], run_events)


def test_llama3_warm_up_is_told_from_the_output():
    """v0.12.0: the first decode token captures the JIT (enqueue 1,765 ms, then 2-4 ms); master: the
    prompt went through the JIT already, so no decode token is warm-up."""
    parser, events, m012 = _llama3("tinygrad-llama3-benchmark-0.12.0.txt", BENCHMARK)
    assert parser.verdict() == ("ok", None) and len(tokens_of(events)) == 20
    assert m012.warmup_tokens == 1 and m012.sources["warmup"].startswith("output: 1 leading token")
    _, _, master = _llama3("tinygrad-llama3-benchmark-master.txt", BENCHMARK)
    assert master.warmup_tokens == 0 and master.tokens == 20
    assert master.decode_tok_s["reported"] == pytest.approx(
        1000 * 20 / sum(float(x) for x in printed("tinygrad-llama3-benchmark-master.txt", r"total\s+([\d.]+) ms")))


@pytest.mark.parametrize("argv", [None, ["python", "examples/llama3.py", "--no_api", "--timing"]])
def test_llama3_no_api_pieces_keep_their_spaces(argv):
    """An import (no argv) tells the --no_api layout from the output: pieces are not cumulative."""
    name = "tinygrad-llama3-noapi-master.txt"
    _, events, _ = _llama3(name, argv)  # None: an import, the layout told from the output
    texts = [e["text"] for e in tokens_of(events)]
    assert texts[:3] == [" velkou", " necessity", " witnessing"]
    assert len(texts) == len(printed(name, r"total\s+[\d.]+ ms"))


@pytest.mark.parametrize("version", ["0.12.0", "master"])
def test_llama3_ctrl_c_inside_a_model_call_is_not_a_token(version):
    name = f"tinygrad-llama3-noapi-sigint-{version}.txt"
    _, events, _ = _llama3(name, ["python", "examples/llama3.py", "--no_api", "--timing"])
    assert len(tokens_of(events)) == len(printed(name, r"total\s+[\d.]+ ms")) - 1
    assert any(e["kind"] == "note" and "not a token" in e["text"] for e in events)


def test_imported_llama3_log_reports_nothing_it_did_not_observe(tmp_path):
    session, _ = import_logs("tinygrad-llama3", [str(T / "tinygrad-llama3-noapi-master.txt")])
    m = run_metrics(session, session.runs[0])
    assert m.ttft_ms is None and m.decode_tok_s["observed"] is None  # a log has no arrival times
    assert m.decode_tok_s["reported"] is not None and m.sources["decode_reported"] == "backend: per-token ms"
    assert m.load_s is None or m.sources["load_s"] == "backend"
    assert not any(v.startswith("observed") for v in m.sources.values())


def test_llama3_benchmark_layout_told_from_the_output_on_import():
    name = "tinygrad-llama3-benchmark-master.txt"
    _, by_argv, _ = _llama3(name, BENCHMARK)
    _, told, _ = _llama3(name, None)
    assert [e["text"] for e in tokens_of(told)] == [e["text"] for e in tokens_of(by_argv)]


def test_scenario_check_says_which_device_style_the_installed_tinygrad_needs(tmp_path):
    from importlib.metadata import version

    from orintui.config.scenarios import parse_scenario

    text = f'''name = "s"
[variables]
device_style = "legacy"
[[runs]]
label = "tinygrad CPU"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "-m", "tinygrad.llm", "--benchmark", "4"]
device = "CPU"
'''
    problems = [why for _, why in parse_scenario(text, "s.toml").problems()]
    assert f"tinygrad {version('tinygrad')} takes DEV=CPU, not CPU=1: set device_style = \"DEV\"" in " ".join(problems)
    fixed = parse_scenario(text.replace('"legacy"', '"DEV"'), "s.toml")
    assert not any("device_style" in why for _, why in fixed.problems())


def test_llama3_no_api_answers_the_question_and_ends_at_the_next_prompt():
    """The real capture replayed at the real prompts: orintui types the scenario's input at `Q: `, reads
    the answer, and ends the run at the next `Q: ` as ok."""
    fake = str(FIXTURES / "fake_backends" / "replay_llama3_noapi.py")
    name = "tinygrad-llama3-noapi-master.txt"
    argv = [sys.executable, fake, str(T / name), "--no_api", "--timing"]
    events = []
    parser = get_adapter("tinygrad-llama3").make_parser(argv, question=QUESTION)
    result = BackendRunner(argv, parser, events.extend, lambda m: m, idle_timeout=30).run()
    assert result.status == "ok", result
    texts = [e["text"] for e in tokens_of(events)]
    assert texts[:2] == [" velkou", " necessity"] and len(texts) == len(printed(name, r"total\s+[\d.]+ ms"))
    asked = next(e["t"] for e in events if e["kind"] == "phase" and e.get("detail") == "question sent")
    from orintui.session.model import RunInfo, Session

    session = Session(id="x", started_at="2026-11-21T00:00:00", runs=[RunInfo(0, "r", "tinygrad-llama3", argv)])
    run_events = [{"t": 0.0, "kind": "run_started", "run": 0}] + [{**e, "run": 0} for e in events]
    session.events = run_events
    session.runs[0].started_t = 0.0
    m = run_metrics(session, session.runs[0], [], run_events)
    assert m.ttft_ms == pytest.approx((tokens_of(events)[0]["t"] - asked) * 1000)  # from the question, not the load


@pytest.mark.real
def test_real_tinygrad_0_12_apps_llm_by_model_name(small_model, tmp_path):
    """tinygrad 0.12.0's tinygrad.apps.llm takes only names from its table and downloads into its
    cache: the random-weight GGUF is placed under the cache name tinygrad itself computes."""
    import os
    import shutil
    import subprocess

    python = os.environ.get("ORINTUI_TINYGRAD_012")
    if not python:
        pytest.skip("scripts/test installs tinygrad 0.12.0 into .venv-tinygrad-0.12 (Python >= 3.11)")
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "CPU": "1"}
    where = subprocess.run([python, "-c", "import hashlib, tinygrad.apps.llm as m, tinygrad.helpers as h; "
                            "print(h._ensure_downloads_dir() / hashlib.md5(m.models['llama3.2:1b'].encode()).hexdigest())"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    os.makedirs(os.path.dirname(where), exist_ok=True)
    shutil.copy(small_model, where)
    scenario = tmp_path / "v012.toml"
    scenario.write_text(f'''name = "v012"
[variables]
device_style = "legacy"
[[runs]]
label = "tinygrad 0.12 CPU"
backend = "tinygrad-llm"
argv = ["{python}", "-m", "tinygrad.apps.llm", "--model", "llama3.2:1b", "--benchmark", "5"]
cwd = "{tmp_path}"
env = {{ XDG_CACHE_HOME = "{cache}" }}
device = "CPU"
idle_timeout = 300
''')
    out = tmp_path / "s.json"
    proc = run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    from orintui.session import load_session

    session = load_session(out)
    lines = [e["line"] for e in session.events if e["kind"] == "output" and re.match(r"\s*[\d.]+ ms,", e["line"])]
    tokens = tokens_of(session.events)
    assert len(tokens) == 5 and [e["ms"] for e in tokens] == [float(line.split()[0]) for line in lines]
    assert session.runs[0].status == "ok" and session.runs[0].versions["tinygrad_version"] == "0.12.0"


def test_llama_bench_flash_attention_auto_is_named():
    """`-fa auto` reports flash_attn -1 in json (REFERENCE.md): the report says auto."""
    from orintui.reading.report import flash_attn

    assert [flash_attn(v) for v in (-1, 0, 1, "-1", "auto")] == ["auto", "0", "1", "auto", "auto"]
