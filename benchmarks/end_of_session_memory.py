"""Peak memory at the end of a long headless session: the 500 tok/s reference emitter
(benchmarks/emitter.py) for N tokens under ``orintui run --headless --telemetry none``, its RSS sampled
all along. Prints per size: RSS when the recorder is up, the high-water mark while the backend runs,
the high-water mark at exit (the end of the session: figures, flags, report, the final save), and the
end's peak above the run's in bytes per token. ``--tree`` measures another checkout (before/after).

    python benchmarks/end_of_session_memory.py --tokens 100000 300000 [--rate 500] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EMITTER = ROOT / "benchmarks" / "emitter.py"
MB = 1 << 20


def high_water(pid: int) -> int | None:
    """The process's peak RSS so far (VmHWM, bytes): exact, however short the peak."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measure(tree: Path, tokens: int, rate: float, folder: Path) -> dict[str, float]:
    argv = [sys.executable, str(EMITTER), "--benchmark", str(tokens), "--rate", str(rate)]
    quoted = ", ".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv)
    scenario = folder / "long.toml"
    scenario.write_text(f'name = "long"\n[[runs]]\nlabel = "emitter {rate:g} tok/s"\nbackend = "tinygrad-llm"\n'
                        f"argv = [{quoted}]\n")
    out = folder / "long.json"
    # the quiet gate off: on a shared machine it waits before the run, which measures nothing here
    env = {**os.environ, "PYTHONPATH": str(tree), "ORINTUI_HOME": str(folder / "home"), "ORINTUI_GATE": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(scenario), "--headless", "--telemetry", "none",
                             "--out", str(out), "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=folder, env=env)
    me = psutil.Process(proc.pid)
    journal = out.with_name(out.name + ".journal")
    up = run_peak = end_peak = None
    backend_seen = False
    last_token_at = None
    while proc.poll() is None:
        hwm = high_water(proc.pid)
        try:
            children = me.children()
        except psutil.NoSuchProcess:
            break
        if up is None and journal.exists():
            up = me.memory_info().rss
        if children:  # the backend (or a version probe before it)
            backend_seen, last_token_at = True, None
            run_peak = hwm
        elif backend_seen and last_token_at is None:
            last_token_at = time.monotonic()
        if hwm is not None:
            end_peak = hwm
        time.sleep(0.02)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"orintui exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    assert up and run_peak and end_peak, "the process was not sampled"
    end_s = time.monotonic() - last_token_at if last_token_at else float("nan")
    return {"up": up / MB, "run": run_peak / MB, "end": end_peak / MB, "end_s": end_s,
            "per_token": (end_peak - run_peak) / tokens}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[100_000, 300_000])
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--tree", type=Path, default=ROOT, help="the orintui checkout to measure")
    args = p.parse_args()
    print(f"tree {args.tree}; emitter at {args.rate:g} tok/s; RSS in MB (high-water marks)")
    print(f"{'tokens':>8} {'at start':>9} {'run peak':>9} {'end peak':>9} {'end-run':>8} {'B/token end-run':>16} "
          f"{'B/token end-start':>18} {'end s':>6}")
    for n in args.tokens:
        with tempfile.TemporaryDirectory(prefix="orintui-eos-") as tmp:
            r = measure(args.tree.resolve(), n, args.rate, Path(tmp))
        print(f"{n:>8} {r['up']:>9.1f} {r['run']:>9.1f} {r['end']:>9.1f} {r['end'] - r['run']:>8.1f} "
              f"{r['per_token']:>16.1f} {(r['end'] - r['up']) * MB / n:>18.1f} {r['end_s']:>6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
