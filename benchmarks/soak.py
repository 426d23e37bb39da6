"""Soak: a 500 tok/s reference emitter (benchmarks/emitter.py) under orintui for N minutes, headless or
in the app inside tmux (120x40). Samples orintui's own CPU (percent of one core) and RSS once a
second, and counts from the saved session the reads that carried more than one token; prints one row
per minute. Flat CPU and RSS, and no more merged reads in the app than headless, are the goals.

    python benchmarks/soak.py --minutes 10 [--mode headless|app|both] [--rate 500] [--parallel]

``--parallel`` runs the modes at the same time, each with its own emitter, beside a plain C reader
(select + read, benchmarks/merged_reads.py) on a third emitter: the floor for merged reads on this
machine at that moment. Use it where cores are plenty (each soak takes about two: the emitter and
orintui), so that the modes see the same machine rather than consecutive moments of a noisy one.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil
from common import PYTHONPATH, ROOT
from merged_reads import build_c_reader

from orintui.session import load_session

EMITTER = ROOT / "benchmarks" / "emitter.py"
SAMPLE_S = 1.0


def scenario(folder: Path, minutes: float, rate: float) -> Path:
    tokens = int(minutes * 60 * rate)
    argv = [sys.executable, str(EMITTER), "--benchmark", str(tokens), "--rate", str(rate)]
    path = folder / "soak.toml"
    quoted = ", ".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv)
    path.write_text(f'name = "soak"\n[[runs]]\nlabel = "emitter {rate:g} tok/s"\nbackend = "tinygrad-llm"\n'
                    f"argv = [{quoted}]\n")
    return path


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def start(mode: str, scenario: Path | str, out: Path, env: dict[str, str], name: str,
          extra: list[str] | tuple[str, ...] = ()) -> tuple[int, subprocess.Popen | None]:
    """orintui's pid (and its Popen when headless)."""
    args = [sys.executable, "-m", "orintui", "run", str(scenario), "--telemetry", "none", "--out", str(out), *extra]
    if mode == "headless":
        with open(out.parent / "orintui.log", "wb") as log:  # read when no session comes of it
            proc = subprocess.Popen([*args, "--headless", "--progress", "3600"], env=env, cwd=out.parent,
                                    stdout=log, stderr=subprocess.STDOUT)
        return proc.pid, proc
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k in ("PYTHONPATH", "PYTHONHASHSEED") or k.startswith("ORINTUI_"))
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40",
         f"cd {shlex.quote(str(out.parent))} && {exports} TERM=xterm-256color exec {shlex.join(args)}")
    return int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()), None


def soak(mode: str, folder: Path, minutes: float, rate: float) -> list[dict]:
    out = folder / f"{mode}.json"
    env = {**os.environ, "ORINTUI_HOME": str(folder / "home"), "PYTHONPATH": PYTHONPATH, "ORINTUI_GATE": "off"}
    name = f"orintui-soak-{os.getpid()}"
    pid, proc = start(mode, scenario(folder, minutes, rate), out, env, name)
    me = psutil.Process(pid)
    me.cpu_percent(None)
    t0 = time.monotonic()
    samples: list[tuple[float, float, float]] = []  # (seconds since start, CPU %, RSS MB)
    try:
        while not out.exists():  # the session file is written when the runs end
            time.sleep(SAMPLE_S)
            try:
                samples.append((time.monotonic() - t0, me.cpu_percent(None), me.memory_info().rss / (1 << 20)))
            except psutil.NoSuchProcess:
                break
            if proc is not None and proc.poll() is not None:
                break
    finally:
        if proc is not None:
            proc.wait(timeout=120)
        else:
            time.sleep(1.0)
            if not out.exists():
                (out.parent / "orintui.log").write_text(tmux("capture-pane", "-p", "-t", name))
            tmux("send-keys", "-t", name, "q")
            deadline = time.monotonic() + 30
            while me.is_running() and time.monotonic() < deadline:
                time.sleep(0.2)
            tmux("kill-session", "-t", name)
    return per_minute(samples, out)


