"""The app: Pilot tests for every screen and key, snapshots of menu, live and replay screens."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import shutil
import sys
import time

import pytest
from conftest import FIXTURES, ROOT

from orintui.config.scenarios import parse_scenario
from orintui.session import events as ev
from orintui.session import load_session, save_session
from orintui.tui.app import make_app

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
    return make_app(device_info=DEVICE, first_screen="menu", **kw)


async def until(pilot, condition, timeout=30.0):
    """Let the app run until ``condition()`` holds (workers post their results back); the timeout only
    bounds a failure, it gates nothing."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.05)


async def on_screen(pilot, name):
    """The screen ``name`` once it is the app's and mounted: a screen just pushed is the app's before its
    compose has mounted its widgets (a query of them then finds none)."""
    await until(pilot, lambda: type(pilot.app.screen).__name__ == name and pilot.app.screen.is_mounted)
    return pilot.app.screen


async def menu_ready(pilot):
    screen = await on_screen(pilot, "MenuScreen")
    await until(pilot, lambda: screen.loaded)  # the lists are read in a worker
    return screen


async def settled(pilot, screen):
    """A monitor screen that has drawn what its state holds (no seek in flight, no event waiting)."""
    await until(pilot, lambda: not getattr(screen, "seeking", 0) and not getattr(screen, "inbox", None)
                and screen._drawn == screen.draw_key())
    await pilot.pause()


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
    """A real Execution, not started: the recorded session's events go through its recorder, so the
    engine's figures and the live screen's inbox take them as from a run (an ended run's figures are
    the engine's)."""
    recorded = load_session(DEMO_CPU)
    app = make_app(scenario=parse_scenario(MIRROR, "mirror.toml"), telemetry="none")
    app.live_autostart = False

    async def feed(pilot):
        screen = await on_screen(pilot, "LiveScreen")
        for host in (screen.state.session.host, app.execution.session.host):
            host.update(recorded.host)
            host["hostname"] = "orin"
        for e in recorded.events:
            if e["t"] <= 30.0:
                app.execution.recorder.record(dict(e))
        assert app.execution.recorder.sync()
        app.clear_notifications()  # "starting demo: ...", shown while the Execution was prepared
        await settled(pilot, screen)
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
        await menu_ready(pilot)
        await pilot.pause()
    assert snap_compare(menu_app(), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_replay(snap_compare, size):
    session = load_session(H100)
    app = make_app(replay=session, at=30.0, theme="orintui-dark", paused=True)

    async def go(pilot):
        await settled(pilot, await on_screen(pilot, "ReplayScreen"))
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

        tabs = (await menu_ready(pilot)).query_one(TabbedContent)
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
        await pilot.press("2", "enter")  # the newest session (by start time): demo-cpu, loaded in a worker
        replay = await on_screen(pilot, "ReplayScreen")
        assert replay.state.session.scenario["name"] == "demo" and replay.recorded.runs[0].label == "tinygrad CPU"
        await pilot.press("q")
        await menu_ready(pilot)
        await pilot.press("d")
        await on_screen(pilot, "ReplayScreen")
        await pilot.press("escape")
        await menu_ready(pilot)
        await pilot.press("2", "c", "down", "c")
        await on_screen(pilot, "CompareScreen")
        await pilot.press("escape")
        await on_screen(pilot, "MenuScreen")


async def test_menu_deletes_a_session_after_asking(sessions):
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        def footer_has_delete():
            return any(ab.binding.action == "delete_session" for ab in app.screen.active_bindings.values())

        await menu_ready(pilot)
        await pilot.press("1")
        assert not footer_has_delete()  # only in the sessions tab
        await pilot.press("2")  # the cursor is on the newest (by start time): a.json
        assert footer_has_delete()
        await pilot.press("delete")
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert (sessions / "a.json").exists()
        await pilot.press("delete", "y")
        await until(pilot, lambda: len(app.screen.sessions) == 2)  # listed again in a worker
        assert not (sessions / "a.json").exists() and (sessions / "b.json.gz").exists()
        assert [e.bundled for e in app.screen.sessions] == [False, True]
        await pilot.press("down", "delete")  # the bundled demo stays
        assert type(app.screen).__name__ == "MenuScreen"
        assert len(app.screen.sessions) == 2


async def test_menu_probes_the_device_without_waiting(orintui_home):
    app = make_app(first_screen="menu")  # no device facts given: the real probes run
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: app.screen.device_info is not None)
        await pilot.pause()
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
        from orintui.tui.messages import OpenCompare

        await menu_ready(pilot)
        app.post_message(OpenCompare(str(DEMO_CPU), str(b_path)))
        screen = await on_screen(pilot, "CompareScreen")
        await until(pilot, lambda: any(t.row_count for t in screen.query(DataTable)))
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
        from orintui.sharing.compare import render_compare

        report = orintui_home / "data" / "reports" / f"{a.id}-vs-{b.id}.md"
        await until(pilot, report.exists)
        assert report.read_text() == render_compare([a, load_session(b_path)]) + "\n"
        await pilot.press("q")
        await on_screen(pilot, "MenuScreen")


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


