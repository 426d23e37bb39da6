"""What every backend adapter shares: the parser base class and the adapter record.

A parser is pure and stateful per run: text chunks with the time they were read go in, events
come out. It never touches a process, a clock or the UI. Its events carry the read's time as it was
given and ``run`` None: the recorder rounds the time and sets the run when it takes them, on its own
thread, so the reader thread that stamps the reads does neither.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orintui.core.sanitize import clean_text
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.events import Event
from orintui.session.schema import MAX_INT

OUTPUT, TOKEN = ev.OUTPUT, ev.TOKEN

MAX_LINE = 2000  # longer lines are kept truncated in output events (a backend may print 1 MB)
MAX_PENDING = 1 << 20
DEPRECATED = re.compile(r"AssertionError: (\w+)=1 is deprecated, use DEV=(\w+) instead")
# a figure: digits first (nearly every figure), and the optional fraction as a branch, not a repeat,
# which sre runs faster (a third of a token line's match); the same strings match with the same groups,
# as no two of the alternatives can match at one position
NUMBER = r"([-+]?\d+(?:\.\d+|)|nan|-?inf)"


# every character clean_text would remove or that starts a sequence it removes: text without one
# is returned as it is, and this search (in C) is the common case on every line
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
_BREAK = re.compile(r"\r\n|\n|\r")
_ALNUM = re.compile(r"[^\W_]")  # a letter or a digit (str.isalnum's characters)


def strip_ansi(text: str) -> str:
    """Backend text without escape sequences or control characters (the one sanitiser; CR kept,
    since lines are split on it). Text with none (``is_clean``) is returned as it is."""
    return text if is_clean(text) else clean_text(text)


def is_clean(text: str) -> bool:
    """Whether strip_ansi returns the text as it is: whether it has no character the sanitiser
    removes or that starts a sequence it removes. A verdict per character, so the parts of a text
    can be checked apart (only the text as a whole is ever cleaned). Found out in C: for ASCII text
    (nearly every line) by ``isprintable`` when short and by a byte table when long (the table costs
    half as much per character but two copies to set up), which keeps tinygrad.llm's 14,000-character
    lines cheap. Tab and CR are not printable: such text takes the table."""
    if text.isascii():
        if len(text) < 160 and text.isprintable():
            return True
        raw = text.encode("ascii")
        return len(raw.translate(None, _CONTROL_BYTES)) == len(raw)
    return _NEEDS_CLEANING.search(text) is None


# a long line that repeats, from this column on, the whole of the last long line found clean, as
# tinygrad.llm's lines do (the timings, then the whole text so far): only the columns before and
# the new end are checked. Below LONG_LINE characters the sanitiser's own check costs less.
REPEAT_FROM = 96
LONG_LINE = 1024


_UNESCAPED_SPACE = re.compile(r"(?<!\\)((?:\\\\)*)\\s")  # a \s whose backslash is not itself escaped


def ascii_twin(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same pattern for ASCII text, where it matches the same: re.ASCII's \\d, \\w and \\s test a
    character inline where Unicode's call a function for each (a third of a token line's cost), and
    on ASCII characters they agree, but for \\s, which Unicode also gives to \\x1c-\\x1f: added back.
    Use it as ``(twin if text.isascii() else pattern)`` (isascii is a flag, not a scan)."""
    if re.search(r"\[[^\]]*\\s", pattern.pattern):
        raise ValueError(f"\\s inside a character class: {pattern.pattern!r}")
    source = _UNESCAPED_SPACE.sub(lambda m: m.group(1) + r"[\s\x1c-\x1f]", pattern.pattern)
    return re.compile(source, (pattern.flags & ~re.UNICODE) | re.ASCII)


def to_int(text: str) -> int | None:
    """A count as a session holds it (within int64), or None: digits a backend printed beyond that are no
    count it has, and int() refuses a text of over 4,300 digits (ValueError in the reader thread), as it
    does no digits at all (tinygrad.llm's model line's [\\d,]+ matches a lone comma)."""
    if len(text) > 20:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if -MAX_INT < value < MAX_INT else None


