"""The app's CPU against Textual's floor, on a real terminal (tmux, 120x40):

- orintui replaying at 1x a session streaming 100 tokens/s with 2 telemetry samples/s;
- the floor: a minimal Textual app fed the same events at the same rate, showing a count in one label
  at the same 10 Hz (what any Textual app doing this work costs);
- optionally the same replay from another source tree (--before DIR, e.g. an exported older commit).

Rounds are interleaved (A, floor, B, A, floor, B, ...) and the medians printed with their ratio to the
floor, since this machine is shared and noisy.

    python benchmarks/app_cpu.py [--seconds 30] [--rounds 3] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, cpu_pct_over, synthetic_session

from orintui.session import save_session

SOCKET = f"orintui-bench-{os.getpid()}"  # a tmux server of its own: another's kill-server cannot end a round


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def launch(name: str, command: str, tree: Path, home: str) -> int:
    env = f"ORINTUI_HOME={shlex.quote(home)} PYTHONPATH={shlex.quote(str(tree))} TERM=xterm-256color"
    # started in the data folder: `python -m` puts its working directory first on the path
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", home, f"{env} exec {command}")
    return int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())


def measure(name: str, command: str, tree: Path, home: str, ready: str, seconds: float) -> float:
    """Percent of one core the program uses over ``seconds``, once ``ready`` is on its screen."""
    pid = launch(name, command, tree, home)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and ready not in tmux("capture-pane", "-p", "-t", name):
            time.sleep(0.1)
        time.sleep(2.0)  # past the first frames
        return cpu_pct_over(pid, seconds)
    finally:
        tmux("kill-session", "-t", name)


def floor_app(path: str) -> None:
    """The floor: the session's events replayed at 1x into a count in one label, 10 times a second."""
    from textual.app import App
    from textual.widgets import Label

    from orintui.session import load_session

    events = sorted(load_session(path).events, key=lambda e: e["t"])

    class Floor(App):
        def compose(self):
            yield Label("floor 0", id="count")

        def on_mount(self) -> None:
            self.start, self.index = time.monotonic(), 0
            self.set_interval(0.1, self.tick)

        def tick(self) -> None:
            now = time.monotonic() - self.start
            while self.index < len(events) and events[self.index]["t"] <= now:
                self.index += 1
            self.query_one(Label).update(f"floor {self.index}")

    Floor().run()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", type=Path, help="another source tree to measure beside this one")
    p.add_argument("--floor", help=argparse.SUPPRESS)  # run the floor app on this session (in tmux)
    args = p.parse_args()
    if args.floor:
        floor_app(args.floor)
        return 0
    py = shlex.quote(sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        steady = Path(tmp) / "steady.json"
        # 100 tok/s for 120 s, telemetry at 2 Hz: longer than any measurement, so it never ends
        save_session(synthetic_session(tokens=12000, tok_s=100.0, samples=240, sample_hz=2.0), steady)
        replay = f"{py} -m orintui replay {shlex.quote(str(steady))}"
        floor = f"{py} {shlex.quote(str(Path(__file__).resolve()))} --floor {shlex.quote(str(steady))}"
        kinds = [("orintui", replay, ROOT, "REPLAY"), ("floor", floor, ROOT, "floor")]
        if args.before:
            kinds.append(("before", replay, args.before.resolve(), "REPLAY"))
        figures: dict[str, list[float]] = {k[0]: [] for k in kinds}
        for r in range(args.rounds):
            for label, command, tree, ready in kinds:
                cpu = measure(f"orintui-cpu-{os.getpid()}-{label}", command, tree, home, ready, args.seconds)
                figures[label].append(cpu)
                print(f"round {r + 1} {label:8} {cpu:5.2f} % of one core", flush=True)
        base = statistics.median(figures["floor"])
        print(f"\nmedians over {args.rounds} rounds of {args.seconds:.0f} s, 1x replay of 100 tok/s + 2 samples/s, tmux 120x40:")
        for label, values in figures.items():
            med = statistics.median(values)
            # the machine's load drifts between rounds: each round's own ratio to the floor beside it says more
            per_round = statistics.median(v / f for v, f in zip(values, figures["floor"]))
            print(f"  {label:8} {med:5.2f} % of one core  ({med / base:.2f}x the floor; median of the rounds' "
                  f"ratios {per_round:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
