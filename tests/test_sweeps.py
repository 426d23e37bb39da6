"""Sweeps (issue 15): the quiet-machine gate, [matrix] expansion, power-mode sweeps and the Pareto chart.

There is no Jetson here: the power-mode tests put fake ``nvpmodel`` and ``jetson_clocks`` scripts on
PATH that print what the real tools print (``nvpmodel -q``: "NV Power Mode: NAME", then the mode id)
and record every call, and run a real orintui process against them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, ctrl_c_default, llama_lost_output, run_cli

from orintui.config.quiet_gate import GateConfig, QuietGate, Reading
from orintui.config.scenarios import MAX_CELLS, ScenarioError, parse_scenario
from orintui.figures.pareto import Point, mark_front, points_of, render_svg

# -- [matrix] ---------------------------------------------------------------------------------------
MATRIX = '''name = "m"
[variables]
model = "/m/tiny.gguf"
[matrix]
threads = [1, 2]
fa = "off,on"
[[runs]]
label = "llama"
backend = "llama-completion"
argv = ["llama-completion", "-m", "{model}", "-t", "{threads}", "-fa", "{fa}"]
repetitions = 2
[[runs]]
label = "t{threads}"
backend = "llama-completion"
argv = ["llama-completion", "-t", "{threads}"]
[[runs]]
label = "plain"
backend = "llama-completion"
argv = ["llama-completion"]
'''


def test_matrix_expands_each_run_over_the_variables_it_uses():
    s = parse_scenario(MATRIX, "m.toml")
    assert [r.label for r in s.runs] == ["llama threads=1 fa=off", "llama threads=1 fa=on", "llama threads=2 fa=off",
                                         "llama threads=2 fa=on", "t1", "t2", "plain"]
    assert s.runs[1].argv == ["llama-completion", "-m", "/m/tiny.gguf", "-t", "1", "-fa", "on"]
    assert s.runs[1].cell == {"threads": "1", "fa": "on"} and s.runs[-1].cell == {}
    assert {r.repetitions for r in s.runs[:4]} == {2}  # repetitions are per cell
    # --set takes a comma list for a matrix variable, as llama-bench does
    s = parse_scenario(MATRIX, "m.toml", {"threads": "1,2,4"})
    assert [r.label for r in s.runs if r.label.startswith("t")] == ["t1", "t2", "t4"]


@pytest.mark.parametrize("change, message, line", [
    (("threads = [1, 2]", "threads = [1, 1]"), "threads lists '1' twice", 5),
    (("threads = [1, 2]", "threads = []"), "threads must be a non-empty list", 5),
    (("threads = [1, 2]", "threads = [true]"), "threads must be a non-empty list", 5),
    (("fa = \"off,on\"", "fa = \"off,,on\""), "fa has an empty value", 6),
    (("threads = [1, 2]", "model = [1, 2]"), "model is also a variable", 5),
    (("model = \"/m/tiny.gguf\"", "model = \"/m/{threads}.gguf\""), "matrix variables go in [[runs]]", 3),
    (("threads = [1, 2]", "threads = [1, 2]\n\"a b\" = [1]"), "'a b' is not a variable name", 4),
])
def test_matrix_errors_name_the_file_and_line(change, message, line):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(MATRIX.replace(*change), "m.toml")
    assert message in str(err.value) and str(err.value).startswith(f"m.toml:{line}:"), str(err.value)


def test_matrix_cells_are_capped_before_anything_is_built():
    """Hostile input: 12 lists of 10 values would be 10**12 runs; refused by counting, not by building."""
    lists = "\n".join(f"v{i} = [{', '.join(str(n) for n in range(10))}]" for i in range(12))
    uses = ", ".join(f'"{{v{i}}}"' for i in range(12))
    text = f'name = "x"\n[matrix]\n{lists}\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["x", {uses}]\n'
    with pytest.raises(ScenarioError, match=f"expand to more than {MAX_CELLS} runs"):
        parse_scenario(text, "x.toml")
    with pytest.raises(ScenarioError, match=r"^x.toml:2: \[matrix\] must be a table"):
        parse_scenario('name = "x"\nmatrix = 3\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["x"]\n', "x.toml")
    with pytest.raises(ScenarioError, match="more than orintui runs"):
        parse_scenario(MATRIX, "m.toml", {"threads": ",".join(str(n) for n in range(MAX_CELLS + 1))})


@pytest.mark.real
def test_a_small_matrix_runs_for_real(llama_bin, tiny_model, tmp_path):
    from orintui.session import load_session

    scenario = tmp_path / "threads.toml"
    scenario.write_text(f'''name = "threads"
[variables]
bin = "{llama_bin}"
model = "{tiny_model}"
[matrix]
threads = [1, 2]
[[runs]]
label = "tiny t={{threads}}"
backend = "llama-completion"
argv = ["{{bin}}/llama-completion", "-m", "{{model}}", "-p", "Hello", "-n", "16", "--ignore-eos", "-no-cnv",
        "--temp", "0", "-t", "{{threads}}"]
model = "{{model}}"
''')
    out = tmp_path / "s.json"
    cells = [("tiny t=1", "1"), ("tiny t=2", "2")]
    ok: dict = {}  # label -> the run, from the first attempt in which that cell was ok
    for _ in range(8):
        # llama.cpp may drop its own last lines (conftest.llama_lost_output; about one cell in six with both
        # cores busy): such a cell runs again with the matrix; any other outcome fails at once
        proc = run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(out), "--force",
                       timeout=300)
        session = load_session(out)
        assert [(r.label, r.argv[-1]) for r in session.runs] == cells
        assert session.scenario["matrix"] == {"threads": ["1", "2"]}
        assert all(r.status == "ok" or llama_lost_output(r) for r in session.runs), [(r.status, r.error) for r in session.runs]
        assert proc.returncode == (0 if all(r.status == "ok" for r in session.runs) else 1), proc.stderr
        ok.update({r.label: r for r in session.runs if r.status == "ok" and r.label not in ok})
        if len(ok) == len(cells):
            break
    assert sorted(ok) == [label for label, _ in cells], "a cell lost llama.cpp's output in every attempt"
    assert [ok[label].summary.get("generated_tokens") for label, _ in cells] == [16, 16]


def test_bundled_sweep_scenarios_expand():
    from orintui.config.scenarios import load_scenario

    matrix = load_scenario("llama-cpp-threads-matrix")
    assert len(matrix.runs) == 6 and matrix.runs[0].label == "llama.cpp t=2 fa=off" and matrix.gate.max_wait_s == 60
    power = load_scenario("jetson-power-sweep")
    assert [(r.nvpmodel, r.jetson_clocks) for r in power.runs] == [
        ("0", True), ("0", False), ("2", True), ("2", False), ("3", True), ("3", False)]


# -- the quiet-machine gate -----------------------------------------------------------------------------
GATED = '''name = "gated"
[gate]
{gate}
[[runs]]
label = "tiny"
backend = "llama-completion"
argv = {argv}
'''


@pytest.fixture
def tiny_argv(llama_bin, tiny_model):
    """A real llama.cpp run on the tiny model, as a TOML list; tokens=N for its length."""
    def argv(tokens: int = 8) -> str:
        return (f'["{llama_bin}/llama-completion", "-m", "{tiny_model}", "-p", "Hello", "-n", "{tokens}", '
                '"--ignore-eos", "-no-cnv", "--temp", "0", "-t", "1"]')
    return argv


def gated(tmp_path: Path, gate: str, argv: str) -> Path:
    path = tmp_path / "gated.toml"
    path.write_text(GATED.replace("{gate}", gate).replace("{argv}", argv))
    return path


def started_event(session):
    return next(e for e in session.events if e["kind"] == "run_started")


def busy_loops():
    """One spinning process per core: the whole machine busy."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]