def to_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0.0 else None  # NaN and infinities give NaN here: refused


class Parser:
    """Splits the stream into lines (\\r\\n, \\n or a bare \\r, as progress bars print) and keeps
    every line as an ``output`` event. Subclasses override ``line`` and, where a backend streams
    text that is not line-based, ``text``."""

    backend = "generic"

    def __init__(self, **options: Any):
        self.options = options
        self._pending = ""
        self._tail: deque[str] = deque(maxlen=3)  # the last lines with a letter or digit, for last_words
        self._recent: list[str] = []  # lines not yet sorted into the tail: judged in batches, from the end
        self.token_count = 0
        self._counted = 0  # lines no longer in _recent (lines_seen)
        self.recognised = False  # set once a line of this backend's own format is seen
        self.stop_requested = False  # the backend did what was asked and waits: end it as ok
        self.expected_tokens: int | None = options.get("expected_tokens")  # what argv asked for
        self._replies: list[str] = []
        self._clean_tail = ""  # the last long line found clean, from REPEAT_FROM on

    # -- the interface the runner uses -------------------------------------------------------
    def feed(self, text: str, t: float) -> list[Event]:
        out: list[Event] = []
        # one whole line and nothing pending, as most reads bring: split_lines' own shortcut, without its
        # call, for the parsers that read lines (``text`` not overridden); the line is cut once, without
        # its LF or CR LF (a 14,000-character line copied once, not twice)
        if self._by_lines and not self._pending and text[-1:] == "\n":
            line = text[:-2] if text[-2:-1] == "\r" else text[:-1]  # a PTY ends its lines with CR LF
            if "\n" not in line and "\r" not in line:
                self._whole_line(line, t, out)
                return out
        self.text(text, t, out)
        return out

    # whether a read that is one whole line, with nothing pending, is just that line (``_line``): true
    # where ``text`` is split_lines, or where a subclass says so in its own body, or (an instance's own
    # attribute) while the parser's state makes it so
    _by_lines = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_by_lines" not in cls.__dict__:
            cls._by_lines = cls.text is Parser.split_lines

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

    def verdict(self) -> tuple[str, str | None]:
        """The status of a run whose program ended by itself (exit 0) or was ended because it did
        what was asked: ``ok`` only when the adapter understood all of it."""
        if not self.has_figures():
            if not self.lines_seen:
                return st.UNRECOGNISED, f"{self.backend}: the program printed nothing"
            what = "no figure" if self.recognised else "nothing of this adapter's format"
            return st.UNRECOGNISED, f"{self.backend}: {what} in {self.lines_seen} output lines{self.last_words()}"
        missing = self.incomplete()
        return (st.PARTIAL, missing) if missing else (st.OK, None)

    def has_figures(self) -> bool:
        """Whether the run produced any figure of this adapter's format."""
        return self.token_count > 0

    def incomplete(self) -> str | None:
        """Why a run with figures is not complete, or None. Subclasses add their end-of-run markers."""
        if self.expected_tokens and self.token_count < self.expected_tokens:
            return f"{self.token_count} of {self.expected_tokens} tokens"
        return None

    hint: str | None = None  # what to do about a failure the adapter recognised (a refused flag)

    def last_words(self) -> str:
        """The backend's last lines, for the error of a failed run, and the adapter's hint."""
        # copies, not the reader's lists sorted in place: another thread may ask while lines still come
        tail, recent = list(self._tail), list(self._recent)
        words = [w for w in [*tail, *(line for line in recent if _ALNUM.search(line))][-3:] if w.strip()]
        said = (": " + " | ".join(w.strip()[:200] for w in words)) if words else ""
        return f"{said} ({self.hint})" if self.hint else said

    # -- for subclasses --------------------------------------------------------------------
    # text(text, t, out): a chunk as read; the default (``split_lines``, below) splits it into lines

    def line(self, line: str, t: float, out: list[Event]) -> None:
        """One complete line, ANSI escapes removed."""

    def end(self, t: float, out: list[Event]) -> None:
        """The stream is over."""

    def emit_token(self, out: list[Event], t: float, text: str, ms: float | None = None,
                   warmup: bool = False, **extra: Any) -> None:
        self.token_count += 1  # ev.token, inlined (the same keys in the same order): once per token
        out.append({"t": t, "kind": TOKEN, "run": None, "text": text,
                    "ms": ms, "warmup": warmup, "index": self.token_count - 1, **extra})

    # -- helpers -----------------------------------------------------------------------------
    def split_lines(self, text: str, t: float, out: list[Event]) -> None:
        if self._pending:
            text = self._pending + text
        if "\r" in text:
            parts = _BREAK.split(text)
        else:
            end = text.find("\n")
            if end == len(text) - 1 and end >= 0:  # one whole line, as most reads bring: no list built
                self._pending = ""
                self._line(text[:end], t, out)
                return
            parts = text.split("\n")
        self._pending = parts.pop()
        for part in parts:
            self._line(part, t, out)
        if len(self._pending) > MAX_PENDING:
            self._line(self._pending, t, out)
            self._pending = ""

    text = split_lines  # the default: a stream of lines (subclasses override ``text``, not this)

    def lines_until(self, text: str, t: float, out: list[Event], stop: Callable[[], bool]) -> str | None:
        """Complete lines of the buffered text, each through ``_line``, until ``stop()`` is true: the
        text after that line, or None when the complete lines ran out first (the rest waits). Lines
        are found by position, not by slicing off the rest each time (a whole log in one read)."""
        buf = self._pending + text
        self._pending = ""
        cr = "\r" in buf
        if not cr and buf.find("\n") == len(buf) - 1 and buf:  # one whole line, as most reads bring
            if stop():
                return buf
            self._line(buf[:-1], t, out)
            return "" if stop() else None
        pos = 0
        while not stop():
            if cr:
                m = _BREAK.search(buf, pos)
                if not m:
                    break
                start, end = m.span()
            else:
                start = buf.find("\n", pos)
                if start < 0:
                    break
                end = start + 1
            line, pos = buf[pos:start], end
            self._line(line, t, out)
        else:
            return buf[pos:]
        self._pending = buf[pos:]
        return None

    # one line as the parser sees it: strip_ansi (called as it is: one call a line, not two), unless
    # an adapter knows a cheaper way (llama-bench's JSON rows). Whatever it does, a line that is_clean
    # must come back as it is (the object itself): _line's shortcuts rest on it.
    clean = staticmethod(strip_ansi)

    def _clean_long(self, raw: str) -> str:
        """``clean`` for a long line, but a line that repeats the last long clean line from REPEAT_FROM
        on (one comparison, in C) has only its other characters checked, as one piece: tinygrad.llm's
        lines reprint the whole text so far, 14,000 characters on a long run, where a token adds a word."""
        tail = self._clean_tail
        if tail and raw.startswith(tail, REPEAT_FROM) and is_clean(raw[:REPEAT_FROM] + raw[REPEAT_FROM + len(tail):]):
            self._clean_tail = raw[REPEAT_FROM:]
            return raw
        line = self.clean(raw)
        if line is raw:
            self._clean_tail = raw[REPEAT_FROM:]
        return line

    def _line(self, raw: str, t: float, out: list[Event]) -> None:
        n = len(raw)
        # a short printable line (most lines) is clean as it is: found out in C, without a call
        if n < 160 and raw.isprintable():  # no control character at all (C0, DEL or C1): nothing to clean
            line = raw
        else:
            line = self.clean(raw) if n < LONG_LINE else self._clean_long(raw)
        self._output(line, t, out)
        self.line(line, t, out)

    # a read that was one whole line (feed found it): an adapter with a shortcut for its common line
    # overrides this, and hands any other line to _line
    _whole_line = _line

    def _output(self, line: str, t: float, out: list[Event]) -> None:
        """A clean line as its ``output`` event, counted and kept for last_words and the hint. What
        ``_line`` does before ``line``: an adapter's shortcut for its common line calls it too."""
        if len(line) <= MAX_LINE:
            out.append({"t": t, "kind": OUTPUT, "run": None, "line": line})  # ev.output, inlined: every line
            recent = self._recent
            recent.append(line)
            if len(recent) >= 64:
                self._sort_tail()
        else:  # kept cut, and judged by all of it
            shown = f"{line[:MAX_LINE]}... ({len(line) - MAX_LINE} more characters)"
            out.append({"t": t, "kind": OUTPUT, "run": None, "line": shown})
            self._counted += 1
            if _ALNUM.search(line):
                if self._recent:
                    self._sort_tail()
                self._tail.append(shown)
        # '=' is found by memchr: the word search runs only on lines that could hold the assertion
        if "=" in line and "deprecated" in line and (m := DEPRECATED.search(line)):
            # tinygrad 0.13 and master refuse 0.12's variables
            self.hint = (f"this tinygrad wants DEV={m.group(2)}, not {m.group(1)}=1: "
                         "set device_style = \"DEV\" in the scenario (\"legacy\" is for tinygrad 0.12 and older)")

    @property
    def lines_seen(self) -> int:
        """How many lines the backend printed: those sorted into the tail, and those waiting."""
        return self._counted + len(self._recent)

    def _sort_tail(self) -> None:
        """Moves the last three recent lines that have a letter or digit (not a blank line nor a
        traceback's ^^^^ marker line) into the tail: three regex searches per batch, not one a line."""
        found = []
        self._counted += len(self._recent)
        for line in reversed(self._recent):
            if _ALNUM.search(line):
                found.append(line)
                if len(found) == 3:
                    break
        self._tail.extend(reversed(found))
        self._recent.clear()


