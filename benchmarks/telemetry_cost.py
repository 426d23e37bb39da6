"""CPU time each telemetry source costs per sample on this machine.

    python benchmarks/telemetry_cost.py [--samples N] [--interval S] [--sources ...]

For each source that opens here: N samples, and the CPU time (user+system) of this process plus
its children (tegrastats is a child) divided by N. Sources that cannot open say why.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orintui.telemetry.base import SourceUnavailable  # noqa: E402
from orintui.telemetry.profiles import host_facts, match_profile  # noqa: E402
from orintui.telemetry.sampler import ORDER, make_source  # noqa: E402


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--sources", nargs="*", default=list(ORDER))
    args = p.parse_args()
    facts = host_facts()
    profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
    print(f"host {facts['hostname']} ({facts['machine']}), {os.cpu_count()} CPUs; {args.samples} samples at {args.interval}s")
    print(f"{'source':12} {'CPU ms/sample':>14} {'wall ms/read':>13}  note")
    for name in args.sources:
        source = make_source(name, args.interval, profile, clock=lambda m: m)
        try:
            source.open()
        except SourceUnavailable as exc:
            print(f"{name:12} {'-':>14} {'-':>13}  unavailable: {exc}")
            continue
        cpu0, reads = cpu_seconds(), 0.0
        for _ in range(args.samples):
            t = time.perf_counter()
            source.read()
            reads += time.perf_counter() - t
            if not source.pushes:
                time.sleep(args.interval)
        source.close()
        cpu = (cpu_seconds() - cpu0) / args.samples * 1000
        print(f"{name:12} {cpu:14.3f} {reads / args.samples * 1000:13.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
