"""The UI loop never blocks on work over the whole session (issue 13): the Findings pane, the report
(r), the energy chart (e) and a lane's last lines (Enter) are worked out in workers, on a real
200,000-token session, while a timer on the loop keeps firing; their results then appear."""

from __future__ import annotations

import sys

from conftest import ROOT
from test_tui import on_screen, settled, until
from textual.widgets import Static

from orintui.config.scenarios import parse_scenario
from orintui.session import events as ev
from orintui.tui.app import make_app

sys.path.insert(0, str(ROOT / "benchmarks"))
from common import synthetic_session  # noqa: E402

TOKENS, RUNS = 200_000, 4
TICK_S = 0.01  # the probe timer's interval: it fires over and over while the loop is free


def big_session():
    session = synthetic_session(TOKENS, 500.0, 2000, 1.0, runs=RUNS)
    run0_end = next(e["t"] for e in session.events if e["kind"] == ev.RUN_ENDED and e["run"] == 0)
    session.events.append({**ev.output(run0_end, "the last line of run 0"), "run": 0})
    session.events.sort(key=lambda e: e["t"])
    return session


def probe(screen, busy):
    """What a timer on the UI loop saw: one entry a firing, True while ``busy()`` held."""
    seen: list[bool] = []
    screen.set_interval(TICK_S, lambda: seen.append(bool(busy())))
    return seen


def title(screen) -> str:
    return str(screen.query_one("#title", Static).render())


async def test_the_findings_of_a_200k_token_replay_are_worked_out_off_the_ui_loop():
    from orintui.tui.widgets.findings import WORKING, FindingsPane

    app = make_app(replay=big_session(), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await on_screen(pilot, "ReplayScreen")
        pane = screen.query_one(FindingsPane)
        text = pane.query_one("#findings-text", Static)
        seen = probe(screen, lambda: pane.busy and str(text.render()).startswith(WORKING))
        await pilot.press("f")
        await until(pilot, lambda: not pane.busy and str(text.render()).startswith("Findings"), timeout=120)
        # the timer fired over and over while the worker ran, and saw the pane say it was working
        assert seen.count(True) >= 3, seen.count(True)
        shown = str(text.render())
        assert shown.startswith(f"Findings for the whole recorded session ({RUNS} of {RUNS} runs ended)")
        assert "- run 0 vs run 1:" in shown and "- Bottleneck of run 3:" in shown


MIRROR = 'name = "big"\n' + "".join(
    f'[[runs]]\nlabel = "run {r}"\nbackend = "llama-completion"\nargv = ["true"]\n' for r in range(RUNS))


async def live_screen_with_a_big_session(pilot, app):
    """A real Execution, not started: a 200,000-token recording goes through its recorder (journal
    and all), as from the runs."""
    screen = await on_screen(pilot, "LiveScreen")
    for e in big_session().events:
        app.execution.recorder.record(dict(e))
    assert app.execution.recorder.sync(60)
    app.clear_notifications()
    await settled(pilot, screen)
    return screen


async def test_a_200k_token_live_sessions_report_chart_and_last_lines_are_worked_out_off_the_ui_loop(orintui_home, monkeypatch):
    import threading

    from orintui.tui.screens import last_lines as last_lines_module
    from orintui.tui.screens.last_lines import LastLinesScreen
    from orintui.tui.widgets.findings import FindingsPane
    from orintui.tui.widgets.pareto_plot import ParetoScreen

    app = make_app(scenario=parse_scenario(MIRROR, "big.toml"), telemetry="none")
    app.live_autostart = False
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await live_screen_with_a_big_session(pilot, app)
        assert [lane.status for lane in screen.state.lanes] == ["ok"] * RUNS

        # r: the session read back from the journal and the report written, in a worker; a second
        # press while it is in flight starts nothing (both presses in one turn of the loop)
        seen = probe(screen, lambda: "writing the report" in title(screen))
        screen.action_report()
        screen.action_report()
        assert list(screen.jobs) == ["report"]
        assert len([w for w in screen.workers if w.group == "session-jobs"]) == 1
        report = orintui_home / "data" / "reports" / f"{app.execution.session.id}.md"
        await until(pilot, lambda: report.exists() and not screen.jobs, timeout=120)
        assert seen.count(True) >= 3, seen.count(True)
        assert "| run 3 |" in report.read_text()
        assert "writing the report" not in title(screen)

        # e: every run's figures for the chart, in a worker, then the chart
        seen = probe(screen, lambda: "energy chart" in title(screen))
        await pilot.press("e")
        pareto = await on_screen(pilot, "ParetoScreen")
        assert isinstance(pareto, ParetoScreen) and seen.count(True) >= 3, seen.count(True)
        assert "run 3: 500.00 tok/s" in str(pareto.query_one("#pareto-plot", Static).render())
        await pilot.press("escape")
        await on_screen(pilot, "LiveScreen")

        # Enter on a lane: its status, error and last output lines, read from the whole session in a worker;
        # the worker held until the loop has ticked three times while it runs (the lines of a live run are
        # kept by the screen: read in less time than three ticks take, which proved nothing)
        release = threading.Event()
        read_lines = last_lines_module.run_lines
        monkeypatch.setattr(last_lines_module, "run_lines", lambda *a: (release.wait(60), read_lines(*a))[1])
        seen = probe(screen, lambda: "reading the run's output" in title(screen))
        screen.query_one("#lane-0").focus()
        await pilot.press("enter")
        await until(pilot, lambda: seen.count(True) >= 3)
        release.set()
        last = await on_screen(pilot, "LastLinesScreen")
        assert isinstance(last, LastLinesScreen)
        shown = "".join(str(w.render()) for w in last.query(Static))
        assert shown.startswith("run 0: ok") and "last 1 output lines:\nthe last line of run 0" in shown
        await pilot.press("escape")
        await on_screen(pilot, "LiveScreen")

        # f: the Findings of the session so far, read back and worked out in a worker
        pane = screen.query_one(FindingsPane)
        seen = probe(screen, lambda: pane.busy)
        await pilot.press("f")
        text = pane.query_one("#findings-text", Static)
        await until(pilot, lambda: not pane.busy and str(text.render()).startswith("Findings"), timeout=120)
        assert seen.count(True) >= 3, seen.count(True)
        assert f"({RUNS} of {RUNS} runs ended)" in str(text.render()) and "- run 2 vs run 3:" in str(text.render())


def test_a_synthetic_session_keeps_times_as_a_recording_does():
    """The benchmarks' sessions stand for recorded ones, whose times the recorder keeps to the
    microsecond: the event constructors leave a time as given, so synthetic_session rounds its own
    (unrounded, its files were 7% longer than a recording's and slower to load)."""
    session = synthetic_session(2000, 500.0, 20, 1.0, runs=2)
    assert len(session.events) > 2000
    assert all(e["t"] == round(e["t"], 6) for e in session.events), next(
        e["t"] for e in session.events if e["t"] != round(e["t"], 6))
