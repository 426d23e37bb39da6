"""What produced the numbers: the backend's version, asked the way the run itself will run it.

llama.cpp: ``BINARY --version`` prints ``version: 0.5.0-dev (build 0, commit unknown)`` (on the
terminal's stderr). tinygrad: the interpreter of the run imports it with the run's env and cwd (a
checkout on PYTHONPATH shadows the wheel), and a checkout's commit comes from git. llama-bench
needs no probe: every result row carries ``build_commit`` and ``build_number``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from orintui.core.paths import resolve_binary

PROBE_TIMEOUT_S = 10.0
LLAMA_VERSION = re.compile(r"version: (\S+) \(build (\d+), commit (\S+)\)")
# the version of the tinygrad this interpreter imports: a checkout on PYTHONPATH is told by its git
# folder (an installed wheel's metadata would name another version)
TINYGRAD_PROBE = ("import os, tinygrad\n"
                  "root = os.path.dirname(os.path.dirname(os.path.abspath(tinygrad.__file__)))\n"
                  "v = getattr(tinygrad, '__version__', '')\n"
                  "if not v and not os.path.exists(os.path.join(root, '.git')):\n"
                  "    from importlib.metadata import version\n"
                  "    try: v = version('tinygrad')\n"
                  "    except Exception: v = ''\n"
                  "print(v or 'checkout')\n"
                  "print(root)")


def _run(argv: list[str], env: dict[str, str], cwd: str | None) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=PROBE_TIMEOUT_S,
                              env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return (proc.stdout or "") + (proc.stderr or "")


def llama_cpp(binary: str, env: dict[str, str], cwd: str | None) -> dict[str, str]:
    text = _run([binary, "--version"], env, cwd) or ""
    m = LLAMA_VERSION.search(text)
    if not m:
        return {}
    return {"llama_cpp_version": m.group(1), "llama_cpp_build": m.group(2), "llama_cpp_commit": m.group(3)}


def tinygrad(python: str, env: dict[str, str], cwd: str | None) -> dict[str, str]:
    text = _run([python, "-c", TINYGRAD_PROBE], env, cwd)
    lines = (text or "").strip().splitlines()
    if len(lines) < 2 or not Path(lines[-1]).is_dir():
        return {}
    version, root = lines[-2].strip(), lines[-1].strip()
    out = {"tinygrad_version": version}
    if os.path.exists(os.path.join(root, ".git")):
        commit = _run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], dict(os.environ), None)
        if commit and re.fullmatch(r"[0-9a-f]{7,40}\s*", commit):
            out["tinygrad_commit"] = commit.strip()
            out["tinygrad_checkout"] = root
        tag = _run(["git", "-C", root, "describe", "--tags", "--always"], dict(os.environ), None)
        if tag and version == "checkout":
            out["tinygrad_version"] = tag.strip().splitlines()[-1]
    return out


def probe(backend: str, argv: list[str], env: dict[str, str], cwd: str | None) -> dict[str, str]:
    """Versions for one run, {} when they cannot be told (never an error: the run decides that)."""
    full_env = {**os.environ, **env}
    binary = resolve_binary(argv[0], full_env, cwd) if argv else None
    if binary is None:
        return {}
    if backend in ("llama-completion", "llama-cli"):
        return llama_cpp(binary, full_env, cwd)
    if backend.startswith("tinygrad"):
        return tinygrad(binary, full_env, cwd)
    return {}
