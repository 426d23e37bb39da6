"""Scenario files: bundled ones validate, broken ones get their own one-line error and exit 2."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ROOT, run_cli

from orintui.config.scenarios import GPU_NODES, ScenarioError, list_scenarios, load_scenario, parse_scenario

BUNDLED = sorted((ROOT / "scenarios").glob("*.toml"))

GOOD_RUN = '[[runs]]\nlabel = "a"\nbackend = "llama-completion"\nargv = ["true"]\n'


def test_all_bundled_scenarios_validate(cli):
    assert len(BUNDLED) >= 9
    for path in BUNDLED:
        s = load_scenario(str(path))
        assert s.runs and s.name == path.stem
    r = cli("scenarios", *map(str, BUNDLED))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok  ") == len(BUNDLED)


def test_listing_says_what_is_missing():
    import importlib.util

    entries = {e.name: e for e in list_scenarios()}
    assert entries["demo"].ready  # both runs are optional: whichever this machine has runs
    if not importlib.util.find_spec("tinygrad"):  # Python 3.10: no tinygrad wheel; the demo says so before it starts
        assert any("Python module tinygrad not found" in m for m in entries["demo"].skipped)
    assert any("binary not found" in m or "model not found" in m for m in entries["llama-3.2-1b-q6k-three-way"].missing)


def test_the_demo_says_which_runs_it_will_skip_and_how_to_get_them(tmp_path, monkeypatch, cli):
    """A machine without llama.cpp: no binary on PATH and none built by orintui (an empty cache)."""
    monkeypatch.setenv("ORINTUI_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin")
    demo = next(e for e in list_scenarios() if e.name == "demo")
    assert demo.ready and demo.runs == 2
    assert demo.skipped == ["llama.cpp CPU: binary not found on PATH: llama-completion "
                            "(orintui setup builds llama.cpp, or put your own build on PATH)"]
    assert any(n.startswith("llama.cpp CPU: skipped when") for n in demo.notes)
    r = cli("scenarios")  # in the environment set above
    assert "ready, 1 of 2 runs skipped here" in r.stdout and "skipped: llama.cpp CPU: binary not found" in r.stdout


def test_a_llama_cpp_that_orintui_built_is_found_without_path(tmp_path, monkeypatch):
    from orintui.core import paths
    from orintui.core.paths import resolve_binary

    monkeypatch.setenv("ORINTUI_CACHE", str(tmp_path / "cache"))
    built = paths.llama_cpp_dir("cpu")
    built.mkdir(parents=True)
    (built / "llama-completion").write_text("#!/bin/sh\necho built by orintui setup\n")
    (built / "llama-completion").chmod(0o755)
    assert resolve_binary("llama-completion", {"PATH": "/usr/bin:/bin"}) == str(built / "llama-completion")
    own = tmp_path / "own"
    own.mkdir()
    (own / "llama-completion").write_text("#!/bin/sh\n")
    (own / "llama-completion").chmod(0o755)
    assert resolve_binary("llama-completion", {"PATH": str(own)}) == str(own / "llama-completion")  # the user's build wins


@pytest.mark.parametrize("style, env", [("DEV", {"DEV": "NV"}), ("legacy", {"NV": "1"})])
def test_both_tinygrad_device_spellings(style, env):
    s = load_scenario("llama-3.2-1b-q6k-three-way", {"device_style": style})
    assert s.runs[0].env == env


def test_set_overrides_and_builtins():
    s = load_scenario("demo", {"tokens": "7"})
    # both must hold (the old `A and B or C` passed whenever the interpreter's path said python)
    assert s.runs[0].argv[-1] == "7"
    assert s.runs[0].argv[0] == sys.executable  # {python}: this interpreter


BROKEN = {
    "not-toml": ('name = "x"\nruns = [\n', "not valid TOML"),
    "no-name": (GOOD_RUN, "needs a name"),
    "unknown-key": ('name = "x"\ncolour = 1\n' + GOOD_RUN, "unknown key 'colour'"),
    "no-runs": ('name = "x"\n', "at least one [[runs]]"),
    "unknown-backend": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "vllm"\nargv = ["x"]\n', "unknown backend 'vllm'"),
    "argv-string": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-bench"\nargv = "llama-bench -m x"\n', "argv must be"),
    "zero-repetitions": ('name = "x"\n' + GOOD_RUN + "repetitions = 0\n", "repetitions must be"),
    "unknown-variable": ('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "llama-bench"\nargv = ["{nope}"]\n', "unknown variable {nope}"),
    "duplicate-labels": ('name = "x"\n' + GOOD_RUN + GOOD_RUN, "two runs are labelled 'a'"),
    "bad-device-style": ('name = "x"\n[variables]\ndevice_style = "NV=1"\n' + GOOD_RUN, "device_style must be"),
    "bad-shape": ('name = "x"\n[variables]\nm = "x.gguf"\n[generate]\nm = "huge"\n' + GOOD_RUN, "unknown model shape"),
    "run-unknown-key": ('name = "x"\n' + GOOD_RUN + "gpu = 1\n", "unknown key 'gpu'"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_scenarios(tmp_path, case, cli):
    text, message = BROKEN[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, str(path))
    assert message in str(info.value) and str(path) in str(info.value)
    # in process (main(argv)); test_a_broken_scenario_in_a_real_process keeps one case end to end
    for args in (["scenarios", str(path)], ["run", str(path), "--headless"]):
        r = cli(*args)
        assert r.returncode == 2, (case, args, r.stdout, r.stderr)
        assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_broken_scenario_in_a_real_process(tmp_path):
    """The in-process cases above, once as a real process: exit status and stderr as a shell sees them."""
    text, message = BROKEN[sorted(BROKEN)[0]]
    path = tmp_path / "broken.toml"
    path.write_text(text)
    r = run_cli("run", str(path), "--headless")
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_errors_name_the_line(tmp_path):
    text = 'name = "x"\n\n[[runs]]\nlabel = "a"\nbackend = "vllm"\nargv = ["x"]\n'
    with pytest.raises(ScenarioError, match=r"x\.toml:5: run 1 \(a\): unknown backend"):
        parse_scenario(text, str(tmp_path / "x.toml"))
    with pytest.raises(ScenarioError, match=r"y\.toml:2: not valid TOML"):
        parse_scenario('name = "x"\nruns = = 1\n', str(tmp_path / "y.toml"))


@pytest.mark.parametrize("what, run, message", [
    ("binary", '[[runs]]\nlabel = "a"\nbackend = "llama-bench"\nargv = ["/nonexistent/llama-bench"]\n', "binary not found"),
    ("model", '[[runs]]\nlabel = "a"\nbackend = "llama-bench"\nargv = ["true"]\nmodel = "/nonexistent/m.gguf"\n', "model not found"),
    ("cwd", '[[runs]]\nlabel = "a"\nbackend = "llama-bench"\nargv = ["true"]\ncwd = "/nonexistent/dir"\n', "working directory"),
    pytest.param("gpu", '[[runs]]\nlabel = "a"\nbackend = "tinygrad-llm"\nargv = ["true"]\ndevice = "cuda"\n',
                 "no NVIDIA GPU for DEV=CUDA", marks=pytest.mark.skipif(any(os.path.exists(n) for n in GPU_NODES),
                                                                   reason="this machine has an NVIDIA GPU")),
])
def test_missing_pieces_reported_before_anything_starts(tmp_path, what, run, message, orintui_home, cli):
    path = tmp_path / f"{what}.toml"
    path.write_text('name = "x"\n' + run)
    r = cli("run", str(path), "--headless")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not list(orintui_home.glob("data/sessions/*"))  # nothing started, nothing saved


def test_set_unknown_variable_and_bad_pair(cli):
    r = cli("run", "demo", "--headless", "--set", "nope=1")
    assert r.returncode == 2 and "--set nope: no such variable" in r.stderr
    r = cli("run", "demo", "--headless", "--set", "tokens")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr


def test_unknown_scenario_name(cli):
    r = cli("run", "no-such-scenario", "--headless")
    assert r.returncode == 2 and "no scenario named 'no-such-scenario'" in r.stderr


def test_user_scenarios_dir_is_listed(orintui_home):
    folder = orintui_home / "config" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\n' + GOOD_RUN)
    (folder / "broken.toml").write_text("name = \n")
    entries = {e.name: e for e in list_scenarios()}
    assert entries["mine"].origin == "user" and entries["mine"].ready
    assert entries["broken"].error and "not valid TOML" in entries["broken"].error


def test_required_python_module_is_checked_before_the_run(tmp_path, cli):
    path = tmp_path / "mod.toml"
    path.write_text('name = "x"\n[[runs]]\nlabel = "a"\nbackend = "tinygrad-llm"\nargv = ["{python}", "-m", "no_such_mod"]\n'
                    'requires = ["no_such_mod"]\n')
    r = cli("run", str(path), "--headless")
    assert r.returncode == 2 and "Python module no_such_mod not found" in r.stderr
    assert load_scenario(str(path)).runs[0].requires == ["no_such_mod"]
