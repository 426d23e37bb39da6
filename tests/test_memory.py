"""Bounded memory on long runs (issue 12): the journal is the record, so what a backend prints does not
pile up in orintui's memory. A real orintui (headless) runs a real backend on a PTY that floods its
log with non-token text, then streams tokens; orintui's RSS is sampled with psutil all along."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
from conftest import ROOT

from orintui.session import load_session

EMITTER = ROOT / "benchmarks" / "emitter.py"
FLOOD_LINES = 400_000  # kept in memory, as before, these took over 150 MB (about 400 bytes an event)
GROWTH_CAP_MB = 64  # generous: parser, journal buffers and allocator slack, never the output itself


def test_an_output_flood_does_not_grow_orintuis_memory(tmp_path):
    scenario = tmp_path / "flood.toml"
    argv = [sys.executable, str(EMITTER), "--flood-lines", str(FLOOD_LINES), "--benchmark", "50", "--rate", "500"]
    scenario.write_text('name = "flood"\n[[runs]]\nlabel = "flooding backend"\nbackend = "tinygrad-llm"\n'
                        f"argv = [{', '.join(repr(a).replace(chr(39), chr(34)) for a in argv)}]\n")
    out = tmp_path / "flood.json"
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(scenario), "--headless", "--telemetry", "none",
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    me = psutil.Process(proc.pid)
    journal = out.with_name(out.name + ".journal")
    baseline, peak = None, 0
    while proc.poll() is None:
        try:
            rss = me.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if baseline is None and journal.exists():
            baseline = rss  # the recorder is up: everything is imported, the run starts now
        peak = max(peak, rss)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    session = load_session(out)
    lines = sum(1 for e in session.events if e["kind"] == "output")
    assert lines >= FLOOD_LINES  # the whole flood is in the record (the journal, then the file)
    assert sum(1 for e in session.events if e["kind"] == "token") == 50
    assert baseline is not None
    growth_mb = (peak - baseline) / (1 << 20)
    print(f"orintui's RSS grew {growth_mb:.0f} MB over {lines} output lines (peak {peak / (1 << 20):.0f} MB)")
    assert growth_mb < GROWTH_CAP_MB, f"RSS grew {growth_mb:.0f} MB over {lines} output lines"
