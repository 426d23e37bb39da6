"""Parser throughput (lines/s) for every adapter, and the observed-vs-reported decode time of a
real llama.cpp run (the figure orintui's per-token timings rest on).

    python benchmarks/parser_throughput.py [--rounds 3] [--llama-bin DIR --model small.gguf] [--before DIR]

Each adapter is fed its recorded transcript, one read per line as a PTY delivers them; the median
of ``--rounds`` rounds is printed. ``tinygrad-llm 2k`` is tinygrad.llm's own form over a 2,000-token
run: every line reprints the whole text so far (lines grow to about 14,000 characters).
``--pty`` ends every line with CR LF, as a PTY delivers it (its ONLCR): what a real run's parser reads,
where the transcripts keep LF. ``--before DIR`` measures another source tree too (a ``git worktree`` of an older commit), each
adapter in its own process for both trees, alternating which goes first, and prints the medians
side by side with their ratio. ``--cpu-time`` counts the process's CPU time instead of the clock's
(a shared machine's other work then slows it less; the figure to quote stays the clock's, measured
when the machine is quiet).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import ROOT

from orintui.backends import ADAPTERS
from orintui.backends.runner import BackendRunner

T = ROOT / "tests" / "fixtures" / "transcripts"
LONG = "tinygrad-llm 2k"
TRANSCRIPTS = {
    "tinygrad-llm": "tinygrad-llm-cuda-h100.txt",
    "tinygrad-gpt2": "tinygrad-gpt2-debug2.txt",
    "tinygrad-llama3": "tinygrad-llama3-benchmark.txt",
    "llama-completion": "llama-completion-cpu-b0.3.36.txt",
    "llama-bench": "llama-bench-jsonl.txt",
}


def long_cumulative_run(tokens: int = 2000) -> list[str]:
    """tinygrad.llm's per-token lines for a long run, words taken from the recorded transcript."""
    recorded = (T / TRANSCRIPTS["tinygrad-llm"]).read_text(errors="replace")
    words = recorded.split("--  ")[-1].split()[1:] or ["w1"]
    text, lines = "<|begin_of_text|>", []
    for i in range(tokens):
        text += " " + words[i % len(words)]
        lines.append(f"  20.{i % 100:02d} ms,  49.90 tok/s,   12.31 GB/s, 2504/2744 MB  --  {text}\n")
    return lines


