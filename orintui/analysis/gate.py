"""The regression gate for CI (`orintui compare A B --fail-on-regression`): a label regressed when a
figure got worse by more than the threshold AND the 95 % interval of the change excludes no change
(the sessions' spread): Fieller over repetitions, or for single runs' decode rates a block
bootstrap on per-token times. A figure with no spread to judge (single runs' TTFT or J/token) is
reported, never failed. A label complete in A but not in B is a regression."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orintui.analysis.stats import RatioInterval, block_bootstrap_ratio, fieller_ratio
from orintui.analysis.verdicts import LEVEL, MIN_TOKENS, measured, repetition_rates
from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics, figure, session_metrics, spread
from orintui.session.model import Session

# name -> (what people read, higher is better)
GATE_METRICS = {"decode": ("decode tok/s", True), "j_per_token": ("J/token", False), "ttft": ("TTFT ms", False)}
DEFAULT_THRESHOLD_PCT = 5.0


@dataclass
class Check:
    label: str
    metric: str
    regressed: bool
    text: str


def _values(runs: Sequence[RunMetrics], metric: str) -> list[float]:
    if metric == "decode":
        return repetition_rates(runs)
    key = {"j_per_token": "energy_j_per_token", "ttft": "ttft_ms"}[metric]
    return [float(v) for v in (figure(m, key) for m in runs) if v is not None]


def _interval(metric: str, a: Session, ra: Sequence[RunMetrics], b: Session, rb: Sequence[RunMetrics],
              va: list[float], vb: list[float]) -> RatioInterval | None:
    """B over A, or None where the sessions give no spread to judge the change against."""
    if len(va) >= 2 and len(vb) >= 2:
        return fieller_ratio(vb, va, LEVEL)
    if metric == "decode" and len(ra) == 1 and len(rb) == 1:
        ta, tb = ra[0].token_ms, rb[0].token_ms  # steady per-token times (metrics.token_times)
        if len(ta) >= MIN_TOKENS and len(tb) >= MIN_TOKENS:
            return block_bootstrap_ratio(ta, tb, LEVEL)  # ms in A over ms in B: B's rate over A's
    return None


def check(a: Session, b: Session, metrics: Sequence[str] = ("decode",),
          threshold_pct: float = DEFAULT_THRESHOLD_PCT) -> list[Check]:
    ma, mb = session_metrics(a), session_metrics(b)
    labels = list(dict.fromkeys(m.label for m in ma if m.ranks))
    out = []
    for label in labels:
        ra, rb = measured(ma, label), measured(mb, label)
        if not rb:
            states = sorted({m.status for m in mb if m.label == label and not m.warmup}) or ["missing"]
            out.append(Check(label, "run", True, f"REGRESSION {label}: complete in A, {'/'.join(states)} in B"))
            continue
        for metric in metrics:
            out.append(_check_one(label, metric, a, ra, b, rb, threshold_pct))
    return out


def _check_one(label: str, metric: str, a: Session, ra: Sequence[RunMetrics], b: Session, rb: Sequence[RunMetrics],
               threshold_pct: float) -> Check:
    name, higher_better = GATE_METRICS[metric]
    va, vb = _values(ra, metric), _values(rb, metric)
    if not va or not vb:
        return Check(label, metric, False, f"n/a {label} {name}: not measured in {'A' if not va else 'B'}")
    mean_a, mean_b = spread(va).mean or 0.0, spread(vb).mean or 0.0
    change = (mean_b / mean_a - 1.0) * 100.0 if mean_a else 0.0
    worse = change < 0 if higher_better else change > 0
    head = f"{label} {name}: {mean_a:.4g} -> {mean_b:.4g} ({change:+.1f} %, {len(va)} vs {len(vb)} run(s))"
    iv = _interval(metric, a, ra, b, rb, va, vb)
    if iv is None:
        return Check(label, metric, False, f"not judged {head}: no spread to judge it against (single runs; repeat them)")
    if iv.lo is None or iv.hi is None:
        return Check(label, metric, False, f"ok {head}: the interval is unbounded ({iv.method})")
    span = f"95 % interval {(iv.lo - 1) * 100:+.1f}..{(iv.hi - 1) * 100:+.1f} %, {iv.method}"
    beyond_spread = iv.hi < 1.0 if higher_better else iv.lo > 1.0
    beyond_threshold = worse and abs(change) > threshold_pct
    if beyond_spread and beyond_threshold:
        return Check(label, metric, True, f"REGRESSION {head}: worse by more than {threshold_pct:g} % and beyond "
                                          f"the spread ({span})")
    why = ("better or unchanged" if not worse else
           f"within the {threshold_pct:g} % threshold" if not beyond_threshold else "within the sessions' spread")
    return Check(label, metric, False, f"ok {head}: {why} ({span})")


def render(checks: list[Check]) -> str:
    return "\n".join(clean_line(c.text) for c in checks)
