"""A redraw repaints only what changed: a token repaints its own lane, not the others or the telemetry
strip; a telemetry sample repaints the strip, not the lanes of ended runs (every Static update is a
repaint, and Textual re-renders every widget in the span of all changed regions)."""

from __future__ import annotations

from collections import Counter

from conftest import ROOT
from textual.widgets import Static

from orintui.session import events as ev
from orintui.session import load_session
from orintui.tui.app import make_app

H100 = ROOT / "orintui" / "data" / "demo-session.json.gz"


async def settled(pilot, screen):
    while screen.seeking or screen.clock.loading:
        await pilot.pause(0.05)
    await pilot.pause()


async def test_a_redraw_repaints_only_the_widgets_whose_content_changed(monkeypatch):
    session = load_session(H100)
    app = make_app(replay=session, at=15.1, paused=True)  # run 0 ended (failed), run 1 in prefill, the rest queued
    async with app.run_test(size=(120, 40)) as pilot:
        while type(app.screen).__name__ != "ReplayScreen":
            await pilot.pause(0.05)
        screen = app.screen
        await settled(pilot, screen)
        state = screen.state
        assert state.lanes[0].status == "failed" and state.lanes[1].status == "running" and state.lanes[1].tokens == 0

        updated: Counter[str] = Counter()
        update = Static.update

        def counting(self, *args, **kwargs):
            owner = next((node.id for node in self.ancestors if node.id), "")
            updated[f"{owner}/{self.id or ','.join(sorted(self.classes))}"] += 1
            return update(self, *args, **kwargs)

        monkeypatch.setattr(Static, "update", counting)

        state.apply({**ev.token(state.t + 0.01, "hello", 12.5), "run": 1, "index": 0})
        screen.redraw()
        assert "1 tok" in str(screen.query_one("#lane-1 .lane-summary").render())
        assert "hello" in str(screen.query_one("#lane-1 .lane-text").render())
        lanes = {key.split("/")[0] for key in updated if key.startswith("lane-")}
        assert lanes == {"lane-1"}, updated  # the ended and the queued lanes are left alone
        assert not any(key.startswith(("gauge-", "telemetry/")) for key in updated), updated

        updated.clear()
        sample = next(e for e in session.events if e["kind"] == "telemetry" and e.get("power_total_mw"))
        state.apply({**sample, "t": state.t + 0.01, "power_total_mw": 123_456})
        screen.redraw()
        assert "123.46W" in str(screen.query_one("#gauge-power .gauge-value").render())
        assert updated["gauge-power/gauge-value"] == 1
        assert not any(key.startswith(("lane-0", "lane-2", "lane-3", "lane-4")) for key in updated), updated

        updated.clear()
        screen.redraw(force=True)  # every widget asked again, nothing new: nothing repainted
        assert not updated, updated
