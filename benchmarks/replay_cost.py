"""What the app costs, measured on a real terminal (tmux):

1. CPU used by the app (percent of one core) while replaying at 1x a session with a 100 tokens/s
   stream and 2 telemetry samples/s, over 30 s.
2. Time from `orintui replay` of a session with 200,000 token events and 20,000 telemetry samples
   to the first full frame, and to the replay playing (its events loaded: the position bar no longer
   says "loading"; the same moment where the events load before the first frame), and the process's
   peak memory (VmHWM) by then and once the seek keyframes are built (--before DIR measures another
   source tree beside this one, interleaved).
3. Seeking in that session: in the app (tmux), from the key to the frame at the target; in process,
   fold from t=0 against keyframe + short fold.

    python benchmarks/replay_cost.py [--seconds 30] [--rounds 3] [--before DIR] [--skip-cpu]
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from common import ROOT, synthetic_session

from orintui.session import save_session

SOCKET = f"orintui-replay-cost-{os.getpid()}"  # a tmux server of its own: another one's kill-server leaves it be


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def launch(name: str, session_path: Path, home: str, tree: Path = ROOT) -> int:
    # started in the data folder, with the tree on the path: `python -m` puts its working directory first
    path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))  # then the caller's (carried wheels)
    cmd = (f"ORINTUI_HOME={shlex.quote(home)} PYTHONPATH={shlex.quote(path)} TERM=xterm-256color "
           f"exec {shlex.quote(sys.executable)} -m orintui replay {shlex.quote(str(session_path))}")
    os.makedirs(home, exist_ok=True)
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", home, cmd)
    for _ in range(400):  # a busy tmux server (or machine) may answer before the pane is there
        pid = tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
        if pid.isdigit():
            return int(pid)
        time.sleep(0.05)
    raise RuntimeError(f"tmux did not start {name}")


def full_frame(name: str) -> bool:
    screen = tmux("capture-pane", "-p", "-t", name)
    return "REPLAY" in screen and "Pause" in screen and "Backend" in screen


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mib_mb(mib: float) -> str:
    """MiB beside decimal MB: issue 13's goal (300 MB) is in MB, /proc says kB (KiB)."""
    return f"{mib:.0f} MiB = {mib * 2**20 / 1e6:.0f} MB"


def cpu_at_1x(tmp: str, home: str, seconds: float) -> None:
    """1. CPU at 1x: 100 tok/s for 60 s, telemetry at 2 Hz (benchmarks/app_cpu.py sets it against Textual's floor)."""
    steady = Path(tmp) / "steady.json"
    save_session(synthetic_session(tokens=6000, tok_s=100.0, samples=120, sample_hz=2.0), steady)
    name = f"orintui-bench-{os.getpid()}"
    pid = launch(name, steady, home)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not full_frame(name):
            time.sleep(0.1)
        time.sleep(2.0)
        t0 = cpu_s(pid)
        time.sleep(seconds)
        used = cpu_s(pid) - t0
        print(f"replay at 1x, 100 tok/s + 2 samples/s, {seconds:.0f} s under tmux 120x40: "
              f"{100 * used / seconds:.1f}% of one core ({used:.2f} s CPU)")
    finally:
        tmux("kill-session", "-t", name)


def big_session(tmp: str) -> Path:
    big = Path(tmp) / "big.json"
    start = time.perf_counter()
    save_session(synthetic_session(tokens=200_000, tok_s=100.0, samples=20_000, sample_hz=10.0, runs=4), big)
    print(f"wrote a session of 200,000 token + 20,000 telemetry events: {big.stat().st_size / 2**20:.1f} MiB "
          f"in {time.perf_counter() - start:.1f} s")
    return big


class Start(NamedTuple):
    frame_s: float  # wall seconds to the first full frame
    playing_s: float  # to the replay playing (its events in)
    frame_cpu: float  # the process's CPU seconds by the first frame
    playing_cpu: float  # by the replay playing: on a busy machine, steadier than wall time
    frame_mib: float  # peak memory by the first frame
    settled_mib: float  # peak memory once the keyframes are built
    seek_s: float  # median seconds from a seek's key to the frame at its target (the title's t= changed)


