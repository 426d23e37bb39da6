"""What every backend adapter shares: the parser base class and the adapter record.

A parser is pure and stateful per run: text chunks with the time they were read go in, events
come out. It never touches a process, a clock or the UI.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from orintui.session import events as ev
from orintui.session.events import Event

MAX_LINE = 2000  # longer lines are kept truncated in output events (a backend may print 1 MB)
MAX_PENDING = 1 << 20
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
NUMBER = r"(nan|-?inf|[-+]?\d+(?:\.\d+)?)"


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def to_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


class Parser:
    """Splits the stream into lines (\\r\\n, \\n or a bare \\r, as progress bars print) and keeps
    every line as an ``output`` event. Subclasses override ``line`` and, where a backend streams
    text that is not line-based, ``text``."""

    backend = "generic"

    def __init__(self, **options: Any):
        self.options = options
        self._pending = ""
        self._pending_t = 0.0
        self._tail: deque[str] = deque(maxlen=3)
        self.token_count = 0
        self.recognised = False  # set once a line of this backend's own format is seen
        self.stop_requested = False  # the backend did what was asked and waits: end it as ok
        self._replies: list[str] = []

    # -- the interface the runner uses -------------------------------------------------------
    def feed(self, text: str, t: float) -> list[Event]:
        out: list[Event] = []
        self.text(text, t, out)
        return out

    def finish(self, t: float) -> list[Event]:
        out: list[Event] = []
        if self._pending:
            self._line(self._pending, t, out)
            self._pending = ""
        self.end(t, out)
        return out

    def input_request(self) -> str | None:
        """Text the backend waits for on its standard input (a prompt it printed), or None."""
        return self._replies.pop(0) if self._replies else None

    def reply(self, text: str) -> None:
        self._replies.append(text)

    def last_words(self) -> str:
        """The backend's last lines, for the error of a failed run."""
        words = [w for w in self._tail if w.strip()]
        return (": " + " | ".join(w.strip()[:200] for w in words)) if words else ""

    # -- for subclasses --------------------------------------------------------------------
    def text(self, text: str, t: float, out: list[Event]) -> None:
        self.split_lines(text, t, out)

    def line(self, line: str, t: float, out: list[Event]) -> None:
        """One complete line, ANSI escapes removed."""

    def end(self, t: float, out: list[Event]) -> None:
        """The stream is over."""

    def emit_token(self, out: list[Event], t: float, text: str, ms: float | None = None,
                   warmup: bool = False, **extra: Any) -> None:
        self.token_count += 1
        out.append(ev.token(t, text, ms, warmup, index=self.token_count - 1, **extra))

    # -- helpers -----------------------------------------------------------------------------
    def split_lines(self, text: str, t: float, out: list[Event]) -> None:
        if not self._pending:
            self._pending_t = t
        buf = self._pending + text
        parts = re.split(r"\r\n|\n|\r", buf)
        self._pending = parts.pop()
        for part in parts:
            self._line(part, t, out)
        if len(self._pending) > MAX_PENDING:
            self._line(self._pending, t, out)
            self._pending = ""

    def _line(self, raw: str, t: float, out: list[Event]) -> None:
        line = strip_ansi(raw)
        shown = line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}... ({len(line) - MAX_LINE} more characters)"
        out.append(ev.output(t, shown))
        if any(c.isalnum() for c in line):  # not a traceback's ^^^^ marker line
            self._tail.append(shown)
        self.line(line, t, out)


@dataclass(frozen=True)
class Adapter:
    """A backend as orintui knows it: how to recognise and parse its output."""

    name: str
    description: str
    parser: type[Parser]
    binary_hint: str  # what to install or build when the program is missing
    warmup_tokens: int = 0
    options_from_argv: Any = field(default=None, compare=False)

    def make_parser(self, argv: list[str] | None = None, **options: Any) -> Parser:
        if self.options_from_argv and argv:
            options = {**self.options_from_argv(argv), **options}
        options.setdefault("warmup_tokens", self.warmup_tokens)
        return self.parser(**options)


def common_prefix_len(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class CumulativeText:
    """Backends that reprint the whole text so far each step: what is new since last time.

    Decoding with replacement can turn an earlier '\\ufffd' into a real character once a
    multi-byte sequence completes, so the new part starts at the common prefix, not at the old
    length."""

    def __init__(self) -> None:
        self.previous = ""

    def new_part(self, current: str) -> str:
        start = common_prefix_len(self.previous, current)
        self.previous = current
        return current[start:]
