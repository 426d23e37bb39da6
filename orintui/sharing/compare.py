"""``orintui compare``: two or more sessions (one board each, or one board in several modes) side
by side, runs matched by label, every figure as a ratio against a chosen baseline session.

Sessions are named A, B, C... in the order given. A move counts only when it is larger than the
runs' own spread (stddev over repetitions, or the standard error of a single run's decode rate);
its direction is given in words and arrows, never by colour alone. Generation runs and llama-bench
tests are ranked in separate tables: a pp512 throughput is not a decode rate."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

from orintui.analysis.findings import between_sessions
from orintui.analysis.verdicts import FASTER
from orintui.core.sanitize import clean_line
from orintui.figures.metrics import label_stats, mean_stddev, run_decode_standard_error, session_metrics
from orintui.reading.report import fmt, host_line, markdown_table
from orintui.session import status as st
from orintui.session.events import RUN_STARTED
from orintui.session.model import Session

# (name, key, higher is better)
FIGURES = (("Decode tok/s", "decode", True), ("Prefill tok/s", "prefill_tok_s", True), ("TTFT (ms)", "ttft_ms", False),
           ("ms/token p50", "p50", False), ("J/token", "energy_j_per_token", False))
# in the text compare only (the compare screen keeps its columns to fit 80 columns)
ENERGY_FIGURES = (("tok/J", "tokens_per_joule", True), ("marginal J/token", "marginal_j_per_token", False),
                  ("prefill J/token", "prefill_j_per_token", False))
ALL_FIGURES = FIGURES + ENERGY_FIGURES
# moves called out under the tables: the first token's wait and the prompt's rate
WATCHED = ("ttft_ms", "prefill_tok_s")
NAMES = string.ascii_uppercase
# with one run a side and no spread to judge by, a move counts beyond this share of the baseline
NO_SPREAD_SHARE = 0.10


class CompareError(ValueError):
    """Bad compare arguments (too few sessions, an unknown baseline): one line for the user."""


def board_of(session: Session) -> str:
    h = session.host
    return h.get("model") or h.get("gpu_name") or h.get("hostname") or "unknown board"


def power_mode_of(session: Session, run: int | None = None) -> str:
    """The session's power mode, or the one a power sweep set for this run (its run_started says)."""
    facts: dict[str, Any] = dict(session.host)
    if run is not None:
        started = next((e for e in session.run_events(run) if e["kind"] == RUN_STARTED), {})
        facts.update({k: started[k] for k in ("nvpmodel", "jetson_clocks") if started.get(k) is not None})
    mode = facts.get("nvpmodel") or "n/a"
    clocks = {"ON": "clocks locked", "OFF": "clocks not locked"}.get(str(facts.get("jetson_clocks") or ""))
    return f"{mode}, {clocks}" if clocks else mode


def resolve_baseline(sessions: list[Session], spec: str | None) -> int:
    """The baseline's index from ``--baseline``: a position (1 = the first session), a letter, or
    a session id or its first characters."""
    if spec is None or spec == "":
        return 0
    text = spec.strip()
    if text.isdigit():
        n = int(text)
        if 1 <= n <= len(sessions):
            return n - 1
        raise CompareError(f"--baseline {n}: there are {len(sessions)} sessions (1 to {len(sessions)})")
    if len(text) == 1 and text.upper() in NAMES[:len(sessions)]:
        return NAMES.index(text.upper())
    matches = [i for i, s in enumerate(sessions) if s.id == text] or \
              [i for i, s in enumerate(sessions) if s.id.startswith(text)]
    if len(set(sessions[i].id for i in matches)) == 1:
        return matches[0]
    what = "matches more than one session" if matches else "is no position, letter or id of these sessions"
    raise CompareError(clean_line(f"--baseline {text!r} {what}"))


def session_figures(session: Session) -> dict[str, Any]:
    """Per label of measured runs: its state (``ok`` when a complete run exists, else the status of
    its runs), the validity flags of its ok runs, whether it is a llama-bench run, the mean and
    spread of each figure over its ok repetitions, and llama-bench's tests."""
    out: dict[str, dict[str, Any]] = {}
    metrics = session_metrics(session)
    for m in metrics:
        if m.warmup:
            continue
        entry = out.setdefault(m.label, {"state": None, "flags": [], "bench": bool(m.bench), "figures": {}, "tests": {},
                                         "power_mode": power_mode_of(session, m.run)})
        entry["bench"] = entry["bench"] or bool(m.bench)
        if m.ranks:
            entry["state"] = st.OK
            entry["flags"] = sorted(set(entry["flags"]) | {f.code for f in m.flags})
        elif entry["state"] is None:
            entry["state"] = m.status
    for label, stats in label_stats(metrics).items():
        figs = {}
        for _, key, _ in ALL_FIGURES:
            fig = stats.spread(key)
            spread = fig.stddev
            if spread is None and fig.mean is not None and key == "decode" and not out[label]["bench"]:
                spread = run_decode_standard_error(session.run_events(stats.runs[0].run), fig.mean)
            figs[key] = (fig.mean, spread)
        out[label]["figures"] = figs
        tests: dict[str, list[dict[str, Any]]] = {}
        for m in stats.runs:
            for row in m.bench:
                if isinstance(row.get("avg_ts"), (int, float)):
                    tests.setdefault(str(row.get("test")), []).append(row)
        for test, bench_rows in tests.items():
            mean, spread = mean_stddev([r["avg_ts"] for r in bench_rows])
            if spread is None and isinstance(bench_rows[0].get("stddev_ts"), (int, float)):
                spread = bench_rows[0]["stddev_ts"]  # llama-bench's own spread over its repetitions
            out[label]["tests"][test] = (mean, spread)
    return out


