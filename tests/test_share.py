"""Results one can hand to another person (issues 16 and 18): compare across boards, reports for
reuse, the HTML report, the share card and the app served to a browser, checked in a real
headless Chromium."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from orintui.core.paths import bundled_dir
from orintui.session import load_session, save_session
from orintui.sharing.compare import compare_sessions, render_compare

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
def test_compare_boards_names_sessions_and_gives_direction_in_words(boards, cli):
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

    r = cli("compare", *map(str, boards))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "A (baseline): demo (orin-maxn, 2026-11-20 23:52): board NVIDIA Jetson AGX Orin Developer Kit, power mode " \
           "MAXN, clocks locked" in out
    assert "B: demo (orin-15w, 2026-11-20 23:52)" in out and "power mode 15W, clocks not locked" in out
    row = next(line for line in out.splitlines() if line.startswith("| 2 | llama.cpp CPU ! | B |"))
    assert "| NVIDIA Jetson AGX Orin Developer Kit | 15W, clocks not locked |" in row and "↓ 0.50x worse" in row
    assert "TTFT and prefill moves beyond the runs' spread (against A):" in out
    assert "- llama.cpp CPU in B: TTFT (ms) " in out and "↑ 3.00x worse" in out


def test_compare_baseline_by_position_letter_or_id(boards, cli):
    for spec in ("2", "b", "orin-15w", "orin-1"):
        r = cli("compare", *map(str, boards), "--baseline", spec, "--format", "json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["baseline"] == "B" and doc["sessions"][1]["baseline"]
        row = next(x for x in doc["generation"] if x["label"] == "llama.cpp CPU" and x["session"] == "A")
        assert row["figures"]["decode"]["ratio"] == pytest.approx(2.0, rel=0.02)
        assert row["figures"]["decode"]["verdict"] == "better"
    for spec, why in (("3", "there are 2 sessions"), ("orin", "matches more than one session"), ("zz", "no position")):
        r = cli("compare", *map(str, boards), "--baseline", spec)
        assert r.returncode == 2 and why in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = cli("compare", str(boards[0]))
    assert r.returncode == 2 and r.stderr == "orintui: compare needs two or more sessions\n"


def test_compare_rows_take_the_power_mode_a_sweep_set_for_the_run(boards, tmp_path):
    swept = load_session(boards[0])
    started = next(e for e in swept.events if e["kind"] == "run_started" and e["run"] == 1)
    started.update(nvpmodel="30W", jetson_clocks="OFF")  # what a [power] group's switch records for its run
    result = compare_sessions([load_session(boards[1]), swept])
    modes = {(r["label"], r["session"]): r["power_mode"] for r in result["generation"]}
    assert modes[("llama.cpp CPU", "B")] == "30W, clocks not locked" and modes[("tinygrad CPU", "B")] == "MAXN, clocks locked"
    assert modes[("llama.cpp CPU", "A")] == "15W, clocks not locked"


def test_compare_ranks_llama_bench_tests_apart(boards):
    text = render_compare([load_session(H100), load_session(boards[0])])
    generation, bench = text.split("llama-bench tests, ranked within each test by t/s")
    assert "pp512" not in generation and "llama-bench fa on" not in generation
    rows = [line for line in bench.splitlines() if line.startswith("| ")][1:]  # after the header
    assert [r.split(" | ")[:3] for r in rows] == [["| 1", "pp512", "llama-bench fa on"], ["| 2", "pp512", "llama-bench fa off"],
                                                 ["| 1", "tg128", "llama-bench fa on"], ["| 2", "tg128", "llama-bench fa off"]]
    assert "704.05 ± 3.74" in bench
    assert "llama-bench fa on (not in B)" in text and "tinygrad CPU (not in A)" in text


def test_compare_of_three_sessions_json(boards, cli):
    r = cli("compare", str(DEMO_CPU), *map(str, boards), "--format", "json")
    doc = json.loads(r.stdout)
    assert [s["name"] for s in doc["sessions"]] == ["A", "B", "C"] and doc["baseline"] == "A"
    assert {s["board"] for s in doc["sessions"]} == {"vm", "NVIDIA Jetson AGX Orin Developer Kit"}


async def test_compare_screen_takes_three_sessions(boards, orintui_home):
    from textual.widgets import DataTable

    from orintui.tui.app import make_app
    from orintui.tui.messages import OpenCompare

    app = make_app(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:
        app.post_message(OpenCompare(str(DEMO_CPU), *map(str, boards)))
        while type(app.screen).__name__ != "CompareScreen" or not any(t.row_count for t in app.screen.query(DataTable)):
            await pilot.pause(0.05)  # loaded in a worker
        title = str(app.screen.query_one("#compare-title").render())
        assert " C: demo  orin-15w  2026-11-20 23:52  NVIDIA Jetson AGX Orin Developer Kit, mode 15W" in title
        table = app.screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["Backend", "Figure", "A", "B", "C", "B/A", "C/A"]
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        ttft = next(r for r in rows if r[1] == "TTFT (ms)")
        assert ttft[6].startswith("↑ ") and ttft[6].endswith(" worse")


# -- reports for reuse ---------------------------------------------------------------------------
def test_report_of_two_sessions_has_a_session_column(boards, cli):
    md = cli("report", *map(str, boards)).stdout
    assert "| Session | Backend | Model |" in md and "| orin-15w | llama.cpp CPU | small.gguf |" in md
    r = cli("report", *map(str, boards), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["Session"], x["Backend"]) for x in rows] == [("orin-maxn", "tinygrad CPU"), ("orin-maxn", "llama.cpp CPU"),
                                                            ("orin-15w", "tinygrad CPU"), ("orin-15w", "llama.cpp CPU")]
    llama = rows[1]
    assert float(llama["Decode tok/s"]) == pytest.approx(263.80079599, rel=1e-6)  # raw, not "263.80"
    assert float(llama["Prefill tok/s"]) == pytest.approx(1319.648093841642)
    assert llama["J/token"] == "" and llama["BW %"] == ""  # not measured here: empty, not "n/a"
    assert llama["Repetitions"] == "1" and llama["Decode tok/s mean"] == llama["Decode tok/s"]
    doc = json.loads(cli("report", *map(str, boards), "--format", "json").stdout)
    assert [s["id"] for s in doc["sessions"]] == ["orin-maxn", "orin-15w"]
    assert doc["sessions"][1]["host"]["nvpmodel"] == "15W" and doc["sessions"][0]["scenario"]["name"] == "demo"
    assert "versions" in doc["sessions"][0] and [r["session"] for r in doc["runs"]] == ["orin-maxn"] * 2 + ["orin-15w"] * 2


def test_theme_after_the_subcommand_and_unknown_names_refused(cli):
    from orintui.cli import THEMES, build_parser
    from orintui.tui import themes

    assert THEMES == themes.NAMES
    parser = build_parser()
    assert parser.parse_args(["replay", "demo", "--theme", "orintui-light"]).theme == "orintui-light"
    assert parser.parse_args(["--theme", "orintui-basic", "replay", "demo"]).theme == "orintui-basic"
    assert parser.parse_args(["replay", "demo"]).theme is None
    r = cli("replay", "demo", "--theme", "neon")
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


def test_image_outputs_refuse_other_extensions(tmp_path, cli):
    for command in (["card", str(DEMO_CPU)], ["screenshot", str(DEMO_CPU)]):
        r = cli(*command, "--out", str(tmp_path / "x.jpg"))
        assert r.returncode == 2 and r.stderr == f"orintui: --out must end in .svg or .png, not '{tmp_path / 'x.jpg'}'\n"
        assert not (tmp_path / "x.jpg").exists()


# -- in a browser: headless Chromium ---------------------------------------------------------------
HOSTILE_LABEL = "<script>alert(1)</script>"
HOSTILE_SVG = "</svg><img src=x onerror=alert(2)>"


@pytest.fixture(scope="session")
def chromium() -> str:
    from conftest import _need

    from orintui.sharing.png import find_browser

    found = find_browser()
    return str(_need(Path(found) if found else None, "chromium", "apt-get install chromium (scripts/test installs it)"))


def run_chromium(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    from orintui.sharing.png import browser_argv

    argv = browser_argv(browser, str(tmp_path / "chromium-profile")) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def hostile_session(tmp_path: Path) -> Path:
    doc = json.loads(DEMO_CPU.read_text())
    doc["label"] = HOSTILE_SVG
    doc["runs"][0]["label"] = HOSTILE_LABEL
    doc["runs"][1]["label"] = HOSTILE_SVG
    for e in doc["events"]:
        if e["kind"] == "run_started" and e.get("label") is not None:
            e["label"] = doc["runs"][e["run"]]["label"]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return path


def png_facts(path: Path) -> tuple[tuple[int, int], int]:
    """A PNG's size and how many colours it uses (1 for a blank page)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size, len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def test_html_report_escapes_hostile_labels_and_requests_nothing(tmp_path, cli):
    from html.parser import HTMLParser

    r = cli("report", str(hostile_session(tmp_path)), "--format", "html")
    assert r.returncode == 0, r.stderr
    page = r.stdout
    assert "<script" not in page.lower() and "onerror=" not in page.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;/svg&gt;&lt;img src=x onerror=alert(2)&gt;" in page

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.urls = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.urls += [v for k, v in attrs if k in ("src", "href", "xlink:href", "action")]

    tags = Tags()
    tags.feed(page)
    assert tags.tags.count("svg") == 2 and "img" not in tags.tags and "script" not in tags.tags and tags.urls == []
    assert tags.tags.count("tr") == 1 + 2  # header and the two runs
    assert "default-src 'none'" in page  # and the policy forbids any request the page might still make


