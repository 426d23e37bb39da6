"""The observer effect: a backend's own decode figure under ``orintui run`` vs the same command
run bare (no PTY, no parser, output to a file).

    python benchmarks/observer_effect.py SESSION.json [--labels L ...] [--json OUT.json]
    python benchmarks/observer_effect.py --scenario demo [--set K=V ...] [--rounds 3] [--modes headless app]

For each measured run of a streaming backend in the session, runs its argv again bare and parses
the backend's own figure from the log (llama.cpp's eval tok/s; tinygrad's per-token ms over the
steady-state tokens). A ratio under 1 means orintui slowed the backend down.

With ``--scenario`` it records the sessions itself, headless and in the app (inside tmux, 120x40),
in interleaved rounds (headless, its bare runs, app, its bare runs), and prints each run's median
ratio per mode over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orintui.importer import import_logs  # noqa: E402
from orintui.metrics import run_metrics  # noqa: E402
from orintui.session import load_session  # noqa: E402

STREAMING = ("llama-completion", "tinygrad-llm")


def bare_figure(backend: str, argv: list[str], env: dict, cwd: str | None, log: Path) -> float | None:
    full_env = {**os.environ, **env, "NO_COLOR": "1"}
    with open(log, "wb") as f:
        subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, env=full_env, cwd=cwd, check=False, timeout=900)
    session, _ = import_logs(backend, [str(log)])
    return run_metrics(session, session.runs[0]).decode_tok_s["reported"]


def record(mode: str, scenario: str, sets: list[str], folder: Path, n: int) -> Path:
    """A session of ``scenario`` recorded by ``orintui run`` headless or in the app inside tmux."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import PYTHONPATH
    from soak import start, tmux

    out = folder / f"{mode}-{n}.json"
    env = {**os.environ, "ORINTUI_HOME": str(folder / "home"), "PYTHONPATH": PYTHONPATH, "ORINTUI_GATE": "off"}
    name = f"orintui-observer-{os.getpid()}-{n}"
    _, proc = start(mode, scenario, out, env, name, [a for kv in sets for a in ("--set", kv)])
    if proc is not None:
        proc.wait(timeout=1800)
        return out
    while not out.exists():  # the app writes the session file when its runs end
        time.sleep(0.5)
    tmux("send-keys", "-t", name, "q")
    deadline = time.monotonic() + 30
    while subprocess.run(["tmux", "has-session", "-t", name], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            tmux("kill-session", "-t", name)
            break
        time.sleep(0.2)
    return out


def rounds(args: argparse.Namespace) -> int:
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for mode in args.modes:
                out = record(mode, args.scenario, args.set, Path(tmp), n)
                for row in measure(load_session(out), args.labels):
                    print(f"round {n + 1} {mode:8} {row['label']:24} under orintui {row['monitored_tok_s']} "
                          f"bare {row['bare_tok_s']} ratio {row['ratio']}", flush=True)
                    if row["ratio"] is not None:
                        ratios[(mode, row["label"])].append(row["ratio"])
    print(f"\n{'mode':8} {'run':24} {'median':>7}  ratios (under orintui / bare, per round)")
    for (mode, label), values in ratios.items():
        print(f"{mode:8} {label:24} {statistics.median(values):7.3f}  {' '.join(f'{v:.3f}' for v in values)}")
    if args.json:
        Path(args.json).write_text(json.dumps({f"{m} {lbl}": v for (m, lbl), v in ratios.items()}, indent=2))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("session", nargs="?")
    p.add_argument("--labels", nargs="*")
    p.add_argument("--json")
    p.add_argument("--scenario", help="record the sessions: a scenario name or file")
    p.add_argument("--set", action="append", default=[], metavar="K=V", help="scenario variables")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", nargs="+", choices=["headless", "app"], default=["headless", "app"])
    args = p.parse_args()
    if args.scenario:
        return rounds(args)
    if not args.session:
        p.error("a session file, or --scenario")
    rows = measure(load_session(args.session), args.labels)
    print(f"{'run':24} {'under orintui':>14} {'bare':>10} {'ratio':>7}")
    for r in rows:
        def f(v, d=2):
            return "n/a" if v is None else f"{v:.{d}f}"
        print(f"{r['label']:24} {f(r['monitored_tok_s']):>14} {f(r['bare_tok_s']):>10} {f(r['ratio'], 3):>7}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def measure(session, labels: list[str] | None) -> list[dict]:
    rows = []
    for run in session.runs:
        if run.warmup or run.status != "ok" or run.backend not in STREAMING:
            continue
        if labels and run.label not in labels:
            continue
        monitored = run_metrics(session, run).decode_tok_s["reported"]
        with tempfile.TemporaryDirectory() as tmp:
            try:
                bare = bare_figure(run.backend, run.argv, run.env, run.cwd, Path(tmp) / "bare.log")
            except Exception as exc:  # report, do not stop the other runs
                print(f"{run.label}: bare run failed: {exc}", file=sys.stderr)
                bare = None
        ratio = monitored / bare if monitored and bare else None
        rows.append({"label": run.label, "backend": run.backend, "monitored_tok_s": monitored, "bare_tok_s": bare,
                     "ratio": ratio})
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