async def test_help_panel_lists_the_screens_keys_first():
    from orintui.tui.keys_panel import KeysPanel, ordered_bindings

    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await menu_ready(pilot)
        assert app.focused is not None and app.focused.id == "scenario-table"  # the list has the keys at once
        await pilot.press("question_mark")
        assert app.screen.query(KeysPanel)
        rows = ordered_bindings(app, app.screen)
        ranks = [rank for rank, _, _ in rows]
        assert ranks == sorted(ranks) and ranks[0] == 0 and 2 in ranks  # screen, app, then the table's cursor keys
        assert {"Scenarios", "Sessions", "Device", "Open", "Compare"} <= {d for rank, _, d in rows if rank == 0}
        await pilot.press("question_mark")
        assert not app.screen.query(KeysPanel)


async def test_command_palette_offers_the_screens_actions():
    from orintui.tui.keys_panel import binding_commands

    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await menu_ready(pilot)
        names = {c.title: c.help for c in binding_commands(app, app.screen)}
        assert {"Scenarios", "Sessions", "Device", "Compare", "Demo", "Quit", "Theme", "Keys"} <= set(names)
        assert names["Device"] == "key 3"
        result = next(c for c in binding_commands(app, app.screen) if c.title == "Device").callback()
        if inspect.isawaitable(result):  # the palette awaits what a command returns; so does this test
            await result
        await until(pilot, lambda: app.screen.query_one("TabbedContent").active == "device")
        await pilot.press("ctrl+p")  # the palette itself opens
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")


async def test_first_start_opens_the_demo_replay(orintui_home):
    app = make_app(device_info=DEVICE)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, "ReplayScreen")  # loaded in a worker
        await pilot.press("q")
        await on_screen(pilot, "MenuScreen")
    second = make_app(device_info=DEVICE)
    async with second.run_test(size=(80, 24)) as pilot:
        await menu_ready(pilot)
        assert type(second.screen).__name__ == "MenuScreen"
        assert not any(w.group == "load" for w in second.workers)  # no demo asked for


# -- pilot: replay -----------------------------------------------------------------------------
async def test_replay_keys():
    session = load_session(H100)
    app = make_app(replay=session, speed=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
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
        await settled(pilot, screen)  # the state at the end is folded in a worker
        assert clock.finished and screen.state.lanes[2].tokens == 128
        await pilot.press("home")
        await settled(pilot, screen)
        assert clock.position == 0 and screen.state.lanes[2].tokens == 0
        for pane, name in (("g", "chart"), ("o", "output"), ("t", "table")):
            await pilot.press(pane)
            assert screen.query_one("ContentSwitcher").current == name
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_replay_seek_keys_win_over_the_focused_lanes_at_80x24():
    """At 80x24 the five lanes overflow: their scroll view takes focus and binds left/right too."""
    app = make_app(replay=load_session(H100), at=0.0, paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, await on_screen(pilot, "ReplayScreen"))
        assert app.focused is not None and app.focused.id == "lanes"
        await pilot.press("right", "right", "left")
        assert app.screen.clock.position == pytest.approx(10.0)
        await pilot.press("end")
        assert app.screen.clock.finished


async def test_a_lane_without_tokens_says_how_long_it_has_loaded():
    app = make_app(replay=load_session(H100), at=15.1, paused=True)  # tinygrad CUDA: started 3.1 s, prefill from 9.6 s
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, await on_screen(pilot, "ReplayScreen"))
        detail = str(app.screen.query_one("#lane-1 .lane-text").render())
        assert detail == "prefill for 12 s, no token yet", detail


