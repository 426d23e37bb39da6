"""``orintui telemetry``: a small logger, one JSON object per line with --json."""

from __future__ import annotations

import argparse
import json
import sys
import time

from orintui.telemetry.profiles import host_facts, match_profile
from orintui.telemetry.sampler import TelemetrySampler


def format_sample(s: dict) -> str:
    """One line per sample; what the source does not give is left out, not shown as 0."""
    def has(*keys):
        return all(s.get(k) is not None for k in keys)

    parts = [f"{s['t']:7.2f}s {s.get('source')}"]
    if has("gpu_load_pct"):
        parts.append(f"GPU {s['gpu_load_pct']:.0f}%" + (f"@{s['gpu_freq_mhz']:.0f}MHz" if has("gpu_freq_mhz") else ""))
    if has("emc_util_pct"):
        parts.append(f"EMC {s['emc_util_pct']:.0f}%" + (f"@{s['emc_freq_mhz']:.0f}MHz" if has("emc_freq_mhz") else "")
                     + (f" {s['emc_bw_gbs']:.1f}GB/s" if has("emc_bw_gbs") else ""))
    if has("power_total_mw"):
        parts.append(f"{s['power_total_mw'] / 1000:.2f}W ({s.get('power_total_label')})")
    if has("ram_used_mb", "ram_total_mb"):
        parts.append(f"RAM {s['ram_used_mb']:.0f}/{s['ram_total_mb']:.0f}MB")
    cpu = [c for c in (s.get("cpu_load_pct") or []) if c is not None]
    if cpu:
        parts.append(f"CPU {sum(cpu) / len(cpu):.0f}%")
    temps = s.get("temp_c") or {}
    if temps:
        hottest = max(temps, key=lambda name: temps[name])
        parts.append(f"{hottest} {temps[hottest]:.1f}C")
    return "  ".join(parts)


def telemetry_command(args: argparse.Namespace) -> int:
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
