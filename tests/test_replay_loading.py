"""A replay opened on a session file (orintui replay, the menu): the first frame comes from the header,
read and checked at once; the events are decoded, checked and sorted in a worker behind it."""

from __future__ import annotations

import json
import os
import sys
import threading

import msgspec
import pytest
from conftest import FIXTURES, ROOT
from test_tui import DEVICE, menu_ready, on_screen, settled, until

from orintui.reading.live_state import LiveState
from orintui.session import SessionError, load_session
from orintui.session.replay import ReplayClock
from orintui.session.store import open_session
from orintui.tui.app import make_app
from orintui.tui.messages import OpenReplay

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
H100 = ROOT / "orintui" / "data" / "demo-session.json.gz"


def bad_event_session(tmp_path):
    """demo-cpu with one token's time a string: a good header, one bad event deep in the list."""
    doc = json.loads(DEMO_CPU.read_text())
    index = next(i for i, e in enumerate(doc["events"]) if e["kind"] == "token" and i > 20)
    doc["events"][index]["t"] = "1.5"
    path = tmp_path / "bad-event.json"
    path.write_text(json.dumps(doc))
    return path, index


def shown(state):
    return ([(lane.status, lane.phase, lane.tokens, list(lane.ms), lane.text) for lane in state.lanes],
            state.t, state.current, list(state.output), [m.decode_tok_s for m in state.metrics()])


@pytest.mark.parametrize("path", [DEMO_CPU, H100], ids=["json", "gzip"])
def test_open_reads_the_header_and_load_gives_what_load_session_gives(path):
    source = open_session(path)
    whole = load_session(path)
    assert source.header.events == [] and [r.label for r in source.header.runs] == [r.label for r in whole.runs]
    assert source.header.host == whole.host and source.header.id == whole.id
    loaded = source.load()
    assert loaded.to_dict() == whole.to_dict() and source.load() is loaded


def test_a_bad_event_is_refused_by_load_with_load_sessions_line(tmp_path):
    path, index = bad_event_session(tmp_path)
    source = open_session(path)  # the header is fine
    with pytest.raises(SessionError) as by_load:
        source.load()
    with pytest.raises(SessionError) as whole:
        load_session(path)
    assert str(by_load.value) == str(whole.value) == f"{path}: event {index}: token event: t must be a finite number, not a string"


def test_the_clock_takes_a_file_in_order_as_it_is_and_sorts_one_out_of_order_stably():
    session = load_session(DEMO_CPU)
    clock = ReplayClock(session)
    assert clock.events == session.events and clock.events is not session.events
    assert clock.times == [e["t"] for e in session.events]
    shuffled = session.events[::2] + session.events[1::2]
    session.events = shuffled
    clock = ReplayClock(session)
    assert clock.events == sorted(shuffled, key=lambda e: e["t"]) != shuffled  # ties keep the file's order
    assert clock.times == sorted(e["t"] for e in shuffled)


async def test_the_first_frame_shows_the_header_while_the_events_load(monkeypatch):
    source = open_session(H100)
    gate, load = threading.Event(), source.load
    monkeypatch.setattr(source, "load", lambda: gate.wait(30) and load())  # held until the frame is checked
    app = make_app(replay=source)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        await until(pilot, lambda: "loading" in str(screen.query_one("#position").render()))
        assert screen.clock.loading and screen.recorded.events == []
        assert [lane.status for lane in screen.state.lanes] == ["queued"] * 5
        assert "REPLAY" in str(screen.query_one("#title").render())
        await pilot.press("plus", "space")  # what the keys set while it loads is kept
        await pilot.press("end")  # no events yet: nothing to seek to
        gate.set()
        await until(pilot, lambda: not screen.clock.loading)
        assert screen.clock.speed == 2.0 and screen.clock.paused and screen.clock.position == 0
        assert len(screen.recorded.events) == len(load_session(H100).events)
        await pilot.press("end")
        await settled(pilot, screen)
        folded = LiveState(screen.recorded)
        for event in screen.clock.events:
            folded.apply(event)
        assert screen.clock.finished and shown(screen.state) == shown(folded)
        assert screen.state.lanes[2].tokens == 128
        await until(pilot, lambda: screen.keyframes.complete)  # built once the events are in