def test_html_report_in_headless_chromium(tmp_path, chromium, cli):
    page = tmp_path / "report.html"
    r = cli("report", str(hostile_session(tmp_path)), "demo", "--format", "html", "--out", str(page))
    assert r.returncode == 0, r.stderr
    dom = run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for figure in ("278.76", "9.76", "684.94", "34.27", "1,319.74"):  # decode and prefill figures of both sessions
        assert f">{figure}</td>" in text, figure
    assert "<script" not in text.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # still text in the DOM
    assert text.count("<polyline") == 2 + 2 + 1  # ms/token per measured run of each session, the H100's power
    assert "ms per token (log scale)" in text and "GPU board power (instant)" in text
    assert "<h2>Findings (20261120-233840-78b2db)</h2>" in text and "<li>NV vs CUDA: not answered: tinygrad NV failed" in text
    shot = tmp_path / "report.png"
    r = run_chromium(chromium, tmp_path, "--hide-scrollbars", "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri())
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    size, colours = png_facts(shot)
    assert size == (1280, 2000) and colours > 50  # text, tables and two charts, not a blank page


# -- the share card ----------------------------------------------------------------------------------
def test_card_snapshot(snapshot):
    from syrupy.extensions.image import SVGImageSnapshotExtension

    from orintui.sharing.card import render_card

    svg = render_card(load_session(H100))
    assert "704.05 tok/s" in svg and "NVIDIA H100 80GB HBM3" in svg and "llama.cpp build 0 (commit unknown)" in svg
    assert svg == render_card(load_session(H100))  # the same session gives the same bytes
    assert snapshot(extension_class=SVGImageSnapshotExtension) == svg


def test_card_of_a_jetson_session_with_hostile_labels(tmp_path, boards):
    import xml.etree.ElementTree as ET

    from orintui.sharing.card import render_card

    s = load_session(hostile_session(tmp_path))
    s.host.update(ORIN_15W)
    svg = render_card(s)
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE_LABEL in t for t in texts) and any(t.startswith("demo: </svg><img") for t in texts)
    assert any("Power mode  15W   jetson_clocks NOT locked" in t for t in texts)
    assert any("JetPack     6.1/6.2   L4T 36.4.4" in t for t in texts)
    assert any(t.startswith("Flags: clocks-unlocked, power-mode") for t in texts)


