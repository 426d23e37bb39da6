"""Shared fixtures: an isolated ORINTUI_HOME, the real backends the test script builds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"


def _nvml_answers() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetCount() > 0
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return False


# What this machine is, for assertions that hold only off a Jetson or off an NVIDIA GPU: on a real
# Jetson the jtop service answers and tegrastats is on PATH; on a GPU host NVML works.
JTOP_SERVICE = os.path.exists("/run/jtop.sock")  # the socket jetson-stats' service listens on
TEGRASTATS = shutil.which("tegrastats") is not None
NVML = _nvml_answers()


@pytest.fixture(autouse=True)
def orintui_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ORINTUI_HOME", str(home))
    # no quiet-machine gate: this machine is shared and rarely idle; tests/test_sweeps.py turns it on
    monkeypatch.setenv("ORINTUI_GATE", "off")
    return home


@pytest.fixture
def cli(capsys):
    """orintui's command line in this process (``main(argv)``, output captured), returning what
    ``run_cli`` returns: for the error contract, where starting a process per case adds nothing.
    ``env`` is laid over the environment for this one call, as ``run_cli``'s is."""
    import signal

    from orintui.cli import main

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        handlers = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM)}
        environ = dict(os.environ)
        capsys.readouterr()
        try:
            os.environ.update(env or {})
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            for s, handler in handlers.items():  # main() installs orintui's own
                signal.signal(s, handler)
            os.environ.clear()
            os.environ.update(environ)
        out, err = (text.replace("\r\n", "\n").replace("\r", "\n") for text in capsys.readouterr())
        return subprocess.CompletedProcess(["orintui", *args], code, out, err)  # newlines as run_cli's text mode reads them

    return run


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, cwd: str | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
    """orintui in a real process: for what only a process shows (exit status and stderr as a shell
    sees them, signals, children, state the command takes over); the ``cli`` fixture does the rest."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "orintui", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd, input=input)


def _need(path: Path | None, what: str, how: str) -> Path:
    if path is None or not path.exists():
        message = f"{what} is missing: {how}"
        if os.environ.get("CI") or os.environ.get("ORINTUI_REQUIRE_REAL"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def llama_bin() -> Path:
    env = os.environ.get("ORINTUI_LLAMA_BIN")
    path = Path(env) if env else None
    if path is None and (found := shutil.which("llama-completion")):
        path = Path(found).parent
    return _need(path and path / "llama-completion", "llama.cpp (llama-completion)",
                 "run scripts/test, which builds it with scripts/build-llama-cpp, or set ORINTUI_LLAMA_BIN").parent


def _model(name: str) -> Path:
    base = os.environ.get("ORINTUI_TEST_MODELS")
    return _need(Path(base) / f"{name}.gguf" if base else None, f"test model {name}.gguf",
                 f"run scripts/test, or python -m orintui.core.modelgen {name} DIR/{name}.gguf and set ORINTUI_TEST_MODELS=DIR")


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return _model("tiny")


@pytest.fixture(scope="session")
def small_model() -> Path:
    return _model("small")


@pytest.fixture(scope="session")
def tinygrad_ready() -> None:
    try:
        import tinygrad  # noqa: F401
    except ImportError:
        how = ("pip install -e '.[test]' (pins tinygrad==0.13.0)" if sys.version_info >= (3, 11)
               else "tinygrad 0.12 and later need Python >= 3.11")
        _need(None, "tinygrad", how)
    _need(Path(shutil.which("clang") or "/nonexistent"), "clang", "apt-get install clang (tinygrad's CPU backend)")


# llama.cpp builds of late 2025 on write tokens and their perf summary from a logger thread that is never
# joined at exit (llama.cpp issue 22142): on a busy machine the program can drop its own last lines and
# still exit 0. orintui marks such a run partial with this reason; tests whose subject is something else
# run again when it happens, and still fail on any other outcome.
LLAMA_TAIL_LOST = "no perf summary: llama.cpp's output ended early"


def llama_lost_its_tail(session) -> bool:
    """Whether the only runs that are not ok are llama.cpp runs that lost their own tail."""
    bad = [r for r in session.runs if r.status not in ("ok", "skipped")]
    return bool(bad) and all(r.backend == "llama-completion" and r.status == "partial" and r.exit_code == 0
                             and (r.error or "").startswith(LLAMA_TAIL_LOST) for r in bad)


# the same loss before the first token: what base.Parser.verdict says of a run without figures
LLAMA_ALL_LOST = tuple(f"llama-completion: {what}" for what in (
    "the program printed nothing", "nothing of this adapter's format in ", "no figure in "))


def llama_lost_output(run) -> bool:
    """Whether a llama.cpp run that exited 0 lost its own last lines: its tail (partial, LLAMA_TAIL_LOST),
    or everything from before its first token on (unrecognised, LLAMA_ALL_LOST)."""
    error = run.error or ""
    return run.backend == "llama-completion" and run.exit_code == 0 and (
        (run.status == "partial" and error.startswith(LLAMA_TAIL_LOST))
        or (run.status == "unrecognised" and error.startswith(LLAMA_ALL_LOST)))


def ctrl_c_default() -> None:
    """``preexec_fn`` for a child a test sends SIGINT to as a user's Ctrl-C: SIGINT back to its default.
    A shell without job control starts a background job (``pytest ... &``) with SIGINT ignored, a child
    inherits that, and Python then installs no KeyboardInterrupt handler: the Ctrl-C would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def llama_run_retried(run_once, attempts: int = 3):
    """``run_once() -> (result, events)`` for a llama.cpp program, run again while llama.cpp dropped its
    own tail (see LLAMA_TAIL_LOST); any other outcome is returned as it is, to be asserted on."""
    for _ in range(attempts):
        result, events = run_once()
        if not (result.status == "partial" and (result.error or "").startswith(LLAMA_TAIL_LOST)):
            break
    return result, events
