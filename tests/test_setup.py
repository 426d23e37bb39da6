"""`orintui setup` and scripts/setup: from a clean clone to a live llama.cpp run, and the CUDA
architecture read from the board rather than assumed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, llama_lost_its_tail

from orintui.commands.bootstrap import detect_cuda


def _tool(folder, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\n{body}\n")
    (folder / name).chmod(0o755)


def _board(tmp_path, compatible: bytes):
    root = tmp_path / "board"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/compatible").write_bytes(compatible)
    return root


@pytest.fixture
def toolkit(tmp_path, monkeypatch):
    """nvcc and nvidia-smi on PATH (no CUDA toolkit or GPU is needed to read what they answer)."""
    bin_dir = tmp_path / "toolkit"
    _tool(bin_dir, "nvcc", "echo 'Cuda compilation tools, release 12.6'")
    _tool(bin_dir, "nvidia-smi", "echo 9.0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_the_cuda_architecture_comes_from_the_board(tmp_path, toolkit):
    # the device-tree compatible strings of an AGX Orin dev kit and of a Thor, NUL-separated as the kernel writes them
    orin = detect_cuda(_board(tmp_path / "orin", b"nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0"))
    assert (orin.use, orin.arch) == (True, "87") and "device tree nvidia,tegra234" in orin.why
    thor = detect_cuda(_board(tmp_path / "thor", b"nvidia,p3971-0000\0nvidia,tegra264\0"))
    assert (thor.use, thor.arch) == (True, "110")


def test_a_discrete_gpu_is_asked_and_no_gpu_means_cpu(tmp_path, toolkit):
    machine = tmp_path / "x86"
    (machine / "dev").mkdir(parents=True)
    (machine / "dev/nvidiactl").write_text("")
    gpu = detect_cuda(machine)
    assert (gpu.use, gpu.arch) == (True, "90") and "nvidia-smi" in gpu.why
    none = detect_cuda(tmp_path / "empty")
    assert (none.use, none.arch) == (False, None) and "for CPU" in none.why


def test_setup_says_what_it_found_and_where(tmp_path, llama_bin):
    cache = llama_bin.parents[1]  # the cache the test script built llama.cpp into: setup finds it there
    env = {**os.environ, "ORINTUI_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-m", "orintui", "setup", "--no-run"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    found = {line.split("  ")[0]: line for line in r.stdout.splitlines()}
    assert str(llama_bin) in found["llama.cpp"] and "for CPU" in found["llama.cpp"], r.stdout
    assert os.environ["ORINTUI_HOME"] in found["sessions"]  # where this user's sessions go
    assert {"orintui", "clang (tinygrad's CPU backend)", "tinygrad", "models (random-weight demo models are written here)",
            "your scenarios"} <= set(found)


@pytest.mark.real
def test_scripts_setup_from_a_clean_clone_ends_with_a_live_llama_cpp_run(tmp_path, llama_bin):
    """The README's first command on a clone: a fresh virtual environment, orintui setup, then the demo,
    headless here (the app is the same run). llama.cpp comes from the build cache the test script filled."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "ORINTUI_CACHE": str(llama_bin.parents[1]), "ORINTUI_VENV": str(tmp_path / "venv"),
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if str(llama_bin) not in p)}
    env.pop("PYTHONPATH", None)  # the clone's own orintui, installed by the script
    r = subprocess.run([str(clone / "scripts/setup"), "--headless", "--set", "tokens=16"], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=1500)
    from orintui.reading.catalog import list_sessions
    from orintui.session import load_session

    attempts = 1
    while r.returncode != 0 and attempts < 3 and (saved := list_sessions(include_demo=False)) and \
            llama_lost_its_tail(load_session(saved[0].path)):  # llama.cpp's own lost tail: run the demo again
        r = subprocess.run([str(tmp_path / "venv/bin/orintui"), "run", "demo", "--headless", "--set", "tokens=16"],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        attempts += 1
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "starting the demo headless" in r.stdout or attempts > 1
    session = load_session(list_sessions(include_demo=False)[0].path)
    llama = next(run for run in session.runs if run.label == "llama.cpp CPU")
    assert llama.status == "ok"  # found in orintui's build cache: llama.cpp is not on this PATH
    from orintui.figures.metrics import run_metrics

    m = run_metrics(session, llama)
    events = sum(1 for e in session.events if e["kind"] == "token" and e["run"] == llama.index)
    assert m.tokens == 16  # llama.cpp's own count; a read that carried two tokens is one event, and flagged
    assert events == 16 or (events < 16 and "merged-reads" in {f.code for f in m.flags}), (events, m.flags)
