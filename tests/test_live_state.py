"""LiveState: snapshots (replay keyframes) and live figures against the saved session's."""

from __future__ import annotations

from pathlib import Path

from orintui.live_state import LiveState
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
            [m.to_dict() for m in state.metrics(max_age_s=0.0)], [r.to_dict() for r in state.session.runs])


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