def per_minute(samples: list[tuple[float, float, float]], out: Path) -> list[dict]:
    if not out.exists():
        log = out.parent / "orintui.log"
        print(f"soak: no session at {out}; orintui said:\n"
              + (log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"), file=sys.stderr)
        return []
    session = load_session(out)
    tokens = [e for e in session.events if e["kind"] == "token"]
    first = tokens[0]["t"] if tokens else 0.0
    stamps = Counter(e["t"] for e in tokens)
    per: dict[int, dict] = defaultdict(lambda: {"tokens": 0, "merged": 0, "cpu": [], "rss": []})
    for t, count in stamps.items():
        row = per[int((t - first) // 60)]
        row["tokens"] += count
        row["merged"] += count > 1
    for t, cpu, rss in samples:  # sample times count from orintui's start, within a second of the session's
        minute = int((t - first) // 60)
        if minute in per:
            per[minute]["cpu"].append(cpu)
            per[minute]["rss"].append(rss)
    return [{"minute": m + 1, "tokens": r["tokens"], "merged": r["merged"],
             "cpu": statistics.mean(r["cpu"]) if r["cpu"] else float("nan"),
             "rss": max(r["rss"]) if r["rss"] else float("nan")} for m, r in sorted(per.items())]


def c_reader_soak(folder: Path, minutes: float, rate: float) -> list[dict]:
    binary = build_c_reader(folder)
    argv = [str(binary), sys.executable, str(EMITTER), "--benchmark", str(int(minutes * 60 * rate)), "--rate", str(rate)]
    lines = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    rows = [tuple(map(int, line.split())) for line in lines]
    return [{"minute": m, "tokens": t, "merged": g, "cpu": float("nan"), "rss": float("nan")} for m, g, t in rows]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--mode", choices=["headless", "app", "both"], default="both")
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--parallel", action="store_true", help="run the modes at once, beside a C reader")
    args = p.parse_args()
    modes = ["headless", "app"] if args.mode == "both" else [args.mode]
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {mode: (soak, mode) for mode in modes}
        if args.parallel:
            jobs["C reader"] = (lambda _mode, folder, minutes, rate: c_reader_soak(folder, minutes, rate), "c")
        threads = []
        for name, (job, mode) in jobs.items():
            folder = Path(tmp) / mode
            folder.mkdir()

            def work(name: str = name, job=job, mode: str = mode, folder: Path = folder) -> None:
                results[name] = job(mode, folder, args.minutes, args.rate)

            if args.parallel:
                threads.append(threading.Thread(target=work))
                threads[-1].start()
            else:
                work()
        for thread in threads:
            thread.join()
        results = {name: results[name] for name in jobs if name in results}
    print(f"soak: {args.rate:g} tok/s for {args.minutes:g} min; orintui's CPU (% of one core, mean), RSS (MB, max), "
          "reads that carried more than one token")
    for mode, rows in results.items():
        print(f"\n{mode}")
        print(f"{'minute':>6} {'tokens':>7} {'merged':>7} {'merged %':>9} {'CPU %':>7} {'RSS MB':>7}")
        for r in rows:
            share = 100 * r["merged"] / r["tokens"] if r["tokens"] else 0.0
            print(f"{r['minute']:>6} {r['tokens']:>7} {r['merged']:>7} {share:>8.2f}% {r['cpu']:>7.1f} {r['rss']:>7.1f}")
        total, merged = sum(r["tokens"] for r in rows), sum(r["merged"] for r in rows)
        print(f"all: {merged} of {total} reads merged ({100 * merged / total if total else 0:.2f} %)")
        full = [r for r in rows if r["tokens"] >= 0.9 * 60 * args.rate]
        if len(full) >= 2 and full[0]["cpu"] > 0:
            print(f"CPU last full minute / first: {full[-1]['cpu'] / full[0]['cpu']:.2f}; "
                  f"RSS: {full[-1]['rss'] / full[0]['rss']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
