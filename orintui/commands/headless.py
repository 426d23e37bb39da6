"""``orintui run --headless``: a line as each run starts and ends, progress lines in between, the final
table, the session saved."""

from __future__ import annotations

import sys
from typing import TextIO, cast

from orintui.config.scenarios import Scenario
from orintui.core.format import badges, fmt, rate, run_label
from orintui.core.sanitize import clean_line
from orintui.figures.metrics_live import SessionAccumulator
from orintui.reading.report import device_line, render_report
from orintui.running.engine import Execution
from orintui.session import status as st
from orintui.session.events import (
    NOTE,
    PHASE,
    RUN_ENDED,
    RUN_STARTED,
    TOKEN,
    Event,
    NoteEvent,
    Phase,
    PhaseEvent,
    RunEndedEvent,
    TokenLike,
)


class Heartbeat:
    """Tokens so far and the current rate, at most every ``every`` seconds of a run: a long run
    (a BEAM search, 2,000 tokens at 7 tok/s) should not look hung in a log or over SSH. The figures
    are the run's accumulator's, the engine's own (``Execution.figures``, fed each event before the
    printer sees it), as the app's lanes show them."""

    def __init__(self, every: float, figures: SessionAccumulator):
        self.every, self.figures = every, figures
        self.reset(0.0)

    def reset(self, t: float, run: int | None = None) -> None:
        self.run, self.started_t = run, t
        self.phase: str = Phase.LOADING  # a Phase, or the word a loaded or live phase event gives
        self.last_t = t
        self.last_token_t: float | None = None
        self.acc = self.figures.runs[run] if run is not None else None

    def idle(self, now: float) -> str | None:
        """Between tokens, or before the first: say what the run is doing and for how long."""
        quiet_since = self.started_t if self.last_token_t is None else self.last_token_t
        if self.run is None or now - self.last_t < self.every or now - quiet_since < self.every:
            return None  # token lines speak for a run that is generating
        self.last_t = now
        if self.last_token_t is None or self.acc is None:
            return f"{self.phase}, {now - self.started_t:.1f} s since start, no token yet"
        return f"{self.acc.tokens} tokens, none for {now - self.last_token_t:.1f} s"

    def token(self, event: TokenLike) -> str | None:
        t = event["t"]
        self.last_token_t = t
        if t - self.last_t < self.every or self.acc is None:
            return None
        self.last_t = t
        value, rolling = self.acc.current_rate()
        return f"{self.acc.tokens} tokens" + (f", {rate(value, rolling)}" if value else "")


def say(text: str, stream: TextIO | None = None) -> None:
    """One line of the log: names, labels and errors come from data, so through the sanitiser."""
    print(clean_line(text), file=stream or sys.stdout, flush=True)


def run_headless(scenario: Scenario, out: str | None, telemetry: str, interval: float, label: str = "",
                 progress_s: float = 10.0) -> int:
    execution = Execution(scenario, out, telemetry, interval, label)
    try:  # from here a signal stops the runs and the session is saved, whether or not they started
        return _run(execution, progress_s)
    except KeyboardInterrupt:
        execution.stop("interrupted (Ctrl-C)")
        if not execution.started:  # every run is recorded as not started, and the session saved
            execution.start()
        execution.wait()
        recorder = execution.recorder
        if recorder.saved:
            say(f"orintui: interrupted; session saved to {recorder.final_path}", sys.stderr)
        else:
            say(f"orintui: interrupted; session NOT saved: {recorder.save_error}; what was recorded is in "
                f"{recorder.journal_path}", sys.stderr)
        return 130


def _run(execution: Execution, progress_s: float) -> int:
    scenario, session = execution.scenario, execution.session
    total = len(session.runs)
    host = session.host
    say(f"orintui: {scenario.name}: {total} run(s); telemetry: {host.get('telemetry_source') or 'none'}; "
        f"session: {execution.recorder.final_path}")
    if device := device_line(session):  # on a Jetson: power mode and whether clocks are locked
        say(f"orintui: {device}")
    if execution.power_line:  # said before the first switch: orintui is about to change the board's mode
        say(f"orintui: power-mode sweep (running as root): {execution.power_line}")
    if execution.gate_line:
        say(f"orintui: {execution.gate_line}")

    heartbeat = Heartbeat(progress_s, execution.figures)

    def line(text: str | None) -> None:
        run = heartbeat.run
        if text is not None and run is not None:
            say(f"[{run + 1}/{total}] {run_label(session.runs[run], session.runs)}: {text}")

    def progress(event: Event) -> None:
        # a token goes to the heartbeat typed (TokenLike: no cast); the other kinds are cast in their branch
        if event["kind"] == TOKEN:
            line(heartbeat.token(event))
        elif event["kind"] == PHASE and event.get("run") == heartbeat.run:
            heartbeat.phase = cast(PhaseEvent, event).get("phase") or heartbeat.phase
        elif event["kind"] == NOTE and (note := cast(NoteEvent, event)).get("gate"):  # the gate holds the next run back
            run = session.runs[event["run"]]
            say(f"[{run.index + 1}/{total}] {run.label}: {note.get('text')}")
        elif event["kind"] == RUN_STARTED:
            heartbeat.reset(event["t"], event["run"])
            run = session.runs[event["run"]]
            say(f"[{run.index + 1}/{total}] {run_label(run, session.runs)}: started")
        elif event["kind"] == RUN_ENDED:
            heartbeat.run = None
            run = session.runs[event["run"]]
            m = execution.figures.metrics(run.index)  # its batch figures, from the engine's accumulator
            figures = f"{m.tokens} tokens, decode {fmt(m.decode)} tok/s" if m.tokens or m.bench else ""
            if m.bench:
                figures = "; ".join(f"{r.get('test')} {fmt(r.get('avg_ts'))} t/s" for r in m.bench)
            end = cast(RunEndedEvent, event)
            status, error = end.get("status"), end.get("error")
            why = f" ({error})" if status != st.OK and error else ""
            say(f"[{run.index + 1}/{total}] {run_label(run, session.runs)}: {status}{why}"
                + (f": {figures}" if figures else "") + badges(f.code for f in m.flags))

    execution.recorder.subscribe(progress)
    execution.start()
    while not execution.wait(0.2):  # short waits: Ctrl-C stays prompt
        line(heartbeat.idle(execution.recorder.now()))
    path = execution.recorder.final_path
    print()
    if execution.measured is not None:  # the figures the engine finished from its accumulators
        print(render_report([execution.measured[0]], metrics=[execution.measured[1]]))
    else:  # they could not be finished (logged): from the saved document, read back once
        print(render_report([execution.recorder.snapshot()]))
    print()
    recorder = execution.recorder
    if problem := recorder.listener_report():
        say(problem, sys.stderr)
    if not recorder.saved:
        say(f"orintui: session NOT saved: {recorder.save_error}; what was recorded is in {recorder.journal_path}",
            sys.stderr)
        return 1
    print(f"session saved: {path}")
    failing = st.failing_runs(session.runs)
    if failing:
        say(f"orintui: {len(failing)} run(s) not ok: " + "; ".join(f"{r.label}: {r.status}" for r in failing),
            sys.stderr)
    return 1 if failing else 0