def move(base: tuple[float | None, float | None], this: tuple[float | None, float | None],
         higher_better: bool) -> dict[str, Any]:
    """One figure against the baseline's: ratio, whether it moved beyond the spread, and how."""
    (va, sa), (vb, sb) = base, this
    ratio = vb / va if va and vb is not None else None
    known = sa is not None or sb is not None
    spread = max(s for s in (sa, sb, 0.0) if s is not None) if known else abs(va or 0.0) * NO_SPREAD_SHARE
    moved = va is not None and vb is not None and spread > 0 and abs(vb - va) > spread
    if va is None or vb is None:
        direction, better = None, None
    else:
        direction = None if ratio is None else ("up" if vb > va else "down" if vb < va else "same")
        better = None if not moved else (vb > va) == higher_better
    within = "within spread" if known else f"within {NO_SPREAD_SHARE:.0%}"
    return {"value": vb, "spread": sb, "ratio": ratio, "moved": moved, "direction": direction, "better": better,
            "verdict": None if ratio is None else (within if not moved else "better" if better else "worse")}


ARROWS = {"up": "↑", "down": "↓", "same": "="}


def move_text(f: dict[str, Any]) -> str:
    """'↑ 2.00x better', '↓ 0.98x within spread': direction in an arrow and a word, never colour alone."""
    if f["ratio"] is None:
        return "n/a"
    return f"{ARROWS[f['direction']]} {f['ratio']:.2f}x {f['verdict']}"


def compare_sessions(sessions: list[Session], baseline: int = 0) -> dict[str, Any]:
    """Everything compare shows, for text, JSON and the app alike."""
    if len(sessions) < 2:
        raise CompareError("compare needs two or more sessions")
    if len(sessions) > len(NAMES):
        raise CompareError(f"compare takes at most {len(NAMES)} sessions")
    figures = [session_figures(s) for s in sessions]
    base = figures[baseline]
    labels = list(dict.fromkeys(label for f in figures for label in f))
    infos = [{"name": NAMES[i], "id": s.id, "label": s.label, "title": s.title, "started_at": s.started_at,
              "board": board_of(s), "power_mode": power_mode_of(s), "host": host_line(s), "baseline": i == baseline}
             for i, s in enumerate(sessions)]
    generation, bench, moves = [], [], []
    missing = {label: [NAMES[i] for i, f in enumerate(figures) if label not in f] for label in labels}
    for label in labels:
        for i, f in enumerate(figures):
            entry = f.get(label)
            if entry is None:
                continue  # said once, under the tables
            row: dict[str, Any] = {"label": label, "session": NAMES[i], "power_mode": entry["power_mode"],
                                   "state": entry["state"],
                                   "flags": entry["flags"],
                                   "flags_differ": bool(label in base and i != baseline and entry["state"] == st.OK
                                                        and base[label]["state"] == st.OK and entry["flags"] != base[label]["flags"])}
            if entry["bench"]:
                for test, value in entry["tests"].items():
                    m = move(base.get(label, {}).get("tests", {}).get(test, (None, None)), value, True)
                    bench.append({**row, "test": test, **m})
                if not entry["tests"]:
                    bench.append({**row, "test": None, **move((None, None), (None, None), True)})
                continue
            row["figures"] = {}
            for name, key, higher_better in ALL_FIGURES:
                this = entry["figures"].get(key, (None, None))
                row["figures"][key] = {"name": name, **move(base.get(label, {}).get("figures", {}).get(key, (None, None)),
                                                             this, higher_better)}
                if key in WATCHED and i != baseline and row["figures"][key]["moved"]:
                    moves.append({"label": label, "session": NAMES[i], "figure": name, "key": key,
                                  "baseline": base[label]["figures"][key][0], **row["figures"][key]})
            generation.append(row)
    _rank(generation, lambda r: r["figures"]["decode"]["value"] if r["state"] == st.OK else None)
    _rank(bench, lambda r: r["value"] if r["state"] == st.OK else None, group=lambda r: r["test"] or "")
    findings = [{"session": NAMES[i], **v.to_dict()} for i, s in enumerate(sessions) if i != baseline
                for v in between_sessions(sessions[baseline], s, NAMES[baseline], NAMES[i])]
    return {"baseline": NAMES[baseline], "sessions": infos, "generation": generation, "bench": bench, "moves": moves,
            "missing": {label: names for label, names in missing.items() if names}, "findings": findings}


