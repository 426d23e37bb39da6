"""The direct sparkline (widgets/spark.py) draws what Textual's Sparkline draws, cell for cell and
colour for colour, on the app's own stylesheet and theme."""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Sparkline

from orintui.tui.widgets import spark
from orintui.tui.widgets.spark import Spark, bucket_summaries

rng = random.Random(7)
SERIES = {
    "empty": [],
    "one value": [3.0],
    "flat": [10.0] * 60,
    "fewer values than cells": [1.0, 5.0, 2.0, 9.0, 4.0],
    "more values than cells": [rng.uniform(0, 100) for _ in range(121)],
    "negative and positive": [rng.uniform(-50, 50) for _ in range(400)],
    "a spike": [1.0] * 30 + [1000.0] + [1.0] * 30,
}


class Pair(App):
    CSS = "Sparkline { width: 37; height: 1; }"

    def compose(self) -> ComposeResult:
        yield Spark([], id="ours", classes="gauge-spark")
        yield Sparkline([], id="textuals", classes="gauge-spark")


@pytest.mark.parametrize("name", SERIES)
async def test_spark_draws_what_textuals_sparkline_draws(name, monkeypatch):
    direct = []
    segments = spark.spark_segments
    monkeypatch.setattr(spark, "spark_segments", lambda *a: direct.append(a) or segments(*a))
    app = Pair()
    async with app.run_test(size=(60, 4)) as pilot:
        ours, textuals = app.query_one("#ours", Spark), app.query_one("#textuals", Sparkline)
        for width in (37, 5, 50):
            ours.styles.width = textuals.styles.width = width
            ours.data = textuals.data = list(SERIES[name])
            await pilot.pause()
            theirs = list(textuals.render_line(0))
            mine = list(ours.render_line(0))
            assert len(theirs) > 0 and sum(len(s.text) for s in theirs) == width
            assert [(s.text, s.style) for s in mine] == [(s.text, s.style) for s in theirs], (name, width)
        assert {5, 37, 50} <= {width for _, width, *_ in direct}  # the direct way at each width, not Textual's


def test_buckets_are_textuals_even_shares():
    assert bucket_summaries([1, 2, 3, 4], 2) == [2, 4]
    assert bucket_summaries([5, 1, 7], 6) == [5, 1, 7]  # fewer values than cells: the empty shares left out
    assert bucket_summaries(list(range(10)), 3) == [2, 5, 9]
