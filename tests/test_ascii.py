"""ASCII mode (--ascii, automatic on TERM=linux): no eighth-block sparklines or braille, which the Linux
console's fonts lack; runs on the chart told apart by marker, a log axis when they are a decade apart."""

from __future__ import annotations

import html
import re

import pytest
from conftest import ROOT

from orintui.session import load_session
from orintui.tui.glyphs import RAMP, ascii_spark
from orintui.tui.screenshot import render_screenshot

H100 = ROOT / "orintui" / "data" / "demo-session.json.gz"
EIGHTHS = set("▁▂▃▄▅▆▇")


def _text(svg: str) -> str:
    return "".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)).replace("\xa0", " ")


def _glyphs(text: str) -> tuple[bool, bool]:
    return any(0x2800 <= ord(c) <= 0x28FF for c in text), any(c in EIGHTHS for c in text)


def test_ascii_spark_scales_to_the_width_and_the_range():
    assert ascii_spark([1, 2, 3, 4, 5, 6, 7], 7) == RAMP[1:]
    assert ascii_spark([5.0] * 10, 4) == RAMP[1] * 4  # flat data: the lowest step, never a division by zero
    assert len(ascii_spark(list(range(1000)), 60)) == 60
    assert ascii_spark([], 10) == "" and ascii_spark([1.0], 0) == ""


@pytest.mark.parametrize("how", [{"ORINTUI_ASCII": "1"}, {"TERM": "linux"}])
def test_replay_chart_and_sparklines_in_ascii(tmp_path, monkeypatch, how):
    for key, value in how.items():
        monkeypatch.setenv(key, value)
    session = load_session(H100)
    text = _text(render_screenshot(session, str(tmp_path / "c.svg"), size=(120, 40), pane="chart",
                                   theme="orintui-basic").read_text())
    assert _glyphs(text) == (False, False)
    # the H100 session's tinygrad CUDA (29 ms/token) and llama.cpp CUDA (1.7 ms) on one readable log axis
    assert "ms/token (log), median: * tinygrad CUDA 29.2 | + llama.cpp CUDA 1.71" in text
    assert "*" * 40 in text and "+" * 40 in text


def test_the_default_keeps_blocks_and_braille(tmp_path, monkeypatch):
    monkeypatch.delenv("ORINTUI_ASCII", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    text = _text(render_screenshot(load_session(H100), str(tmp_path / "c.svg"), size=(120, 40), pane="chart").read_text())
    assert _glyphs(text) == (True, True)
    assert "ms/token (log), median: tinygrad CUDA 29.2 | llama.cpp CUDA 1.71" in text
