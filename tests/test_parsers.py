"""Every adapter's parser against transcripts, fed whole and in random-sized chunks."""

from __future__ import annotations

import json
import random

import pytest
from conftest import FIXTURES

from orintui.backends import ADAPTERS, get_adapter
from orintui.backends.llama_bench import LlamaBenchParser
from orintui.backends.llama_completion import LlamaCompletionParser
from orintui.backends.tinygrad_llama3 import TinygradLlama3Parser

T = FIXTURES / "transcripts"


def read(name: str) -> str:
    return (T / name).read_bytes().decode("utf-8", errors="replace")


def feed_all(parser, text: str, chunks: int | None = None, seed: int = 0) -> list[dict]:
    events = []
    if chunks is None:
        events += parser.feed(text, 1.0)
    else:
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), min(chunks, len(text) - 1)))
        for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(text)])):
            events += parser.feed(text[a:b], 1.0 + i)
    return events + parser.finish(999.0)


def kinds(events, kind):
    return [e for e in events if e["kind"] == kind]


@pytest.mark.parametrize("chunks", [None, 7, 60])
def test_tinygrad_llm_cpu_transcript(chunks):
    events = feed_all(get_adapter("tinygrad-llm").make_parser([]), read("tinygrad-llm-cpu-0.13.0.txt"), chunks)
    tokens = kinds(events, "token")
    assert len(tokens) == 8
    assert [t["warmup"] for t in tokens] == [True] * 3 + [False] * 5
    assert tokens[0]["ms"] == 6241.81 and tokens[3]["ms"] == 4.36 and tokens[3]["tok_s"] == 229.43
    summary = kinds(events, "summary")[0]
    assert summary["model_bytes"] == 339232 and summary["model_params"] == 164160


def test_tinygrad_llm_cuda_text_is_the_new_part_only():
    events = feed_all(get_adapter("tinygrad-llm").make_parser([]), read("tinygrad-llm-cuda-h100.txt"))
    tokens = kinds(events, "token")
    assert len(tokens) == 128
    assert tokens[0]["text"] == "<|begin_of_text|> w89784"
    assert tokens[1]["text"] == " w16703"


def test_tinygrad_nv_failure_is_not_tokens():
    parser = get_adapter("tinygrad-llm").make_parser([])
    events = feed_all(parser, read("tinygrad-llm-nv-hopper-failure.txt"))
    assert not kinds(events, "token")
    assert "StopIteration" in parser.last_words()


@pytest.mark.parametrize("chunks", [None, 9, 40])
def test_tinygrad_gpt2(chunks):
    events = feed_all(get_adapter("tinygrad-gpt2").make_parser([]), read("tinygrad-gpt2-debug2.txt"), chunks)
    tokens = kinds(events, "token")
    assert len(tokens) == 10
    assert [t["warmup"] for t in tokens][:4] == [True, True, True, False]
    assert kinds(events, "prefill")[0]["ms"] == 412.55
    debug = tokens[5]
    assert debug["device_ms"] == 3.02 and debug["device"] == "NV" and debug["gbs"] == 470.2 and debug["gops"] == 0.71
    assert any(e.get("load_ms") == 1432.10 for e in kinds(events, "summary"))
    assert any(e.get("device") == "NV" for e in kinds(events, "summary"))


@pytest.mark.parametrize("chunks", [None, 11, 80])
def test_tinygrad_llama3_benchmark(chunks):
    parser = get_adapter("tinygrad-llama3").make_parser(["examples/llama3.py", "--benchmark"])
    events = feed_all(parser, read("tinygrad-llama3-benchmark.txt"), chunks)
    tokens = kinds(events, "token")
    assert [t["text"] for t in tokens] == ["Hello", "!", " How", " can", " I", " help", " you", " today", "?", "été"]
    # warm-up is told from the enqueue times by metrics.leading_slow, not by a count in the parser
    assert tokens[0]["ms"] == 2431.0 and tokens[0]["enqueue_ms"] == 812.1 and not tokens[0]["warmup"]
    assert not tokens[3]["warmup"] and tokens[3]["param_gbs"] is not None


