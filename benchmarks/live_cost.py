"""What one live refresh costs as a run grows: the comparison table's figures (LiveState.metrics) and
every lane's current rate, after 1,000, 50,000 and 200,000 tokens of a live run at 500 tok/s with
telemetry at 2 Hz; the memory the state keeps per token; and what folding one event costs
(LiveState.apply over the whole run: the session model, the accumulators, the lane).

    python benchmarks/live_cost.py [--before GIT_REV] [--rounds 5] [--sizes 1000,50000,200000]

--before measures LiveState as it was at that revision too (extracted with git archive), in
interleaved rounds with the working tree's, each in a fresh process. A refresh follows one new
token, as in a live run (a run that changed is recomputed). Memory: tracemalloc's count of what
the state still holds after folding, each event a fresh dict the state alone could keep.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "orintui" / "data" / "demo-session.json.gz"
TOK_S, SAMPLE_HZ = 500.0, 2.0


def events(tokens: int, texts: list[str], sample: dict):
    """A live run: started, decoding ``tokens`` tokens, telemetry beside it; not ended."""
    yield {"t": 0.0, "kind": "run_started", "run": 0}
    yield {"t": 0.001, "kind": "phase", "run": 0, "phase": "decode", "detail": None}
    next_sample = 0.0
    for i in range(tokens):
        t = round(0.002 + i / TOK_S, 6)
        while next_sample <= t:
            yield {**sample, "t": round(next_sample, 6)}
            next_sample += 1.0 / SAMPLE_HZ
        yield {"t": t, "kind": "token", "run": 0, "text": texts[i % len(texts)], "ms": 1000.0 / TOK_S,
               "warmup": False, "index": i}


def child(tokens: int, refreshes: int, memory: bool) -> dict:
    import tracemalloc

    try:
        from orintui.reading.live_state import LiveState
    except ImportError:  # a --before tree from before the layer folders
        from orintui.live_state import LiveState  # type: ignore[no-redef]
    from orintui.session.model import RunInfo, Session

    real = json.loads(gzip.decompress(RECORDED.read_bytes()))
    texts = [e["text"] for e in real["events"] if e["kind"] == "token"] or ["w"]
    sample = next(e for e in real["events"] if e["kind"] == "telemetry")
    session = Session(id="bench", started_at="2026-11-21T00:00:00", host=dict(real["host"]), scenario={"name": "bench"},
                      runs=[RunInfo(index=0, label="run 0", backend="llama-completion", argv=["x"], model_bytes=4 * 10**9)])
    state = LiveState(session)
    if memory:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    # timed: the events made before the clock starts; memory: each made as it is folded (what the
    # state keeps of them is what it holds)
    made = [dict(e) for e in events(tokens, texts, sample)] if not memory else []
    folded = made or (dict(e) for e in events(tokens, texts, sample))
    t0 = time.perf_counter()
    for e in folded:
        state.apply(e)
    fold_s = time.perf_counter() - t0
    held = tracemalloc.get_traced_memory()[0] - before if memory else None
    if memory:
        tracemalloc.stop()

    def refresh() -> None:
        try:
            state.metrics(max_age_s=0.0)  # the code before: recompute a changed run now
        except TypeError:
            state.metrics()
        for lane in state.lanes:
            _ = (lane.tok_s, lane.ttft_ms, lane.tokens)

    times = []
    t = tokens / TOK_S
    for k in range(refreshes):
        t += 1.0 / TOK_S
        state.apply({"t": round(t, 6), "kind": "token", "run": 0, "text": "x", "ms": 2.0, "warmup": False,
                     "index": tokens + k})
        start = time.perf_counter()
        refresh()
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    state.copy() if hasattr(state, "copy") else None
    copy_s = time.perf_counter() - start
    state.apply({"t": round(t + 0.01, 6), "kind": "run_ended", "run": 0, "status": "ok", "exit_code": 0, "signal": None,
                 "error": None})
    start = time.perf_counter()
    refresh()  # the run's final figures: once, when it ends
    end_s = time.perf_counter() - start
    return {"refresh_s": statistics.median(times), "fold_s": fold_s, "held_bytes": held, "copy_s": copy_s,
            "end_s": end_s, "events": len(made)}


def tree_of(rev: str, tmp: str) -> str:
    """orintui as it was at ``rev``, unpacked into a folder of its own."""
    out = os.path.join(tmp, rev.replace("/", "_"))
    os.makedirs(out)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "orintui"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", out], input=archive, check=True)
    return out


def measure(tree: str, tokens: int, refreshes: int, memory: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, __file__, "--child", str(tokens), "--refreshes", str(refreshes)]
                         + (["--memory"] if memory else []), env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", help="git revision whose LiveState to measure beside the working tree's")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--refreshes", type=int, default=5)
    p.add_argument("--sizes", default="1000,50000,200000")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.refreshes, args.memory)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"after": str(ROOT)}
        if args.before:
            trees = {"before": tree_of(args.before, tmp), **trees}
        refresh: dict[tuple[str, int], list[float]] = {}
        once: dict[tuple[str, int], list[dict]] = {}
        for _ in range(args.rounds):  # interleaved: a noisy machine slows both alike
            for n in sizes:
                for name, tree in trees.items():
                    result = measure(tree, n, args.refreshes, False)
                    refresh.setdefault((name, n), []).append(result["refresh_s"])
                    once.setdefault((name, n), []).append(result)
        held = {(name, n): measure(tree, n, 1, True)["held_bytes"] for n in sizes for name, tree in trees.items()}
    names = list(trees)
    print(f"one live refresh (table figures + lanes), median of {args.rounds} rounds x {args.refreshes} refreshes; "
          f"state memory per token (tracemalloc)")
    head = f"{'tokens':>8}" + "".join(f"{name + ' ms':>14}" for name in names)
    head += f"{'before/after':>14}" if len(names) == 2 else ""
    head += "".join(f"{name + ' B/tok':>14}" for name in names)
    print(head)
    for n in sizes:
        ms = [1000 * statistics.median(refresh[(name, n)]) for name in names]
        row = f"{n:>8}" + "".join(f"{v:>14.3f}" for v in ms)
        row += f"{ms[0] / ms[1]:>13.0f}x" if len(names) == 2 else ""
        row += "".join(f"{held[(name, n)] / n:>14.1f}" for name in names)
        print(row)
    print("once per run: the refresh after it ends (its final figures), and LiveState.copy() (a replay keyframe)")
    print(f"{'tokens':>8}" + "".join(f"{name + ' end ms':>16}{name + ' copy ms':>16}" for name in names))
    for n in sizes:
        cells = []
        for name in names:
            ends = [1000 * r["end_s"] for r in once[(name, n)]]
            copies = [1000 * r["copy_s"] for r in once[(name, n)]]
            cells.append(f"{statistics.median(ends):>16.1f}{statistics.median(copies):>16.1f}")
        print(f"{n:>8}" + "".join(cells))
    print("folding one event (LiveState.apply, tokens and telemetry), median over the rounds")
    head = f"{'tokens':>8}" + "".join(f"{name + ' us/event':>18}" for name in names)
    print(head + (f"{'after/before':>14}" if len(names) == 2 else ""))
    for n in sizes:
        us = [statistics.median(1e6 * r["fold_s"] / r["events"] for r in once[(name, n)]) for name in names]
        print(f"{n:>8}" + "".join(f"{v:>18.3f}" for v in us) + (f"{us[1] / us[0]:>14.3f}" if len(names) == 2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