async def test_a_bad_event_ends_the_replay_orintui_was_started_for(tmp_path):
    path, _index = bad_event_session(tmp_path)
    app = make_app(replay=open_session(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.refused is not None)
    assert str(app.refused) == str(pytest.raises(SessionError, load_session, path).value)


async def test_a_bad_event_opened_from_the_menu_goes_back_with_the_reason(tmp_path, orintui_home):
    path, index = bad_event_session(tmp_path)
    app = make_app(device_info=DEVICE, first_screen="menu")
    async with app.run_test(size=(100, 30)) as pilot:
        await menu_ready(pilot)
        app.post_message(OpenReplay(str(path)))
        await until(pilot, lambda: any(f"event {index}" in str(n.message) for n in app._notifications))
        await on_screen(pilot, "MenuScreen")
        assert app.refused is None and app.is_running


@pytest.mark.real
def test_a_bad_event_in_a_real_terminal_exits_2_with_one_line(tmp_path, orintui_home):
    from ptyprocess import PtyProcess
    from test_tmux import read_pty

    path, index = bad_event_session(tmp_path)
    env = {**os.environ, "ORINTUI_HOME": str(orintui_home), "TERM": "xterm-256color"}
    proc = PtyProcess.spawn([sys.executable, "-m", "orintui", "replay", str(path)], env=env, dimensions=(24, 80))
    out = read_pty(proc, 60, lambda _: not proc.isalive())
    assert proc.wait() == 2
    tail = out.rsplit(b"\x1b[?1049l", 1)[-1].decode()  # what follows the app's alternate screen
    assert f"orintui: {path}: event {index}: token event: t must be a finite number" in tail
    assert "Traceback" not in tail and tail.strip().count("\n") == 0


def test_events_decoded_in_slices_are_the_events_decoded_whole(tmp_path, monkeypatch):
    """Cuts fall before each '{"t":' that follows a comma; one inside a nested value (a summary's streams
    here) leaves a slice that does not decode alone, and the whole array is decoded at once instead."""
    from orintui.session import store

    monkeypatch.setattr(store, "SLICE_BYTES", 64)  # a cut every few events
    doc = json.loads(DEMO_CPU.read_text())
    plain = tmp_path / "plain.json"
    plain.write_bytes(store.encode(doc))
    assert load_session(plain).events == doc["events"]
    nested = {"t": doc["events"][-1]["t"], "kind": "summary", "run": 0, "streams": [{"t": 1.0, "n": 2}, {"t": 2.0, "n": 3}]}
    doc["events"].insert(len(doc["events"]) // 2, nested)
    path = tmp_path / "nested.json"
    path.write_bytes(store.encode(doc))
    assert b'"n":2},{"t":2.0,' in path.read_bytes()  # a '{"t":' after a comma, inside an event
    assert load_session(path).events == doc["events"]
    for malformed in (b'[,{"t":1}' + b',{"t":2}' * 40 + b"]", b'[{"t":1}' + b',{"t":2}' * 40 + b",]"):
        with pytest.raises(msgspec.DecodeError):  # a slice alone, then the whole, refuse it
            store._decode_in_slices(memoryview(malformed))


HOSTILE_VALUES = [None, True, False, 0, -1, 3, 7, 2**63 - 1, 2**63, -(2**63), 2**64, 1.5, -0.0, 1e308, float("nan"),
                  float("inf"), -float("inf"), "x", "", [], [1.0], [None, 2], [True], [float("nan")], [2**63], ["x"], [[1.0]],
                  {}, {"a": 1.0}, {"a": 2}, {"a": True}, {"a": None}, {"a": "x"}, {"a": 2**63}, {"a": float("inf")}, {"a": {}}]


def test_the_fast_checks_answer_as_the_full_check(monkeypatch):
    """check_event's one-pass paths for token and telemetry events (the bulk of a long session) must give
    exactly the full check's answer for every field holding every kind of hostile value, for a field
    missing, and for an extra field (the full check alone: the fast paths patched away)."""
    from orintui.session import schema

    recorded = load_session(H100).events
    bases = [next(e for e in recorded if e["kind"] == "telemetry"), next(e for e in recorded if e["kind"] == "token"),
             {"t": 1.0, "kind": "token", "run": 0, "text": "a", "ms": 2.0, "warmup": False, "index": 3}]
    cases = []
    for base in bases:
        for key in [*base, "extra"]:
            cases += [{**base, key: value} for value in HOSTILE_VALUES]
            cases.append({k: v for k, v in base.items() if k != key})
    fast = [schema.check_event(e, 3) for e in cases]
    monkeypatch.setattr(schema, "_plain_token", lambda event, runs: False)
    monkeypatch.setattr(schema, "_plain_fields", lambda event, runs, types: False)
    full = [schema.check_event(e, 3) for e in cases]
    assert fast == full
    assert full.count(None) > 100 and len(full) - full.count(None) > 500  # both answers well represented


def test_a_seek_takes_an_ended_runs_final_figures_from_the_build_and_they_equal_a_fold(monkeypatch):
    """The build works out each run's final figures once; a seek past a run's end adopts them instead of
    running the batch computation again, and what it shows equals a fold from t=0 at every point."""
    from orintui.tui import keyframes

    monkeypatch.setattr(keyframes, "MIN_EVERY", 50)
    session = load_session(H100)
    clock = ReplayClock(session)
    frames = keyframes.Keyframes(session, clock.events)
    frames.build()
    assert sorted(i for i, _version in frames.final) == list(range(len(session.runs)))
    for index in (0, 300, len(clock.events) // 2, len(clock.events) - 1, len(clock.events)):
        folded = LiveState(session)
        for event in clock.events[:index]:
            folded.apply(event)
        restored = frames.figured(frames.state_at(index))
        assert restored.metrics() == folded.metrics(), index
    end = frames.figured(frames.state_at(len(clock.events)))
    assert all(end.figures.runs[i].final_metrics(session) is frames.final[(i, end.figures.runs[i].version)]
               for i in range(len(session.runs)))  # adopted from the build, not computed again
