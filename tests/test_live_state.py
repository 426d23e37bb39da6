"""LiveState: snapshots (replay keyframes) and live figures against the saved session's."""

from __future__ import annotations

from pathlib import Path

import pytest

from orintui.figures.metrics import run_metrics
from orintui.reading.live_state import LiveState
from orintui.session import load_session

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = [ROOT / "orintui" / "data" / "demo-session.json.gz", ROOT / "orintui" / "data" / "nvidia-gpu-beam-session.json.gz",
            ROOT / "tests" / "fixtures" / "sessions" / "demo-cpu.json"]


def view(state: LiveState) -> tuple:
    """What the screens read from a state, as plain values."""
    lanes = [(lane.status, lane.phase, lane.tokens, lane.ttft_ms, lane.text, list(lane.ms), lane.tok_s)
             for lane in state.lanes]
    return (lanes, state.t, state.current, state.version, list(state.output), state.output_total,
            {k: list(v) for k, v in state.history.items()}, state.last_sample,
            [m.to_dict() for m in state.metrics()], [r.to_dict() for r in state.session.runs])


def test_a_copy_is_an_independent_snapshot():
    """Fold to the middle, copy, go on with the original: the copy still shows the middle, and
    folding the rest into the copy ends where the original ends (a keyframe restore plus a fold)."""
    session = load_session(SESSIONS[0])
    events = session.events
    middle = len(events) // 2
    state = LiveState(session)
    for e in events[:middle]:
        state.apply(e)
    snapshot = state.copy()
    at_middle = view(snapshot)
    assert any(lane.tokens for lane in state.lanes) and any(lane.status == "running" for lane in state.lanes)
    for e in events[middle:]:
        state.apply(e)
    assert view(snapshot) == at_middle != view(state)
    for e in events[middle:]:
        snapshot.apply(e)
    assert view(snapshot) == view(state)


