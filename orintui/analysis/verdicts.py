"""Verdicts on compared pairs of labels: "A is X % faster than B (95 % interval ...)", "no difference
we can detect", or "not enough repetitions to say" with how many would be needed.

Two methods, always named in the verdict:
- repetitions (two or more measured runs per label, or llama-bench's own per-repetition rates):
  Fieller's 95 % interval on the ratio of mean decode rates, Welch degrees of freedom;
- single runs: a moving-block bootstrap (fixed seed) on the per-token times of one run each. Tokens
  are not independent repetitions: that interval says how steady each run was, not where a rerun
  would land, and the verdict says so.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from orintui.analysis.stats import RatioInterval, block_bootstrap_ratio, fieller_ratio, repetitions_needed
from orintui.figures.metrics import RunMetrics, label_stats, spread
from orintui.session.model import Session

LEVEL = 0.95
EQUIVALENT = 0.03  # an interval inside +-3 % is "no difference we can detect"
MIN_TOKENS = 10  # per-token series shorter than this give no single-run verdict
TOKEN_CAVEAT = ("from the per-token times of one run each: tokens are not independent repetitions, so this "
                "says how steady each run was, not where a rerun would land; repeat the runs to be sure")

FASTER, SAME, UNSURE = "faster", "no-difference", "not-enough"


@dataclass
class Verdict:
    a: str
    b: str
    kind: str  # FASTER, SAME or UNSURE
    ratio: float | None  # decode rate of a over b
    lo: float | None
    hi: float | None
    n_a: int
    n_b: int
    method: str | None
    needed: int | None  # repetitions per label that would settle an UNSURE verdict
    text: str
    caveat: str | None = None
    rate_a: float | None = None  # the mean decode rates the interval is about (tok/s)
    rate_b: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def repetition_rates(runs: Sequence[RunMetrics]) -> list[float]:
    """Per-repetition decode rates of one label: its measured runs, or, for a single llama-bench run,
    the per-repetition rates of its token-generation test."""
    rates = [m.decode for m in runs if m.decode]
    if len(runs) == 1:
        for row in runs[0].bench:
            samples = row.get("samples_ts") or []
            if row.get("n_gen") and not row.get("n_prompt") and len(samples) > 1:
                return [float(s) for s in samples]
    return [float(r) for r in rates]


def pct(ratio: float) -> str:
    return f"{(ratio - 1.0) * 100.0:+.1f} %"


def _faster_text(a: str, b: str, iv: RatioInterval, counts: tuple[int, int], unit: str) -> str:
    """The faster label first, its counts first too."""
    assert iv.lo is not None and iv.hi is not None
    first = iv.ratio >= 1.0
    fast, slow = (a, b) if first else (b, a)
    r, lo, hi = (iv.ratio, iv.lo, iv.hi) if first else (1 / iv.ratio, 1 / iv.hi, 1 / iv.lo)
    n = f"{counts[0 if first else 1]} and {counts[1 if first else 0]} {unit}"
    if r >= 2.0:  # "16.7x as fast" reads better than "1570 % faster"
        return f"{fast} is {r:.2f}x as fast as {slow} (95 % interval {lo:.2f}..{hi:.2f}x, {n})"
    return f"{fast} is {(r - 1) * 100:.1f} % faster than {slow} (95 % interval {(lo - 1) * 100:.1f}..{(hi - 1) * 100:.1f} %, {n})"


def classify(a: str, b: str, iv: RatioInterval, n_a: int, n_b: int, counts: tuple[int, int], unit: str,
             needed: int | None, caveat: str | None) -> Verdict:
    n = f"{counts[0]} and {counts[1]} {unit}"

    def made(kind: str, text: str, need: int | None = None) -> Verdict:
        return Verdict(a, b, kind, iv.ratio, iv.lo, iv.hi, n_a, n_b, iv.method, need, text, caveat)

    if iv.lo is not None and iv.hi is not None and (iv.lo > 1.0 or iv.hi < 1.0):
        return made(FASTER, _faster_text(a, b, iv, counts, unit))
    if iv.lo is not None and iv.hi is not None and iv.lo >= 1 - EQUIVALENT and iv.hi <= 1 + EQUIVALENT:
        return made(SAME, f"{a} vs {b}: no difference we can detect ({pct(iv.ratio)}, 95 % interval "
                          f"{pct(iv.lo)}..{pct(iv.hi)}, {n})")
    span = "unbounded" if iv.lo is None or iv.hi is None else f"{pct(iv.lo)}..{pct(iv.hi)}"
    more = (f"about {needed} repetitions each would narrow it to the difference seen (or to +-{EQUIVALENT:.0%})"
            if needed else "repeat each run (3 or more) for an interval over repetitions")
    return made(UNSURE, f"{a} vs {b}: not enough repetitions to say ({pct(iv.ratio)}, 95 % interval {span}, {n}); {more}",
                needed)


def verdict(session: Session, metrics: Sequence[RunMetrics], a: str, b: str) -> Verdict:
    """Label a against label b on decode rate, over their measured (ok, not warm-up) runs."""
    return verdict_between(a, (session, measured(metrics, a)), b, (session, measured(metrics, b)))


def measured(metrics: Sequence[RunMetrics], label: str) -> list[RunMetrics]:
    return [m for m in metrics if m.label == label and m.ranks]


Side = tuple[Session, Sequence[RunMetrics]]


def verdict_between(a: str, side_a: Side, b: str, side_b: Side) -> Verdict:
    """a's runs against b's (in one session, or one label across two sessions)."""
    runs_a, runs_b = side_a[1], side_b[1]  # each run's figures carry its per-token times
    if not runs_a or not runs_b:
        missing = a if not runs_a else b
        return Verdict(a, b, UNSURE, None, None, None, len(runs_a), len(runs_b), None, None,
                       f"{a} vs {b}: nothing to compare ({missing} has no complete measured run)")
    rates_a, rates_b = repetition_rates(runs_a), repetition_rates(runs_b)
    if len(rates_a) >= 2 and len(rates_b) >= 2:
        iv = fieller_ratio(rates_a, rates_b, LEVEL)
        spread_a, spread_b = spread(rates_a), spread(rates_b)
        needed = repetitions_needed(spread_a.cv or 0.0, spread_b.cv or 0.0, max(abs(iv.ratio - 1.0), EQUIVALENT), LEVEL)
        counts = (len(rates_a), len(rates_b))
        v = classify(a, b, iv, *counts, counts, "repetitions, Fieller", needed, None)
        v.rate_a, v.rate_b = spread_a.mean, spread_b.mean
        return v
    if len(runs_a) == 1 and len(runs_b) == 1:
        ta, tb = runs_a[0].token_ms, runs_b[0].token_ms  # steady per-token times (metrics.token_times)
        if len(ta) >= MIN_TOKENS and len(tb) >= MIN_TOKENS:
            iv = block_bootstrap_ratio(tb, ta, LEVEL)  # time per token of b over a: rate of a over b
            v = classify(a, b, iv, 1, 1, (len(ta), len(tb)), "tokens of one run each, block bootstrap", None, TOKEN_CAVEAT)
            v.rate_a, v.rate_b = 1000.0 / statistics.fmean(ta), 1000.0 / statistics.fmean(tb)
            return v
    mean_a, mean_b = spread(rates_a).mean, spread(rates_b).mean
    ratio = mean_a / mean_b if mean_a is not None and mean_b else None
    shown = f" ({pct(ratio)})" if ratio else ""
    fewest = a if len(rates_a) < 2 else b
    why = ("too few per-token times for a single-run interval" if len(rates_a) == len(rates_b) == 1
           else f"{fewest} has {min(len(rates_a), len(rates_b))} repetition(s)")
    return Verdict(a, b, UNSURE, ratio, None, None, len(rates_a), len(rates_b), None, None,
                   f"{a} vs {b}: not enough repetitions to say{shown}: {why}; repeat each run (3 or more)")


def ranked_labels(metrics: Sequence[RunMetrics]) -> list[str]:
    return list(dict.fromkeys(m.label for m in metrics if m.ranks and m.decode))


ALL_PAIRS_UP_TO = 6  # labels; beyond (a sweep's cells), each label against the fastest only


def compared_pairs(session: Session, metrics: Sequence[RunMetrics]) -> list[tuple[str, str]]:
    """The pairs a scenario names (``compare = [["A", "B"]]``), else every pair of labels with a rate
    (with more than ALL_PAIRS_UP_TO labels: the fastest label against each other one)."""
    named = (session.scenario or {}).get("compare") if isinstance(session.scenario, dict) else None
    if isinstance(named, list) and named:
        return [(str(p[0]), str(p[1])) for p in named if isinstance(p, (list, tuple)) and len(p) == 2]
    labels = ranked_labels(metrics)
    if len(labels) <= ALL_PAIRS_UP_TO:
        return list(itertools.combinations(labels, 2))
    rate = {x: stats.decode_mean or 0.0 for x, stats in label_stats(metrics).items()}
    best = max(labels, key=lambda x: rate[x])
    return [(best, x) for x in labels if x != best]


def session_verdicts(session: Session, metrics: Sequence[RunMetrics]) -> list[Verdict]:
    return [verdict(session, metrics, a, b) for a, b in compared_pairs(session, metrics)]