@dataclass(frozen=True)
class Adapter:
    """A backend as orintui knows it: how to recognise and parse its output."""

    name: str
    description: str
    parser: type[Parser]
    binary_hint: str  # what to install or build when the program is missing
    warmup_tokens: int = 0
    options_from_argv: Any = field(default=None, compare=False)
    count_flags: tuple[str, ...] = ()  # argv flags that say how many tokens the run must produce

    def make_parser(self, argv: list[str] | None = None, **options: Any) -> Parser:
        if self.options_from_argv and argv:
            options = {**self.options_from_argv(argv), **options}
        if argv and self.count_flags and "expected_tokens" not in options:
            options["expected_tokens"] = flag_int(argv, self.count_flags)
        options.setdefault("warmup_tokens", self.warmup_tokens)
        return self.parser(**options)


def flag_int(argv: list[str], flags: tuple[str, ...]) -> int | None:
    """The positive integer after the last of ``flags`` in argv (``-n 50``, ``--count=50``), or None."""
    found = None
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in flags:
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            try:
                found = int(value)
            except ValueError:
                found = None
    return found if found and found > 0 else None


def common_prefix_len(a: str, b: str) -> int:
    """How many leading characters a and b share. Comparisons run in C: the common case (b goes on
    from a) is one ``startswith``; otherwise a binary search over prefix lengths, so a run of
    cumulative lines costs what reading them costs, not a Python loop over every character."""
    n = min(len(a), len(b))
    if b.startswith(a[:n]) if n == len(a) else a.startswith(b):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo]; a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a.startswith(b[:mid]):
            lo = mid
        else:
            hi = mid
    return lo


class CumulativeText:
    """Backends that reprint the whole text so far each step: what is new since last time.

    Decoding with replacement can turn an earlier '\\ufffd' into a real character once a
    multi-byte sequence completes, so the new part starts at the common prefix, not at the old
    length."""

    def __init__(self) -> None:
        self.previous = ""

    def new_part(self, current: str) -> str:
        previous, self.previous = self.previous, current
        if current.startswith(previous):  # the common case, without a call
            return current[len(previous):]
        return current[common_prefix_len(previous, current):]
