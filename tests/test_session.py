"""Session model: round trip, journal recovery after SIGKILL, corrupt files refused with exit 2."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest
from conftest import ROOT, run_cli

from orintui.session import SessionError, load_session, save_session
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.journal import journal_path
from orintui.session.model import RunInfo
from orintui.session.recorder import Recorder, new_session
from orintui.session.schema import check_event
from orintui.session.store import recover_orphans


def sample_session():
    runs = [RunInfo(index=0, label="a", backend="tinygrad-llm", argv=["python", "-m", "tinygrad.llm"], env={"DEV": "CPU"})]
    s = new_session({"hostname": "h", "peak_bandwidth_gbs": 204.8}, {"name": "x"}, runs, label="MAXN, clocks locked")
    for e in [ev.make(ev.RUN_STARTED, 0.0, 0, label="a"), {**ev.token(0.5, "h\u00e9llo [b]x[/b]", 3.2), "run": 0},
              ev.make(ev.TELEMETRY, 0.6, None, power_total_mw=5000.0),
              ev.make(ev.RUN_ENDED, 1.0, 0, status="ok", exit_code=0, signal=None, error=None)]:
        s.events.append(e)
        s.apply(e)
    return s


@pytest.mark.parametrize("name", ["s.json", "s.json.gz"])
def test_round_trip(tmp_path, name):
    s = sample_session()
    path = save_session(s, tmp_path / name)
    back = load_session(path)
    assert back.to_dict() == s.to_dict() and back.label == "MAXN, clocks locked"
    assert back.runs[0].status == "ok" and back.runs[0].ended_t == 1.0


def test_recorder_writes_journal_then_final_document(tmp_path):
    s = sample_session()
    s.events.clear()
    out = tmp_path / "live.json"
    rec = Recorder(s, out)
    rec.record(ev.make(ev.RUN_STARTED, rec.now(), 0, label="a"))
    deadline = time.monotonic() + 10
    while len(journal_path(out).read_text().splitlines()) < 2:  # the flusher writes with no further event
        assert time.monotonic() < deadline, "the journal was never flushed"
        time.sleep(0.02)  # polling the condition
    lines = journal_path(out).read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["kind"] == "run_started"
    rec.close()
    assert not journal_path(out).exists()
    assert load_session(out).events[0]["kind"] == "run_started"



def test_a_read_is_recorded_with_its_run_and_its_time_rounded(tmp_path):
    """A parser's events carry the read's time as given and run None: record_read hands them over in
    one put and the writer sets both, in order with the events recorded one at a time."""
    from orintui.backends import get_adapter
    s = sample_session()
    s.events.clear()
    rec = Recorder(s, tmp_path / "live.json")
    rec.record(ev.make(ev.RUN_STARTED, 0.1, 0, label="a"))
    parser = get_adapter("tinygrad-llm").make_parser(["--benchmark", "1"])
    t = 0.1 + 0.2  # 0.30000000000000004: a time that rounding changes
    events = parser.feed("  28.85 ms,  34.67 tok/s,   86.85 GB/s, 2505/2744 MB  --  <|begin_of_text|> w1\n", t)
    assert {e["t"] for e in events} == {t} and {e["run"] for e in events} == {None}
    rec.record_read(events, 0)
    rec.record(ev.make(ev.RUN_ENDED, 0.4, 0, status="ok", exit_code=0, signal=None, error=None))
    saved = load_session(rec.close())
    assert [(e["kind"], e["t"], e["run"]) for e in saved.events] == [
        ("run_started", 0.1, 0), ("output", 0.3, 0), ("phase", 0.3, 0), ("token", 0.3, 0), ("run_ended", 0.4, 0)]


def test_a_flood_of_reads_waits_for_the_writer(tmp_path, monkeypatch):
    """Memory stays bounded: while the writer is held up, a reader handing over 64 KiB reads (1,000
    events each) waits once more than BACKLOG events are queued, and nothing is lost."""
    import threading

    from orintui.session import recorder as recorder_module
    s = sample_session()
    s.events.clear()
    rec = Recorder(s, tmp_path / "live.json")
    release, waiting = threading.Event(), threading.Event()
    rec.subscribe(lambda event: release.wait(30))  # the writer is held on the first event
    real_sleep = time.sleep
    monkeypatch.setattr(recorder_module.time, "sleep", lambda s: (waiting.set(), real_sleep(s)))
    reads = recorder_module.BACKLOG // 1000 * 3

    def reader():
        for r in range(reads):
            rec.record_read([ev.output(r + i / 1000, f"line {r} {i}") for i in range(1000)], 0)

    thread = threading.Thread(target=reader)
    thread.start()
    assert waiting.wait(30), "the reader never waited"
    queued = rec._read_events - rec._read_events_written
    assert recorder_module.BACKLOG < queued <= recorder_module.BACKLOG + 1000 and thread.is_alive()
    release.set()
    thread.join(60)
    monkeypatch.undo()
    saved = load_session(rec.close())
    assert [e["line"] for e in saved.events] == [f"line {r} {i}" for r in range(reads) for i in range(1000)]

WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from orintui.session import events as ev
    from orintui.session.model import RunInfo
    from orintui.session.recorder import Recorder, new_session
    s = new_session({{}}, {{"name": "killed"}}, [RunInfo(index=0, label="a", backend="llama-completion", argv=["x"])],
                    label="cut off")
    rec = Recorder(s, sys.argv[1])
    rec.record(ev.make(ev.RUN_STARTED, rec.now(), 0, label="a"))
    i = 0
    while True:
        rec.record({{**ev.token(rec.now(), "tok%d" % i), "run": 0}})
        i += 1
        time.sleep(0.002)
""")


