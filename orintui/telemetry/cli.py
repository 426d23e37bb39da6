"""``orintui telemetry``: a small logger, one JSON object per line with --json."""

from __future__ import annotations

import json
import sys
import time

from orintui.telemetry.profiles import host_facts, match_profile
from orintui.telemetry.sampler import TelemetrySampler


def format_sample(s: dict) -> str:
    def num(v, fmt="{:.0f}"):
        return "n/a" if v is None else fmt.format(v)

    parts = [f"{s['t']:7.2f}s {s.get('source')}",
             f"GPU {num(s.get('gpu_load_pct'))}%@{num(s.get('gpu_freq_mhz'))}MHz",
             f"EMC {num(s.get('emc_util_pct'))}%@{num(s.get('emc_freq_mhz'))}MHz {num(s.get('emc_bw_gbs'), '{:.1f}')}GB/s",
             f"P {num(s.get('power_total_mw'))}mW ({s.get('power_total_label') or 'n/a'})",
             f"RAM {num(s.get('ram_used_mb'))}/{num(s.get('ram_total_mb'))}MB"]
    cpu = [c for c in (s.get("cpu_load_pct") or []) if c is not None]
    if cpu:
        parts.append(f"CPU {sum(cpu) / len(cpu):.0f}%")
    return "  ".join(parts)


def telemetry_command(args) -> int:
    facts = host_facts()
    profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
    t0 = time.monotonic()
    count = 0
    done = args.count

    def emit(event: dict) -> None:
        nonlocal count
        if event["kind"] == "note":
            print(f"orintui: {event['text']}", file=sys.stderr)
            return
        count += 1
        if done is None or count <= done:
            print(json.dumps(event) if args.json else format_sample(event), flush=True)

    sampler = TelemetrySampler(args.source, args.interval, emit, lambda: time.monotonic() - t0, profile,
                               mono_to_session=lambda m: m - t0)
    if sampler.open() is None:
        reasons = "; ".join(f"{k}: {v}" for k, v in sampler.skipped.items())
        print(f"orintui: no telemetry source works here ({reasons})", file=sys.stderr)
        return 1
    for name, why in sampler.skipped.items():
        print(f"orintui: skipped {name}: {why}", file=sys.stderr)
    sampler.start()
    try:
        while done is None or count < done:
            time.sleep(0.05)
            if sampler.source is None:
                print("orintui: every telemetry source stopped", file=sys.stderr)
                return 1
    finally:
        sampler.stop()
    return 0