def stop_all(procs):
    for p in procs:
        p.kill()
        p.wait()


def test_gate_on_a_busy_machine_waits_then_starts_dirty(tmp_path, tiny_argv):
    from orintui.figures.metrics import session_metrics
    from orintui.session import load_session

    loops = busy_loops()
    try:
        out = tmp_path / "s.json"
        proc = run_cli("run", str(gated(tmp_path, "cpu_pct = 50\nwindow_s = 1\nmax_wait_s = 3", tiny_argv())), "--headless",
                       "--telemetry", "psutil", "--out", str(out), env={"ORINTUI_GATE": ""})
    finally:
        stop_all(loops)
    session = load_session(out)
    e = started_event(session)
    assert e["gate_passed"] is False and e["gate_waited_s"] >= 3 and e["gate_cpu_pct"] > 50, e
    assert "waiting for a quiet machine: CPU" in proc.stdout and "quiet gate before each run: CPU <= 50%" in proc.stdout
    flags = session_metrics(session)[0].flags
    assert [f.code for f in flags if f.code == "dirty-start"] == ["dirty-start"]
    assert "not quiet after 3 s (CPU" in next(f.text for f in flags if f.code == "dirty-start")
    assert session.runs[0].flags.count("dirty-start") == 1 and "[dirty-start]" in proc.stdout


