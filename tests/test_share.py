"""Results one can hand to another person (issues 16 and 18): compare across boards, reports for
reuse, the HTML report, the share card and the app served to a browser, checked in a real
headless Chromium."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest
from conftest import FIXTURES, run_cli

from orintui.compare import compare_sessions, render_compare
from orintui.paths import bundled_dir
from orintui.session import load_session, save_session

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
H100 = bundled_dir("data") / "demo-session.json.gz"
ORIN = {"model": "NVIDIA Jetson AGX Orin Developer Kit", "nvpmodel": "MAXN", "jetson_clocks": "ON",
        "jetpack": "6.1/6.2", "l4t": "36.4.4", "hostname": "orin"}
ORIN_15W = {**ORIN, "nvpmodel": "15W", "jetson_clocks": "OFF", "hostname": "orin-nano"}


def board_session(host: dict, slower: float, ttft_factor: float, session_id: str):
    """The real CPU session replayed as if another board had made it: host facts of a Jetson, token
    gaps ``slower`` times as long and the first token ``ttft_factor`` times as late (the backend's own
    summary dropped, so the figures come from the arrival times)."""
    s = load_session(DEMO_CPU)
    s.id = session_id
    s.host = {**s.host, **host}
    firsts = {r.index: next(e["t"] for e in s.run_events(r.index) if e["kind"] == "token") for r in s.runs}
    starts = {r.index: max([r.started_t] + [e["t"] for e in s.run_events(r.index) if e["kind"] == "phase"
                                            and e.get("phase") == "prefill" and e["t"] <= firsts[r.index]])
              for r in s.runs}  # where TTFT counts from
    events = []
    for e in s.events:
        if e["kind"] == "summary":
            continue
        if e["kind"] == "token":
            run = e["run"]
            first, start = firsts[run], starts[run]
            e = {**e, "t": start + (first - start) * ttft_factor + (e["t"] - first) * slower, "ms": None}
        events.append(e)
    s.events = events
    return s


@pytest.fixture
def boards(tmp_path):
    paths = [save_session(board_session(ORIN, 1.0, 1.0, "orin-maxn"), tmp_path / "orin-maxn.json"),
             save_session(board_session(ORIN_15W, 2.0, 3.0, "orin-15w"), tmp_path / "orin-15w.json")]
    return paths


# -- compare -------------------------------------------------------------------------------------
def test_compare_boards_names_sessions_and_gives_direction_in_words(boards):
    a, b = (load_session(p) for p in boards)
    result = compare_sessions([a, b])
    assert [s["power_mode"] for s in result["sessions"]] == ["MAXN, clocks locked", "15W, clocks not locked"]
    rows = {(r["label"], r["session"]): r for r in result["generation"]}
    decode = rows[("llama.cpp CPU", "B")]["figures"]["decode"]
    assert decode["ratio"] == pytest.approx(0.5, rel=0.02) and decode["verdict"] == "worse" and decode["direction"] == "down"
    ttft = rows[("llama.cpp CPU", "B")]["figures"]["ttft_ms"]
    assert ttft["ratio"] == pytest.approx(3.0, rel=0.02) and ttft["verdict"] == "worse" and ttft["direction"] == "up"
    assert [r["rank"] for r in result["generation"]] == [1, 2, 3, 4]  # ranked by decode, best first
    assert result["generation"][0]["label"] == "llama.cpp CPU" and result["generation"][0]["session"] == "A"
    assert {(m["label"], m["key"]) for m in result["moves"]} >= {("llama.cpp CPU", "ttft_ms"), ("tinygrad CPU", "ttft_ms")}

    r = run_cli("compare", *map(str, boards))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "A (baseline): demo (orin-maxn, 2026-11-20 23:52): board NVIDIA Jetson AGX Orin Developer Kit, power mode " \
           "MAXN, clocks locked" in out
    assert "B: demo (orin-15w, 2026-11-20 23:52)" in out and "power mode 15W, clocks not locked" in out
    row = next(line for line in out.splitlines() if line.startswith("| 2 | llama.cpp CPU ! | B |"))
    assert "| NVIDIA Jetson AGX Orin Developer Kit | 15W, clocks not locked |" in row and "↓ 0.50x worse" in row
    assert "TTFT and prefill moves beyond the runs' spread (against A):" in out
    assert "- llama.cpp CPU in B: TTFT (ms) " in out and "↑ 3.00x worse" in out


def test_compare_baseline_by_position_letter_or_id(boards):
    for spec in ("2", "b", "orin-15w", "orin-1"):
        r = run_cli("compare", *map(str, boards), "--baseline", spec, "--format", "json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["baseline"] == "B" and doc["sessions"][1]["baseline"]
        row = next(x for x in doc["generation"] if x["label"] == "llama.cpp CPU" and x["session"] == "A")
        assert row["figures"]["decode"]["ratio"] == pytest.approx(2.0, rel=0.02)
        assert row["figures"]["decode"]["verdict"] == "better"
    for spec, why in (("3", "there are 2 sessions"), ("orin", "matches more than one session"), ("zz", "no position")):
        r = run_cli("compare", *map(str, boards), "--baseline", spec)
        assert r.returncode == 2 and why in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = run_cli("compare", str(boards[0]))
    assert r.returncode == 2 and r.stderr == "orintui: compare needs two or more sessions\n"


def test_compare_ranks_llama_bench_tests_apart(boards):
    text = render_compare([load_session(H100), load_session(boards[0])])
    generation, bench = text.split("llama-bench tests, ranked within each test by t/s")
    assert "pp512" not in generation and "llama-bench fa on" not in generation
    rows = [line for line in bench.splitlines() if line.startswith("| ")][1:]  # after the header
    assert [r.split(" | ")[:3] for r in rows] == [["| 1", "pp512", "llama-bench fa on"], ["| 2", "pp512", "llama-bench fa off"],
                                                 ["| 1", "tg128", "llama-bench fa on"], ["| 2", "tg128", "llama-bench fa off"]]
    assert "704.05 ± 3.74" in bench
    assert "llama-bench fa on (not in B)" in text and "tinygrad CPU (not in A)" in text


def test_compare_of_three_sessions_json(boards):
    r = run_cli("compare", str(DEMO_CPU), *map(str, boards), "--format", "json")
    doc = json.loads(r.stdout)
    assert [s["name"] for s in doc["sessions"]] == ["A", "B", "C"] and doc["baseline"] == "A"
    assert {s["board"] for s in doc["sessions"]} == {"vm", "NVIDIA Jetson AGX Orin Developer Kit"}


async def test_compare_screen_takes_three_sessions(boards, orintui_home):
    from textual.widgets import DataTable

    from orintui.tui.app import OrintuiApp

    app = OrintuiApp(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_compare(str(DEMO_CPU), *map(str, boards))
        await pilot.pause()
        title = str(app.screen.query_one("#compare-title").render())
        assert " C: demo  orin-15w  2026-11-20 23:52  NVIDIA Jetson AGX Orin Developer Kit, mode 15W" in title
        table = app.screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["Backend", "Figure", "A", "B", "C", "B/A", "C/A"]
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        ttft = next(r for r in rows if r[1] == "TTFT (ms)")
        assert ttft[6].startswith("↑ ") and ttft[6].endswith(" worse")


# -- reports for reuse ---------------------------------------------------------------------------
def test_report_of_two_sessions_has_a_session_column(boards):
    md = run_cli("report", *map(str, boards)).stdout
    assert "| Session | Backend | Model |" in md and "| orin-15w | llama.cpp CPU | small.gguf |" in md
    r = run_cli("report", *map(str, boards), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["Session"], x["Backend"]) for x in rows] == [("orin-maxn", "tinygrad CPU"), ("orin-maxn", "llama.cpp CPU"),
                                                            ("orin-15w", "tinygrad CPU"), ("orin-15w", "llama.cpp CPU")]
    llama = rows[1]
    assert float(llama["Decode tok/s"]) == pytest.approx(263.80079599, rel=1e-6)  # raw, not "263.80"
    assert float(llama["Prefill tok/s"]) == pytest.approx(1319.648093841642)
    assert llama["J/token"] == "" and llama["BW %"] == ""  # not measured here: empty, not "n/a"
    assert llama["Repetitions"] == "1" and llama["Decode tok/s mean"] == llama["Decode tok/s"]
    doc = json.loads(run_cli("report", *map(str, boards), "--format", "json").stdout)
    assert [s["id"] for s in doc["sessions"]] == ["orin-maxn", "orin-15w"]
    assert doc["sessions"][1]["host"]["nvpmodel"] == "15W" and doc["sessions"][0]["scenario"]["name"] == "demo"
    assert "versions" in doc["sessions"][0] and [r["session"] for r in doc["runs"]] == ["orin-maxn"] * 2 + ["orin-15w"] * 2


def test_theme_after_the_subcommand_and_unknown_names_refused():
    from orintui.cli import THEMES, build_parser
    from orintui.tui import themes

    assert THEMES == themes.NAMES
    parser = build_parser()
    assert parser.parse_args(["replay", "demo", "--theme", "orintui-light"]).theme == "orintui-light"
    assert parser.parse_args(["--theme", "orintui-basic", "replay", "demo"]).theme == "orintui-basic"
    assert parser.parse_args(["replay", "demo"]).theme is None
    r = run_cli("replay", "demo", "--theme", "neon")
    assert r.returncode == 2 and "unknown theme 'neon' (known: orintui-dark, orintui-light, orintui-basic)" in r.stderr


def test_every_argument_has_help_text():
    from orintui.cli import build_parser

    def walk(parser: argparse.ArgumentParser, where: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{where} {name}")
            elif not action.help or action.help == argparse.SUPPRESS:
                yield f"{where}: {'/'.join(action.option_strings) or action.dest}"

    assert list(walk(build_parser(), "orintui")) == []


def test_image_outputs_refuse_other_extensions(tmp_path):
    for command in (["card", str(DEMO_CPU)], ["screenshot", str(DEMO_CPU)]):
        r = run_cli(*command, "--out", str(tmp_path / "x.jpg"))
        assert r.returncode == 2 and r.stderr == f"orintui: --out must end in .svg or .png, not '{tmp_path / 'x.jpg'}'\n"
        assert not (tmp_path / "x.jpg").exists()
