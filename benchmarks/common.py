"""Helpers for the benchmarks: sessions of a given size built from a real recorded one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# for the orintui processes a benchmark starts: this tree first, then what the caller had (carried wheels)
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from orintui.session import events as ev  # noqa: E402
from orintui.session import load_session  # noqa: E402
from orintui.session.events import round6  # noqa: E402
from orintui.session.model import RunInfo, Session  # noqa: E402

RECORDED = ROOT / "orintui" / "data" / "demo-session.json.gz"


def synthetic_session(tokens: int, tok_s: float, samples: int, sample_hz: float, runs: int = 2) -> Session:
    """``runs`` runs streaming ``tokens`` tokens in all at ``tok_s``, with telemetry at
    ``sample_hz``; token texts and telemetry samples are taken from the recorded H100 session."""
    real = load_session(RECORDED)
    texts = [e["text"] for e in real.events if e["kind"] == "token"] or ["w"]
    sample = next(e for e in real.events if e["kind"] == "telemetry")
    per_run = tokens // runs
    run_infos, events = [], []
    t = 0.0
    for r in range(runs):
        run_infos.append(RunInfo(index=r, label=f"run {r}", backend="llama-completion", argv=["x"], status="ok"))
        # times to the microsecond, as a recorder keeps them (the event constructors leave them as given)
        events.append(ev.make(ev.RUN_STARTED, round6(t), r))
        events.append({**ev.phase(round6(t), "decode"), "run": r})
        for i in range(per_run):
            t += 1.0 / tok_s
            events.append({**ev.token(round6(t), texts[i % len(texts)], 1000.0 / tok_s), "run": r, "index": i})
        events.append(ev.make(ev.RUN_ENDED, round6(t), r, status="ok", exit_code=0, signal=None, error=None))
    duration = t
    for k in range(samples):
        events.append({**sample, "t": round(min(duration, k / sample_hz), 6)})
    events.sort(key=lambda e: e["t"])
    return Session(id="bench", started_at="2026-11-20T00:00:00", host=dict(real.host), scenario={"name": "bench"},
                   runs=run_infos, events=events)


def cpu_pct_over(pid: int, seconds: float) -> float:
    """A process's CPU over the next ``seconds``, in percent of one core (user + system)."""
    import time

    import psutil

    proc = psutil.Process(pid)
    t0 = proc.cpu_times()
    time.sleep(seconds)
    t1 = proc.cpu_times()
    return 100 * ((t1.user - t0.user) + (t1.system - t0.system)) / seconds