def _rank(rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], float | None],
          group: Callable[[dict[str, Any]], str] = lambda r: "") -> None:
    """Best first (by decode rate, or t/s within each llama-bench test); rows with no figure last, unranked."""
    ranked: dict[str, int] = {}
    rows.sort(key=lambda r: (group(r), value(r) is None, -(value(r) or 0.0), r["label"], r["session"]))
    for r in rows:
        if value(r) is None:
            r["rank"] = None
            continue
        ranked[group(r)] = ranked.get(group(r), 0) + 1
        r["rank"] = ranked[group(r)]


def row_title(row: dict[str, Any]) -> str:
    """A row's label with how it stands when it did not run completely ('failed', 'partial') and '!'
    when its validity flags differ from the baseline's."""
    where = "" if row["state"] == st.OK else f" ({row['state']})"
    return row["label"] + where + (" !" if row["flags_differ"] else "")


def _cell(f: dict[str, Any], is_base: bool) -> str:
    if f["value"] is None:
        return "n/a"
    return fmt(f["value"]) + ("" if is_base or f["ratio"] is None else f" ({move_text(f)})")


def render_compare(sessions: list[Session], form: str = "md", baseline: int = 0) -> str:
    result = compare_sessions(sessions, baseline)
    if form == "json":
        return json.dumps(result, indent=2)
    base = result["baseline"]
    lines = []
    for info in result["sessions"]:
        lines.append(clean_line(f"{info['name']}{' (baseline)' if info['baseline'] else ''}: {info['title']} "
                                f"({info['id']}, {info['started_at'][:16].replace('T', ' ')}): board {info['board']}, "
                                f"power mode {info['power_mode']}; {info['host']}"))
    where = {info["name"]: info for info in result["sessions"]}
    if result["findings"]:  # the verdicts (analysis/verdicts.py): each label's decode rate against the baseline
        lines += ["", f"Findings (decode rate against {base}):"]
        lines += [clean_line(f"- {f['text']}" + (f" ({f['caveat']})" if f["caveat"] and f["kind"] == FASTER else ""))
                  for f in result["findings"]]
    if result["generation"]:
        header = ["Rank", "Backend", "Session", "Board", "Power mode"] + [name for name, _, _ in ALL_FIGURES]
        body = [[str(r["rank"] or "-"), row_title(r), r["session"], where[r["session"]]["board"],
                 r["power_mode"]] + [_cell(r["figures"][key], r["session"] == base) for _, key, _ in ALL_FIGURES]
                for r in result["generation"]]
        lines += ["", f"Generation runs, ranked by decode tok/s (ratios against {base}):", "", markdown_table(header, body)]
    if result["bench"]:
        body = [[str(r["rank"] or "-"), r["test"] or "n/a", row_title(r), r["session"], where[r["session"]]["board"],
                 r["power_mode"],
                 "n/a" if r["value"] is None else fmt(r["value"]) + (f" ± {fmt(r['spread'])}" if r["spread"] else ""),
                 "" if r["session"] == base else move_text(r)] for r in result["bench"]]
        lines += ["", f"llama-bench tests, ranked within each test by t/s (ratios against {base}):", "",
                  markdown_table(["Rank", "Test", "Backend", "Session", "Board", "Power mode", "t/s", f"vs {base}"], body)]
    if result["moves"]:
        lines += ["", f"TTFT and prefill moves beyond the runs' spread (against {base}):"]
        lines += [clean_line(f"- {m['label']} in {m['session']}: {m['figure']} {fmt(m['baseline'])} -> {fmt(m['value'])}, "
                             f"{move_text(m)}") for m in result["moves"]]
    if result["missing"]:
        lines += ["", "Not in every session: " + clean_line("; ".join(
            f"{label} (not in {', '.join(names)})" for label, names in result["missing"].items()))]
    differ = [r for r in result["generation"] + result["bench"] if r["flags_differ"]]
    for r in {(r["label"], r["session"]): r for r in differ}.values():
        base_flags: list[str] = next((x["flags"] for x in result["generation"] + result["bench"]
                           if x["label"] == r["label"] and x["session"] == base), [])
        lines.append(clean_line(f"! {r['label']}: flags {base} {', '.join(base_flags) or 'none'}; "
                                f"{r['session']} {', '.join(r['flags']) or 'none'}"))
    lines += ["", "Ratios are this session's figure over the baseline's; ↑ higher, ↓ lower; better or worse only when "
              "the move exceeds the runs' own spread (stddev over repetitions, or the standard error of the decode "
              f"rate for a single run), or {NO_SPREAD_SHARE:.0%} of the baseline where neither side has one; only complete "
              "(ok) runs are compared."]
    return "\n".join(lines)