def test_tinygrad_llama3_no_api_answers_the_prompt_then_stops():
    parser = TinygradLlama3Parser(cumulative=False, question="How far is the moon?")
    events = parser.feed(read("tinygrad-llama3-noapi-start.txt"), 1.0)
    assert parser.input_request() == "How far is the moon?\n"
    assert not parser.stop_requested
    events += parser.feed(read("tinygrad-llama3-noapi-answer.txt"), 2.0)
    assert parser.stop_requested  # the second Q: prompt: the answer is complete
    tokens = kinds(events + parser.finish(3.0), "token")
    assert [t["text"] for t in tokens] == ["The", " moon", " is", " far", "."]


@pytest.mark.parametrize("chunks", [None, 5, 25, 200])
def test_llama_completion_cpu(chunks):
    parser = get_adapter("llama-completion").make_parser(["llama-completion", "-p", "Hello from orintui"])
    events = feed_all(parser, read("llama-completion-cpu-b0.3.36.txt"), chunks, seed=chunks or 0)
    s = {}
    for e in kinds(events, "summary"):
        s.update(e)
    assert s["eval_runs"] == 15 and s["eval_tok_s"] == 335.74 and s["eval_ms"] == 44.68
    assert s["prompt_tokens"] == 18 and s["prompt_tok_s"] == 1540.17 and s["load_ms"] == 45.19
    text = "".join(t["text"] for t in kinds(events, "token"))
    assert text.startswith(" w656 w478") and "Hello from orintui" not in text
    assert "common_perf_print" not in text and not text.endswith("\n")


def test_llama_completion_one_read_per_token_counts_exactly():
    """The PTY case: one read per token, prompt echo first, summary after a blank line."""
    parser = LlamaCompletionParser(prompt="Hi there")
    events = parser.feed("0.00.001.000 I generate: n_ctx = 512, n_batch = 2048, n_predict = 4, n_keep = 1\n", 0.1)
    events += parser.feed("0.00.001.001 I \n", 0.11)
    events += parser.feed("Hi", 0.12) + parser.feed(" there", 0.13)
    for i, piece in enumerate([" one", "\n\n", " two", " three\n\n"]):
        events += parser.feed(piece, 0.2 + i * 0.01)
    events += parser.feed("0.00.002.000 I common_perf_print:        eval time =      30.00 ms /     3 runs   "
                          "(   10.00 ms per token,   100.00 tokens per second)\n", 0.5)
    events += parser.finish(0.6)
    tokens = kinds(events, "token")
    assert [t["text"] for t in tokens] == [" one", "\n\n", " two", " three"]
    assert [t["t"] for t in tokens] == [0.2 + i * 0.01 for i in range(4)]  # each its own read's time, as given
    assert not [e for e in kinds(events, "note") if e["level"] == "warning"]


def test_llama_completion_merged_read_keeps_the_true_count():
    """A reader that lags gets two tokens in one read: one arrival, a warning, and llama.cpp's count."""
    parser = LlamaCompletionParser(prompt=None)
    events = parser.feed("generate: n_ctx = 512, n_batch = 2048, n_predict = 4, n_keep = 1\n\n", 0.1)
    for i, piece in enumerate([" one", " two three", " four\n\n"]):
        events += parser.feed(piece, 0.2 + i * 0.01)
    events += parser.feed("common_perf_print:        eval time =      30.00 ms /     3 runs   "
                          "(   10.00 ms per token,   100.00 tokens per second)\n", 0.5)
    events += parser.finish(0.6)
    assert len(kinds(events, "token")) == 3
    assert [e["generated_tokens"] for e in kinds(events, "summary") if "generated_tokens" in e] == [4]
    assert [e["text"] for e in kinds(events, "note") if e["level"] == "warning"] == [
        "3 token reads for 4 tokens: some reads carried several tokens"]


