"""Start-up: ``orintui --help`` (goal at most 0.3 s) and the menu's first full frame in a real
terminal (tmux, 120x40; goal at most 1.5 s) with COUNT sessions in the folder, each the median of
ROUNDS, beside a bare ``python -c pass`` for the interpreter's own share.

    python benchmarks/startup.py [--rounds 7] [--sessions 50]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHONPATH, RECORDED

SOCKET = f"orintui-startup-{os.getpid()}"  # a tmux server of its own


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def command_s(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=env)
    return time.perf_counter() - start


def menu_frame_s(env: dict[str, str], n: int) -> float:
    """From launching ``orintui`` to a screen holding the scenario list, its detail and the footer."""
    name = f"menu{n}"
    exports = " ".join(f"{k}={shlex.quote(env[k])}" for k in ("ORINTUI_HOME", "PYTHONPATH"))
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40",
         f"{exports} TERM=xterm-256color exec {shlex.quote(sys.executable)} -m orintui")
    try:
        while time.perf_counter() - start < 60:
            screen = tmux("capture-pane", "-p", "-t", name)
            if "Scenario" in screen and "serve-vllm" in screen and "q Quit" in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"no menu after 60 s:\n{screen}")
    finally:
        tmux("kill-session", "-t", name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--sessions", type=int, default=50)
    args = p.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("startup: tmux is needed for the menu's first frame")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ORINTUI_HOME": home, "PYTHONPATH": PYTHONPATH}
        # not the first start (that one opens the demo replay), and a folder of sessions to list
        subprocess.run([sys.executable, "-c", "from orintui.tui import themes; themes.save_settings(demo_seen=True)"],
                       check=True, env=env)
        folder = Path(subprocess.run([sys.executable, "-c", "from orintui.core import paths; print(paths.sessions_dir())"],
                                     check=True, env=env, capture_output=True, text=True).stdout.strip())
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.sessions):
            shutil.copy(RECORDED, folder / f"copy-{i}.json.gz")
        rows: dict[str, list[float]] = {"python -c pass": [], "orintui --help": [], "menu first frame": []}
        for n in range(args.rounds):  # interleaved: a busy moment of the machine hits all three
            rows["python -c pass"].append(command_s([sys.executable, "-c", "pass"], env))
            rows["orintui --help"].append(command_s([sys.executable, "-m", "orintui", "--help"], env))
            rows["menu first frame"].append(menu_frame_s(env, n))
        tmux("kill-server")
    print(f"start-up, median of {args.rounds} rounds ({args.sessions} sessions in the folder; tmux 120x40):")
    for name, values in rows.items():
        print(f"  {name:18} {statistics.median(values):6.3f} s   (min {min(values):.3f}, max {max(values):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
