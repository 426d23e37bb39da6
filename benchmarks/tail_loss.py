"""How often a run loses the end of its output: the reproduction behind the trust issue.

Runs a backend through orintui's runner many times, with busy loops on every core (or idle), and
counts runs whose record is short: fewer tokens than the program wrote, or no perf summary.

    python benchmarks/tail_loss.py [--runs 200] [--tokens 64] [--idle] [--llama BIN_DIR] [--model M]
                                   [--runner-from GIT_REV]

--runner-from loads orintui/backends/runner.py as it was at that commit (for the before figure).

The fast stand-in (tests/fixtures/fake_backends/fast_llama.py) writes its tokens and llama.cpp's
summary as fast as it can and exits at once; with --llama, real llama-completion is run too.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orintui.backends import get_adapter  # noqa: E402
from orintui.backends.runner import BackendRunner  # noqa: E402

FAST = str(ROOT / "tests" / "fixtures" / "fake_backends" / "fast_llama.py")


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def runner_from(rev: str):
    """BackendRunner as orintui/backends/runner.py had it at git revision ``rev``."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:orintui/backends/runner.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path("/tmp") / f"orintui_runner_{rev.replace('/', '_')}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.BackendRunner


def one_run(argv: list[str], expected: int, runner=BackendRunner) -> tuple[bool, bool, int, str]:
    events: list[dict] = []
    parser = get_adapter("llama-completion").make_parser(argv)
    result = runner(argv, parser, events.append, lambda m: m, idle_timeout=60).run()
    reads = sum(1 for e in events if e["kind"] == "token")
    generated = max((e.get("generated_tokens") or 0 for e in events if e["kind"] == "summary"), default=0)
    summary = any(e["kind"] == "summary" and e.get("eval_tok_s") is not None for e in events)
    tokens = max(reads, generated)
    return tokens == expected, summary, tokens, result.status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--idle", action="store_true", help="no busy loops")
    ap.add_argument("--llama", help="folder with llama-completion: also run the real program")
    ap.add_argument("--model", help="GGUF for --llama")
    ap.add_argument("--llama-runs", type=int, default=30)
    ap.add_argument("--runner-from", help="git revision whose runner to measure (default: the working tree)")
    args = ap.parse_args()
    runner = runner_from(args.runner_from) if args.runner_from else BackendRunner
    cases = [("fast stand-in", [sys.executable, FAST, str(args.tokens)], args.tokens, args.runs)]
    if args.llama and args.model:
        argv = [os.path.join(args.llama, "llama-completion"), "-m", args.model, "-p", "Hello", "-n", str(args.tokens),
                "--ignore-eos", "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]
        cases.append(("llama-completion", argv, args.tokens, args.llama_runs))
    loops = [] if args.idle else busy_loops(os.cpu_count() or 2)
    try:
        where = "idle" if args.idle else f"{len(loops)} busy loops"
        print(f"{'backend':18} {'runs':>5} {'short':>6} {'no summary':>11} {'not ok':>7}  "
              f"({where}; runner {args.runner_from or 'working tree'})")
        for name, argv, expected, runs in cases:
            short = missing = not_ok = 0
            start = time.monotonic()
            for _ in range(runs):
                complete, summary, _, status = one_run(argv, expected, runner)
                short += not complete
                missing += not summary
                not_ok += status != "ok"
            print(f"{name:18} {runs:5d} {short:6d} {missing:11d} {not_ok:7d}  {time.monotonic() - start:.1f} s")
    finally:
        for p in loops:
            p.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
