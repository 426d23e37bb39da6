"""What the metrics exporter costs per event, beside the app's own fold (LiveState.apply) of the same
events: both run on the recorder's writer thread, never on the reader that stamps token times. The
exporter reads the engine's accumulators, which the engine feeds anyway: an exporter round feeds both
and an accumulator round feeds them alone, and the exporter's cost is the difference.

A synthetic session (2 runs, 20,000 tokens, telemetry at 2 Hz, token texts and a sample from the
recorded H100 session) is fed to a fresh MetricsExporter and a fresh LiveState; rounds interleaved
(exporter, LiveState, exporter, ...) since this machine is shared and noisy; medians of microseconds
per event and their ratio printed. A scrape of the result is timed too.

    python benchmarks/exporter_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from common import synthetic_session
from prometheus_client import generate_latest

from orintui.figures.metrics_live import SessionAccumulator
from orintui.reading.live_state import LiveState
from orintui.running.exporter import MetricsExporter


class _Execution:  # what MetricsExporter.watch reads of an engine Execution
    def __init__(self, session):
        self.session = session
        self.recorder = self
        self.figures = SessionAccumulator(session)

    def subscribe(self, listener) -> None:
        self.listener = listener


def _header(session):
    return replace(session, events=[], runs=[replace(r, status="queued", started_t=None, ended_t=None)
                                             for r in session.runs])


def exporter_round(session) -> tuple[float, float]:
    exporter = MetricsExporter()
    header = _header(session)
    execution = _Execution(header)
    exporter.watch(execution)
    figures = execution.figures
    start = time.perf_counter()
    for event in session.events:
        header.apply(event)
        figures.add(event)
        exporter.on_event(event, figures)
    fed = time.perf_counter() - start
    start = time.perf_counter()
    generate_latest(exporter.registry)
    return fed, time.perf_counter() - start


def accumulator_round(session) -> float:
    header = _header(session)
    figures = SessionAccumulator(header)
    start = time.perf_counter()
    for event in session.events:
        header.apply(event)
        figures.add(event)
    return time.perf_counter() - start


def live_state_round(session) -> float:
    state = LiveState(session)
    start = time.perf_counter()
    for event in session.events:
        state.apply(event)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    session = synthetic_session(tokens=20_000, tok_s=100.0, samples=400, sample_hz=2.0)
    n = len(session.events)
    exporter_s, scrape_s, live_s, acc_s = [], [], [], []
    for _ in range(args.rounds):
        fed, scrape = exporter_round(session)
        exporter_s.append(fed)
        scrape_s.append(scrape)
        acc_s.append(accumulator_round(session))
        live_s.append(live_state_round(session))
    acc = statistics.median(acc_s) / n * 1e6
    exp, live = statistics.median(exporter_s) / n * 1e6 - acc, statistics.median(live_s) / n * 1e6
    print(f"{n} events, {args.rounds} interleaved rounds (medians)")
    print(f"exporter on_event   {exp:7.2f} us/event")
    print(f"LiveState.apply     {live:7.2f} us/event")
    print(f"ratio exporter/LiveState {exp / live:.2f}x; one scrape {statistics.median(scrape_s) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
