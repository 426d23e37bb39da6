"""The app: Pilot tests for every screen and key, snapshots of menu, live and replay screens."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time

import pytest
from conftest import FIXTURES, ROOT

from orintui.scenarios import parse_scenario
from orintui.session import events as ev
from orintui.session import load_session, save_session
from orintui.tui.app import OrintuiApp

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
H100 = ROOT / "orintui" / "data" / "demo-session.json.gz"
DEVICE = {"host": {"hostname": "orin", "machine": "aarch64", "model": "NVIDIA Jetson AGX Orin Developer Kit",
                   "jetpack": "6.1/6.2", "l4t": "36.4.4", "nvpmodel": "MAXN", "jetson_clocks": "OFF",
                   "peak_bandwidth_gbs": 204.8},
          "telemetry_source": "tegrastats",
          "sources": {"jtop": {"works": False, "reason": "jtop service is not active"},
                      "tegrastats": {"works": True, "reason": None}},
          "warnings": ["clocks are not locked (sudo jetson_clocks): DVFS adds run-to-run spread"]}


@pytest.fixture
def sessions(orintui_home):
    folder = orintui_home / "data" / "sessions"
    folder.mkdir(parents=True)
    a = folder / "a.json"
    shutil.copy(DEMO_CPU, a)
    b = folder / "b.json.gz"
    shutil.copy(H100, b)
    os.utime(a, (1_700_000_000, 1_700_000_000))
    os.utime(b, (1_700_000_100, 1_700_000_100))
    return folder


def menu_app(**kw):
    return OrintuiApp(device_info=DEVICE, first_screen="menu", **kw)


MIRROR = """name = "demo"
description = "mirrors the recorded demo-cpu session"
[[runs]]
label = "tinygrad CPU"
backend = "tinygrad-llm"
argv = ["true"]
[[runs]]
label = "llama.cpp CPU"
backend = "llama-completion"
argv = ["true"]
"""


def live_app_fed_by_recording():
    """A real Execution, not started: the recorded session's events go through the live screen's
    inbox, the path the recorder's listener uses."""
    recorded = load_session(DEMO_CPU)
    app = OrintuiApp(scenario=parse_scenario(MIRROR, "mirror.toml"), telemetry="none", live_autostart=False)

    async def feed(pilot):
        screen = app.screen
        screen.state.session.host.update(recorded.host)
        screen.state.session.host["hostname"] = "orin"
        screen.inbox.extend(e for e in recorded.events if e["t"] <= 30.0)
        await pilot.pause(0.3)
    return app, feed


