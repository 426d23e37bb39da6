"""The observer effect: a backend's own decode figure under ``orintui run`` vs the same command
run bare (no PTY, no parser, output to a file).

    python benchmarks/observer_effect.py SESSION.json [--labels L ...] [--json OUT.json]

For each measured run of a streaming backend in the session, runs its argv again bare and parses
the backend's own figure from the log (llama.cpp's eval tok/s; tinygrad's per-token ms over the
steady-state tokens). A ratio under 1 means orintui slowed the backend down.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("session")
    p.add_argument("--labels", nargs="*")
    p.add_argument("--json")
    args = p.parse_args()
    session = load_session(args.session)
    rows = []
    for run in session.runs:
        if run.warmup or run.status != "ok" or run.backend not in STREAMING:
            continue
        if args.labels and run.label not in args.labels:
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
    print(f"{'run':24} {'under orintui':>14} {'bare':>10} {'ratio':>7}")
    for r in rows:
        def f(v, d=2):
            return "n/a" if v is None else f"{v:.{d}f}"
        print(f"{r['label']:24} {f(r['monitored_tok_s']):>14} {f(r['bare_tok_s']):>10} {f(r['ratio'], 3):>7}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
