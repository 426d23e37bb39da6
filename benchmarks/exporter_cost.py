"""What the metrics exporter costs per event, beside the app's own fold (LiveState.apply) of the same
events: both run on the recorder's writer thread, never on the reader that stamps token times.

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

from common import synthetic_session
from prometheus_client import generate_latest

from orintui.exporter import MetricsExporter
from orintui.live_state import LiveState
from orintui.metrics import run_metrics


class _Execution:  # what MetricsExporter.watch reads of an engine Execution
    def __init__(self, session):
        self.session = session
        self.recorder = self
        self.figures = self

    def subscribe(self, listener) -> None:
        self.listener = listener

    def metrics(self, index: int):  # the engine's accumulators give the same figures (tests/test_end_of_session.py)
        return run_metrics(self.session, self.session.runs[index])


def exporter_round(session) -> tuple[float, float]:
    exporter = MetricsExporter()
    execution = _Execution(session)
    exporter.watch(execution)
    start = time.perf_counter()
    for event in session.events:
        exporter.on_event(event, execution.metrics)
    fed = time.perf_counter() - start
    start = time.perf_counter()
    generate_latest(exporter.registry)
    return fed, time.perf_counter() - start


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
    exporter_s, scrape_s, live_s = [], [], []
    for _ in range(args.rounds):
        fed, scrape = exporter_round(session)
        exporter_s.append(fed)
        scrape_s.append(scrape)
        live_s.append(live_state_round(session))
    exp, live = statistics.median(exporter_s) / n * 1e6, statistics.median(live_s) / n * 1e6
    print(f"{n} events, {args.rounds} interleaved rounds (medians)")
    print(f"exporter on_event   {exp:7.2f} us/event")
    print(f"LiveState.apply     {live:7.2f} us/event")
    print(f"ratio exporter/LiveState {exp / live:.2f}x; one scrape {statistics.median(scrape_s) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
