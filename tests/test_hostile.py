"""Data from outside is hostile: crafted session files, scenario files and backend text, through
the real CLI, the real app (Pilot) and the real loaders."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from orintui.core.sanitize import clean, clean_line, clean_text, safe_component
from orintui.session import SessionError, load_session
from orintui.tui.app import make_app

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what must never reach a terminal or a report

# each one did something to a real terminal (tmux, xterm): clipboard, reset, line drawing, E-fill, title
OSC52 = "\x1b]52;c;aGFja2Vk\x07"
ATTACKS = [OSC52, "\x1bc", "\x1b(0", "\x1b#8", "\x1b]0;pwned\x1b\\", "\x1bP$q\x1b\\", "\x1b_apc\x1b\\", "\x1b^pm\x1b\\",
           "\x1bXsos\x1b\\", "\x1b[2J", "\x9b2J", "\x9d0;t\x9c", "\x07", "\x08\x08", "\x7f", "\x85", "\x1b"]
HOSTILE = "ok [bold]x[/] " + "".join(ATTACKS) + "\nend"  # shown as 'ok [bold]x[/]  end'
SHOWN = "ok [bold]x[/]  end"


def hostile_doc(**changes) -> dict:
    """The recorded demo session with data an attacker controls: labels, errors, tokens, output, host."""
    doc = json.loads(DEMO_CPU.read_text())
    doc["label"] = "MAXN " + HOSTILE
    doc["host"]["hostname"] = "host" + OSC52
    doc["scenario"]["name"] = "demo\x1bc"
    for run in doc["runs"]:
        run["label"] += OSC52
    doc["runs"][1]["error"] = "exit code 1: boom " + HOSTILE
    doc["runs"][1]["status"] = "failed"
    ended = next(e for e in doc["events"] if e["kind"] == "run_ended" and e["run"] == 1)
    ended.update(status="failed", error=doc["runs"][1]["error"])
    for e in doc["events"]:
        if e["kind"] == "token":
            e["text"] += "\x1b#8"
        elif e["kind"] == "output":
            e["line"] += "\x1b(0\x1bc"
    doc.update(changes)
    return doc


def write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


# -- 1. one sanitiser ---------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ATTACKS)
def test_sanitiser_removes_every_escape_and_control(attack):
    for f in (clean, clean_line, clean_text):
        out = f(f"a{attack}\nb")
        assert not CONTROL.search(out.replace("\n", "")), (f, out)
        assert out in ("a\nb", "a b"), (f, out)
    assert "52" not in clean(f"a{OSC52}b") and "pwned" not in clean("\x1b]0;pwned\x07")  # the payload goes too


def test_sanitiser_keeps_text_and_flattens_lines():
    assert clean("é 中 [bold]x[/]\ttab\nline") == "é 中 [bold]x[/]\ttab\nline"
    assert clean("a\r\nb\rc") == "a\nb\nc"
    assert clean_line("a\r\nb\tc\nd\u2028e") == "a b c d e"
    assert clean_text("tok\r\n") == "tok\r\n"  # parsers split lines themselves; a read may end between CR and LF


# -- report, compare: md and csv ---------------------------------------------------------------
def test_report_and_compare_print_no_control_characters(tmp_path, cli):
    path = write(tmp_path / "hostile.json", hostile_doc())
    for args in (["report", str(path)], ["report", str(path), "--format", "csv"], ["compare", str(path), str(path)]):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
        assert not CONTROL.search(r.stdout.replace("\n", "")) and not CONTROL.search(r.stderr.replace("\n", "")), args
        assert "tinygrad CPU" in r.stdout and "hostvm" not in r.stdout, args
        if args[-1] != "csv":
            assert f"demo: MAXN {SHOWN}" in r.stdout, args  # the session's label, as text
        if args[0] == "report":
            assert "boom ok [bold]x[/]" in r.stdout, args  # the run's error
    r = cli("report", str(path), "--format", "json")  # JSON escapes what it carries: \u001b, never a raw ESC
    assert r.returncode == 0 and "\x1b" not in r.stdout and "\\u001b" in r.stdout


def test_csv_formulas_are_neutralised_and_numbers_stay_numbers(tmp_path, cli):
    doc = json.loads(DEMO_CPU.read_text())
    doc["runs"][0]["label"] = "=HYPERLINK(\"http://evil\",\"x\")"
    doc["runs"][1]["label"] = "@SUM(A1:A9)"
    doc["runs"][1]["model_path"] = "/m/-2+3"
    doc["runs"][1]["error"] = "+cmd|' /C calc'!A0"
    doc["runs"][1]["status"] = "failed"
    ended = next(e for e in doc["events"] if e["kind"] == "run_ended" and e["run"] == 1)
    ended.update(status="failed", error=doc["runs"][1]["error"])
    for e in doc["events"]:
        if e["kind"] == "summary" and e.get("run") == 1 and "eval_tok_s" in e:
            e["eval_tok_s"] = -1234.5  # a negative figure is a number, not a formula
    path = write(tmp_path / "formulas.json", doc)
    r = cli("report", str(path), "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    col = {name: i for i, name in enumerate(rows[0])}
    assert rows[1][col["Backend"]].startswith("'=HYPERLINK") and rows[2][col["Backend"]] == "'@SUM(A1:A9)"
    assert rows[2][col["Model"]] == "'-2+3"  # the model file's name: text that starts like a formula
    assert rows[2][col["Status"]] == "failed" and rows[2][col["Notes"]].startswith("'+cmd|")  # a formula: neutralised
    assert rows[2][col["Decode tok/s"]] == "-1234.5"  # a negative number stays a number
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r") and (cell[:1] != "-" or re.fullmatch(r"-[\d,.]+", cell)), cell


# -- 2. markup ----------------------------------------------------------------------------------
def _menu_sessions(folder: Path, labels: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        doc = json.loads(DEMO_CPU.read_text())
        doc["id"], doc["label"] = f"s{i}", label
        write(folder / f"s{i}.json", doc)


async def test_menu_shows_labels_as_text_even_a_closing_tag(orintui_home):
    from textual.widgets import DataTable

    labels = ["MAXN [clocks locked]", "broken [/] label", "[bold]bold?[/bold]"]
    _menu_sessions(orintui_home / "data" / "sessions", labels)
    app = make_app(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:  # the old menu crashed here, at every start, on '[/]'
        while not app.screen.loaded:  # the lists are read in a worker
            await pilot.pause(0.05)
        await pilot.press("2")
        table = app.screen.query_one("#session-table", DataTable)
        names = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        for label in labels:
            assert f"demo: {label}" in names, names
        shot = app.export_screenshot().replace("&#160;", " ")
        assert "demo: MAXN [clocks locked]" in shot and "demo: broken [/] label" in shot


async def test_menu_label_with_a_click_link_runs_no_action(orintui_home, tmp_path):
    from textual.widgets import DataTable

    target = tmp_path / "clicked"
    target.mkdir()
    _menu_sessions(orintui_home / "data" / "sessions", [f"[@click=app.screenshot('x.svg','{target}')]click me[/]"])
    app = make_app(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:
        while not app.screen.loaded:  # the lists are read in a worker
            await pilot.pause(0.05)
        await pilot.press("2")
        table = app.screen.query_one("#session-table", DataTable)
        row = next(i for i in range(table.row_count) if "click" in str(table.get_row_at(i)[1]))
        for x in range(18, 80, 2):  # along the row, wherever the old menu drew the link's text
            await pilot.click("#session-table", offset=(x, row + 1))
        await pilot.pause()  # every click handled, and any work it started finished
        await app.workers.wait_for_complete()
    assert list(target.iterdir()) == [], "a label ran an action (the old menu wrote x.svg here)"


async def test_replay_screen_shows_hostile_data_as_plain_text(tmp_path):
    path = write(tmp_path / "hostile.json", hostile_doc())
    app = make_app(replay=load_session(path), at=-1, paused=True)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = app.screen
        for pane in ("table", "output", "chart"):
            await pilot.press(pane[0])
            while screen._drawn != screen.draw_key():  # the pane shown and drawn with what the state holds
                await pilot.pause(0.05)
            await pilot.pause()
            shot = app.export_screenshot()
            assert not CONTROL.search(shot.replace("\n", "")), (pane, CONTROL.findall(shot))
        title = str(app.screen.query_one("#title").render())
        assert title.startswith(f" demo: MAXN {SHOWN}") and not CONTROL.search(title), title
        lane = str(app.screen.query_one("#lane-1 .lane-text").render())
        assert "boom ok [bold]x[/]" in lane and not CONTROL.search(lane), lane  # the failed run's error


async def test_compare_screen_shows_hostile_data_as_plain_text(tmp_path):
    from orintui.tui.screens.compare import CompareScreen

    a = load_session(write(tmp_path / "a.json", hostile_doc()))
    app = make_app(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:
        app.push_screen(CompareScreen(a, a))
        await pilot.pause()
        shot = app.export_screenshot()
        assert not CONTROL.search(shot.replace("\n", ""))
        assert f"demo: MAXN {SHOWN}" in str(app.screen.query_one("#compare-title").render())


# -- 3. path traversal --------------------------------------------------------------------------
@pytest.mark.parametrize("bad_id", ["../../x", "/abs/path", "..", "a/../../../b"])
async def test_report_key_writes_one_file_inside_the_reports_folder(orintui_home, tmp_path, bad_id):
    from orintui.tui.screens.compare import CompareScreen

    if bad_id.startswith("/"):
        bad_id = str(tmp_path / "abs" / "path")  # absolute, and somewhere the test can look
    doc = json.loads(DEMO_CPU.read_text())
    doc["id"] = bad_id
    session = load_session(write(tmp_path / "s.json", doc))
    reports = orintui_home / "data" / "reports"
    before = {p for p in tmp_path.rglob("*")}
    app = make_app(replay=session, at=0.0, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        app.push_screen(CompareScreen(session, session))
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
    written = sorted(p.name for p in reports.iterdir())
    name = safe_component(bad_id)
    assert written == sorted([f"{name}.md", f"{name}-vs-{name}.md"]), written
    created = {p for p in tmp_path.rglob("*")} - before - {reports, *reports.parents}
    assert all(p.parent == reports for p in created), created
    assert not (tmp_path / "abs").exists() and not (orintui_home / "x.md").exists()


def test_safe_component_is_one_component():
    for name in ("../../x", "/abs/path", "..", ".", "", "a\x1b]52;c;x\x07", "x" * 500, "a/b\\c:d"):
        s = safe_component(name)
        assert s and "/" not in s and s not in (".", "..") and not s.startswith(".") and len(s) <= 120, (name, s)
    assert safe_component("20250101-120000-abcd") == "20250101-120000-abcd"


def test_a_report_link_pointing_outside_is_not_followed(orintui_home, tmp_path):
    from orintui.core.sanitize import UnsafePath, inside

    reports = orintui_home / "data" / "reports"
    reports.mkdir(parents=True)
    (reports / "s.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(UnsafePath):
        inside(reports, "s.md")


# -- 4. wrongly typed fields --------------------------------------------------------------------
def _mutate(doc: dict, where: str, value) -> dict:
    if where.startswith("run."):
        doc["runs"][0][where[4:]] = value
    elif where.startswith("host."):
        doc["host"][where[5:]] = value
    elif where.startswith("event."):
        kind, key = where[6:].split(".")
        next(e for e in doc["events"] if e["kind"] == kind)[key] = value
    elif where.startswith("telemetry-map."):
        next(e for e in doc["events"] if e["kind"] == "telemetry")["temp_c"] = {"cpu": value}
    else:
        doc[where] = value
    return doc


BAD_FIELDS = {
    "exit_code-string": ("run.exit_code", "1"),
    "repetition-string": ("run.repetition", "0"),
    "model_bytes-string": ("run.model_bytes", "54602624"),
    "started_t-string": ("run.started_t", "0.1"),
    "summary-string": ("run.summary", "fast"),
    "event-t-string": ("event.token.t", "1.5"),
    "token-ms-string": ("event.token.ms", "12"),
    "telemetry-string": ("event.telemetry.ram_used_mb", "big"),
    "telemetry-map-string": ("telemetry-map.x", "hot"),
    "summary-figure-string": ("event.summary.eval_tok_s", "fast"),
    "generated-string": ("event.summary.generated_tokens", "9"),
    "output-not-text": ("event.output.line", 7),
    "run-index-string": ("event.token.run", "0"),
    "run-out-of-range": ("event.token.run", 9),
    "label-number": ("label", 7),
    "host-list": ("host", []),
    "scenario-string": ("scenario", "demo"),
    "scenario-name-list": ("scenario", {"name": ["x"]}),
    "hostname-object": ("host.hostname", {"a": 1}),
    "peak-string": ("host.peak_bandwidth_gbs", "204.8"),
    "id-number": ("id", 12),
    "huge-int": ("run.model_bytes", 10**30),
}
RAW = {  # what json.loads takes without a word
    "nan-t": lambda text: text.replace('"t": 0.16598', '"t": NaN', 1),
    "infinity-ms": lambda text: re.sub(r'"ms": [0-9.]+', '"ms": Infinity', text, count=1),
    "minus-infinity": lambda text: text.replace('"started_t": 0.16598', '"started_t": -Infinity', 1),
    "overflow-float": lambda text: text.replace('"started_t": 0.16598', '"started_t": 1e999', 1),
    "digits": lambda text: text.replace('"model_bytes": 54602624', '"model_bytes": ' + "9" * 5000, 1),
    "deep": lambda text: text.replace('"host": {', '"host": {"x": ' + "[" * 100000 + "]" * 100000 + ", ", 1),
}


def bad_sessions(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json.loads(DEMO_CPU.read_text()))  # ", " and ": " as the replacements below expect
    assert '"t": 0.16598' in text and '"started_t": 0.16598' in text and '"model_bytes": 54602624' in text
    out = {}
    for name, (where, value) in BAD_FIELDS.items():
        out[name] = write(folder / f"{name}.json", _mutate(json.loads(text), where, value))
    for name, change in RAW.items():
        out[name] = write(folder / f"{name}.json", change(text))
    return out


def test_wrongly_typed_sessions_are_refused_with_one_line(tmp_path, cli):
    """In process, each command on each bad file; test_session.py's
    test_a_corrupt_file_exits_2_with_one_line_from_a_real_process is the same refusal end to end.
    replay is refused on load, before the app would say it needs a terminal."""
    for name, path in bad_sessions(tmp_path / "bad").items():
        with pytest.raises(SessionError) as info:
            load_session(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value), name
        for args in (["report", str(path)], ["report", str(path), "--format", "csv"], ["compare", str(DEMO_CPU), str(path)],
                     ["replay", str(path)], ["screenshot", str(path), "--out", str(tmp_path / "x.svg")]):
            r = cli(*args)
            assert r.returncode == 2, (name, args)
            assert r.stderr.startswith(f"orintui: {path}: ") and r.stderr.count("\n") == 1, (name, args, r.stderr)
    assert not (tmp_path / "x.svg").exists()


def test_each_reason_names_the_field(tmp_path):
    paths = bad_sessions(tmp_path / "bad")
    expect = {"exit_code-string": "exit_code must be an integer", "event-t-string": "t must be a finite number",
              "nan-t": "NaN", "infinity-ms": "Infinity", "overflow-float": "inf", "label-number": "label must be a string",
              "host-list": "host must be an object", "run-out-of-range": "run 9", "deep": "nested too deeply",
              "telemetry-map-string": "temp_c"}
    for name, phrase in expect.items():
        with pytest.raises(SessionError, match=re.escape(phrase)):
            load_session(paths[name])


async def test_menu_lists_unreadable_sessions_with_their_reason_and_starts(orintui_home):
    from textual.widgets import DataTable

    folder = orintui_home / "data" / "sessions"
    paths = bad_sessions(folder)
    _menu_sessions(folder, ["fine [/] really"])
    app = make_app(device_info={"host": {}, "sources": {}}, first_screen="menu")
    async with app.run_test(size=(120, 30)) as pilot:
        while not app.screen.loaded:  # the lists are read in a worker
            await pilot.pause(0.05)
        await pilot.press("2")
        table = app.screen.query_one("#session-table", DataTable)
        rows = [(str(table.get_row_at(i)[1]), str(table.get_row_at(i)[3])) for i in range(table.row_count)]
        entries = {e.path: e for e in app.screen.sessions}
        for name, path in paths.items():
            assert entries[str(path)].error and str(path) in entries[str(path)].error, name
        assert any("exit_code-string.json: run 0: exit_code must be an integer" in why for _, why in rows), rows
        assert "demo: fine [/] really" in [name for name, _ in rows]
        await pilot.press("enter")  # opening an unreadable one says why, and the app stays
        await pilot.pause()
        assert app.is_running


def test_a_journal_with_wrong_types_does_not_stop_the_start(orintui_home, tmp_path):
    from orintui.session.store import recover_orphans

    folder = tmp_path / "sessions"
    folder.mkdir()
    header = {**json.loads(DEMO_CPU.read_text()), "journal_pid": 999999999}
    del header["events"]
    bad = {"runs-dict.json.journal": {**header, "runs": {"a": 1}},
           "run-string.json.journal": {**header, "runs": ["x"]},
           "label-list.json.journal": {**header, "label": ["x"]}}
    for name, doc in bad.items():
        (folder / name).write_text(json.dumps(doc) + "\n")
    good_event = {"t": 0.1, "kind": "note", "run": None, "text": "ok", "level": "info"}
    mixed = folder / "good.json.journal"
    lines = [header, good_event, {"t": "x", "kind": "note"}, {"t": 0.2, "kind": "token", "run": 0, "text": 5}]
    mixed.write_text("\n".join(json.dumps(x) for x in lines) + "\nNaN\n")
    recovered = recover_orphans(folder)  # the old code raised AttributeError here, at every start
    assert [p.name for p in recovered] == ["good.json"]
    assert [e.get("text") for e in load_session(recovered[0]).events] == ["ok"]
    for name in bad:
        with pytest.raises(SessionError, match="journal header"):
            load_session(folder / name)


# -- 5. decompression bomb ----------------------------------------------------------------------
MiB = 1 << 20


def gzip_bomb(path: Path, gib: int = 1) -> Path:
    """A real gzip file, about 1 MB, that expands to ``gib`` GiB: members of 1 MiB of spaces."""
    member = gzip.compress(b" " * MiB, 9)
    with open(path, "wb") as f:
        f.write(gzip.compress(b'{"format": "orintui-session", "version": 1, "x": "', 9))
        for _ in range(gib * 1024):
            f.write(member)
        f.write(gzip.compress(b'"}', 9))
    return path


# The probe's own peak, VmHWM: its memory map's high-water mark, new at exec. Not getrusage's ru_maxrss,
# which Linux carries over exec from the memory the child was forked (or vforked) from: under the whole
# suite that is pytest's own peak, and it made this test fail at 201 MiB when the probe used 90.
BOMB_PROBE = """
import sys
from pathlib import Path
from orintui.reading.catalog import list_sessions
from orintui.cli import main
def peak_kib():
    return next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
