"""The block bootstrap alone (orintui/analysis/stats.py), no session: the six pairs of four runs of
TOKENS / 4 per-token times each, pure Python (the reference) against numpy, interleaved rounds.
Needs only numpy, so it runs on a bare machine too.

    python benchmarks/bootstrap_pairs.py [TOKENS] [ROUNDS]
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
import time
from pathlib import Path


def main() -> int:
    tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    path = Path(__file__).resolve().parent.parent / "orintui" / "analysis" / "stats.py"
    spec = importlib.util.spec_from_file_location("stats", path)
    assert spec is not None and spec.loader is not None
    stats = importlib.util.module_from_spec(spec)
    sys.modules["stats"] = stats
    spec.loader.exec_module(stats)
    r = random.Random(1)
    runs = [[r.gauss(2.0 + k * 0.01, 0.1) for _ in range(tokens // 4)] for k in range(4)]
    vectorised = stats._resampled_ratios_numpy
    ways = {"reference (pure Python)": stats._resampled_ratios_python, "numpy": vectorised}
    best = {name: (float("inf"), float("inf")) for name in ways}
    out = {}
    for n in range(rounds):
        for name, way in ways.items():
            stats._resampled_ratios_numpy = way
            wall, cpu = time.perf_counter(), time.process_time()
            out[name] = [stats.block_bootstrap_ratio(b, a) for a, b in itertools.combinations(runs, 2)]
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = min(best[name], (wall, cpu))
            print(f"  round {n + 1} {name:24} six pairs {wall:6.2f} s wall {cpu:6.2f} s CPU", flush=True)
    stats._resampled_ratios_numpy = vectorised
    (before, after) = best.values()
    print(f"best of {rounds}: {before[0]:.2f} -> {after[0]:.3f} s wall ({before[0] / after[0]:.0f}x), "
          f"{before[1]:.2f} -> {after[1]:.3f} s CPU; same intervals: {out[list(ways)[0]] == out['numpy']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