async def test_replay_report_key_writes_the_whole_sessions_table(orintui_home):
    from orintui.reading.report import render_report

    session = load_session(H100)
    app = make_app(replay=session, at=0.0, paused=True)  # at the start: nothing replayed yet
    report = orintui_home / "data" / "reports" / f"{session.id}.md"
    async with app.run_test(size=(120, 40)) as pilot:
        await on_screen(pilot, "ReplayScreen")
        await pilot.press("r")
        await until(pilot, report.exists)
    written = report.read_text()
    assert written == render_report([session]) + "\n" and "| llama.cpp CUDA | " in written
    assert "684.94" in written


async def test_replay_as_fast_as_possible_reaches_the_end():
    app = make_app(replay=load_session(DEMO_CPU), speed=float("inf"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        await until(pilot, lambda: screen.clock.finished)
        await settled(pilot, screen)
        state = screen.state
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
    app = make_app(replay=load_session(path), at=-1)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        await pilot.press("o")
        await settled(pilot, screen)
        rendered = app.export_screenshot()
        assert "[bold red]x[/]" in rendered.replace("&#160;", " ")
        assert "[link=http://e]y[/link]" in rendered.replace("&#160;", " ")


async def test_output_pane_keeps_following_past_its_line_limit():
    """The state keeps the last 2,000 lines; the pane must still show lines 2,001 and on."""
    from orintui.reading.live_state import OUTPUT_LINES

    app = make_app(replay=load_session(DEMO_CPU), at=0.0, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await on_screen(pilot, "ReplayScreen")
        await pilot.press("o")
        state, pane = app.screen.state, app.screen.query_one("OutputPane")
        for batch in (range(OUTPUT_LINES + 50), range(OUTPUT_LINES + 50, OUTPUT_LINES + 60)):
            for i in batch:
                state.apply({**ev.output(1.0 + i * 1e-4, f"line {i}"), "run": 0})
            app.screen.redraw(force=True)
            await pilot.pause()
            assert pane.lines[-1].text.endswith(f"line {batch[-1]}")


# -- pilot: live (real tinygrad on CPU, the tiny model) ---------------------------------------------
FAKE = FIXTURES / "fake_backends" / "misbehave.py"
ENDLESS = 100_000  # tokens: more than a run makes before the test stops it (see endless_model)
LONG_CONTEXT = 16_384


def endless_model(tmp_path):
    """The tiny model's shape with a 16k context. tinygrad ends a run whose context is full (StopIteration,
    exit 1), and the tiny model's 512 positions took about 3 s after its first tokens on an idle machine
    (11 s under load): the app, starved on a loaded machine, could see its third token and stop the run
    after the backend had already failed on its own. 16k positions are minutes of tokens at the least."""
    from dataclasses import replace

    from orintui.core import modelgen

    path = tmp_path / "endless.gguf"
    if not path.exists():
        modelgen.write_model(path, replace(modelgen.SHAPES["tiny"], context=LONG_CONTEXT))
    return path


def tinygrad_run(label, model, tokens, *extra):
    argv = json.dumps([sys.executable, "-m", "tinygrad.llm", "--model", str(model), *extra, "--benchmark", str(tokens)])
    return f"""[[runs]]
label = "{label}"
backend = "tinygrad-llm"
argv = {argv}
device = "CPU"
model = "{model}"
idle_timeout = 240
"""


def live_scenario(tmp_path, model, first_tokens):
    """Two real tinygrad runs: the first of ``first_tokens`` tokens (or endless), the second endless."""
    long, context = endless_model(tmp_path), ("--max_context", str(LONG_CONTEXT))
    first = (tinygrad_run("first", long, ENDLESS, *context) if first_tokens == ENDLESS
             else tinygrad_run("first", model, first_tokens))
    text = ('name = "tinygrad-live"\n[variables]\ndevice_style = "DEV"\n'
            + first + tinygrad_run("second", long, ENDLESS, *context))
    return parse_scenario(text, str(tmp_path / "live.toml"))


async def live_screen(pilot):
    return await on_screen(pilot, "LiveScreen")  # the Execution is prepared in a worker


@pytest.mark.real
async def test_live_skip_then_stop_and_quit(tmp_path, orintui_home, tinygrad_ready, tiny_model):
    out = tmp_path / "live.json"
    app = make_app(scenario=live_scenario(tmp_path, tiny_model, 8), out=str(out), telemetry="psutil")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await live_screen(pilot)
        await until(pilot, lambda: screen.state.lanes[0].status == "ok", 240)
        assert screen.state.lanes[0].tokens == 8
        await until(pilot, lambda: screen.state.lanes[1].tokens >= 3, 240)  # the endless second run
        await pilot.press("r")  # a report while the second run is live: what was recorded so far
        report = orintui_home / "data" / "reports" / f"{app.execution.session.id}.md"
        await until(pilot, report.exists)  # written in a worker
        assert "| first | " in report.read_text() and "| second | " in report.read_text()
        await pilot.press("s")  # skip it
        await until(pilot, app.execution.done.is_set)
        await settled(pilot, screen)
        assert screen.state.lanes[1].status == "partial"  # skipped by the user after some tokens
        await pilot.press("w")
        await until(pilot, lambda: any("saved so far" in str(n.message) for n in app._notifications))
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    s = load_session(out)
    assert [r.status for r in s.runs] == ["ok", "partial"]
    assert s.runs[1].by_user and s.runs[1].error.startswith("skipped by the user after ")


@pytest.mark.real
async def test_live_quit_asks_first_and_leaves_no_backend(tmp_path, tinygrad_ready, tiny_model):
    import psutil

    out = tmp_path / "live.json"
    app = make_app(scenario=live_scenario(tmp_path, tiny_model, ENDLESS), out=str(out), telemetry="none")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await live_screen(pilot)
        await until(pilot, lambda: screen.state.lanes[0].tokens >= 3, 240)
        pid = app.execution.current.pid
        await pilot.press("q")
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert type(app.screen).__name__ == "LiveScreen"
        await pilot.press("q", "y")  # stopped and saved in a worker; the app stays responsive meanwhile
        await until(pilot, lambda: not app.is_running)
    assert app.execution.done.is_set()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    runs = load_session(out).runs
    assert [r.status for r in runs] == ["partial", "cancelled"], [(r.status, r.error) for r in runs]


@pytest.mark.real
async def test_menu_runs_a_scenario_with_edited_variables(orintui_home, tmp_path, tinygrad_ready, tiny_model):
    folder = orintui_home / "config" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "tg.toml").write_text('name = "tg"\ndescription = "real tinygrad through the menu"\n'
                                    '[variables]\ntokens = "100000"\ndevice_style = "DEV"\n'
                                    + tinygrad_run("tinygrad", tiny_model, "{tokens}"))
    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await menu_ready(pilot)
        await pilot.press("enter")  # user scenarios come first
        assert type(app.screen).__name__ == "VariablesScreen"
        field = app.screen.query_one("#var-tokens")
        assert field.value == "100000"
        field.value = "6"  # edited before the run
        app.screen.query_one("#session-label").value = "first try"
        await pilot.press("ctrl+r")
        screen = await live_screen(pilot)
        await until(pilot, app.execution.done.is_set, 240)
        await settled(pilot, screen)
        assert screen.state.lanes[0].status == "ok" and screen.state.lanes[0].tokens == 6
        assert app.execution.session.runs[0].argv[-1] == "6"
        assert "tg: first try" in str(screen.title_text())
        await pilot.press("q")
        menu = await menu_ready(pilot)  # back to the menu, which lists the new session
        await pilot.press("2")
        entry = menu.sessions[0]
        assert entry.scenario == "tg" and entry.label == "first try"
        await pilot.press("e")  # rename it
        assert type(app.screen).__name__ == "LabelScreen"
        app.screen.query_one("#label").value = "MAXN,   clocks locked "
        await pilot.press("enter")
        await until(pilot, lambda: menu.sessions[0].label == "MAXN, clocks locked")  # written in a worker
        assert load_session(entry.path).label == "MAXN, clocks locked"
        await pilot.press("e", "escape")  # cancelled: unchanged
        assert load_session(entry.path).label == "MAXN, clocks locked"
        await pilot.press("down", "e")  # the bundled demo (the last row) keeps its name
        assert app.screen.sessions[-1].bundled
        assert type(app.screen).__name__ == "MenuScreen"


async def test_an_ended_runs_live_figures_are_the_engines_before_the_session_ends():
    # t <= 30 s of the recording: both runs have ended, the session has not; the live state keeps no
    # per-token record, yet its ended runs show the batch figures (exact p95), not running estimates
    app, feed = live_app_fed_by_recording()
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot)
        state = app.screen.state
        assert [lane.status for lane in state.lanes] == ["ok", "ok"] and not app.execution.done.is_set()
        assert all(len(acc.series) == 0 for acc in state.figures.runs) and state.figures.runs[0].tokens == 48
        assert [m.to_dict() for m in state.metrics()] == [app.execution.figures.metrics(i).to_dict() for i in (0, 1)]


async def test_live_title_says_finished_when_saving_ends_after_the_last_event(tmp_path, monkeypatch):
    """A slow save (big session, slow SD card): no event follows it, the screen must still update.
    The backend is the fake streamer: the subject is the save, not the run."""
    from orintui.session.recorder import Recorder

    real_close = Recorder.close

    def slow_close(self, **kwargs):
        time.sleep(1.0)
        return real_close(self, **kwargs)

    monkeypatch.setattr(Recorder, "close", slow_close)
    text = f"""name = "slow-save"
[[runs]]
label = "only"
backend = "tinygrad-llm"
argv = ["{sys.executable}", "{FAKE}", "exit0"]
"""
    app = make_app(scenario=parse_scenario(text, str(tmp_path / "s.toml")), out=str(tmp_path / "s.json"),
                   telemetry="none")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await live_screen(pilot)
        await until(pilot, lambda: screen.state.lanes[0].status == "ok")
        await settled(pilot, screen)
        assert "LIVE" in str(screen.query_one("#title").render())
        await until(pilot, app.execution.done.is_set)
        await settled(pilot, screen)
        assert "finished" in str(screen.query_one("#title").render())


SAVE_THEN_KILLED = """
import sys, time
sys.path.insert(0, {root!r})
from orintui.session import events as ev
from orintui.session.model import RunInfo
from orintui.session.recorder import Recorder, new_session
s = new_session({{}}, {{"name": "saved-then-killed"}}, [RunInfo(index=0, label="a", backend="llama-completion", argv=["x"])])
rec = Recorder(s, sys.argv[1])
rec.record(ev.make(ev.RUN_STARTED, rec.now(), 0, label="a"))
for i in range(50):
    rec.record({{**ev.token(rec.now(), "tok%d" % i), "run": 0}})
print(rec.save_now()[0], flush=True)  # 'w'
for i in range(50, 100):
    rec.record({{**ev.token(rec.now(), "tok%d" % i), "run": 0}})
print("written", flush=True)
time.sleep(60)
"""


def test_save_now_then_a_kill_leaves_one_session_with_everything(tmp_path):
    """'w' writes the session so far through the Recorder; after a later kill the recovered journal
    replaces that copy (it holds all of it and more) instead of landing beside it as a second file."""
    import signal
    import subprocess

    from orintui.session.store import recover_orphans

    out = tmp_path / "sessions" / "s.json"
    out.parent.mkdir()
    child = subprocess.Popen([sys.executable, "-c", SAVE_THEN_KILLED.format(root=str(ROOT)), str(out)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == str(out)
        assert len([e for e in load_session(out).events if e["kind"] == "token"]) == 50
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert recover_orphans(out.parent) == [out]
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.json"]
    s = load_session(out)
    texts = [e["text"] for e in s.events if e["kind"] == "token"]  # a kill may cut the journal's unflushed tail
    assert s.recovered and len(texts) >= 50 and texts == [f"tok{i}" for i in range(len(texts))]


def test_keyframe_seek_equals_a_fold_from_the_start(monkeypatch):
    """A seek restores the nearest keyframe and folds the rest: what it shows must be what folding every
    event from t=0 shows, at any point (keyframes every 50 events here, so most points fall between)."""
    from orintui.reading.live_state import LiveState
    from orintui.session.replay import ReplayClock
    from orintui.tui import keyframes

    monkeypatch.setattr(keyframes, "MIN_EVERY", 50)
    session = load_session(H100)
    clock = ReplayClock(session)
    frames = keyframes.Keyframes(session, clock.events)
    frames.build()
    assert frames.complete and len(frames.frames) > 5

    def shown(state):
        return ([(lane.status, lane.phase, lane.tokens, lane.ttft_ms, list(lane.ms), lane.text) for lane in state.lanes],
                state.t, state.current, list(state.output), [m.decode_tok_s for m in state.metrics()])

    for index in (0, 1, 49, 50, 51, 777, len(clock.events) // 2, len(clock.events)):
        folded = LiveState(session)
        for event in clock.events[:index]:
            folded.apply(event)
        restored = frames.state_at(index)
        assert shown(restored) == shown(folded), index
    assert frames.state_at(10, cancelled=lambda: True) is None  # a newer seek: this one gives up


def test_folding_a_restored_keyframe_changes_no_other_keyframe(monkeypatch):
    """Keyframes share the per-token arrays with the state the build folded (kept with their lengths, not
    copied): a seek's state folded on from any keyframe to the end must leave every keyframe showing what
    it showed before, and the build's final state as it was."""
    from orintui.session.replay import ReplayClock
    from orintui.tui import keyframes

    monkeypatch.setattr(keyframes, "MIN_EVERY", 50)
    session = load_session(H100)
    clock = ReplayClock(session)
    frames = keyframes.Keyframes(session, clock.events)
    frames.build()

    def shown(state):
        return ([(lane.status, lane.phase, lane.tokens, list(lane.ms), lane.text) for lane in state.lanes], state.t,
                [m.to_dict() for m in state.metrics()], [len(acc.series) for acc in state.figures.runs])

    before = [shown(frame.thawed()) for frame in frames.frames]
    end = shown(frames.state_at(len(clock.events)))
    for index in (0, 50, 51, 777, len(clock.events) // 2):
        state = frames.state_at(index)
        for event in clock.events[index:]:
            state.apply(event)
        assert shown(state) == end, index
    assert [shown(frame.thawed()) for frame in frames.frames] == before and len(set(map(str, before))) > 5
    assert shown(frames.state_at(len(clock.events))) == end


async def test_a_failed_lane_says_its_exit_and_enter_opens_its_last_lines():
    from textual.widgets import Static

    from orintui.tui.screens.last_lines import LastLinesScreen
    from orintui.tui.widgets.run_lane import RunLane

    app = make_app(replay=load_session(H100), at=38.0, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        await until(pilot, lambda: screen.state.lanes[0].status == "failed")
        lane = screen.query_one("#lane-0", RunLane)
        await until(pilot, lambda: "exit code 1: StopIteration" in str(lane.query_one(".lane-text", Static).render()))
        lane.focus()
        await pilot.press("enter")
        last = await on_screen(pilot, "LastLinesScreen")
        assert isinstance(last, LastLinesScreen)
        body = "".join(str(w.render()) for w in last.query(Static))
        assert "Traceback (most recent call last)" in body and "StopIteration" in body and "last " in body
        await pilot.press("escape")
        await on_screen(pilot, "ReplayScreen")


async def test_at_80x24_every_lane_shows_on_one_line(tmp_path):
    app = make_app(replay=load_session(H100), at=38.0, paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        await until(pilot, lambda: screen.has_class("compact"))
        await pilot.pause()
        lanes = screen.query(".lane")
        assert len(lanes) == 5 and all(lane.region.height == 1 for lane in lanes)
        assert all(lane.region.y + 1 <= screen.query_one("#lanes").region.bottom for lane in lanes)  # none scrolled away
        table = screen.query_one("#table")
        assert [str(c.label) for c in table.columns.values()] == ["Backend", "Decode", "vs best", "TTFT ms", "p95",
                                                                  "J/tok", "BW%", "Status"]
        assert table.fixed_columns == 1


async def test_the_variables_dialog_focuses_its_first_field_and_enter_runs(tmp_path):
    from textual.widgets import Input

    app = menu_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await menu_ready(pilot)
        await pilot.press("enter")  # the demo, first in the list
        dialog = await on_screen(pilot, "VariablesScreen")
        assert isinstance(app.focused, Input) and app.focused.id == "session-label"
        assert dialog.query("Footer")
        descriptions = [b.description for _, b, _, _ in dialog.active_bindings.values() if b.show]
        assert "Run" in descriptions and "Cancel" in descriptions
        await pilot.press("escape")
        await on_screen(pilot, "MenuScreen")
        assert app.focused is not None and app.focused.id == "scenario-table"  # focus back on the list