# -- snapshots ---------------------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("tinygrad") is None,
                    reason="the menu shows whether the demo's tinygrad is installed; the snapshot has it installed")
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_menu(snap_compare, sessions, size, tmp_path, monkeypatch):
    # the same machine everywhere: no llama.cpp on PATH or built by orintui, so the demo says what it skips
    monkeypatch.setenv("ORINTUI_CACHE", str(tmp_path / "no-builds"))
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not os.path.exists(os.path.join(p, "llama-completion"))))

    async def go(pilot):
        await pilot.pause(0.2)
    assert snap_compare(menu_app(), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_replay(snap_compare, size):
    session = load_session(H100)
    app = OrintuiApp(replay=session, at=30.0, theme="orintui-dark", paused=True)

    async def go(pilot):
        await pilot.pause(0.3)
    assert snap_compare(app, terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_live(snap_compare, size):
    app, feed = live_app_fed_by_recording()
    assert snap_compare(app, terminal_size=size, run_before=feed)


# -- pilot: menu -------------------------------------------------------------------------------
async def test_menu_tabs_variables_and_replay(sessions):
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        from textual.widgets import TabbedContent

        tabs = app.screen.query_one(TabbedContent)
        await pilot.press("2")
        assert tabs.active == "sessions"
        await pilot.press("3")
        assert tabs.active == "device"
        await pilot.press("1")
        assert tabs.active == "scenarios"
        await pilot.press("enter")  # the first scenario: its variables
        assert type(app.screen).__name__ == "VariablesScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ == "MenuScreen"
        await pilot.press("2", "enter")  # newest session: the H100 one
        assert type(app.screen).__name__ == "ReplayScreen"
        assert app.screen.state.session.scenario["name"] == "nvidia-gpu"
        await pilot.press("q")
        assert type(app.screen).__name__ == "MenuScreen"
        await pilot.press("d")
        assert type(app.screen).__name__ == "ReplayScreen"
        await pilot.press("escape")
        await pilot.press("2", "c", "down", "c")
        assert type(app.screen).__name__ == "CompareScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ == "MenuScreen"


async def test_menu_deletes_a_session_after_asking(sessions):
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        def footer_has_delete():
            return any(ab.binding.action == "delete_session" for ab in app.screen.active_bindings.values())

        await pilot.press("1")
        assert not footer_has_delete()  # only in the sessions tab
        await pilot.press("2")  # the cursor is on the newest: b.json.gz
        assert footer_has_delete()
        await pilot.press("delete")
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert (sessions / "b.json.gz").exists()
        await pilot.press("delete", "y")
        await pilot.pause()
        assert not (sessions / "b.json.gz").exists() and (sessions / "a.json").exists()
        assert [e.bundled for e in app.screen.sessions] == [False, True]
        await pilot.press("down", "delete")  # the bundled demo stays
        assert type(app.screen).__name__ == "MenuScreen"
        assert len(app.screen.sessions) == 2


async def test_menu_probes_the_device_without_waiting(orintui_home):
    app = OrintuiApp(first_screen="menu")  # no device facts given: the real probes run
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        for _ in range(100):
            if app.screen.device_info is not None:
                break
            await pilot.pause(0.1)
        await pilot.pause(0.2)
        shot = app.export_screenshot()
        assert app.screen.device_info["sources"]["psutil"]["works"]
        assert "probing" not in shot and "psutil" in shot


async def test_compare_screen_rows_per_figure_with_ratios(tmp_path, orintui_home):
    from textual.widgets import DataTable

    a = load_session(DEMO_CPU)
    b = load_session(DEMO_CPU)
    b.id = "b"
    b.events = [{**e, "t": 1.0 + (e["t"] - 1.0) * 2} if e["kind"] == "token" and e["run"] == 1 else e for e in b.events]
    b.events = [e for e in b.events if not (e["kind"] == "summary" and e.get("run") == 1)]  # observed figures only
    b_path = save_session(b, tmp_path / "b.json")
    app = menu_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_compare(str(DEMO_CPU), str(b_path))
        await pilot.pause()
        title = str(app.screen.query_one("#compare-title").render())
        assert " A: demo" in title and " B: demo" in title
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        tinygrad = next(r for r in rows if r[0] == "tinygrad CPU")
        assert tinygrad[1] == "Decode tok/s" and tinygrad[4] == "= 1.00x within spread"
        llama = rows.index(next(r for r in rows if r[0].startswith("llama.cpp CPU")))  # "!": its flags differ in B
        decode = rows[llama]
        # tokens twice as far apart (B's figure is observed, A's llama.cpp's own): about half, flagged
        arrow, ratio, verdict = decode[4].split(" ")
        assert decode[1] == "Decode tok/s" and arrow == "↓" and 0.4 < float(ratio.rstrip("x")) < 0.55 and verdict == "worse"
        await pilot.press("r")
        await pilot.pause()
        from orintui.compare import render_compare

        written = (orintui_home / "data" / "reports" / f"{a.id}-vs-{b.id}.md").read_text()
        assert written == render_compare([a, load_session(b_path)]) + "\n"
        await pilot.press("q")
        assert type(app.screen).__name__ == "MenuScreen"


async def test_theme_key_cycles_and_is_remembered(orintui_home):
    app = menu_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "orintui-dark"
        await pilot.press("f2")
        assert app.theme == "orintui-light"
        await pilot.press("f2")
        assert app.theme == "orintui-basic"
    saved = json.loads((orintui_home / "config" / "settings.json").read_text())
    assert saved["theme"] == "orintui-basic"
    again = menu_app()
    async with again.run_test(size=(80, 24)):
        assert again.theme == "orintui-basic"


async def test_help_panel_lists_keys():
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        assert not app.screen.query("HelpPanel")


async def test_first_start_opens_the_demo_replay(orintui_home):
    app = OrintuiApp(device_info=DEVICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "ReplayScreen"
        await pilot.press("q")
        assert type(app.screen).__name__ == "MenuScreen"
    second = OrintuiApp(device_info=DEVICE)
    async with second.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(second.screen).__name__ == "MenuScreen"


# -- pilot: replay -----------------------------------------------------------------------------
async def test_replay_keys():
    session = load_session(H100)
    app = OrintuiApp(replay=session, speed=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        clock = screen.clock
        await pilot.press("space", "home")
        assert clock.paused and clock.position == 0
        await pilot.press("plus", "plus")
        assert clock.speed == 4.0
        await pilot.press("minus")
        assert clock.speed == 2.0
        await pilot.press("right", "right")
        assert clock.position == pytest.approx(20.0)
        await pilot.press("left")
        assert clock.position == pytest.approx(10.0)
        await pilot.press("n")
        starts = sorted(t for t in (clock.run_start(r.index) for r in session.runs) if t is not None)
        assert clock.position in starts
        await pilot.press("p")
        assert clock.position < starts[-1]
        await pilot.press("end")
        assert clock.finished and screen.state.lanes[2].tokens == 128
        await pilot.press("home")
        assert clock.position == 0 and screen.state.lanes[2].tokens == 0
        for pane in ("g", "o", "t"):
            await pilot.press(pane)
            await pilot.pause()
        assert screen.query_one("ContentSwitcher").current == "table"
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_replay_seek_keys_win_over_the_focused_lanes_at_80x24():
    """At 80x24 the five lanes overflow: their scroll view takes focus and binds left/right too."""
    app = OrintuiApp(replay=load_session(H100), at=0.0, paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "lanes"
        await pilot.press("right", "right", "left")
        assert app.screen.clock.position == pytest.approx(10.0)
        await pilot.press("end")
        assert app.screen.clock.finished


async def test_a_lane_without_tokens_says_how_long_it_has_loaded():
    app = OrintuiApp(replay=load_session(H100), at=15.1, paused=True)  # tinygrad CUDA: started 3.1 s, prefill from 9.6 s
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        detail = str(app.screen.query_one("#lane-1 .lane-text").render())
        assert detail == "prefill for 12 s, no token yet", detail


async def test_replay_report_key_writes_the_whole_sessions_table(orintui_home):
    from orintui.report import render_report

    session = load_session(H100)
    app = OrintuiApp(replay=session, at=0.0, paused=True)  # at the start: nothing replayed yet
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await pilot.pause()
    written = (orintui_home / "data" / "reports" / f"{session.id}.md").read_text()
    assert written == render_report([session]) + "\n" and "| llama.cpp CUDA | " in written
    assert "684.94" in written


async def test_replay_as_fast_as_possible_reaches_the_end():
    app = OrintuiApp(replay=load_session(DEMO_CPU), speed=float("inf"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.4)
        state = app.screen.state
        assert app.screen.clock.finished
        recorded = load_session(DEMO_CPU)
        expected = [sum(1 for e in recorded.run_events(i) if e["kind"] == "token") for i in (0, 1)]
        assert [lane.tokens for lane in state.lanes] == expected and expected[0] == 48
        assert [lane.status for lane in state.lanes] == ["ok", "ok"]


async def test_hostile_backend_text_appears_literally(tmp_path):
    session = load_session(DEMO_CPU)
    hostile = "[bold red]x[/] \x1b[31mred \ufffd [link=http://e]y[/link]"
    session.events = [e for e in session.events if e["kind"] != "output"]
    session.events.append({**ev.token(session.events[-1]["t"] + 0.1, hostile), "run": 1})
    session.events.append({**ev.output(session.events[-1]["t"] + 0.1, hostile), "run": 1})
    path = save_session(session, tmp_path / "hostile.json")
    app = OrintuiApp(replay=load_session(path), at=-1)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("o")
        await pilot.pause(0.3)
        rendered = app.export_screenshot()
        assert "[bold red]x[/]" in rendered.replace("&#160;", " ")
        assert "[link=http://e]y[/link]" in rendered.replace("&#160;", " ")


async def test_output_pane_keeps_following_past_its_line_limit():
    """The state keeps the last 2,000 lines; the pane must still show lines 2,001 and on."""
    from orintui.live_state import OUTPUT_LINES

    app = OrintuiApp(replay=load_session(DEMO_CPU), at=0.0, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o")
        state, pane = app.screen.state, app.screen.query_one("OutputPane")
        for batch in (range(OUTPUT_LINES + 50), range(OUTPUT_LINES + 50, OUTPUT_LINES + 60)):
            for i in batch:
                state.apply({**ev.output(1.0 + i * 1e-4, f"line {i}"), "run": 0})
            app.screen.redraw(force=True)
            await pilot.pause()
            assert pane.lines[-1].text.endswith(f"line {batch[-1]}")


# -- pilot: live -------------------------------------------------------------------------------
FAKE = FIXTURES / "fake_backends" / "misbehave.py"


def live_scenario(tmp_path, mode="exit0"):
    text = f"""name = "fake-live"
[[runs]]
label = "first"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "{FAKE}", "{mode}"]
idle_timeout = 30
[[runs]]
label = "second"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "{FAKE}", "hang"]
idle_timeout = 30
"""
    return parse_scenario(text, str(tmp_path / "fake.toml"))


async def _wait(pilot, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.1)
    return False


async def test_live_skip_then_stop_and_quit(tmp_path, orintui_home):
    out = tmp_path / "live.json"
    app = OrintuiApp(scenario=live_scenario(tmp_path, "exit0"), out=str(out), telemetry="psutil")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert await _wait(pilot, lambda: screen.state.lanes[0].status == "ok")
        assert screen.state.lanes[0].tokens == 5
        assert await _wait(pilot, lambda: screen.state.lanes[1].tokens == 5)  # second run hangs after 5 tokens
        await pilot.press("r")  # a report while the second run is live: what was recorded so far
        report = (orintui_home / "data" / "reports" / f"{app.execution.session.id}.md").read_text()
        assert "| first | " in report and "| second | " in report
        await pilot.press("s")  # skip it
        assert await _wait(pilot, lambda: app.execution.done.is_set())
        await pilot.pause(0.3)
        assert screen.state.lanes[1].status == "partial"  # skipped by the user after 5 tokens
        await pilot.press("w")
        await pilot.press("q")
    s = load_session(out)
    assert [r.status for r in s.runs] == ["ok", "partial"]
    assert s.runs[1].by_user and s.runs[1].error == "skipped by the user after 5 tokens"


async def test_live_quit_asks_first_and_leaves_no_backend(tmp_path):
    import psutil

    out = tmp_path / "live.json"
    app = OrintuiApp(scenario=live_scenario(tmp_path, "hang"), out=str(out), telemetry="none")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert await _wait(pilot, lambda: screen.state.lanes[0].tokens == 5)
        pid = app.execution.current.pid
        await pilot.press("q")
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert type(app.screen).__name__ == "LiveScreen"
        await pilot.press("q", "y")
        await pilot.pause(0.5)
    assert app.execution.done.is_set()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert [r.status for r in load_session(out).runs] == ["partial", "cancelled"]


async def test_menu_runs_a_scenario_with_edited_variables(orintui_home, tmp_path):
    folder = orintui_home / "config" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "fake.toml").write_text(f"""name = "fake"
description = "a fake backend through the menu"
[variables]
mode = "segfault"
[[runs]]
label = "fake"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "{FAKE}", "{{mode}}"]
""")
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")  # user scenarios come first
        assert type(app.screen).__name__ == "VariablesScreen"
        field = app.screen.query_one("#var-mode")
        assert field.value == "segfault"
        field.value = "exit0"  # edited before the run
        app.screen.query_one("#session-label").value = "first try"
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "LiveScreen"
        screen = app.screen
        assert await _wait(pilot, lambda: app.execution.done.is_set())
        await pilot.pause(0.3)
        assert screen.state.lanes[0].status == "ok" and screen.state.lanes[0].tokens == 5
        assert app.execution.session.runs[0].argv[-1] == "exit0"
        assert "fake: first try" in str(screen.title_text())
        await pilot.press("q")
        assert type(app.screen).__name__ == "MenuScreen"  # back to the menu, which lists the new session
        await pilot.press("2")
        entry = app.screen.sessions[0]
        assert entry.scenario == "fake" and entry.label == "first try"
        await pilot.press("e")  # rename it
        assert type(app.screen).__name__ == "LabelScreen"
        app.screen.query_one("#label").value = "MAXN,   clocks locked "
        await pilot.press("enter")
        await pilot.pause()
        assert load_session(entry.path).label == "MAXN, clocks locked"
        assert app.screen.sessions[0].label == "MAXN, clocks locked"
        await pilot.press("e", "escape")  # cancelled: unchanged
        assert load_session(entry.path).label == "MAXN, clocks locked"
        await pilot.press("down", "e")  # the bundled demo (the last row) keeps its name
        assert app.screen.sessions[-1].bundled
        assert type(app.screen).__name__ == "MenuScreen"


async def test_live_title_says_finished_when_saving_ends_after_the_last_event(tmp_path, monkeypatch):
    """A slow save (big session, slow SD card): no event follows it, the screen must still update."""
    from orintui.session.recorder import Recorder

    real_close = Recorder.close

    def slow_close(self):
        time.sleep(1.0)
        return real_close(self)

    monkeypatch.setattr(Recorder, "close", slow_close)
    text = f"""name = "slow-save"
[[runs]]
label = "only"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "{FAKE}", "exit0"]
"""
    app = OrintuiApp(scenario=parse_scenario(text, str(tmp_path / "s.toml")), out=str(tmp_path / "s.json"),
                     telemetry="none")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert await _wait(pilot, lambda: screen.state.lanes[0].status == "ok")
        assert "LIVE" in str(screen.query_one("#title").render())
        assert await _wait(pilot, lambda: app.execution.done.is_set())
        await pilot.pause(0.3)
        assert "finished" in str(screen.query_one("#title").render())
