"""Merged reads at 500 tok/s: how many reads carried more than one token, for orintui headless and
for a plain C reader (select + read) on the same kind of PTY, the same reference emitter
(benchmarks/emitter.py: one token every 2 ms, 2,000 tokens). Goal: orintui no more than the C reader.

    python benchmarks/merged_reads.py [--rounds 3] [--tokens 2000] [--rate 500]

The C reader is compiled at run time (cc or clang) into a temporary folder. For orintui, tokens that
one read carried share its time stamp: a read that merged tokens is a stamp shared by several.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import PYTHONPATH, ROOT

from orintui.session import load_session

EMITTER = ROOT / "benchmarks" / "emitter.py"

C_READER = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MINUTES 240
/* runs argv[1..] on a PTY; prints: reads, reads holding more than one token line, token lines;
   then one line per minute since the first token: minute, merged reads, token lines */
int main(int argc, char **argv) {
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0) { perror("forkpty"); return 1; }
    if (pid == 0) { execvp(argv[1], argv + 1); perror("execvp"); _exit(127); }
    char buf[65536];
    long reads = 0, merged = 0, tokens = 0;
    static long minute_merged[MINUTES], minute_tokens[MINUTES];
    struct timespec first = {0, 0}, now;
    for (;;) {
        fd_set fds; FD_ZERO(&fds); FD_SET(master, &fds);
        if (select(master + 1, &fds, NULL, NULL, NULL) < 0) { if (errno == EINTR) continue; break; }
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;  /* EIO: every writer has closed the terminal */
        long in_read = 0;
        for (char *p = buf; (p = memmem(p, buf + n - p, " tok/s", 6)) != NULL; p += 6) in_read++;
        reads++; tokens += in_read;
        if (in_read > 1) merged++;
        if (in_read == 0) continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (first.tv_sec == 0 && first.tv_nsec == 0) first = now;
        long minute = (now.tv_sec - first.tv_sec) / 60;
        if (minute >= MINUTES) minute = MINUTES - 1;
        minute_tokens[minute] += in_read;
        if (in_read > 1) minute_merged[minute]++;
    }
    waitpid(pid, NULL, 0);
    printf("%ld %ld %ld\n", reads, merged, tokens);
    for (int m = 0; m < MINUTES; m++)
        if (minute_tokens[m]) printf("%d %ld %ld\n", m + 1, minute_merged[m], minute_tokens[m]);
    return 0;
}
"""


def build_c_reader(folder: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("clang") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("merged_reads: no C compiler (cc, clang or gcc) on PATH")
    source, binary = folder / "reader.c", folder / "reader"
    source.write_text(C_READER)
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source), "-lutil"], check=True)
    return binary


def c_reader(binary: Path, tokens: int, rate: float) -> tuple[int, int]:
    out = subprocess.run([str(binary), sys.executable, str(EMITTER), "--benchmark", str(tokens), "--rate", str(rate)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    reads, merged, seen = map(int, out[0].split())
    return merged, seen


def scenario(folder: Path, tokens: int, rate: float) -> Path:
    path = folder / "emitter.toml"
    argv = [sys.executable, str(EMITTER), "--benchmark", str(tokens), "--rate", str(rate)]
    path.write_text(f'name = "reference emitter"\n[[runs]]\nlabel = "emitter {rate:g} tok/s"\n'
                    f'backend = "tinygrad-llm"\nargv = [{", ".join(f"{a!r}".replace(chr(39), chr(34)) for a in argv)}]\n')
    return path


def orintui_headless(folder: Path, toml: Path, n: int) -> tuple[int, int]:
    out = folder / f"s{n}.json"
    subprocess.run([sys.executable, "-m", "orintui", "run", str(toml), "--headless", "--telemetry", "none",
                    "--out", str(out), "--progress", "3600"], cwd=ROOT, capture_output=True, check=True,
                   env={**_env(folder)})
    return merged_of(load_session(out).events)


def merged_of(events: list[dict]) -> tuple[int, int]:
    """(reads that carried more than one token, tokens) of a session's token events."""
    stamps = Counter((e.get("run"), e["t"]) for e in events if e["kind"] == "token")
    return sum(1 for count in stamps.values() if count > 1), sum(stamps.values())


def _env(folder: Path) -> dict[str, str]:
    import os

    return {**os.environ, "ORINTUI_HOME": str(folder / "home"), "PYTHONPATH": PYTHONPATH}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tokens", type=int, default=2000)
    p.add_argument("--rate", type=float, default=500.0)
    args = p.parse_args()
    rows: dict[str, list[int]] = {"C reader (select + read)": [], "orintui run --headless": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        binary = build_c_reader(folder)
        toml = scenario(folder, args.tokens, args.rate)
        print(f"{args.tokens} tokens at {args.rate:g} tok/s; reads that carried more than one token:")
        for n in range(args.rounds):  # interleaved, so a busy moment of the machine hits both
            c_merged, c_tokens = c_reader(binary, args.tokens, args.rate)
            o_merged, o_tokens = orintui_headless(folder, toml, n)
            rows["C reader (select + read)"].append(c_merged)
            rows["orintui run --headless"].append(o_merged)
            print(f"  round {n + 1}: C reader {c_merged} of {c_tokens}; orintui {o_merged} of {o_tokens}")
    print(f"{'reader':28} {'median':>7} {'rounds':>16}")
    for name, values in rows.items():
        print(f"{name:28} {statistics.median(values):7g} {' '.join(map(str, values)):>16}")
    c, o = (statistics.median(v) for v in rows.values())
    print(f"orintui / C reader: {o / c:.2f}" if c else f"orintui {o:g}, C reader 0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
