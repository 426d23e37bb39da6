"""``orintui telemetry``: a small logger, one JSON object per line with --json."""

from __future__ import annotations

import argparse
import json
import sys
import time

from orintui.core.format import telemetry_line
from orintui.session import events as ev
from orintui.session.events import SampleLike, round6
from orintui.telemetry.profiles import host_facts, match_profile
from orintui.telemetry.sampler import TelemetrySampler


def format_sample(s: SampleLike) -> str:
    """One line per sample (format.telemetry_line after the time); what the source does not give is
    left out, not shown as 0."""
    return f"{s['t']:7.2f}s {telemetry_line(s)}"


def telemetry_command(args: argparse.Namespace) -> int:
    facts = host_facts()
    profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
    t0 = time.monotonic()
    count = 0
    done = args.count

    def emit(event: ev.Event) -> None:
        nonlocal count
        if event["kind"] == ev.NOTE:
            print(f"orintui: {event['text']}", file=sys.stderr)
            return
        count += 1
        if done is None or count <= done:
            if args.json:  # a sample's time as a session keeps it: no recorder rounds these
                event["t"] = round6(event["t"])
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