def test_gate_passes_when_its_conditions_hold(tmp_path, tiny_argv):
    """This machine is shared and seldom idle, so the CPU bound here is one it always meets; the busy
    test above shows that bound biting. GPU load and temperature: psutil has none here (None)."""
    from orintui.session import load_session

    out = tmp_path / "s.json"
    scenario = gated(tmp_path, "cpu_pct = 100\nwindow_s = 1\nmax_wait_s = 600\ncooldown_s = 2", tiny_argv())
    scenario.write_text(scenario.read_text() + "repetitions = 2\n")
    proc = run_cli("run", str(scenario), "--headless", "--telemetry", "psutil", "--out", str(out), env={"ORINTUI_GATE": ""})
    session = load_session(out)  # the runs' own outcome is not this test's subject
    started = [e for e in session.events if e["kind"] == "run_started"]
    for e in started:
        assert e["gate_passed"] is True and 1 <= e["gate_waited_s"] < 600 and 0 <= e["gate_cpu_pct"] <= 100
    assert all("dirty-start" not in r.flags for r in session.runs) and "waiting for a quiet machine" not in proc.stdout
    # the cool-down, then the gate's window, lie between the first run's end and the second's start
    ended = next(e for e in session.events if e["kind"] == "run_ended" and e["run"] == 0)
    assert started[1]["t"] - ended["t"] >= 2 + 1


@pytest.mark.parametrize("gate, env", [("enabled = false", ""), ("cpu_pct = 50", "off")])
def test_gate_can_be_turned_off(tmp_path, tiny_argv, gate, env):
    from orintui.session import load_session

    out = tmp_path / "s.json"
    proc = run_cli("run", str(gated(tmp_path, gate, tiny_argv())), "--headless", "--telemetry", "none", "--out", str(out),
                   env={"ORINTUI_GATE": env})
    assert proc.returncode in (0, 1) and "quiet gate" not in proc.stdout
    assert "gate_passed" not in started_event(load_session(out))


def test_gate_conditions_on_gpu_load_and_temperature():
    gate = QuietGate(GateConfig(cpu_pct=20, gpu_pct=10, temp_band_c=2), None, lambda: None)  # type: ignore[arg-type]
    quiet = [Reading(t, 0.5, 3.0, 0.0, 45.0 + t / 10) for t in range(4)]
    assert gate.why_not(quiet) is None
    assert gate.why_not([*quiet, Reading(5, 0.5, 3.0, 35.0, 45.5)]) == "GPU 35% (gate 10%)"
    assert gate.why_not([*quiet, Reading(5, 0.5, 3.0, None, 48.0)]) == "temperature moving 45.0..48.0 C (band 2 C)"
    assert gate.why_not([Reading(0, 0.5, 30.0, None, None)]) == "CPU 30% (gate 20%)"


