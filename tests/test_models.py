"""`orintui models`: what the scenarios expect, and fetching from a Hub that answers as huggingface.co
does (a local server: tests/fixtures/hub_server.py), through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest
from conftest import FIXTURES, run_cli

from orintui.core import modelgen

FILE = "Llama-3.2-1B-Instruct-Q6_K.gguf"
REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"


@pytest.fixture
def hub(tmp_path, request):
    """A hub serving a small generated model under the real repository and file name."""
    root = tmp_path / "hub"
    (root / REPO).mkdir(parents=True)
    modelgen.write_model(root / REPO / FILE, modelgen.SHAPES["tiny"])
    started = []

    def start(*flags: str) -> str:
        port_file = tmp_path / f"port{len(started)}"
        proc = subprocess.Popen([sys.executable, str(FIXTURES / "hub_server.py"), str(root), str(port_file), *flags])
        started.append(proc)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "the hub server did not start"
            time.sleep(0.02)  # polling the condition, not gating an assertion
        return f"http://127.0.0.1:{port_file.read_text()}"
    yield start, root / REPO / FILE
    for proc in started:
        proc.kill()
        proc.wait()


def test_models_lists_what_scenarios_expect_and_where_they_come_from(cli):
    r = cli("models", "--json")
    assert r.returncode == 0, r.stderr
    listed = {e["path"].rsplit("/", 1)[1]: e for e in json.loads(r.stdout)}
    q6 = listed[FILE]
    assert q6["source"] == {"repo": REPO, "file": FILE, "revision": "main"}
    assert "llama-3.2-1b-q6k-three-way" in q6["scenarios"]
    assert listed["orintui-small.gguf"]["generated"] == "small" and listed["orintui-small.gguf"]["source"] is None
    text = cli("models").stdout
    assert f"orintui models fetch {FILE}" in text and "written by orintui (random weights" in text


def test_fetch_downloads_and_checks_the_sha256(hub, tmp_path):
    start, served = hub
    endpoint = start()
    dest = tmp_path / "models"
    r = run_cli("models", "fetch", FILE, "--dest", str(dest), env={"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1"})
    assert r.returncode == 0, r.stderr
    got = dest / FILE
    assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(served.read_bytes()).hexdigest()
    assert f"{got}  ({served.stat().st_size} bytes, SHA-256 checked)" in r.stdout


def test_a_download_that_does_not_verify_is_removed(hub, tmp_path, cli):
    start, _ = hub
    endpoint = start("--corrupt")
    dest = tmp_path / "models"
    r = cli("models", "fetch", FILE, "--dest", str(dest), env={"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1"})
    assert r.returncode == 1
    assert "does not match" in r.stderr and "the file was removed" in r.stderr and "Traceback" not in r.stderr
    assert not (dest / FILE).exists()


def test_fetch_errors_are_one_line(hub, tmp_path, cli):
    start, _ = hub
    env = {"HF_ENDPOINT": start(), "HF_HUB_DISABLE_XET": "1"}
    r = cli("models", "fetch", "nope.gguf", "--dest", str(tmp_path), env=env)
    assert r.returncode == 2 and "not in orintui's list" in r.stderr
    # a real process: a failure outside orintui (exit 1) as a shell sees it; here the hub's 404, which
    # reaches orintui as huggingface_hub's exception: no traceback, no library log on the terminal
    r = run_cli("models", "fetch", "missing.gguf", "--repo", REPO, "--dest", str(tmp_path), env=env)
    assert r.returncode == 1 and r.stderr.count("\n") <= 2 and "missing.gguf" in r.stderr and "Traceback" not in r.stderr
    r = cli("models", "fetch", "../escape.gguf", "--repo", REPO, "--dest", str(tmp_path), env=env)
    assert r.returncode == 1 and "not a plain .gguf file name" in r.stderr
    assert not (tmp_path.parent / "escape.gguf").exists()
    r = cli("models", "fetch")
    assert r.returncode == 2 and "needs at least one FILE" in r.stderr


def test_fetch_without_dest_reads_the_scenarios_once_for_all_files(hub, tmp_path, monkeypatch, cli):
    """Each file goes where the scenarios look for it ({home}/models here); finding that reads every
    scenario, which is done once for the whole fetch, not once per file."""
    import orintui.config.scenarios

    start, served = hub
    second = "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    modelgen.write_model(served.with_name(second), modelgen.SHAPES["tiny"])
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("HF_ENDPOINT", start())
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    reads = []
    real = orintui.config.scenarios.list_scenarios
    monkeypatch.setattr(orintui.config.scenarios, "list_scenarios", lambda *a, **k: reads.append(1) or real(*a, **k))
    r = cli("models", "fetch", FILE, second)
    assert r.returncode == 0, r.stderr
    for name in (FILE, second):
        got = tmp_path / "user" / "models" / name
        assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(served.with_name(name).read_bytes()).hexdigest()
    assert len(reads) == 1
