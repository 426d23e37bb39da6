"""The app's CPU in minute 1 and in minute 9 of a long run: flat, or growing with the run?

A session of one run at 500 tok/s for 10 minutes (300,000 tokens, telemetry at 2 Hz) is replayed at
1x in the real app under tmux (120x40), starting at 60 s and at 540 s; the app's CPU is measured
over ``--seconds`` once its first full frame is up. With --before, the same with the live state and
the table and lane widgets as they were at that revision (the rest of the app as it is now: the
app's own fixes since then are not what is measured), in interleaved rounds.

    python benchmarks/app_flat_cost.py [--before GIT_REV (d109797: LiveState before the accumulators)] [--rounds 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_pct_over, synthetic_session

from orintui.session import save_session

ROOT = Path(__file__).resolve().parent.parent
POSITIONS = (60.0, 540.0)
BEFORE_FILES = ("orintui/reading/live_state.py", "orintui/tui/widgets/comparison.py", "orintui/tui/widgets/run_lane.py")
# revisions before the layer folders kept these modules flat in orintui/: their old files import them there
MOVED = {"live_state": "reading", "report": "reading", "metrics_live": "figures", "metrics": "figures",
         "sanitize": "core", "format": "core"}
OLD_IMPORT = re.compile(r"\borintui\.(" + "|".join(MOVED) + r")\b")


def before_source(rev: str, path: str) -> str:
    """``path`` as it was at ``rev`` (at its flat place before the layer folders), importing today's paths."""
    for where in (path, path.replace("orintui/reading/", "orintui/")):
        got = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{where}"], capture_output=True, text=True)
        if got.returncode == 0:
            return OLD_IMPORT.sub(lambda m: f"orintui.{MOVED[m.group(1)]}.{m.group(1)}", got.stdout)
    raise SystemExit(f"{path} is not in {rev}")


SOCKET = f"orintui-bench-{os.getpid()}"  # a tmux server of its own: another's kill-server cannot end a round


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def app_cpu(tree: str, session: Path, at: float, seconds: float, home: str) -> float:
    """% of one core the app used over ``seconds`` of a 1x replay from ``at``."""
    code = ("import sys\nfrom orintui.session import load_session\ntry:\n"
            "    from orintui.tui.app import make_app\nexcept ImportError:  # before the app factory\n"
            "    from orintui.tui.app import OrintuiApp as make_app\n"
            f"make_app(replay=load_session({str(session)!r}), at={at}).run()\n")
    cmd = (f"cd {shlex.quote(tree)} && ORINTUI_HOME={shlex.quote(home)} PYTHONPATH={shlex.quote(tree)} "
           f"TERM=xterm-256color exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}")
    name = f"orintui-flat-{os.getpid()}"
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", cmd)
    try:
        pid = int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())
        deadline = time.time() + 120
        while time.time() < deadline and "REPLAY" not in tmux("capture-pane", "-p", "-t", name):
            time.sleep(0.2)
        time.sleep(3.0)  # past the first frame's own work
        return cpu_pct_over(pid, seconds)
    finally:
        tmux("kill-session", "-t", name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", help="git revision to measure beside the working tree")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "long.json"
        save_session(synthetic_session(tokens=300_000, tok_s=500.0, samples=1200, sample_hz=2.0, runs=1), session)
        trees = {"after": str(ROOT)}
        if args.before:
            out = Path(tmp) / "before"
            shutil.copytree(ROOT / "orintui", out / "orintui")
            shutil.copytree(ROOT / "themes", out / "themes")  # the app's stylesheet
            for path in BEFORE_FILES:
                (out / path).write_text(before_source(args.before, path))
            trees = {"before": str(out), **trees}
        cpu: dict[tuple[str, float], list[float]] = {}
        for _ in range(args.rounds):
            for at in POSITIONS:
                for name, tree in trees.items():
                    cpu.setdefault((name, at), []).append(app_cpu(tree, session, at, args.seconds,
                                                                  os.path.join(tmp, "home")))
    print(f"app CPU (% of one core) in a 1x replay of a 500 tok/s run, {args.seconds:.0f} s, tmux 120x40, "
          f"median of {args.rounds} rounds")
    print(f"{'':>8}" + "".join(f"{f'at {at:.0f} s':>12}" for at in POSITIONS) + f"{'late/early':>12}")
    for name in trees:
        early, late = (statistics.median(cpu[(name, at)]) for at in POSITIONS)
        print(f"{name:>8}{early:>12.1f}{late:>12.1f}{late / early:>12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
