"""What the app costs, measured on a real terminal (tmux):

1. CPU used by the app (percent of one core) while replaying at 1x a session with a 100 tokens/s
   stream and 2 telemetry samples/s, over 30 s.
2. Time from `orintui replay` of a session with 200,000 token events and 20,000 telemetry samples
   to the first full frame, and the process's peak memory (VmHWM) by then.

    python benchmarks/replay_cost.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from common import synthetic_session

from orintui.session import save_session


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def launch(name: str, session_path: Path, home: str) -> int:
    cmd = (f"ORINTUI_HOME={shlex.quote(home)} TERM=xterm-256color exec {shlex.quote(sys.executable)} "
           f"-m orintui replay {shlex.quote(str(session_path))}")
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", cmd)
    return int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())


def full_frame(name: str) -> bool:
    screen = tmux("capture-pane", "-p", "-t", name)
    return "REPLAY" in screen and "Pause" in screen and "Backend" in screen


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        # 1. CPU at 1x: 100 tok/s for 60 s, telemetry at 2 Hz
        steady = Path(tmp) / "steady.json"
        save_session(synthetic_session(tokens=6000, tok_s=100.0, samples=120, sample_hz=2.0), steady)
        name = f"orintui-bench-{os.getpid()}"
        pid = launch(name, steady, home)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and not full_frame(name):
                time.sleep(0.1)
            time.sleep(2.0)
            proc = psutil.Process(pid)
            proc.cpu_percent(None)
            t0 = proc.cpu_times()
            time.sleep(args.seconds)
            t1 = proc.cpu_times()
            used = (t1.user - t0.user) + (t1.system - t0.system)
            print(f"replay at 1x, 100 tok/s + 2 samples/s, {args.seconds:.0f} s under tmux 120x40: "
                  f"{100 * used / args.seconds:.1f}% of one core ({used:.2f} s CPU)")
        finally:
            tmux("kill-session", "-t", name)

        # 2. a big session: first full frame and peak memory
        big = Path(tmp) / "big.json"
        start = time.perf_counter()
        save_session(synthetic_session(tokens=200_000, tok_s=100.0, samples=20_000, sample_hz=10.0, runs=4), big)
        print(f"wrote a session of 200,000 token + 20,000 telemetry events: {big.stat().st_size / 2**20:.1f} MiB "
              f"in {time.perf_counter() - start:.1f} s")
        name = f"orintui-bench-big-{os.getpid()}"
        start = time.perf_counter()
        pid = launch(name, big, home)
        try:
            while time.perf_counter() - start < 120 and not full_frame(name):
                time.sleep(0.02)
            first_frame = time.perf_counter() - start
            print(f"replay of it: first full frame after {first_frame:.2f} s; peak memory {vm_hwm_mb(pid):.0f} MiB")
        finally:
            tmux("kill-session", "-t", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
