"""``orintui run --headless``: a progress line per run, the final table, the session saved."""

from __future__ import annotations

import sys

from orintui.engine import Execution
from orintui.metrics import run_metrics
from orintui.report import fmt, render_report
from orintui.scenarios import Scenario
from orintui.session.events import RUN_ENDED, RUN_STARTED


def run_headless(scenario: Scenario, out: str | None, telemetry: str, interval: float, label: str = "") -> int:
    execution = Execution(scenario, out, telemetry, interval, label)
    session = execution.session
    total = len(session.runs)
    host = session.host
    print(f"orintui: {scenario.name}: {total} run(s); telemetry: {host.get('telemetry_source') or 'none'}; "
          f"session: {execution.recorder.final_path}", flush=True)

    def progress(event: dict) -> None:
        if event["kind"] == RUN_STARTED:
            run = session.runs[event["run"]]
            tag = " (warm-up)" if run.warmup else ""
            print(f"[{run.index + 1}/{total}] {run.label}{tag}: started", flush=True)
        elif event["kind"] == RUN_ENDED:
            run = session.runs[event["run"]]
            m = run_metrics(session, run)
            figures = f"{m.tokens} tokens, decode {fmt(m.decode)} tok/s" if m.tokens or m.bench else ""
            if m.bench:
                figures = "; ".join(f"{r.get('test')} {fmt(r.get('avg_ts'))} t/s" for r in m.bench)
            status = event.get("status")
            why = f" ({event.get('error')})" if status != "ok" and event.get("error") else ""
            print(f"[{run.index + 1}/{total}] {run.label}: {status}{why}" + (f": {figures}" if figures else ""),
                  flush=True)

    execution.recorder.subscribe(progress)
    try:
        path = execution.run()
    except KeyboardInterrupt:
        execution.stop("interrupted (Ctrl-C)")
        execution.wait()
        print(f"orintui: interrupted; session saved to {execution.recorder.final_path}", file=sys.stderr)
        return 130
    print()
    print(render_report([session]))
    print()
    print(f"session saved: {path}")
    failed = [r for r in session.runs if r.status not in ("ok", "skipped")]
    return 1 if failed else 0