def throughput(name: str, target_lines: int = 50_000, clock=time.perf_counter, pty: bool = False) -> tuple[float, int]:
    if name == LONG:  # the run three times over (one run is 2,000 lines: too short to time alone)
        lines, adapter, target_lines = long_cumulative_run(), ADAPTERS["tinygrad-llm"], 6000
    else:
        text = (T / TRANSCRIPTS[name]).read_bytes().decode("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        adapter = ADAPTERS[name]
    if pty:
        lines = [line[:-1] + "\r\n" if line.endswith("\n") and not line.endswith("\r\n") else line for line in lines]
    reps = max(1, target_lines // len(lines))
    argv = ["llama-completion", "-p", "Hello from orintui"] if name == "llama-completion" else ["--benchmark"]
    start = clock()
    fed = 0
    for _ in range(reps):
        parser = adapter.make_parser(argv)
        for i, line in enumerate(lines):  # one read per line, as a PTY delivers them
            parser.feed(line, i * 0.001)
            fed += 1
        parser.finish(1.0)
    return fed / (clock() - start), fed


def observed_vs_reported(llama_bin: str, model: str, tokens: int = 128) -> None:
    argv = [os.path.join(llama_bin, "llama-completion"), "-m", model, "-p", "The quick brown fox", "-n", str(tokens),
            "--ignore-eos", "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]
    for attempt in range(3):
        events = []
        runner = BackendRunner(argv, ADAPTERS["llama-completion"].make_parser(argv), events.extend, lambda m: m)
        result = runner.run()
        summary = {}
        for e in events:
            if e["kind"] == "summary":
                summary.update(e)
        toks = [e for e in events if e["kind"] == "token"]
        observed = (toks[-1]["t"] - toks[0]["t"]) * 1000
        err = (observed - summary["eval_ms"]) / summary["eval_ms"] * 100
        print(f"  run {attempt + 1}: {result.status}, {len(toks)} token events for {summary['eval_runs'] + 1} tokens; "
              f"observed {observed:.1f} ms vs eval {summary['eval_ms']:.1f} ms over {summary['eval_runs']} runs "
              f"({summary['eval_ms_per_token']:.2f} ms/token): error {err:+.2f}%")


def rate_in(tree: str, name: str, clock: str = "perf_counter", pty: bool = False) -> float:
    """lines/s of one adapter with the parsers of the source tree at ``tree``, in a fresh process."""
    # the clock set by hand and the calls repeated to 6,000 lines: older trees' throughput() takes no clock,
    # and timed the 2,000-token run once; the CR LF form by hand too (older trees take no pty), the
    # transcript read through a Path whose read_bytes adds the CR
    pty_setup = ("import pathlib\nclass CRLF(type(p.T)):\n    def read_bytes(self):\n"
                 "        return super().read_bytes().replace(b'\\r\\n', b'\\n').replace(b'\\n', b'\\r\\n')\n"
                 "p.T = CRLF(p.T)\n_long = p.long_cumulative_run\n"
                 "p.long_cumulative_run = lambda *a: [x[:-1] + '\\r\\n' for x in _long(*a)]\n") if pty else ""
    code = (f"import sys, time; sys.path[:0] = [{tree!r}, {os.path.join(tree, 'benchmarks')!r}]\n"
            f"import parser_throughput as p\n{pty_setup}time.perf_counter = time.{clock}\nfed = secs = 0\n"
            f"while fed < 6000:\n    rate, n = p.throughput({name!r}); fed += n; secs += n / rate\nprint(fed / secs)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree, check=True,
                          env={**os.environ, "PYTHONPATH": ""})
    return float(done.stdout.split()[-1])


def before_and_now(before: str, rounds: int, clock: str, pty: bool = False) -> None:
    names = [*TRANSCRIPTS, LONG]
    trees = {"before": os.path.abspath(before), "now": str(ROOT)}
    rates: dict[tuple[str, str], list[float]] = {(n, w): [] for n in names for w in trees}
    for r in range(rounds):  # interleaved, and each tree first in every other round
        for name in names:
            for which in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                rates[(name, which)].append(rate_in(trees[which], name, clock, pty))
    print(f"{'adapter':18} {'before':>12} {'now':>12} {'now/before':>11}  (lines/s, medians of {rounds} interleaved rounds"
          f"{', CPU time' if clock == 'process_time' else ''}{', CR LF' if pty else ''}; load {os.getloadavg()[0]:.2f})")
    for name in names:
        was, now = statistics.median(rates[(name, "before")]), statistics.median(rates[(name, "now")])
        print(f"{name:18} {was:12,.0f} {now:12,.0f} {now / was:11.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llama-bin", default=os.environ.get("ORINTUI_LLAMA_BIN"))
    p.add_argument("--model", default=os.path.join(os.environ.get("ORINTUI_TEST_MODELS", ""), "small.gguf"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", metavar="DIR", help="another source tree to measure beside this one")
    p.add_argument("--cpu-time", action="store_true",
                   help="lines per second of the process's CPU time, not of the clock: steadier on a shared machine")
    p.add_argument("--pty", action="store_true", help="lines end with CR LF, as a PTY delivers them")
    args = p.parse_args()
    clock = "process_time" if args.cpu_time else "perf_counter"
    if args.before:
        before_and_now(args.before, args.rounds, clock, args.pty)
        return 0
    print(f"{'adapter':18} {'lines/s':>12} {'lines':>8}  (median of {args.rounds} rounds{', CR LF' if args.pty else ''})")
    names = [*TRANSCRIPTS, LONG]
    rates: dict[str, list[float]] = {name: [] for name in names}
    fed: dict[str, int] = {}
    for _ in range(args.rounds):  # interleaved: a noisy machine slows every adapter alike
        for name in names:
            rate, fed[name] = throughput(name, clock=getattr(time, clock), pty=args.pty)
            rates[name].append(rate)
    for name in names:
        print(f"{name:18} {statistics.median(rates[name]):12,.0f} {fed[name]:8,}")
    if args.llama_bin and os.path.exists(args.model):
        print("observed vs reported decode time (real llama-completion, CPU):")
        observed_vs_reported(args.llama_bin, args.model)
    else:
        print("observed vs reported: skipped (set ORINTUI_LLAMA_BIN and ORINTUI_TEST_MODELS, as scripts/test does)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
