"""What the Findings pane costs on a big session: the verdicts' block bootstrap, pure Python (the
reference, what it was) against numpy (what runs now), in interleaved rounds, wall and CPU seconds.

A synthetic session of TOKENS tokens in RUNS runs of one label each (every pair of labels gets a
single-run verdict: six pairs for four runs); both ways must give the same intervals.

    python benchmarks/bootstrap_cost.py [TOKENS] [RUNS] [ROUNDS]
"""

from __future__ import annotations

import sys
import time

from common import synthetic_session


def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    from orintui.analysis import stats
    from orintui.analysis.findings import session_findings
    from orintui.analysis.verdicts import session_verdicts
    from orintui.figures.metrics import session_metrics

    session = synthetic_session(tokens, 500.0, tokens // 100, 1.0, runs=runs)
    metrics, wall, _cpu = timed(lambda: session_metrics(session))
    print(f"{tokens:,} tokens in {runs} runs; session_metrics {wall:.2f} s (the findings include it)")
    vectorised = stats._resampled_ratios_numpy
    ways = {"reference (pure Python)": stats._resampled_ratios_python, "numpy": vectorised}
    seen: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in ways}
    intervals = {}
    try:
        for r in range(rounds):
            for name, way in ways.items():
                stats._resampled_ratios_numpy = way  # type: ignore[assignment]
                verdicts, v_wall, v_cpu = timed(lambda: session_verdicts(session, metrics))
                _findings, f_wall, f_cpu = timed(lambda: session_findings(session))
                intervals[name] = [(v.lo, v.hi) for v in verdicts]
                seen[name].append((v_wall, v_cpu, f_wall, f_cpu))
                print(f"  round {r + 1} {name:24} verdicts {v_wall:6.2f} s wall {v_cpu:6.2f} s CPU   "
                      f"session_findings {f_wall:6.2f} s wall {f_cpu:6.2f} s CPU", flush=True)
    finally:
        stats._resampled_ratios_numpy = vectorised  # type: ignore[assignment]
    (before, after) = (min(seen[name], key=lambda t: t[0]) for name in ways)
    print(f"best of {rounds}: verdicts {before[0]:.2f} -> {after[0]:.3f} s wall ({before[0] / after[0]:.0f}x), "
          f"{before[1]:.2f} -> {after[1]:.3f} s CPU; session_findings {before[2]:.2f} -> {after[2]:.2f} s wall, "
          f"{before[3]:.2f} -> {after[3]:.2f} s CPU")
    same = len(set(map(tuple, intervals.values()))) == 1
    print("same intervals both ways:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
