"""``orintui doctor``: which sources work here and why the others do not, host facts, backends on
PATH, and the warnings that make results incomparable."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from orintui.telemetry.base import SourceUnavailable
from orintui.telemetry.profiles import host_facts, match_profile
from orintui.telemetry.sampler import ORDER, make_source

BACKEND_PROGRAMS = ("llama-completion", "llama-cli", "llama-bench", "tegrastats", "nvidia-smi", "clang")


def diagnose() -> dict[str, Any]:
    facts = host_facts()
    profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
    sources: dict[str, dict[str, Any]] = {}
    for name in ORDER:
        source = make_source(name, 0.5, profile)
        try:
            source.open()
        except SourceUnavailable as exc:
            sources[name] = {"works": False, "reason": str(exc)}
            continue
        except Exception as exc:
            sources[name] = {"works": False, "reason": f"{name} failed: {exc}"}
            continue
        entry: dict[str, Any] = {"works": True, "reason": None, "interval": source.real_interval}
        if name == "nvml":
            entry["device"] = source.facts
        if getattr(source, "identified", None):  # no device tree (a container): the line's shape
            entry["identified"] = source.identified
            if profile is None and source.profile is not None:
                profile = source.profile
                facts["profile"], facts["profile_from"] = profile.key, source.identified
                facts["peak_bandwidth_gbs"], facts["bus_bytes"] = profile.peak_bandwidth_gbs, profile.bus_bytes
        source.close()
        sources[name] = entry
    from importlib.metadata import PackageNotFoundError, version

    try:
        tinygrad_version = version("tinygrad")
    except PackageNotFoundError:
        tinygrad_version = None
    programs = {p: shutil.which(p) for p in BACKEND_PROGRAMS}
    warnings = []
    if facts.get("model"):
        if facts.get("nvpmodel") and "MAXN" not in facts["nvpmodel"].upper():
            warnings.append(f"power mode is {facts['nvpmodel']}, not MAXN: results are not comparable with MAXN runs")
        if facts.get("jetson_clocks") == "OFF":
            warnings.append("clocks are not locked (sudo jetson_clocks): DVFS adds run-to-run spread")
        elif facts.get("jetson_clocks") is None:
            warnings.append("clock lock state unknown (run as root to read jetson_clocks --show)")
        jtop_reason = sources["jtop"].get("reason") or ""
        if "does not match" in jtop_reason:
            warnings.append(jtop_reason)
        if profile is None:
            warnings.append(f"unknown board {facts['model']!r}: no peak bandwidth, so no bandwidth %")
    chosen = next((n for n in ORDER if sources[n]["works"]), None)
    return {"host": facts, "profile": profile.to_dict() if profile else None, "sources": sources,
            "telemetry_source": chosen, "tinygrad": tinygrad_version, "programs": programs, "warnings": warnings}


def doctor_command(args: argparse.Namespace) -> int:
    report = diagnose()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    h = report["host"]
    print(f"host      {h['hostname']} ({h['machine']}, Python {h['python']})")
    print(f"board     {h.get('model') or ('device tree hidden' if h.get('profile') else 'not a Jetson')}"
          + (f"  [{h['profile']}]" if h.get("profile") else ""))
    if h.get("profile_from"):
        print(f"          identified from {h['profile_from']}")
    if h.get("model"):
        print(f"L4T       {h.get('l4t') or 'n/a'}  JetPack {h.get('jetpack') or 'n/a'}  "
              f"power mode {h.get('nvpmodel') or 'n/a'}  jetson_clocks {h.get('jetson_clocks') or 'n/a'}")
    print("telemetry")
    for name, s in report["sources"].items():
        mark = "ok " if s["works"] else "-- "
        chosen = "  <- used" if name == report["telemetry_source"] else ""
        print(f"  {mark}{name:11}{s['reason'] or ''}{chosen}")
    print("backends")
    print(f"  tinygrad  {report['tinygrad'] or 'not installed'}")
    for prog, where in report["programs"].items():
        print(f"  {prog:17} {where or 'not found'}")
    for w in report["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    return 0
