"""The observer effect: a backend's own decode figure under ``orintui run`` vs the same command
run bare (no PTY, no parser, output to a file).

    python benchmarks/observer_effect.py SESSION.json [--labels L ...] [--json OUT.json]
    python benchmarks/observer_effect.py --scenario demo [--set K=V ...] [--rounds 3] [--modes headless app]

For each measured run of a streaming backend in the session, runs its argv again bare and parses
the backend's own figure from the log (llama.cpp's eval tok/s; tinygrad's per-token ms over the
steady-state tokens). A ratio under 1 means orintui slowed the backend down.

With ``--scenario`` it records the sessions itself, headless and in the app (inside tmux, 120x40),
alternating with bare runs (bare, headless, bare, app, bare, ...): each recorded run is compared
with the mean of the bare runs just before and just after it, and each run's median ratio per mode
is printed with a bootstrap 95 % interval. ``--only LABEL`` records that run of the scenario alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orintui.config.importer import import_logs  # noqa: E402
from orintui.figures.metrics import run_metrics  # noqa: E402
from orintui.session import load_session  # noqa: E402

STREAMING = ("llama-completion", "tinygrad-llm")


def bare_figure(backend: str, argv: list[str], env: dict, cwd: str | None, log: Path) -> float | None:
    full_env = {**os.environ, **env, "NO_COLOR": "1"}
    with open(log, "wb") as f:
        subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, env=full_env, cwd=cwd, check=False, timeout=900)
    session, _ = import_logs(backend, [str(log)])
    return run_metrics(session, session.runs[0]).decode_tok_s["reported"]


def record(mode: str, scenario: str, sets: list[str], folder: Path, n: int, telemetry: str = "none") -> Path:
    """A session of ``scenario`` recorded by ``orintui run`` headless or in the app inside tmux."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import PYTHONPATH
    from soak import start, tmux

    out = folder / f"{mode}-{n}.json"
    env = {**os.environ, "ORINTUI_HOME": str(folder / "home"), "PYTHONPATH": PYTHONPATH, "ORINTUI_GATE": "off"}
    name = f"orintui-observer-{os.getpid()}-{n}"
    _, proc = start(mode, scenario, out, env, name, [*(a for kv in sets for a in ("--set", kv)), "--telemetry", telemetry])
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


def single_run_scenario(scenario: str, label: str, folder: Path) -> Path:
    """A copy of ``scenario`` (a bundled name or a file) with only the run labelled ``label``."""
    path = Path(scenario)
    if not path.exists():
        path = ROOT / "scenarios" / f"{scenario}.toml"
    head, *blocks = path.read_text().split("\n[[runs]]\n")
    wanted = [b for b in blocks if f'label = {json.dumps(label)}' in b]
    if not wanted:
        raise SystemExit(f"observer_effect: no run labelled {label!r} in {path}")
    out = folder / "only.toml"
    out.write_text(head + "\n[[runs]]\n" + wanted[0])
    return out


def bootstrap_median(values: list[float], draws: int = 4000) -> tuple[float, float]:
    """A 95 % interval for the median (percentile bootstrap, fixed seed: the same data, the same interval)."""
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def rounds(args: argparse.Namespace) -> int:
    """Recorded and bare runs alternate, each recorded run between two bare ones: its ratio is to the
    mean of the two, which cancels a machine that drifts slower or faster over minutes. The first
    recording only finds the argv and warms the page cache; it gives no ratio."""
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = str(single_run_scenario(args.scenario, args.only, Path(tmp))) if args.only else args.scenario
        plan = [args.modes[0]] + [mode for _ in range(args.rounds) for mode in args.modes]
        bare_runs: dict[str, tuple] = {}  # label -> (backend, argv, env, cwd): what a bare run repeats
        pending: list[tuple[str, str, float, float | None]] = []  # (mode, label, figure, bare before)
        last_bare: dict[str, float | None] = {}
        for n, mode in enumerate(plan):
            session = load_session(record(mode, scenario, args.set, Path(tmp), n, args.telemetry))
            for run in session.runs:
                if run.warmup or run.backend not in STREAMING or (args.labels and run.label not in args.labels):
                    continue
                bare_runs[run.label] = (run.backend, run.argv, run.env, run.cwd)
                figure = run_metrics(session, run).decode_tok_s["reported"] if run.status == "ok" else None
                if n and figure:
                    pending.append((mode, run.label, figure, last_bare.get(run.label)))
                elif n:
                    print(f"round {n} {mode:8} {run.label:24} {run.status}: no figure ({run.error})", flush=True)
            for label, (backend, argv, env, cwd) in bare_runs.items():
                try:
                    bare = bare_figure(backend, argv, env, cwd, Path(tmp) / "bare.log")
                except Exception as exc:  # report, go on with the other runs
                    print(f"{label}: bare run failed: {exc}", file=sys.stderr)
                    bare = None
                last_bare[label] = bare
                for item in [p for p in pending if p[1] == label]:
                    pending.remove(item)
                    m, _, figure, before = item
                    around = [b for b in (before, bare) if b]
                    if not around:
                        continue
                    ratio = figure / statistics.mean(around)
                    ratios[(m, label)].append(ratio)
                    print(f"round {n} {m:8} {label:24} under orintui {figure:.2f} bare {before or 0:.2f} / "
                          f"{bare or 0:.2f} ratio {ratio:.4f}", flush=True)
    print(f"\n{'mode':8} {'run':24} {'median':>7} {'95% interval':>16} {'n':>3}  ratios (under orintui / bare around it)")
    for (mode, label), values in ratios.items():
        low, high = bootstrap_median(values)
        print(f"{mode:8} {label:24} {statistics.median(values):7.3f} {low:7.3f} .. {high:5.3f} {len(values):3}  "
              f"{' '.join(f'{v:.3f}' for v in values)}")
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
    p.add_argument("--telemetry", default="auto", help="with --scenario: orintui run's --telemetry (default auto: "
                   "what a user gets; none leaves the sampler out)")
    p.add_argument("--only", metavar="LABEL", help="with --scenario: record only the run with this label")
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
