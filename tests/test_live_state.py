"""LiveState: snapshots (replay keyframes) and live figures against the saved session's."""

from __future__ import annotations

from pathlib import Path

import pytest

from orintui.live_state import LiveState
from orintui.metrics import run_metrics
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