entries = list_sessions(Path(sys.argv[1]), include_demo=False)
print("LIST", entries[0].error)
print("RSS-LIST", peak_kib())
rc = main(["report", sys.argv[2]])
print("RC", rc)
print("RSS", peak_kib())
"""


def test_decompression_bomb_is_refused_in_little_memory(tmp_path, orintui_home):
    folder = tmp_path / "sessions"
    folder.mkdir()
    bomb = gzip_bomb(folder / "bomb.json.gz")
    assert bomb.stat().st_size < 2 * MiB
    r = subprocess.run([sys.executable, "-c", BOMB_PROBE, str(folder), str(bomb)], capture_output=True, text=True,
                       timeout=240, env={**__import__("os").environ, "ORINTUI_HOME": str(orintui_home)})
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert "64 MiB" in out.get("LIST", "") and "menu's session list" in out["LIST"], r.stdout + r.stderr
    assert out["RC"] == "2", r.stdout + r.stderr
    assert re.fullmatch(rf"orintui: {re.escape(str(bomb))}: decompresses to more than 512 MiB, the most orintui reads\n",
                        r.stderr), r.stderr
    assert int(out["RSS"]) < 200 * 1024, f"peak RSS {int(out['RSS']) // 1024} MiB"  # KiB; the old code took 4.2 GB


def test_oversized_plain_session_is_refused_before_it_is_read(tmp_path):
    from orintui.session.store import LISTING_MAX_BYTES

    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(LISTING_MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(SessionError, match="64 MiB, the most the menu's session list reads"):
        load_session(big, limit=LISTING_MAX_BYTES)
    with pytest.raises(SessionError, match="not a regular file"):
        load_session("/dev/zero")


# -- 7. scenarios -------------------------------------------------------------------------------
RUN = '[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true"]\n'
BAD_SCENARIOS = {
    "optional-string": ('name = "x"\n' + RUN + 'optional = "false"\n', 6, "optional must be true or false"),
    "env-list": ('name = "x"\n' + RUN + 'env = { A = ["x", "y"] }\n', 6, "env A must be a string, not a list"),
    "env-table": ('name = "x"\n' + RUN + 'env = { A = { b = 1 } }\n', 6, "env A must be a string, not a table"),
    "argv-list": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true", ["-n", "1"]]\n', 5,
                  "an item is a list"),
    "argv-table": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true", {a = 1}]\n', 5,
                   "an item is a table"),
    "idle-nan": ('name = "x"\n' + RUN + "idle_timeout = nan\n", 6, "idle_timeout must be a finite number"),
    "total-inf": ('name = "x"\n' + RUN + "total_timeout = inf\n", 6, "total_timeout must be a finite number"),
    "recursive": ('name = "x"\n[variables]\na = "{b}"\nb = "{a}"\n' + RUN, 4, "refers to itself"),
    "self": ('name = "x"\n[variables]\na = "x{a}"\n' + RUN, 3, "refers to itself"),
    "repetitions": ('name = "x"\n' + RUN + "repetitions = 100000000\n", 6, "1000 at most"),
    "warmup": ('name = "x"\n' + RUN + "warmup = 100000000\n", 6, "1000 at most"),
    "nul-argv": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true", "a\\u0000b"]\n', 5,
                 "NUL"),
    "nul-env-value": ('name = "x"\n' + RUN + 'env = { A = "x\\u0000y" }\n', 6, "NUL"),
    "nul-env-name": ('name = "x"\n' + RUN + 'env = { "A\\u0000" = "x" }\n', 6, "not a valid variable name"),
    "eq-env-name": ('name = "x"\n' + RUN + 'env = { "A=B" = "x" }\n', 6, "not a valid variable name"),
    "empty-env-name": ('name = "x"\n' + RUN + 'env = { "" = "x" }\n', 6, "not a valid variable name"),
    "variable-list": ('name = "x"\n[variables]\nm = ["a"]\n' + RUN, 3, "variable m must be a string or a number"),
    "variable-bool": ('name = "x"\n[variables]\nm = true\n' + RUN, 3, "variable m must be a string or a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_scenario_values_are_refused_with_file_line_and_reason(tmp_path, case, cli):
    text, line, reason = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    r = cli("scenarios", str(path))
    assert r.returncode == 2
    err = r.stderr
    assert err.startswith(f"orintui: {path}:{line}: ") and reason in err and err.count("\n") == 1, err


def test_exponential_variables_are_refused_quickly(tmp_path):
    from orintui.config.scenarios import ScenarioError, parse_scenario

    chain = "".join(f'v{i} = "{{v{i + 1}}}{{v{i + 1}}}"\n' for i in range(60))
    with pytest.raises(ScenarioError, match="expands to more than 65,536 characters"):
        parse_scenario('name = "x"\n[variables]\n' + chain + 'v60 = "xx"\n' + RUN, "s.toml")
    empty = parse_scenario('name = "x"\n[variables]\n' + chain + 'v60 = ""\n' + RUN.replace('["true"]', '["true", "{v0}"]'),
                           "s.toml")  # 2^60 expansions of nothing: linear, not forever
    assert empty.runs[0].argv == ["true", ""]


def test_nul_in_argv_refused_before_anything_runs(tmp_path, cli):
    path = tmp_path / "nul.toml"
    path.write_text('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true", "a\\u0000b"]\n')
    out = tmp_path / "s.json"
    r = cli("run", str(path), "--headless", "--out", str(out), "--telemetry", "none")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "NUL" in r.stderr, r.stderr
    assert not out.exists()  # the old code recorded the run 'ok': pexpect's child failed before exec and exited 0