def test_journal_recovered_after_sigkill(tmp_path):
    out = tmp_path / "sessions" / "killed.json"
    out.parent.mkdir()
    child = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT)), str(out)])
    journal = journal_path(out)
    deadline = time.time() + 30
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 200):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    written = journal.read_text().count("\n")
    assert written >= 200
    recovered = recover_orphans(out.parent)
    assert recovered == [out] and not journal.exists()
    s = load_session(out)
    tokens = [e for e in s.events if e["kind"] == "token"]
    assert len(tokens) >= written - 2  # header and the run_started line; a torn last line is dropped
    assert [t["text"] for t in tokens[:3]] == ["tok0", "tok1", "tok2"]
    assert s.recovered and s.runs[0].status == "interrupted" and s.label == "cut off"


def test_live_journal_is_not_recovered_while_its_writer_lives(tmp_path):
    s = sample_session()
    rec = Recorder(s, tmp_path / "live.json")
    assert recover_orphans(tmp_path) == []
    rec.close()


def _corrupt(tmp_path):
    good = json.dumps(sample_session().to_dict())
    doc = json.loads(good)
    cases = {
        "truncated.json": good[: len(good) // 2],
        "not-json.json": "this is not json",
        "empty.json": "",
        "binary.json": b"\x00\xff\xfe\x80",
        "unknown-version.json": json.dumps({**doc, "version": 99}),
        "string-version.json": json.dumps({**doc, "version": "1"}),
        "other-format.json": json.dumps({"format": "something-else", "version": 1}),
        "missing-fields.json": json.dumps({k: v for k, v in doc.items() if k not in ("runs", "events")}),
        "bad-event.json": json.dumps({**doc, "events": [{"kind": "nonsense", "t": 0}]}),
        "bad-gzip.json.gz": gzip.compress(good.encode())[:40],
    }
    paths = {}
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[name] = p
    return paths


def test_a_journal_header_and_a_saved_document_give_one_session(tmp_path):
    """One function reads a session's header, from a journal's first line or a saved document: the
    same header gives the same session either way, and the same refusals."""
    s = sample_session()
    header = {k: v for k, v in s.to_dict().items() if k != "events"}
    saved = load_session(save_session(s, tmp_path / "s.json"))
    journal = tmp_path / "j.json.journal"
    journal.write_text(json.dumps(header) + "\n")
    from_journal = load_session(journal)
    assert from_journal.to_dict() == {**saved.to_dict(), "events": [], "recovered": True}
    for doc, path in (({**header, "events": []}, tmp_path / "bad.json"), (header, tmp_path / "bad.json.journal")):
        path.write_text(json.dumps({**doc, "version": True}) + "\n")
        with pytest.raises(SessionError, match="version True is not an integer"):
            load_session(path)


def test_corrupt_files_refused_in_process(tmp_path):
    for name, path in _corrupt(tmp_path).items():
        with pytest.raises(SessionError) as info:
            load_session(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value), name


@pytest.mark.parametrize("command", ["report", "replay", "screenshot"])
def test_corrupt_files_exit_2_with_one_line(tmp_path, command, cli):
    for name, path in _corrupt(tmp_path).items():
        extra = ["--out", str(tmp_path / "x.svg")] if command == "screenshot" else []
        r = cli(command, str(path), *extra)
        assert r.returncode == 2, (name, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("orintui: "), (name, r.stderr)
        assert "Traceback" not in r.stderr


def test_a_corrupt_file_exits_2_with_one_line_from_a_real_process(tmp_path):
    """The in-process cases above, once as a real process: exit status and stderr as a shell sees them."""
    path = _corrupt(tmp_path)["truncated.json"]
    r = run_cli("report", str(path), timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("orintui: ") and not r.stdout


def test_missing_file_and_directory(tmp_path, cli):
    r = cli("report", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("report", str(tmp_path))
    assert r.returncode == 2 and "directory" in r.stderr


def test_a_listener_that_raises_is_logged_to_orintuis_log_file_and_said_once(tmp_path):
    import os
    from pathlib import Path

    s = sample_session()
    s.events.clear()
    rec = Recorder(s, tmp_path / "live.json")
    seen = []

    def broken_view(event):
        if event["kind"] == ev.TOKEN:
            raise ValueError("the view cannot draw this")

    rec.subscribe(broken_view)
    rec.subscribe(seen.append)
    rec.record(ev.make(ev.RUN_STARTED, rec.now(), 0, label="a"))
    for i in range(3):
        rec.record({**ev.token(rec.now(), "x", None, index=i), "run": 0})
    rec.close()
    log = Path(os.environ["ORINTUI_HOME"]) / "data" / "logs" / "orintui.log"
    text = log.read_text()
    assert "broken_view raised on a token event" in text and "ValueError: the view cannot draw this" in text
    assert "Traceback" in text and text.count("Traceback") == 1  # the first error in full, the others counted
    assert "broken_view raised on 3 events in all" in text
    notes = [e for e in load_session(tmp_path / "live.json").events if e["kind"] == ev.NOTE]
    assert len(notes) == 1 and notes[0]["level"] == "warning" and str(log) in notes[0]["text"]
    assert [e["kind"] for e in seen].count(ev.TOKEN) == 3  # the other listener got every event
    report = rec.listener_report()
    assert report is not None and "3 error(s)" in report and str(log) in report


def test_statuses_and_kinds_are_their_words_in_json_and_text(tmp_path):
    from orintui.session import status as st

    assert json.dumps({"s": st.OK, "k": ev.TOKEN, "p": ev.Phase.DECODE}) == '{"s": "ok", "k": "token", "p": "decode"}'
    assert f"{st.PARTIAL} {ev.RUN_ENDED} {ev.end_phase(st.FAILED)}" == "partial run_ended failed" and str(st.OK) == "ok"
    assert st.Status("timeout") is st.TIMEOUT and st.OK == "ok" and {"ok": 1}[st.OK] == 1
    s = sample_session()
    s.events.append(ev.make(ev.RUN_ENDED, 2.0, 0, status=st.PARTIAL, exit_code=0, signal=None, error="short"))
    back = load_session(save_session(s, tmp_path / "s.json"))
    assert back.events[-1]["status"] == "partial" and type(back.events[-1]["status"]) is str


def test_each_kind_has_a_typed_constructor_with_the_recorded_shape():
    """run_started, run_ended, summary and telemetry events come from constructors over their
    TypedDicts: the same keys in the same order as before (the saved format), a misspelt field refused."""
    started = ev.run_started(1.0000004, 0, "a", backend="x", repetition=0, warmup=False, cpu_load_before_pct=None)
    # the time as given: the recorder rounds it as the event enters the session
    assert list(started.items()) == [("t", 1.0000004), ("kind", "run_started"), ("run", 0), ("label", "a"), ("backend", "x"),
                                     ("repetition", 0), ("warmup", False), ("cpu_load_before_pct", None)]
    ended = ev.run_ended(2.0, 0, st.OK, 0, None, None, by_user=False, pgid=7)
    assert list(ended) == ["t", "kind", "run", "status", "exit_code", "signal", "error", "by_user", "pgid"]
    with pytest.raises(TypeError, match="run_started has no field warm_up"):
        ev.run_started(1.0, 0, "a", warm_up=True)
    with pytest.raises(TypeError, match="run_ended has no field leftover"):
        ev.run_ended(1.0, 0, st.OK, 0, None, None, leftover="1")
    assert ev.summary(3.0, eval_tok_s=5.0) == {"t": 3.0, "kind": "summary", "run": None, "eval_tok_s": 5.0}
    from orintui.telemetry import empty_sample

    sample = {**empty_sample("psutil"), "t": 99.0, "ram_used_mb": 5.0}
    recorded = ev.telemetry(4.0, sample)  # a source's own time is replaced by the session's
    assert list(recorded) == ["t", "kind", "run", *(k for k in sample if k != "t")] and recorded["t"] == 4.0
    s = sample_session()
    for e in (started, ended, recorded):
        assert check_event(e, len(s.runs)) is None


def test_a_run_end_that_names_no_status_leaves_its_lane_a_status():
    """A run_ended without a status (the schema allows it) ends its lane failed, a word of the status
    vocabulary with its style, where it used to read 'done', which is none."""
    from orintui.reading.live_state import LiveState

    s = sample_session()
    header = replace(s, events=[], runs=[replace(r, status=st.QUEUED, started_t=None, ended_t=None) for r in s.runs])
    state = LiveState(header)
    for e in s.events[:-1] + [ev.make(ev.RUN_ENDED, 1.0, 0, exit_code=0)]:
        state.apply(e)
    lane = state.lanes[0]
    assert lane.status == st.FAILED and lane.status in st.STYLE and lane.phase == ev.Phase.FAILED


@pytest.mark.parametrize("end", [{"status": None}, {}, {"status": "bogus"}, {"status": "running"},
                                 {"status": "partial", "error": "no summary"}, {"status": "ok"}],
                         ids=["null", "missing", "unknown-word", "running", "partial", "ok"])
def test_a_run_end_reads_the_same_live_and_loaded(tmp_path, end):
    """Replay and live mode agree on how a run ended: the same events through LiveState (the live
    screen, a replay) and through a loaded journal (Session.apply, as recovery and `orintui report`
    read it) give one status and reason. An end that names no final status (null, none, a word
    outside the vocabulary) is failed on both sides, never ok and never left running."""
    from orintui.reading.live_state import LiveState

    s = sample_session()
    header = {k: v for k, v in s.to_dict().items() if k != "events"}
    header["runs"] = [{**r, "status": st.QUEUED, "error": None, "started_t": None, "ended_t": None} for r in header["runs"]]
    events = s.events[:-1] + [{"t": 1.0, "kind": "run_ended", "run": 0, "exit_code": 0, **end}]
    journal = tmp_path / "s.json.journal"
    journal.write_text("".join(json.dumps(line) + "\n" for line in (header, *events)))
    loaded = load_session(journal).runs[0]
    state = LiveState(load_session(journal))
    for e in events:
        state.apply(e)
    lane, live = state.lanes[0], state.session.runs[0]
    assert (lane.status, lane.error) == (live.status, live.error) == (loaded.status, loaded.error)
    assert lane.phase == ev.end_phase(loaded.status) and state.figures.runs[0].final
    if end.get("status") in st.FINAL:
        assert (loaded.status, loaded.error) == (end["status"], end.get("error"))
    else:
        assert loaded.status == st.FAILED and loaded.error == "its end named no status"
