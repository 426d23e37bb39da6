"""The app at every size (issue 16): snapshots of the compare screen, the dialogs, the replay screen's
chart and output panes and the basic theme in ASCII mode at 80x24 and 120x40, the replay at 200x50 (the
chart under the table), and the menu's cursor that stays on its session after a rename or a reload."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_tui import DEVICE, H100, live_app_fed_by_recording, menu_app, menu_ready, on_screen, settled, until

from orintui.session import load_session, save_session
from orintui.tui.app import make_app

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
REPETITIONS = FIXTURES / "sessions" / "cpu-repetitions.json.gz"
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def fixed_home(monkeypatch, request):
    """The menu as on any machine, with its folders at paths that are the same on every run (the delete
    dialog names the file, the variables dialog the model folder): no llama.cpp on PATH or built by orintui
    (as test_tui's menu snapshot), and one session of the user's own."""
    name = request.node.callspec.id  # e.g. delete-size0
    home = Path(tempfile.gettempdir()) / f"orintui-snap-{name}"
    shutil.rmtree(home, ignore_errors=True)
    monkeypatch.setenv("ORINTUI_HOME", str(home))
    monkeypatch.setenv("ORINTUI_CACHE", str(home / "cache"))
    monkeypatch.setenv("ORINTUI_GATE", "off")
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not os.path.exists(os.path.join(p, "llama-completion"))))
    folder = home / "data" / "sessions"
    folder.mkdir(parents=True)
    shutil.copy(DEMO_CPU, folder / "a.json")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def replay_app(pane: str | None = None, **kw):
    app = make_app(replay=load_session(H100), at=30.0, paused=True, **{"theme": "orintui-dark", **kw})

    async def go(pilot):
        screen = await on_screen(pilot, "ReplayScreen")
        if pane:
            await pilot.press(pane)
        await settled(pilot, screen)
    return app, go


# -- replay panes ------------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pane", ["g"])  # the ms/token chart
def test_snapshot_replay_panes(snap_compare, size, pane):
    app, go = replay_app(pane)
    assert snap_compare(app, terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES)
async def test_the_output_pane_ends_with_the_last_lines_before_the_replay_point(size):
    """The raw output pane, checked by content: where its log has scrolled to when the screen is drawn
    varies from run to run (the log scrolls after a deferred refresh), so a snapshot of it cannot be stable."""
    app, go = replay_app("o")
    async with app.run_test(size=size) as pilot:
        await go(pilot)
        log = app.screen.query_one("#output OutputPane")
        session = load_session(H100)
        expected = [e["line"] for e in session.events if e["kind"] == "output" and e["t"] <= 30.0][-5:]
        shown = [strip.text for strip in log.lines[-5:]]
        assert [line.split(None, 2)[-1].rstrip() for line in shown] == [x.strip() for x in expected]


def test_snapshot_replay_wide(snap_compare):
    # 200x50: longer sparklines and label, the table only as high as its rows, the chart under it
    app, go = replay_app()
    assert snap_compare(app, terminal_size=(200, 50), run_before=go)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_replay_basic_ascii(snap_compare, size, monkeypatch):
    monkeypatch.setenv("ORINTUI_ASCII", "1")  # as on TERM=linux: no eighth blocks, no braille
    app, go = replay_app(theme="orintui-basic")
    assert snap_compare(app, terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_last_lines_of_a_failed_run(snap_compare, size):
    app, go = replay_app()

    async def open_failed(pilot):
        await go(pilot)
        app.screen.query_one("#lane-0").focus()  # tinygrad NV: exit code 1
        await pilot.press("enter")
        await on_screen(pilot, "LastLinesScreen")
        await pilot.pause()
    assert snap_compare(app, terminal_size=size, run_before=open_failed)


async def test_tall_terminal_shows_the_chart_under_the_table():
    app, go = replay_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await go(pilot)
        screen = app.screen
        below = screen.query_one("#chart-below")
        assert below.display and below.region.height >= 12
        assert screen.query_one("#table").region.height < 12  # its five rows, not half the screen
        lane = screen.query_one("#lane-1 .lane-spark")
        assert lane.region.width > 48  # grows with the width (24 at 120 columns)
        await pilot.press("g")  # the chart takes the whole area: no second copy under it
        await pilot.pause()
        assert not below.display
        await pilot.press("o")
        await pilot.pause()
        assert below.display and screen.query_one("#output").display
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: not below.display)
        assert screen.query_one("#lane-1 .lane-spark").region.width == 24


async def test_live_chart_under_the_table_shows_the_last_events(orintui_home):
    # the recorded events arrive faster than the chart's twice-a-second redraw, then stop: the chart still
    # catches up with the last of them (it was left at 'no tokens yet')
    app, feed = live_app_fed_by_recording()
    async with app.run_test(size=(200, 50)) as pilot:
        await feed(pilot)
        await until(pilot, lambda: "llama.cpp&#160;CPU&#160;3.63" in app.export_screenshot())
        assert "tinygrad&#160;CPU&#160;101" in app.export_screenshot() and app.screen.query_one("#table").display


# -- compare and the dialogs over the menu -----------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_compare(snap_compare, size, orintui_home):
    from textual.widgets import DataTable

    from orintui.tui.messages import OpenCompare

    app = menu_app()

    async def go(pilot):
        await menu_ready(pilot)
        app.post_message(OpenCompare(str(DEMO_CPU), str(REPETITIONS)))
        screen = await on_screen(pilot, "CompareScreen")
        await until(pilot, lambda: any(t.row_count for t in screen.query(DataTable)))
        await pilot.pause()
    assert snap_compare(app, terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_variables_dialog(snap_compare, size, fixed_home):
    from orintui.config.scenarios import list_scenarios
    from orintui.tui.screens.variables import VariablesScreen

    app = menu_app()
    demo = next(e for e in list_scenarios() if e.name == "demo")

    async def go(pilot):
        await menu_ready(pilot)
        # over the sessions tab: the scenarios tab says what this machine has installed, which differs
        await pilot.press("2")
        app.push_screen(VariablesScreen(demo.path))  # what enter on the scenario opens (test_tui)
        await on_screen(pilot, "VariablesScreen")
        await pilot.pause()
    assert snap_compare(app, terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["e", "delete"])  # the label dialog, the confirmation before a delete
def test_snapshot_session_dialogs(snap_compare, size, key, fixed_home):
    app = menu_app()

    async def go(pilot):
        await menu_ready(pilot)
        await pilot.press("2", key)  # the newest session: a.json, the user's own
        await on_screen(pilot, "LabelScreen" if key == "e" else "ConfirmScreen")
        await pilot.pause()
    assert snap_compare(app, terminal_size=size, run_before=go)


# -- the menu's cursor -------------------------------------------------------------------------
async def test_menu_cursor_stays_on_its_session_after_rename_and_reload(orintui_home):
    folder = orintui_home / "data" / "sessions"
    folder.mkdir(parents=True)
    older = load_session(DEMO_CPU)
    older.started_at = "2020-01-01T00:00:00"
    save_session(older, folder / "older.json")
    shutil.copy(DEMO_CPU, folder / "newer.json")
    app = make_app(device_info=DEVICE, first_screen="menu")
    async with app.run_test(size=(100, 30)) as pilot:
        menu = await menu_ready(pilot)

        def selected():
            return Path(menu._selected_session().path).name

        await pilot.press("2")
        while selected() != "older.json":
            await pilot.press("down")
        await pilot.press("e")
        await on_screen(pilot, "LabelScreen")
        await pilot.press(*"MAXN", "enter")
        await until(pilot, lambda: any(e.label == "MAXN" for e in menu.sessions))
        assert selected() == "older.json"
        # a session that sorts first (started later) appears: the cursor stays on older.json
        newest = load_session(DEMO_CPU)
        newest.id, newest.started_at = "newest", "2099-01-01T00:00:00"
        save_session(newest, folder / "newest.json")
        await pilot.press("f5")
        await until(pilot, lambda: menu.loaded and len(menu.sessions) == 4)
        assert Path(menu.sessions[0].path).name == "newest.json" and selected() == "older.json"


@pytest.mark.parametrize("pane", ["t", "g", "o"])
async def test_ascii_mode_draws_no_blocks_or_braille_in_any_pane(monkeypatch, pane):
    import re

    monkeypatch.setenv("ORINTUI_ASCII", "1")
    app, go = replay_app(pane, theme="orintui-basic")
    async with app.run_test(size=(80, 24)) as pilot:
        await go(pilot)
        shot = app.export_screenshot()
    # the lanes' sparklines, the chart's dots and the output pane's scrollbar ends (eighth blocks)
    assert not re.findall("[\u2580-\u259f\u2800-\u28ff]", shot)
    assert pane != "o" or "GB/s," in shot  # the output pane shows the backend's lines
