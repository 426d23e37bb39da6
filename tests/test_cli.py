"""The command line: version, help, exit codes, import of existing logs."""

from __future__ import annotations

import json
import re
import sys

from conftest import FIXTURES, run_cli

import orintui

T = FIXTURES / "transcripts"


def test_version_and_help(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"orintui {orintui.__version__}"
    r = cli("--help")
    assert r.returncode == 0
    for command in ("run", "replay", "report", "compare", "import", "scenarios", "telemetry", "doctor", "screenshot"):
        assert command in r.stdout


def test_help_loads_only_the_command_line():
    """`orintui --help` is the first thing people run: it must not load sessions, Textual or the backends
    (benchmarks/startup.py gives the time; the session package's import tripled it once)."""
    import subprocess

    probe = ("import sys, contextlib, io\nfrom orintui.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main(['--help'])\n"
             "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('orintui', 'textual', 'rich', 'msgspec', 'pexpect', 'numpy', 'psutil'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["orintui", "orintui.cli", "orintui.core", "orintui.core.sanitize"]


def test_bad_usage_exits_2(cli):
    # once as a real process: argparse exits through SystemExit before main()'s handlers, as a shell sees it
    assert run_cli("report").returncode == 2
    for args in (["report"], ["telemetry", "--interval", "-1"], ["screenshot", "x.json", "--out", "x.svg", "--size", "huge"]):
        r = cli(*args)
        assert r.returncode == 2 and "usage:" in r.stderr and "Traceback" not in r.stderr, args


def test_import_tinygrad_and_llama_logs(tmp_path, cli):
    out = tmp_path / "imported.json"
    r = cli("import", "--backend", "tinygrad-llm", str(T / "tinygrad-llm-cpu-0.13.0.txt"), "--label", "tg", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "8 tokens" in r.stdout
    report = json.loads(cli("report", str(out), "--format", "json").stdout)["runs"][0]
    assert report["label"] == "tg" and report["tokens"] == 8
    steady = [4.36, 4.01, 3.84, 3.86, 4.17]
    assert abs(report["decode_tok_s"]["reported"] - 1000 * len(steady) / sum(steady)) < 1e-6

    out2 = tmp_path / "llama.json"
    r = cli("import", "--backend", "llama-completion", str(T / "llama-completion-cpu-b0.3.36.txt"), "--out", str(out2))
    assert r.returncode == 0, r.stderr
    report = json.loads(cli("report", str(out2), "--format", "json").stdout)["runs"][0]
    assert report["decode_tok_s"]["reported"] == 335.74 and report["prefill_tok_s"] == 1540.17


def test_import_refuses_a_log_of_another_format(tmp_path, cli):
    r = cli("import", "--backend", "llama-bench", str(T / "tinygrad-llm-cpu-0.13.0.txt"), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "no llama-bench output found" in r.stderr
    r = cli("import", "--backend", "nope", str(T / "tinygrad-llm-cpu-0.13.0.txt"), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "unknown backend" in r.stderr
    r = cli("import", "--backend", "llama-bench", str(tmp_path / "missing.log"), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def one_run_scenario(tmp_path, name: str, argv: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n[[runs]]\nlabel = "s"\nbackend = "tinygrad-llm"\nargv = {argv}\n')
    return path


def run_headless(scenario, out, *extra):
    return run_cli("run", str(scenario), "--headless", "--telemetry", "none", "--out", str(out), *extra)


STEADY = FIXTURES / "fake_backends" / "steady.py"


def test_run_label_reaches_session_report_and_compare(tmp_path, cli):
    """--label names the session; report and compare show it; a session without one still loads."""
    from orintui.session import load_session

    scenario = one_run_scenario(tmp_path, "fake", f'["{sys.executable}", "{STEADY}", "5", "10"]')
    out = tmp_path / "s.json"
    r = run_headless(scenario, out, "--label", "MAXN,  clocks locked")
    assert r.returncode == 0, r.stderr
    assert "**fake: MAXN,  clocks locked** (" in r.stdout
    assert load_session(out).label == "MAXN,  clocks locked"
    old = tmp_path / "old.json"
    doc = json.loads(out.read_text())
    del doc["label"]  # as written before labels existed
    old.write_text(json.dumps(doc))
    assert load_session(old).label == ""
    r = cli("compare", str(out), str(old))
    assert r.returncode == 0 and "A (baseline): fake: MAXN,  clocks locked (" in r.stdout and "\nB: fake (" in r.stdout


def test_headless_progress_lines_during_a_long_run(tmp_path):
    scenario = one_run_scenario(tmp_path, "steady", f'["{sys.executable}", "{STEADY}", "40", "20"]')
    r = run_headless(scenario, tmp_path / "s.json", "--progress", "0.2")
    assert r.returncode == 0, r.stderr
    beats = re.findall(r"^\[1/1\] s: (\d+) tokens, ([\d.]+) tok/s rolling$", r.stdout, re.M)
    counts = [int(n) for n, _ in beats]
    assert len(beats) >= 2 and counts == sorted(counts) and counts[-1] <= 40, r.stdout
    assert all(20 < float(rate) < 55 for _, rate in beats), beats  # one token per 20 ms, plus process time
    assert "[1/1] s: ok: 40 tokens" in r.stdout
    quiet = run_headless(scenario, tmp_path / "q.json")
    assert "tok/s rolling" not in quiet.stdout  # the default is one line per 10 s


def test_headless_progress_while_a_run_loads(tmp_path):
    """Before the first token (model load, JIT, a BEAM search) a line still says the run is alive."""
    scenario = one_run_scenario(tmp_path, "slow", f'["bash", "-c", "sleep 2; exec {sys.executable} {STEADY} 3 20"]')
    r = run_headless(scenario, tmp_path / "s.json", "--progress", "0.4")
    assert r.returncode == 0, r.stderr
    waits = [float(s) for s in re.findall(r"^\[1/1\] s: loading, ([\d.]+) s since start, no token yet$", r.stdout, re.M)]
    assert len(waits) >= 2 and waits == sorted(waits) and waits[0] >= 0.4, r.stdout


def test_a_run_that_will_be_skipped_says_so_before_the_others_start(tmp_path):
    """The lane of an optional run this machine cannot do shows why from the start, not `queued`
    for the whole session."""
    from orintui.session import load_session

    scenario = tmp_path / "two.toml"
    scenario.write_text(f'name = "two"\n[[runs]]\nlabel = "steady"\nbackend = "tinygrad-llm"\n'
                        f'argv = ["{sys.executable}", "{STEADY}", "5", "10"]\n'
                        '[[runs]]\nlabel = "later"\nbackend = "llama-completion"\nargv = ["llama-nowhere-to-be-found"]\n'
                        'optional = true\n')
    out = tmp_path / "s.json"
    r = run_headless(scenario, out)
    assert r.returncode == 0, r.stderr
    events = load_session(out).events
    skipped = next(i for i, e in enumerate(events) if e["kind"] == "run_ended" and e["status"] == "skipped")
    first_token = next(i for i, e in enumerate(events) if e["kind"] == "token")
    assert skipped < first_token
    assert "binary not found on PATH: llama-nowhere-to-be-found" in events[skipped]["error"]
