"""Instructions per line for every adapter, counted by valgrind's callgrind: the same transcripts as
parser_throughput.py, a figure that does not move with the machine's load (a shared machine's lines/s
moves by half within an hour; this, by well under 1 %).

    python benchmarks/parser_instructions.py [--before DIR] [--pty] [NAME ...]

Each adapter is fed its transcript N times and 2N times (about 5,000 and 10,000 lines), each in its own
process under callgrind with address randomisation off and the garbage collector stopped; the
difference over the extra lines is the cost of a line, start-up left out. ``--pty`` ends the lines
with CR LF, as a PTY delivers them. ``--before DIR`` counts another source tree (a ``git worktree``
of an older commit) beside this one. Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import ROOT
from parser_throughput import LONG, TRANSCRIPTS

FEED = """
import gc, sys
gc.disable()
sys.path[:0] = [{tree!r}, {bench!r}]
import parser_throughput as p
from orintui.backends import ADAPTERS
name = {name!r}
if name == p.LONG:
    lines, adapter = p.long_cumulative_run(), ADAPTERS["tinygrad-llm"]
else:
    lines = (p.T / p.TRANSCRIPTS[name]).read_bytes().decode("utf-8", errors="replace").splitlines(keepends=True)
    adapter = ADAPTERS[name]
if {pty!r}:
    lines = [x if x.endswith("\\r\\n") else x[:-1] + "\\r\\n" for x in lines]
argv = ["llama-completion", "-p", "Hello from orintui"] if name == "llama-completion" else ["--benchmark"]
for _ in range({reps}):
    parser = adapter.make_parser(argv)
    for i, line in enumerate(lines):
        parser.feed(line, i * 0.001)
    parser.finish(1.0)
print(len(lines))
"""


def instructions(tree: str, name: str, reps: int, pty: bool) -> tuple[int, int]:
    """(instructions the whole process ran, lines in the transcript)."""
    code = FEED.format(tree=tree, bench=os.path.join(tree, "benchmarks"), name=name, reps=reps, pty=pty)
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "callgrind.out")
        done = subprocess.run(["setarch", "-R", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=scratch, env={**os.environ, "PYTHONPATH": "", "PYTHONHASHSEED": "0"})
        with open(out) as f:
            total = int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))  # type: ignore[union-attr]
    return total, int(done.stdout.split()[-1])


def per_line(tree: str, name: str, pty: bool) -> float:
    _, lines = instructions(tree, name, 1, pty)
    reps = max(1, 5000 // lines)
    once, _ = instructions(tree, name, reps, pty)
    twice, _ = instructions(tree, name, 2 * reps, pty)
    return (twice - once) / (reps * lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=[*TRANSCRIPTS, LONG], metavar="NAME")
    p.add_argument("--before", metavar="DIR", help="another source tree to count beside this one")
    p.add_argument("--pty", action="store_true", help="lines end with CR LF, as a PTY delivers them")
    args = p.parse_args()
    if not shutil.which("valgrind"):
        print("parser_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    trees = ([("before", os.path.abspath(args.before))] if args.before else []) + [("now", str(ROOT))]
    head = " ".join(f"{which:>12}" for which, _ in trees) + ("  now/before" if args.before else "")
    print(f"{'adapter':18} {head}  (instructions a line{', CR LF' if args.pty else ''})")
    for name in args.names:
        counts = [per_line(tree, name, args.pty) for _, tree in trees]
        ratio = f"  {counts[1] / counts[0]:10.2f}" if args.before else ""
        print(f"{name:18} " + " ".join(f"{c:12,.0f}" for c in counts) + ratio, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