def test_a_frozen_keyframe_shares_the_record_and_restores_independently():
    """A keyframe (LiveState.frozen) shares the per-token record with the state it was taken from and
    keeps its lengths: restored (thawed) it shows the moment it was taken, however far the original
    has folded since; folding a restored state changes neither the keyframe, another restore of it,
    nor the original. The captured tinygrad run has enqueue times (the series' third array, made on
    the first one) and starts again after the keyframe here (its samples seeded again: a new list, not an insert)."""
    captured = captured_session(*CAPTURES[0][:3])
    tokens = [i for i, e in enumerate(captured.events) if e["kind"] == "token"]
    start = next(e for e in captured.events if e["kind"] == "run_started")
    captured.events.insert(tokens[3 * len(tokens) // 4], {**start, "t": captured.events[tokens[3 * len(tokens) // 4]]["t"]})

    def record(state):  # what the figures are computed from, beside what the screens show
        series = [acc.series for acc in state.figures.runs]  # as bytes: NaN (no ms) equals itself there
        return view(state), [(s.t.tobytes(), s.ms.tobytes(), bytes(s.warm), s.enq.tobytes() if s.enq is not None else None)
                             for s in series], [(acc.others, [s["t"] for s in acc.samples]) for acc in state.figures.runs]

    for session in [load_session(SESSIONS[0]), captured]:
        events = session.events
        tokens = [i for i, e in enumerate(events) if e["kind"] == "token"]
        middle = tokens[len(tokens) // 2]
        state = LiveState(session)
        for e in events[:middle]:
            state.apply(e)
        frame = state.frozen()
        at_middle = record(state.copy())
        shared = [acc.series.t for acc in state.figures.runs]
        assert [acc.series.t for acc in frame.figures.runs] == shared and any(shared)
        assert all(a.series.t is b.series.t for a, b in zip(frame.figures.runs, state.figures.runs))  # not copied
        early = frame.thawed()
        for e in events[middle:]:
            early.apply(e)
        for e in events[middle:]:
            state.apply(e)
        at_end = record(state.copy())
        assert record(frame.thawed()) == at_middle != at_end  # the original and a restore folded on: unchanged
        assert record(early) == at_end
        restored = frame.thawed()
        for e in events[middle:]:
            restored.apply(e)
        assert record(restored) == at_end == record(state)
        assert record(frame.thawed()) == at_middle


def fold(session) -> LiveState:
    state = LiveState(session)
    for e in session.events:
        state.apply(e)
    return state


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.name)
def test_final_figures_are_the_saved_sessions(path):
    """Every event of a recorded session through the accumulators: each run's figures equal the
    batch run_metrics over the saved session, to the last bit, and the lanes say the same."""
    session = load_session(path)
    state = fold(session)
    batch = [run_metrics(session, run) for run in session.runs]
    assert [m.to_dict() for m in state.metrics()] == [m.to_dict() for m in batch]
    assert any(m.tokens for m in batch)
    for lane, m in zip(state.lanes, batch):
        assert lane.tokens == m.tokens and lane.ttft_ms == m.ttft_ms
        assert lane.rate == ((m.decode, False) if m.decode is not None else (None, True))


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.name)
def test_live_figures_at_run_end_agree_with_batch(path):
    """The running figures (what the table shows while a run is live), read just before each run
    ends, against run_metrics over the whole session: counts, rates, TTFT, prefill and load exactly;
    energy and EMC as the same trapezoid summed another way; percentiles within the 1 % histogram."""
    session = load_session(path)
    state = LiveState(session)
    checked = 0
    for e in session.events:
        if e["kind"] == "run_ended":
            acc = state.figures.runs[e["run"]]
            live = acc.live_metrics(state.session, state.figures.telemetry)
            batch = run_metrics(session, session.runs[e["run"]])
            assert (live.tokens, live.warmup_tokens, live.decode_tok_s, live.prefill_tok_s, live.ttft_ms, live.load_s) == (
                batch.tokens, batch.warmup_tokens, batch.decode_tok_s, batch.prefill_tok_s, batch.ttft_ms, batch.load_s)
            for key in ("energy_j_per_token", "emc_gbs", "bandwidth_pct"):
                assert getattr(live, key) == pytest.approx(getattr(batch, key), rel=1e-9)
            for q, value in batch.itl_ms.items():
                assert live.itl_ms[q] == pytest.approx(value, rel=0.01) if value is not None else live.itl_ms[q] is None
            checked += bool(batch.tokens)
        state.apply(e)
    assert checked >= 2


T = ROOT / "tests" / "fixtures" / "transcripts"
CAPTURES = [  # real backend output: warm-up told from enqueue times, a first token without ms, merged reads
    ("tinygrad-llama3-benchmark-0.12.0.txt", ["python", "examples/llama3.py", "--benchmark"], "tinygrad-llama3", 1),
    ("tinygrad-llama3-benchmark-master.txt", ["python", "examples/llama3.py", "--benchmark"], "tinygrad-llama3", 0),
    ("llama-completion-log-jsonl.txt", ["llama-completion", "-m", "M", "-p", "Q", "-n", "20", "--log-jsonl"],
     "llama-completion", 0),
    ("llama-completion-context-full.txt", ["llama-completion", "-m", "M", "-p", "Q", "-n", "400"], "llama-completion", 0),
    ("tinygrad-apps-llm-cpu-0.12.0.txt", None, "tinygrad-llm", None),
]


def captured_session(name, argv, backend, chunk=40):
    """A real capture through its adapter in reads of ``chunk`` characters, 2 ms apart, as one run,
    with the recorded H100 session's telemetry samples every 50 ms from before the run to after it."""
    from orintui.backends import get_adapter
    from orintui.session import events as ev
    from orintui.session.model import RunInfo, Session

    text = (T / name).read_bytes().decode("utf-8", errors="replace")
    parser = get_adapter(backend).make_parser(argv)
    events = [ev.make(ev.RUN_STARTED, 5.0, 0, cpu_load_before_pct=3.0)]
    pieces = [text[i:i + chunk] for i in range(0, len(text), chunk)]
    for i, piece in enumerate(pieces):
        events += [{**e, "run": 0} for e in parser.feed(piece, 5.0 + (i + 1) * 0.002)]
    end = 5.0 + (len(pieces) + 1) * 0.002
    events += [{**e, "run": 0} for e in parser.finish(end)]
    events.append(ev.make(ev.RUN_ENDED, end, 0, status=parser.verdict()[0], exit_code=0, signal=None, error=None))
    real = [e for e in load_session(SESSIONS[0]).events if e["kind"] == "telemetry"]
    samples = [{**real[k % len(real)], "t": round(k * 0.05, 6)} for k in range(int(end / 0.05) + 3)]
    session = Session(id="c", started_at="2026-11-21T00:00:00", host={"peak_bandwidth_gbs": 204.8},
                      runs=[RunInfo(0, name, backend, argv or [], model_bytes=10**9)],
                      events=sorted(events + samples, key=lambda e: e["t"]))
    for e in session.events:
        session.apply(e)
    return session


@pytest.mark.parametrize(("name", "argv", "backend", "slow"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_captured_runs_end_with_the_batch_figures(name, argv, backend, slow):
    session = captured_session(name, argv, backend)
    state = fold(session)
    live = state.figures.runs[0].live_metrics(state.session, state.figures.telemetry)  # the running figures
    batch = run_metrics(session, session.runs[0])
    assert state.metrics()[0].to_dict() == batch.to_dict()
    assert batch.tokens > 5 and batch.energy_j_per_token is not None and batch.idle_power_w is not None
    assert live.tokens == batch.tokens and live.ttft_ms == batch.ttft_ms
    assert live.decode_tok_s == pytest.approx(batch.decode_tok_s, rel=1e-12)  # a running sum less the warm-up's
    assert live.energy_j_per_token == pytest.approx(batch.energy_j_per_token, rel=1e-9)
    if slow is not None:  # the JIT's token told from its enqueue time while live too
        assert live.warmup_tokens == batch.warmup_tokens == slow


def test_lanes_and_the_report_label_repetitions_alike():
    """The recorded BEAM session (a warm-up run, then a measured one) with its measured run repeated."""
    from orintui.reading.report import rows
    from orintui.session.model import RunInfo

    session = load_session(SESSIONS[1])
    again = RunInfo.from_dict({**session.runs[1].to_dict(), "index": 2, "repetition": 1})
    shift = session.events[-1]["t"] + 1.0
    session.runs.append(again)
    session.events += [{**e, "t": e["t"] + shift, "run": 2} for e in session.run_events(1)]
    state = fold(session)
    labels = [m_row[1][0] for m_row in rows([(session, [run_metrics(session, r) for r in session.runs])])]
    assert labels == [lane.label + lane.tag for lane in state.lanes] == [
        "tinygrad CUDA JITBEAM (warm-up)", "tinygrad CUDA JITBEAM #1", "tinygrad CUDA JITBEAM #2"]
    assert [lane.tokens for lane in state.lanes][1:] == [128, 128]
