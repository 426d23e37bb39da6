"""The live app keeps no second per-token record: the engine keeps the session's one, and the app's
table shows an ended run's figures as the engine worked them out, equal to the saved session's."""

from __future__ import annotations

import json
import time

from orintui.figures.metrics import session_metrics
from orintui.session import load_session


async def test_the_live_app_adopts_the_engines_figures_and_keeps_no_record(tmp_path, llama_bin, tiny_model):
    from orintui.config.scenarios import load_scenario
    from orintui.tui.app import make_app

    argv = [f"{llama_bin}/llama-completion", "-m", str(tiny_model), "-p", "Hello", "-n", "48", "--ignore-eos",
            "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]
    toml = tmp_path / "two.toml"
    toml.write_text(f'name = "two"\n[[runs]]\nlabel = "llama.cpp CPU"\nbackend = "llama-completion"\n'
                    f"argv = {json.dumps(argv)}\nrepetitions = 2\n")
    out = tmp_path / "s.json"
    app = make_app(scenario=load_scenario(str(toml)), out=str(out), telemetry="psutil")
    async with app.run_test(size=(120, 40)) as pilot:
        while app.execution is None or not app.execution.done.is_set():  # prepared in a worker, then run
            await pilot.pause(0.2)
        state = app.screen.state
        deadline = time.monotonic() + 30  # the tick drains the inbox: the ends, then the adopted figures
        while [lane.status for lane in state.lanes] != [r.status for r in app.execution.session.runs]:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        screen = app.screen
        while not screen._announced:  # the tick that saw the session's end adopted every run's final figures
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        shown = state.metrics()
        assert all(len(acc.series) == 0 for acc in state.figures.runs)  # no per-token record in the app
        counted = [acc.tokens for acc in state.figures.runs]
    session = load_session(out)
    assert counted == [sum(e["kind"] == "token" and e.get("run") == r.index for e in session.events)
                       for r in session.runs]  # though it counted every token
    saved = session_metrics(session)
    assert [m.to_dict() for m in shown] == [m.to_dict() for m in saved]