def test_gate_wait_ends_at_once_on_ctrl_c(tmp_path, tiny_argv):
    """A gate with an hour's wait on a busy machine: Ctrl-C ends it, the run is cancelled, the session saved."""
    from orintui.session import load_session

    loops = busy_loops()
    out = tmp_path / "s.json"
    env = {**os.environ, "ORINTUI_GATE": ""}
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(gated(tmp_path, "cpu_pct = 5\nmax_wait_s = 3600", tiny_argv())),
                             "--headless", "--telemetry", "none", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=ctrl_c_default)  # as from a terminal, even when pytest runs as `pytest &`
    try:
        for line in proc.stdout:  # the gate is waiting: the condition to send Ctrl-C on
            if "waiting for a quiet machine" in line:
                break
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
        stop_all(loops)
    assert code == 130
    session = load_session(out)
    assert session.runs[0].status == "cancelled" and not any(e["kind"] == "run_started" for e in session.events)


@pytest.mark.parametrize("gate, message", [
    ("cpu = 1", "[gate]: unknown key 'cpu'"),
    ("max_wait_s = -1", "max_wait_s must be a number from 0 to 3600"),
    ("window_s = 0", "window_s must be a number from 0 to 3600 (above 0)"),
    ("cpu_pct = 101", "cpu_pct must be a number from 0 to 100"),
    ("enabled = \"no\"", "enabled must be true or false"),
])
def test_gate_errors(tmp_path, gate, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(GATED.replace("{gate}", gate).replace("{argv}", '["x"]'), "g.toml")
    assert str(err.value).startswith("g.toml:3:") and message in str(err.value)


# -- power-mode sweeps (fake nvpmodel / jetson_clocks: no Jetson here) --------------------------------
FAKE_NVPMODEL = '''#!/bin/sh
echo "nvpmodel $*" >> "$FAKE_LOG"
case "$1" in
  -q) m=$(cat "$FAKE_STATE"); case "$m" in 0) n=MAXN;; 1) n=15W;; 2) n=30W;; *) n=MODE_$m;; esac
      echo "NV Power Mode: $n"; echo "$m";;
  -m) case "$2" in 0|1|2) echo "$2" > "$FAKE_STATE";; *) echo "NVPM ERROR: invalid mode $2" >&2; exit 1;; esac;;
esac
'''
FAKE_CLOCKS = '''#!/bin/sh
echo "jetson_clocks $*" >> "$FAKE_LOG"
case "$1" in
  --store) echo "stored" > "$2";;
  --restore) test -f "$2" || exit 1;;
esac
'''


@pytest.fixture
def fake_jetson(tmp_path):
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name, text in (("nvpmodel", FAKE_NVPMODEL), ("jetson_clocks", FAKE_CLOCKS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log, state = tmp_path / "calls.log", tmp_path / "mode"
    state.write_text("0\n")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(log), "FAKE_STATE": str(state)}
    return env, log, state


def power_scenario(tmp_path: Path, argv: str, modes: str = "[1, 2]") -> Path:
    path = tmp_path / "power.toml"
    path.write_text(f'''name = "power"
[power]
nvpmodel = {modes}
jetson_clocks = [true, false]
[[runs]]
label = "tiny"
backend = "llama-completion"
argv = {argv}
''')
    return path


def calls(log: Path) -> list[str]:
    return [line.split(" /")[0].strip() for line in log.read_text().splitlines()]  # the clocks file's path varies


@pytest.mark.skipif(os.geteuid() != 0, reason="a power-mode sweep needs root (the refusal is tested as non-root)")
def test_power_sweep_switches_groups_records_the_mode_and_restores(tmp_path, tiny_argv, fake_jetson):
    from orintui.figures.metrics import session_metrics
    from orintui.session import load_session

    env, log, state = fake_jetson
    out = tmp_path / "s.json"
    proc = run_cli("run", str(power_scenario(tmp_path, tiny_argv())), "--headless",
                   "--telemetry", "none", "--out", str(out), env=env)
    assert "power-mode sweep (running as root): power mode now MAXN (id 0); restored at the end" in proc.stdout
    session = load_session(out)
    assert [r.label for r in session.runs] == ["tiny @mode=1 clocks=on", "tiny @mode=1 clocks=off",
                                               "tiny @mode=2 clocks=on", "tiny @mode=2 clocks=off"]
    started = [e for e in session.events if e["kind"] == "run_started"]
    assert [(e["nvpmodel"], e["nvpmodel_id"], e["jetson_clocks"]) for e in started] == [
        ("15W", "1", "ON"), ("15W", "1", "OFF"), ("30W", "2", "ON"), ("30W", "2", "OFF")]
    assert calls(log) == ["nvpmodel -q", "jetson_clocks --store",
                          "nvpmodel -m 1", "jetson_clocks", "nvpmodel -q", "nvpmodel -m 1", "nvpmodel -q",
                          "nvpmodel -m 2", "jetson_clocks", "nvpmodel -q", "nvpmodel -m 2", "nvpmodel -q",
                          "nvpmodel -m 0", "jetson_clocks --restore"]
    assert state.read_text().strip() == "0"
    assert any(e["kind"] == "note" and e["text"].startswith("power-mode sweep: power mode now MAXN") for e in session.events)
    # the flags read each run's own mode, not the host's (which this machine does not have)
    measured = [m for m in session_metrics(session) if m.tokens]
    assert measured, [(r.status, r.error) for r in session.runs]
    for m in measured:
        codes = {f.code: f.text for f in m.flags}
        assert codes["power-mode"] == f"power mode {'15W' if 'mode=1' in m.label else '30W'}, not MAXN"
        assert ("clocks-unlocked" in codes) == m.label.endswith("clocks=off")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a power-mode sweep does")
def test_a_modes_only_sweep_still_restores_the_clocks(tmp_path, tiny_argv, fake_jetson):
    """nvpmodel -m returns clocks to the mode's DVFS: a jetson_clocks lock the user had is put back too."""
    env, log, state = fake_jetson
    scenario = power_scenario(tmp_path, tiny_argv())
    scenario.write_text(scenario.read_text().replace("jetson_clocks = [true, false]\n", ""))
    run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(tmp_path / "s.json"), env=env)
    assert calls(log) == ["nvpmodel -q", "jetson_clocks --store", "nvpmodel -m 1", "nvpmodel -q", "nvpmodel -m 2",
                          "nvpmodel -q", "nvpmodel -m 0", "jetson_clocks --restore"]
    assert state.read_text().strip() == "0"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a power-mode sweep does")
def test_power_sweep_restores_the_mode_on_sigterm(tmp_path, tiny_argv, fake_jetson):
    env, log, state = fake_jetson
    scenario = power_scenario(tmp_path, tiny_argv(10_000_000))
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(scenario), "--headless", "--telemetry", "none",
                             "--out", str(tmp_path / "s.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env})
    try:
        for line in proc.stdout:
            if "started" in line:
                break
        assert state.read_text().strip() == "1"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert state.read_text().strip() == "0"
    assert calls(log)[-2:] == ["nvpmodel -m 0", "jetson_clocks --restore"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a power-mode sweep does")
def test_a_failed_switch_stops_the_sweep_and_restores(tmp_path, tiny_argv, fake_jetson):
    from orintui.session import load_session

    env, log, state = fake_jetson
    out = tmp_path / "s.json"
    # a real process: the sweep registers its restore with atexit, which in pytest would run at pytest's exit
    proc = run_cli("run", str(power_scenario(tmp_path, tiny_argv(), "[1, 7]")), "--headless",
                   "--telemetry", "none", "--out", str(out), env=env)
    assert proc.returncode == 1
    session = load_session(out)
    assert [r.status for r in session.runs][2:] == ["failed", "cancelled"]
    assert "nvpmodel -m 7 exited 1: NVPM ERROR: invalid mode 7" in session.runs[2].error
    assert state.read_text().strip() == "0" and calls(log)[-2:] == ["nvpmodel -m 0", "jetson_clocks --restore"]


def test_power_sweep_is_refused_without_root(tmp_path, fake_jetson):
    """orintui's own CLI in a process whose effective user is nobody (this test runs as root here)."""
    import tempfile

    env, log, _ = fake_jetson
    with tempfile.TemporaryDirectory() as shared:  # readable and writable by nobody, unlike pytest's tmp_path
        os.chmod(shared, 0o777)
        scenario = Path(shared) / "power.toml"
        scenario.write_text(power_scenario(tmp_path, '["/bin/true"]').read_text())
        scenario.chmod(0o644)
        # all imported before the switch: a CI clone may sit in a folder that nobody cannot read
        child = ("import os, sys\nimport orintui.cli, orintui.running.engine, orintui.commands.headless\n"
                 "import orintui.reading.catalog, orintui.core.modelgen\n"
                 "if os.geteuid() == 0:\n    os.seteuid(65534)\nsys.exit(orintui.cli.main(sys.argv[1:]))")
        proc = subprocess.run([sys.executable, "-c", child, "run", str(scenario), "--headless", "--telemetry", "none"],
                              capture_output=True, text=True, timeout=120, cwd=shared,
                              env={**os.environ, **env, "ORINTUI_HOME": str(Path(shared) / "home")})
    assert proc.returncode == 2, proc.stderr
    assert "switches power modes (nvpmodel, jetson_clocks), which needs root" in proc.stderr
    assert not log.exists()  # nothing asked of nvpmodel


@pytest.mark.parametrize("power, message", [
    ("nvpmodel = [\"MAXN\"]", "nvpmodel must be a list of mode ids"),
    ("nvpmodel = [1, 1]", "nvpmodel lists a value twice"),
    ("jetson_clocks = [1]", "jetson_clocks must be a list of true (locked) / false"),
    ("modes = [1]", "[power]: unknown key 'modes'"),
])
def test_power_errors(power, message):
    text = f'name = "p"\n[power]\n{power}\n[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["x"]\n'
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "p.toml")
    assert str(err.value).startswith("p.toml:3:") and message in str(err.value)


# -- the Pareto chart ---------------------------------------------------------------------------------
def test_pareto_front_is_the_points_nothing_beats_on_both():
    pts = [Point("fast", 30.0, 2.0, 1), Point("frugal", 10.0, 0.5, 1), Point("beaten", 9.0, 1.0, 1),
           Point("middle", 20.0, 1.0, 1), Point("tie", 20.0, 1.0, 1)]
    mark_front(pts)
    assert [p.label for p in pts if p.front] == ["fast", "frugal", "middle", "tie"]


def test_pareto_svg_snapshot_of_the_bundled_h100_session():
    from orintui.reading.catalog import resolve_session
    from orintui.session import load_session

    svg = render_svg(points_of([load_session(str(resolve_session("demo")))]), "nvidia-gpu")
    expected = (FIXTURES / "pareto-nvidia-gpu.svg").read_text()
    assert svg == expected
    ET.fromstring(svg)


def test_pareto_svg_snapshot_of_a_power_sweep():
    """Figures shaped like a Jetson power sweep (made up: no Jetson here): a front of three, labels that
    would overlap moved down a line."""
    pts = [Point("llama t=2 fa=off @mode=0 clocks=on", 25.6, 0.71, 3), Point("llama t=2 fa=on @mode=0 clocks=on", 27.8, 0.69, 3),
           Point("llama @mode=2 clocks=on", 19.1, 0.52, 3), Point("llama @mode=3 clocks=off", 22.0, 0.66, 3),
           Point("tinygrad NV", 7.6, 2.1, 3), Point("tinygrad CUDA <b>&", 7.4, 2.2, 3), Point("llama @mode=1 15W", 9.8, 0.61, 3)]
    mark_front(pts)
    svg = render_svg(pts, "jetson-power-sweep")
    assert svg == (FIXTURES / "pareto-sweep.svg").read_text()
    assert '<polyline points="163.6,167.2 188.8,133.3 194.2,65.7"' in svg  # the front, cheapest first
    assert 'y="305.3" fill="#2c3e50">tinygrad NV<' in svg and 'y="320.7" fill="#2c3e50">tinygrad CUDA &lt;b&gt;&amp;<' in svg


def test_pareto_labels_are_escaped():
    hostile = '<script>alert(1)</script> & "\x1b]52;c;ZXZpbA==\x07\x1b[31m\ud800'
    svg = render_svg([Point(hostile, 10.0, 1.0, 1), Point("b", 5.0, 2.0, 1)], hostile)
    root = ET.fromstring(svg)  # well-formed: nothing escaped the text nodes
    assert "<script>" not in svg and "\x1b" not in svg and "\ud800" not in svg and "&lt;script&gt;" in svg
    assert not root.findall(".//{http://www.w3.org/2000/svg}script")


def test_pareto_command(tmp_path, cli):
    out = tmp_path / "p.svg"
    proc = cli("pareto", "demo", "--out", str(out))
    assert proc.returncode == 0 and proc.stdout.strip() == str(out)
    assert out.read_text() == (FIXTURES / "pareto-nvidia-gpu.svg").read_text()
    both = cli("pareto", "demo", str(FIXTURES / "sessions" / "demo-cpu.json"), "--out", str(tmp_path / "two.svg"))
    assert both.returncode == 0 and ">nvidia-gpu: llama.cpp CUDA</text>" in (tmp_path / "two.svg").read_text()
    proc = cli("pareto", "demo", "--out", str(tmp_path / "p.txt"))
    assert proc.returncode == 2 and "name an .svg or .png file" in proc.stderr
    png = cli("pareto", "demo", "--out", str(tmp_path / "p.png"))
    try:
        import PIL  # noqa: F401
    except ImportError:
        assert png.returncode == 2 and "PNG needs Pillow" in png.stderr
    else:
        assert png.returncode == 0 and (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_of_a_session_without_energy_says_why(tmp_path, cli):
    proc = cli("pareto", str(FIXTURES / "sessions" / "demo-cpu.json"), "--out", str(tmp_path / "p.svg"))
    assert proc.returncode == 2 and "J/token needs a power source" in proc.stderr
    assert not (tmp_path / "p.svg").exists()


async def test_the_replay_screen_opens_the_pareto_chart_with_e():
    from orintui.session import load_session
    from orintui.tui.app import make_app
    from orintui.tui.screens.replay import ReplayScreen
    from orintui.tui.widgets.pareto_plot import ParetoScreen

    session = load_session(ROOT / "orintui" / "data" / "demo-session.json.gz")
    app = make_app(replay=session, at=30.0, paused=True)
    async with app.run_test(size=(100, 40)) as pilot:
        while not isinstance(app.screen, ReplayScreen):  # the replay is prepared in a worker
            await pilot.pause(0.05)
        await pilot.press("e")
        while not isinstance(app.screen, ParetoScreen):  # its points are worked out in a worker
            await pilot.pause(0.05)
        shown = str(app.screen.query_one("#pareto-plot").render())
        assert "1 llama.cpp CUDA: 684.94 tok/s, 0.5102 J/token  (front)" in shown
        assert "2 tinygrad CUDA: 34.27 tok/s, 4.996 J/token" in shown and shown.count("(front)") == 1
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ParetoScreen)


def test_the_app_plot_keeps_hostile_labels_as_text():
    from orintui.tui.widgets.pareto_plot import plot_text

    text = plot_text([Point("[bold]x\x1b]52;c;ZXZpbA==\x07", 10.0, 1.0, 2, True), Point("b", 5.0, 2.0, 1)])
    assert "[bold]x: 10.00 tok/s, 1 J/token, 2 runs  (front)" in text.plain and "\x1b" not in text.plain
    rows = text.plain.splitlines()[:12]
    assert rows[0].rstrip().endswith("1") and rows[0].index("1") < 40  # the fastest at the top, half-way across
    assert rows[6].endswith("2")  # the costliest at the right edge, half as fast