def test_llama_completion_old_prefix_and_interrupt():
    parser = LlamaCompletionParser(prompt=None)
    text = ("generate: n_ctx = 512, n_batch = 2048, n_predict = 64, n_keep = 1\n\n"
            " a b\n"
            "llama_perf_context_print:        load time =     100.00 ms\n"
            "llama_perf_context_print: prompt eval time =      20.00 ms /     4 tokens "
            "(    5.00 ms per token,   200.00 tokens per second)\n"
            "llama_perf_context_print:        eval time =       0.00 ms /     0 runs   "
            "(     nan ms per token,      nan tokens per second)\n"
            "Interrupted by user\n")
    events = feed_all(parser, text)
    s = {}
    for e in kinds(events, "summary"):
        s.update(e)
    assert s["load_ms"] == 100.0 and s["prompt_tok_s"] == 200.0
    assert s["eval_runs"] == 0 and s["eval_tok_s"] is None  # nan is unknown, not a number
    assert any("interrupted" in e["text"] for e in kinds(events, "note"))


def test_llama_completion_device_lines():
    parser = LlamaCompletionParser()
    events = feed_all(parser, "ggml_cuda_init: found 1 CUDA devices:\n"
                              "  Device 0: Orin, compute capability 8.7, VMM: yes, VRAM: 62841 MiB\n"
                              "load_tensors: offloaded 17/17 layers to GPU\n"
                              "print_info: file size   = 1.04 GiB (7.22 BPW)\n")
    s = {}
    for e in kinds(events, "summary"):
        s.update(e)
    assert s["device"] == "Orin" and s["compute_capability"] == "8.7"
    assert s["offloaded_layers"] == 17 and s["model_bytes"] == int(1.04 * 2**30)


@pytest.mark.parametrize("chunks", [None, 13])
def test_llama_bench_jsonl(chunks):
    text = read("llama-bench-jsonl.txt")
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = feed_all(LlamaBenchParser(), text, chunks)
    bench = [e for e in kinds(events, "summary") if e.get("bench")]
    assert [b["test"] for b in bench] == ["pp32", "tg16"]
    for b, row in zip(bench, rows):
        assert b["avg_ts"] == row["avg_ts"] and b["stddev_ts"] == row["stddev_ts"] and b["samples_ts"] == row["samples_ts"]


def test_llama_bench_md():
    events = feed_all(LlamaBenchParser(), read("llama-bench-md.txt"))
    bench = [e for e in kinds(events, "summary") if e.get("bench")]
    assert [(b["test"], b["avg_ts"], b["stddev_ts"]) for b in bench] == [("pp32", 2172.79, 73.46), ("tg16", 458.91, 26.02)]
    assert len([e for e in kinds(events, "phase") if e["phase"] == "decode"]) == 2


def test_llama_bench_md_reference_row():
    text = ("| model | size | params | backend | ngl | test | t/s |\n| --- | ---: | ---: | --- | --: | ---: | ---: |\n"
            "| llama 1B Q6_K | 1.04 GiB | 1.24 B | CUDA | 99 | pp512 | 1089.61 ± 0.68 |\n")
    bench = [e for e in kinds(feed_all(LlamaBenchParser(), text), "summary") if e.get("bench")]
    assert bench[0]["test"] == "pp512" and bench[0]["avg_ts"] == 1089.61 and bench[0]["n_gpu_layers"] == "99"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_hostile_text_is_kept_as_data(name):
    """Rich markup, ANSI escapes, invalid UTF-8 (decoded with replacement) and a 1 MB line."""
    parser = ADAPTERS[name].make_parser([])
    hostile = "[bold red]x[/] \x1b[31mred\x1b[0m \ufffd\ufffd " + "y" * (1 << 20) + "\n"
    events = feed_all(parser, hostile, chunks=50)
    lines = [e["line"] for e in kinds(events, "output")]
    assert lines and lines[0].startswith("[bold red]x[/] red \ufffd\ufffd y")
    assert len(lines[0]) < 3000  # kept, truncated in the output event
