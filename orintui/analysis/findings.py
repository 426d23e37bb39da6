"""The plan's three questions answered as sentences, for the runs present: tinygrad NV against CUDA
(with its verdict), tinygrad against llama.cpp (a ratio with its interval), and the bottleneck of
each backend (its diagnosis); then the other compared pairs and the nearest published references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orintui.analysis.diagnosis import Diagnosis, session_diagnoses
from orintui.analysis.references import Match, Reference, backend_of, load_references, session_references
from orintui.analysis.verdicts import Verdict, compared_pairs, measured, verdict, verdict_between
from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics, label_stats, session_metrics
from orintui.session.model import Session


@dataclass
class Findings:
    nv_vs_cuda: str | None = None
    tinygrad_vs_llama: str | None = None
    bottlenecks: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    references: list[tuple[str, Match]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a user references file with bad rows

    def sentences(self) -> list[str]:
        """Everything, one sanitised line each, in the order a write-up would take them."""
        lines = [x for x in (self.nv_vs_cuda, self.tinygrad_vs_llama) if x]
        lines += self.bottlenecks
        stated = {(v.a, v.b) for v in self.verdicts if v.text in lines}
        lines += [v.text + (f" ({v.caveat})" if v.caveat else "") for v in self.verdicts if (v.a, v.b) not in stated]
        lines += [f"{label}: {m.text}" for label, m in self.references]
        lines += self.notes
        return [clean_line(x) for x in lines]

    def to_dict(self) -> dict[str, Any]:
        return {"nv_vs_cuda": self.nv_vs_cuda, "tinygrad_vs_llama_cpp": self.tinygrad_vs_llama,
                "bottlenecks": self.bottlenecks, "verdicts": [v.to_dict() for v in self.verdicts],
                "diagnoses": [d.to_dict() for d in self.diagnoses],
                "references": [{"label": label, "text": m.text, "value": m.reference.value, "ratio": m.ratio,
                                "differs": m.differs, "source": m.reference.source,
                                "conditions": m.reference.conditions} for label, m in self.references],
                "notes": self.notes, "sentences": self.sentences()}


def _labels_by_backend(session: Session, metrics: list[RunMetrics]) -> dict[str, list[str]]:
    runs = {r.index: r for r in session.runs}
    out: dict[str, list[str]] = {}
    for m in metrics:
        if not m.warmup and m.run in runs:
            family = backend_of(runs[m.run])
            if m.label not in out.setdefault(family, []):
                out[family].append(m.label)
    return out


def _why_missing(metrics: list[RunMetrics], labels: list[str]) -> str:
    for m in metrics:
        if m.label in labels and not m.ranks and not m.warmup:
            parts = [p for p in (m.error or "").split(" | ") if any(c.isalnum() for c in p)]
            error = parts[0].split(": ")[0] + (f": {parts[-1]}" if len(parts) > 1 else "") if parts else ""
            return f"{m.label} {m.status}" + (f" ({error[:160]})" if error else "")
    return "no complete run"


def _mean_decode(metrics: list[RunMetrics], label: str) -> float:
    stats = label_stats(metrics).get(label)
    return (stats.decode_mean if stats else None) or 0.0


def nv_vs_cuda(session: Session, metrics: list[RunMetrics], families: dict[str, list[str]]) -> str | None:
    nv, cuda = families.get("tinygrad NV", []), families.get("tinygrad CUDA", [])
    if not nv and not cuda:
        return None
    ok_nv = [x for x in nv if measured(metrics, x)]
    ok_cuda = [x for x in cuda if measured(metrics, x)]
    if not ok_nv or not ok_cuda:
        side, labels = ("tinygrad NV", nv) if not ok_nv else ("tinygrad CUDA", cuda)
        gone = _why_missing(metrics, labels) if labels else f"no {side} run in this session"
        return f"NV vs CUDA: not answered: {gone}."
    named = [(a, b) for a, b in compared_pairs(session, metrics) if {a, b} <= set(ok_nv) | set(ok_cuda)
             and (a in ok_nv) != (b in ok_nv)]
    a, b = named[0] if named else (ok_nv[0], ok_cuda[0])
    v = verdict(session, metrics, a, b)
    return f"NV vs CUDA: {v.text}" + (f" ({v.caveat})" if v.caveat else "") + "."


def tinygrad_vs_llama(session: Session, metrics: list[RunMetrics], families: dict[str, list[str]]) -> str | None:
    tiny = [x for f, labels in families.items() if f.startswith("tinygrad") for x in labels if measured(metrics, x)]
    llama = [x for x in families.get("llama.cpp", []) if measured(metrics, x)]
    if not tiny or not llama:
        return None
    a = max(tiny, key=lambda x: _mean_decode(metrics, x))
    # the fastest llama.cpp label that gives an interval against it (llama-bench gives no per-token times)
    tries = [verdict(session, metrics, a, x) for x in sorted(llama, key=lambda x: -_mean_decode(metrics, x))]
    v = next((t for t in tries if t.lo is not None), tries[0])
    b = v.b
    if v.ratio is None:
        return f"tinygrad vs llama.cpp: {v.text}."
    interval = (f" (95 % interval {v.lo:.3f}..{v.hi:.3f}, {v.method})" if v.lo is not None and v.hi is not None
                else " (no interval: " + v.text.split(": ", 1)[-1] + ")")
    rates = (f"{v.rate_a:.2f} against {v.rate_b:.2f} tok/s" + (" from per-token times" if v.caveat else "")
             if v.rate_a and v.rate_b else f"{_mean_decode(metrics, a):.2f} against {_mean_decode(metrics, b):.2f} tok/s")
    text = f"tinygrad vs llama.cpp: {a} decodes at {v.ratio:.3f}x the rate of {b} ({rates}){interval}"
    return text + (f"; {v.caveat}" if v.caveat else "") + "."


def bottleneck_lines(diagnoses: list[Diagnosis]) -> list[str]:
    lines, seen = [], set()
    for d in diagnoses:
        if d.label in seen:
            continue
        seen.add(d.label)
        main = d.bottleneck
        rest = [f.text for f in d.findings if f is not main]
        if main is None and not rest:
            lines.append(f"Bottleneck of {d.label}: not diagnosed ({'; '.join(d.not_judged) or 'no rule applies'}).")
            continue
        head = f"Bottleneck of {d.label}: " + (main.text if main else
                                                (d.not_judged[-1] if d.not_judged else "no bottleneck named"))
        lines.append(head + "".join(f"; {x}" for x in rest) + ".")
    return lines


def session_findings(session: Session, metrics: list[RunMetrics] | None = None,
                     refs: list[Reference] | None = None, ref_notes: list[str] | None = None) -> Findings:
    if metrics is None:
        metrics = session_metrics(session)
    if refs is None:
        refs, problems = load_references()
        ref_notes = [*(ref_notes or []), *problems]
    families = _labels_by_backend(session, metrics)
    diagnoses = session_diagnoses(session, metrics)
    f = Findings(nv_vs_cuda=nv_vs_cuda(session, metrics, families),
                 tinygrad_vs_llama=tinygrad_vs_llama(session, metrics, families),
                 bottlenecks=bottleneck_lines(diagnoses),
                 verdicts=[verdict(session, metrics, a, b) for a, b in compared_pairs(session, metrics)],
                 diagnoses=diagnoses, notes=list(ref_notes or []))
    f.references = session_references(session, metrics, refs)
    # a verdict already given as the answer to a question is not repeated
    answered = " ".join(x for x in (f.nv_vs_cuda, f.tinygrad_vs_llama) if x)
    f.verdicts = [v for v in f.verdicts if not (v.a in answered and v.b in answered)]
    return f


def between_sessions(a: Session, b: Session, name_a: str = "A", name_b: str = "B") -> list[Verdict]:
    """Per label measured in both: its decode rate in B against A."""
    ma, mb = session_metrics(a), session_metrics(b)
    labels = [x for x in dict.fromkeys(m.label for m in ma if m.ranks) if measured(mb, x)]
    return [verdict_between(f"{label} in {name_b}", (b, measured(mb, label)), f"{label} in {name_a}",
                            (a, measured(ma, label))) for label in labels]