def test_card_png_through_chromium(tmp_path, chromium, cli):
    out = tmp_path / "card.png"
    r = cli("card", "demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    size, colours = png_facts(out)
    assert size == (1200, 630) and colours > 20
    from PIL import Image

    with Image.open(out) as image:
        assert image.convert("RGB").getpixel((600, 2)) == (0x76, 0xB9, 0x00)  # the card's green top bar: the SVG was drawn
    r = cli("card", "demo", "--out", str(tmp_path / "card.png"), env={"ORINTUI_CHROMIUM": "no-such-browser"})
    assert r.returncode == 1 and r.stderr.startswith("orintui: PNG needs Chromium") and r.stderr.count("\n") == 1


def test_screenshot_png(tmp_path, chromium):
    out = tmp_path / "replay.png"
    r = run_cli("screenshot", str(DEMO_CPU), "--out", str(out), "--size", "100x30")
    assert r.returncode == 0, r.stderr
    size, colours = png_facts(out)
    assert size[0] > 800 and 0.4 < size[1] / size[0] < 0.9 and colours > 20


# -- the app served to a browser ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class DevTools:
    """Chromium's DevTools protocol over its websocket, through aiohttp (textual-serve's own)."""

    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    async def call(self, method: str, session: str | None = None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_json(message)
        while True:
            reply = await self.ws.receive_json()
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    async def pump(self, timeout: float) -> None:
        import asyncio

        try:
            reply = await asyncio.wait_for(self.ws.receive_json(), timeout)
        except asyncio.TimeoutError:
            return
        self.events.append(reply)


async def test_served_app_in_headless_chromium(tmp_path, chromium):
    import asyncio
    import base64

    import aiohttp
    import httpx

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "orintui", "serve", str(DEMO_CPU), "--port", str(port), "--speed", "10"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    browser = None
    try:
        def page_up():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return server.poll() is not None  # ended: say so below
        await asyncio.to_thread(wait_for, page_up, 60, "orintui serve to answer")
        assert server.poll() is None, server.stdout.read()
        from orintui.sharing.png import browser_argv

        browser = subprocess.Popen(browser_argv(chromium, str(tmp_path / "profile")) + [
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,800", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        endpoint = await asyncio.to_thread(lambda: next(
            (line.split("listening on ", 1)[1].strip() for line in browser.stderr if "DevTools listening on" in line), None))
        assert endpoint and endpoint.startswith("ws://127.0.0.1:"), endpoint
        async with aiohttp.ClientSession() as http, http.ws_connect(endpoint, max_msg_size=0) as ws:
            cdp = DevTools(ws)
            target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
            session = (await cdp.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
            await cdp.call("Network.enable", session)
            await cdp.call("Page.enable", session)
            await cdp.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=800, deviceScaleFactor=1,
                           mobile=False)
            await cdp.call("Page.navigate", session, url=f"http://127.0.0.1:{port}/")

            def screen_text() -> str:
                """What the served app has sent to the page's terminal so far, escape sequences removed."""
                data = b"".join(base64.b64decode(e["params"]["response"]["payloadData"]) for e in cdp.events
                                if e.get("method") == "Network.webSocketFrameReceived"
                                and e["params"]["response"]["opcode"] == 2)
                return ANSI.sub("", data.decode("utf-8", "replace"))

            deadline = time.monotonic() + 90
            while not all(f in screen_text() for f in ("278.76", "9.76")) and time.monotonic() < deadline:
                await cdp.pump(1.0)
            text = screen_text()
            assert "278.76" in text and "9.76" in text, text[-3000:]  # the replay reached the end: both runs' rates
            assert "llama.cpp CPU" in text and "tinygrad CPU" in text
            shot = base64.b64decode((await cdp.call("Page.captureScreenshot", session, format="png"))["data"])
            (tmp_path / "served.png").write_bytes(shot)
            if os.environ.get("ORINTUI_KEEP_SHOTS"):
                (Path(os.environ["ORINTUI_KEEP_SHOTS"]) / "served.png").write_bytes(shot)
            size, colours = png_facts(tmp_path / "served.png")
            assert size == (1280, 800) and colours > 20  # the terminal drawn, not the blank page
            screens = await cdp.call("Runtime.evaluate", session, expression="document.querySelectorAll('.xterm-screen').length")
            assert screens["result"]["value"] == 1  # one xterm.js terminal in the page, drawing the app
    finally:
        for proc in (browser, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def test_serve_binds_loopback_by_default_and_refuses_bad_sessions(tmp_path, cli):
    from orintui.cli import build_parser
    from orintui.tui.serve import app_command

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8000 and args.session is None
    assert app_command(None, None).endswith("-m orintui")
    command = app_command(Path("/s p/x.json"), "orintui-light", 4.0)
    assert command.endswith("-m orintui --theme orintui-light replay '/s p/x.json' --speed 4.0")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("serve", str(bad), "--port", str(free_port()))
    assert r.returncode == 2 and r.stderr.startswith("orintui: ") and r.stderr.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        # a real process: serve() hands the process to textual-serve (its own event loop, SIGINT/SIGTERM
        # handlers and root logging), which pytest's process must not take on
        r = run_cli("serve", "--port", str(taken.getsockname()[1]))
    assert r.returncode == 1 and r.stderr.endswith("address already in use\n") and r.stderr.count("\n") == 1, r.stderr