def cpu_s(pid: int) -> float:
    """The process's user + system CPU seconds (/proc: no psutil needed on a bare benchmark box)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def first_frame(big: Path, home: str, tree: Path, settle_s: float) -> Start:
    """2. The big session's replay: seconds and CPU seconds to the first full frame and to its playing
    (events loaded), peak memory at the first frame, and ``settle_s`` after it plays (once the
    replay's seek keyframes are built)."""
    name = f"orintui-bench-big-{os.getpid()}"
    start = time.perf_counter()
    pid = launch(name, big, home, tree)
    try:
        while time.perf_counter() - start < 120 and not full_frame(name):
            time.sleep(0.02)
        seconds, frame_cpu, at_frame = time.perf_counter() - start, cpu_s(pid), vm_hwm_mib(pid)
        while time.perf_counter() - start < 120 and not re.search(r"x (playing|paused|end) ", tmux("capture-pane", "-p",
                                                                                                "-t", name)):
            time.sleep(0.02)  # the position bar says "loading" while the events load
        playing, playing_cpu = time.perf_counter() - start, cpu_s(pid)
        time.sleep(settle_s)
        settled = vm_hwm_mib(pid)
        return Start(seconds, playing, frame_cpu, playing_cpu, at_frame, settled, statistics.median(seeks_in_app(name)))
    finally:
        tmux("kill-session", "-t", name)


def title_t(name: str) -> str | None:
    found = re.search(r"t=\s*(\d+)s", tmux("capture-pane", "-p", "-t", name).split("\n", 1)[0])
    return found.group(1) if found else None


def seeks_in_app(name: str, seeks: int = 10) -> list[float]:
    """3. Seeks in the app, paused (only a seek changes the frame): End, then back 10 s at a time;
    each timed from its key to the frame that shows the state at the target (the title's t=)."""
    tmux("send-keys", "-t", name, "space")
    while not re.search(r"x paused ", tmux("capture-pane", "-p", "-t", name)):
        time.sleep(0.02)
    out = []
    for key in ["End"] + ["Left"] * seeks:
        before = title_t(name)
        start = time.perf_counter()
        tmux("send-keys", "-t", name, key)
        while title_t(name) == before and time.perf_counter() - start < 10:
            time.sleep(0.005)
        out.append(time.perf_counter() - start)
    return out


def median_of(rounds: list[Start], field: str) -> str:
    values = sorted(getattr(r, field) for r in rounds)
    return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"


def seek_cost(big: Path, targets: int = 20) -> None:
    """3. Seeking in the big session, in process: the state at random points, with the figures the
    table shows (an ended run's are the batch computation over its record), three ways: folded from
    t=0; a copy of the nearest keyframe plus a short fold, its figures computed (the seek at this
    work's start); and the same with the figures kept from the build or an earlier seek (now)."""
    import random

    from orintui.reading.live_state import LiveState
    from orintui.session import load_session
    from orintui.session.replay import ReplayClock
    from orintui.tui.keyframes import Keyframes

    session = load_session(big)
    clock = ReplayClock(session)
    points = random.Random(1).sample(range(len(clock.events)), targets)
    start = time.perf_counter()
    keyframes = Keyframes(session, clock.events)
    keyframes.build()
    built = time.perf_counter() - start
    ways: dict[str, list[float]] = {"fold from t=0": [], "keyframe + fold, figures computed": [],
                                    "keyframe + fold, figures kept (now)": []}
    for index in points:  # interleaved
        start = time.perf_counter()
        state = LiveState(session)
        for event in clock.events[:index]:
            state.apply(event)
        state.metrics()
        ways["fold from t=0"].append(time.perf_counter() - start)
        start = time.perf_counter()
        state = keyframes.state_at(index)
        assert state is not None
        state.metrics()
        ways["keyframe + fold, figures computed"].append(time.perf_counter() - start)
        start = time.perf_counter()
        state = keyframes.state_at(index)
        assert state is not None
        keyframes.figured(state).metrics()
        ways["keyframe + fold, figures kept (now)"].append(time.perf_counter() - start)
    print(f"seek to {targets} random points of {len(clock.events):,} events, with the table's figures: keyframes "
          f"built once in {built:.2f} s ({len(keyframes.frames)} frames, one every {keyframes.every:,} events)")
    now = statistics.median(ways["keyframe + fold, figures kept (now)"])
    for label, values in ways.items():
        print(f"  {label:36} median {statistics.median(values):.3f} s, max {max(values):.3f} s, "
              f"{statistics.median(values) / now:.1f}x now")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the big session's first frame")
    p.add_argument("--before", type=Path, help="another source tree whose first frame to measure beside this one")
    p.add_argument("--skip-cpu", action="store_true", help="only the big session (first frame, memory, seek)")
    p.add_argument("--load-only", action="store_true", help="only save and load the 200,000-token session, no app")
    args = p.parse_args()
    if args.load_only:
        return load_and_save(args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        if not args.skip_cpu:
            cpu_at_1x(tmp, home, args.seconds)
        big = big_session(tmp)
        trees = [("now", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
        for _label, tree in trees:  # bytecode cached, as pip leaves an installed orintui (PYTHONDONTWRITEBYTECODE
            compileall.compile_dir(tree / "orintui", quiet=1)  # would have every start compile its sources again)
        figures: dict[str, list[Start]] = {label: [] for label, _ in trees}
        for _ in range(args.rounds):
            for label, tree in trees:
                figures[label].append(first_frame(big, home, tree, settle_s=8.0))
        for label, rounds in figures.items():
            print(f"replay of it ({label}), medians of {len(rounds)}: first full frame after "
                  f"{median_of(rounds, 'frame_s')} s ({median_of(rounds, 'frame_cpu')} s CPU), playing after "
                  f"{median_of(rounds, 'playing_s')} s ({median_of(rounds, 'playing_cpu')} s CPU); peak memory "
                  f"{mib_mb(max(r.frame_mib for r in rounds))} at the first frame, "
                  f"{mib_mb(max(r.settled_mib for r in rounds))} 8 s after it plays (the most of its rounds); a seek "
                  f"in the app, key to frame: {median_of(rounds, 'seek_s')} s (each round's median of 11)")
        if args.before:
            for field in (*Start._fields[:4], "seek_s"):
                ratio = (statistics.median(getattr(r, field) for r in figures["before"])
                         / statistics.median(getattr(r, field) for r in figures["now"]))
                print(f"  {field}: before / now, ratio of medians {ratio:.2f}x")
        seek_cost(big)
    tmux("kill-server")
    return 0


def load_and_save(rounds: int) -> int:
    """The document alone: save and load of the 200,000-token session (medians of ``rounds``)."""
    from orintui.session import load_session

    session = synthetic_session(tokens=200_000, tok_s=100.0, samples=20_000, sample_hz=10.0, runs=4)
    saves, loads = [], []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.json"
        for _ in range(rounds):
            start = time.perf_counter()
            save_session(session, big)
            saves.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_session(big)
            loads.append(time.perf_counter() - start)
        size = big.stat().st_size / 2**20
    print(f"200,000 token + 20,000 telemetry events ({size:.1f} MiB): save {statistics.median(saves):.3f} s, "
          f"load {statistics.median(loads):.3f} s (medians of {rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
