"""``orintui import``: logs people already have (tee'd backend output) into a session.

There are no arrival times in a log, so each line is stamped by its position: tokens get the
backend's own per-token ms where it prints one (their times are rebuilt from it), else none.
"""

from __future__ import annotations

import os
from pathlib import Path

from orintui.backends import get_adapter
from orintui.session import events as ev
from orintui.session.events import TOKEN, round6  # times rounded here: no recorder takes these events
from orintui.session.model import RunInfo
from orintui.session.recorder import new_session


class ImportError_(Exception):
    """A log that cannot be imported; str() is the one line to show."""


def import_logs(backend: str, logs: list[str], labels: list[str] | None = None) -> tuple:
    adapter = get_adapter(backend)
    runs, all_events = [], []
    t = 0.0
    for i, log in enumerate(logs):
        path = Path(log)
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise ImportError_(f"{log}: cannot read ({exc.strerror})") from None
        label = labels[i] if labels and i < len(labels) else path.stem
        parser = adapter.make_parser(None, timed=False) if backend == "llama-completion" else adapter.make_parser(None)
        run = RunInfo(index=i, label=label, backend=backend, argv=[])
        start = t
        out = [ev.run_started(round6(t), i, label, imported_from=str(path))]
        for event in parser.feed(text, t) + parser.finish(t):
            if event["kind"] == TOKEN and event.get("ms"):
                t += event["ms"] / 1000.0
            event = {**event, "t": round6(t), "run": i}
            out.append(event)
        out = _without_echo(out)
        if not parser.recognised:
            raise ImportError_(f"{log}: no {backend} output found in it (is it the right --backend?)")
        t += 0.001
        status, why = parser.verdict()  # a log is judged like a live run: ok only when all of it was understood
        out.append(ev.run_ended(round6(t), i, status, None, None, why))
        run.started_t = start
        runs.append(run)
        all_events.extend(out)
        t += 1.0
    session = new_session(host={"imported": True}, scenario={"name": f"import: {backend}", "imported": True},
                          runs=runs)
    for event in all_events:
        session.events.append(event)
        session.apply(event)
    return session, [os.fspath(p) for p in logs]


def _without_echo(events: list[ev.Event]) -> list[ev.Event]:
    """llama.cpp --log-jsonl echoes the prompt as generated pieces, which an import without the
    command line cannot tell from tokens: llama.cpp's own count (eval runs + 1) says how many of the
    pieces are tokens, and the ones before them are the echo."""
    generated = max((e.get("generated_tokens") or 0 for e in events if e["kind"] == ev.SUMMARY), default=0)
    tokens = [e for e in events if e["kind"] == TOKEN]
    extra = len(tokens) - generated if generated else 0
    if extra <= 0:
        return events
    echo = {id(e) for e in tokens[:extra]}
    kept = [e for e in events if id(e) not in echo]
    index = 0
    for i, e in enumerate(kept):
        if e["kind"] == TOKEN:
            kept[i] = {**e, "index": index, "ms": None if index == 0 else e.get("ms")}
            index += 1
    return kept
