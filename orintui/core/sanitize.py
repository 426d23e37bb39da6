"""Data from outside is hostile: one sanitiser for every string that reaches a terminal, a widget
or a text report, and one rule for file names made from data.

Session files travel between people and backend output is arbitrary bytes, so a label, an error,
a token or an output line may carry terminal control: OSC 52 sets the clipboard, ``ESC c`` resets
the screen, ``ESC # 8`` fills it with ``E``, BEL rings, BS and CR overwrite what was shown. Every
escape sequence (CSI, OSC, DCS, SOS, PM, APC strings, two- and three-byte escapes, a lone ESC, and
their 8-bit C1 forms) is removed, then every remaining control character (C0 but tab and newline,
DEL, C1) is removed. Standard library only: backends and reports use it as much as the UI.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# one pass, longest forms first; a string sequence ends at BEL, ST (ESC \ or 0x9c) or the end of the text
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI (colours, cursor moves, erase), 7- and 8-bit
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (incl. 52), DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # nF (ESC ( 0, ESC # 8), Fp, Fe, Fs (ESC c, ESC 7)
    r"|\x1b"  # a lone ESC
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all C0 but tab and newline, DEL, C1
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # single line: tab and newline too
_BREAKS = re.compile(r"\r\n|[\r\n\t\u2028\u2029]")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # backend text: tab, newline, CR stay


def clean(text: object) -> str:
    """Multi-line text for a terminal or a report: no escape sequence, no control character but
    tab and newline (CR LF and a lone CR become a newline)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s  # the common case, in C
    s = _ESCAPES.sub("", s).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", s)


def clean_line(text: object) -> str:
    """One line (a table cell, a title, a printed line): as clean(), and every line break or tab
    becomes a space, so nothing can start a line of its own."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    s = _BREAKS.sub(" ", _ESCAPES.sub("", s))
    return _LINE_CONTROLS.sub("", s)


def clean_text(text: str) -> str:
    """Backend output before it is parsed: escape sequences and control characters removed, but
    tab, newline and CR kept (parsers split lines on them, and a read may end between CR and LF)."""
    if text.isprintable():
        return text
    return _TEXT_CONTROLS.sub("", _ESCAPES.sub("", text))


# -- file names made from data ------------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_COMPONENT = 120


def safe_component(name: object, default: str = "session") -> str:
    """One path component from data (a session id): letters, digits, '.', '_' and '-' only, never
    '.' or '..' or hidden, never empty, at most 120 characters. '../../x' gives '_.._x'."""
    s = _UNSAFE.sub("_", str(name)).lstrip(".")[:MAX_COMPONENT]
    return s if s.strip("_") else default


class UnsafePath(ValueError):
    """A path made from data that would leave its folder."""


def inside(folder: str | os.PathLike, filename: str) -> Path:
    """``folder/filename``, checked to stay inside ``folder`` once links are resolved."""
    base = Path(folder).resolve()
    target = (base / filename).resolve()
    if target.parent != base:
        raise UnsafePath(f"{clean_line(filename)} would be written outside {base}")
    return target
