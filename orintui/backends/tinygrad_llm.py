"""tinygrad's own LLM runner: ``python -m tinygrad.llm --model M.gguf --benchmark N`` (v0.13;
``tinygrad.apps.llm`` in v0.12). Per token one line::

      1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB  --  <whole text so far>     (0.13.0, master)
   5175.35 ms,   0.19 tok/s,    0.82 GB/s, param    0.58 GB/s                  (0.12.0: no text)

The first two or three tokens include JIT compilation (seconds): they are warm-up tokens.
"""

from __future__ import annotations

import re
from typing import Any

from orintui.backends.base import NUMBER, Adapter, CumulativeText, Parser, ascii_twin, is_clean, to_float, to_int
from orintui.session import events as ev
from orintui.session.events import TOKEN

TOKEN_LINE = re.compile(
    rf"^\s*{NUMBER} ms,\s+{NUMBER} tok/s,\s+{NUMBER} GB/s,\s+(\d+)/(\d+) MB(?:\s+--  ?(.*))?$"
)
# v0.12.0 tinygrad.apps.llm: no memory field and no text
TOKEN_LINE_012 = re.compile(rf"^\s*{NUMBER} ms,\s+{NUMBER} tok/s,\s+{NUMBER} GB/s, param\s+{NUMBER} GB/s\s*$")
# The two forms as the parser reads them (token_line): their common head, then the rest from where
# it ended, so no regex walks the text (the whole text so far: 14,000 characters on a long run).
TOKEN_HEAD = re.compile(rf"\s*{NUMBER} ms,\s+{NUMBER} tok/s,\s+{NUMBER} GB/s,")
REST_012 = re.compile(rf" param\s+{NUMBER} GB/s\s*$")
REST = re.compile(r"\s+(\d+)/(\d+) MB(\s+--  ?)?")
ASCII_TOKEN_HEAD, ASCII_REST_012, ASCII_REST = ascii_twin(TOKEN_HEAD), ascii_twin(REST_012), ascii_twin(REST)
# the newer form's head and rest as one pattern, for one match a line (the parser's common case): the
# same groups, since neither part can give characters back to the other
TOKEN_013 = re.compile(TOKEN_HEAD.pattern + REST.pattern)
ASCII_TOKEN_013 = ascii_twin(TOKEN_013)
# the form tinygrad prints, spaces and decimals only: where it matches, TOKEN_013 matches with the same
# groups and end (each of its parts is a case of the general one's, which would take the same characters)
PLAIN_013 = re.compile(r" *(\d{1,15}\.\d{1,15}) ms, +(\d{1,15}\.\d{1,15}) tok/s, +(\d{1,15}\.\d{1,15}) GB/s, +\d+/\d+ MB +--  ?",
                       re.ASCII)


def token_line(line: str) -> tuple[str, str, str, str | None, str | None] | None:
    """What TOKEN_LINE_012, then TOKEN_LINE, match in a line (no line holds a newline): ms, tok/s and
    GB/s, then 0.12's param GB/s or None, then the text or None; None for another line. No part of
    the patterns can give characters back to the part before it, so the split finds the same groups."""
    ascii = line.isascii()
    head = (ASCII_TOKEN_HEAD if ascii else TOKEN_HEAD).match(line)
    if head is None:
        return None
    ms, tok_s, gbs = head.groups()
    # the newer form first: the rests cannot both match (one needs "param", the other digits there)
    if (m := (ASCII_REST if ascii else REST).match(line, head.end())) and (m.group(3) or m.end() == len(line)):
        return ms, tok_s, gbs, None, line[m.end():] if m.group(3) else None
    if m := (ASCII_REST_012 if ascii else REST_012).match(line, head.end()):
        return ms, tok_s, gbs, m.group(1), None
    return None


MODEL_LINE = re.compile(r'^using model "(.*)" with ([\d,]+) bytes and ([\d,]+) params(?:, max context (\d+))?(?: on (\w+))?')
DEVICE_LINE = re.compile(r"^using (\w+) backend")


class TinygradLLMParser(Parser):
    backend = "tinygrad-llm"

    def __init__(self, warmup_tokens: int = 3, **options: Any):
        super().__init__(**options)
        self.warmup_tokens = warmup_tokens
        self.text_so_far = CumulativeText()
        self.previous_plain = True  # the text so far has no backslash (_whole_line's shortcut rests on it)
        self.in_decode = False

    def _whole_line(self, line: str, t: float, out: list) -> None:
        # A token line of 0.13 or master in its plain form, read alone, whose text goes on from the last
        # one's: the same events as _line gives (tests/test_parser_fast_paths.py holds it to them), without
        # the sanitiser's scan of the whole text. PLAIN_013's head is printable ASCII by its pattern and the
        # text up to the new words is the last line's (which came out of the sanitiser or this check), so
        # only the new words are checked (printable: clean as they are), and for a backslash (which the
        # general path reads as an escape), as the last text has none. Its figures are at most 15 digits
        # a side: finite floats, no NaN check.
        if self.in_decode and self.previous_plain and (m := PLAIN_013.match(line)) is not None and line.isascii():
            start, so_far = m.end(), self.text_so_far
            previous = so_far.previous
            new = start + len(previous)
            if (line.startswith(previous, start) and "\\" not in (words := line[new:])
                    and (words.isprintable() or is_clean(words))):
                self._output(line, t, out)
                so_far.previous = line[start:]
                self._token(t, out, float(m[1]), float(m[2]), float(m[3]), None, words)
                return
        self._line(line, t, out)

    def line(self, line: str, t: float, out: list) -> None:
        # a token line of 0.13 and master with its text (nearly every line): one match; others: token_line
        m = (ASCII_TOKEN_013 if line.isascii() else TOKEN_013).match(line)
        if m is not None and m.group(6) is not None:
            fields: tuple[str, str, str, str | None, str | None] | None = (
                m.group(1), m.group(2), m.group(3), None, line[m.end():])
        else:
            fields = token_line(line)
        if fields:
            ms_text, tok_s_text, gbs_text, param_gbs, text = fields
            if param_gbs is None:  # v0.13 and master: the whole text so far (v0.12.0: none)
                if text and "\\" in text:  # found by memchr; replace would scan the whole text
                    text = text.replace("\\n", "\n")
                so_far, text = self.text_so_far, text or ""
                if text.startswith(so_far.previous):  # CumulativeText.new_part's common case, without a call
                    text, so_far.previous = text[len(so_far.previous):], text
                else:
                    text = so_far.new_part(text)
                self.previous_plain = "\\" not in so_far.previous
            self.recognised = True
            if not self.in_decode:
                self.in_decode = True
                out.append(ev.phase(t, ev.Phase.DECODE))
            self._figures(t, out, ms_text, tok_s_text, gbs_text, param_gbs, text)
            return
        m = MODEL_LINE.match(line)
        if m:
            self.recognised = True
            info = {"model_name": m.group(1), "model_bytes": to_int(m.group(2).replace(",", "")),
                    "model_params": to_int(m.group(3).replace(",", ""))}
            if m.group(4):
                info["max_context"] = to_int(m.group(4))
            if m.group(5):
                info["device"] = m.group(5)
            out.append(ev.summary(t, **info))
            out.append(ev.phase(t, ev.Phase.PREFILL, "JIT compile and first token"))
            return
        m = DEVICE_LINE.match(line)
        if m:
            out.append(ev.summary(t, device=m.group(1)))

    def _figures(self, t: float, out: list, ms_text: str, tok_s_text: str, gbs_text: str, param_gbs: str | None,
                 text: str | None) -> None:
        # the pattern's numbers always convert; a NaN or an infinity among them makes the sum NaN, and
        # then to_float gives None for each that is one (the common case without three calls)
        a, b, c = float(ms_text), float(tok_s_text), float(gbs_text)
        if a - a + b - b + c - c == 0.0:
            self._token(t, out, a, b, c, param_gbs, text)
        else:
            self._token(t, out, to_float(ms_text), to_float(tok_s_text), to_float(gbs_text), param_gbs, text)

    def _token(self, t: float, out: list, ms: float | None, tok_s: float | None, gbs: float | None,
               param_gbs: str | None, text: str | None) -> None:
        index = self.token_count
        self.token_count = index + 1  # emit_token, inlined (the same keys in the same order): once a line
        token = {"t": t, "kind": TOKEN, "run": None, "text": text or "", "ms": ms, "warmup": index < self.warmup_tokens,
                 "index": index, "tok_s": tok_s, "gbs": gbs}
        if param_gbs is not None:
            token["param_gbs"] = to_float(param_gbs)
        out.append(token)


ADAPTER = Adapter(
    name="tinygrad-llm",
    description="tinygrad: python -m tinygrad.llm --model M.gguf --benchmark N",
    parser=TinygradLLMParser,
    binary_hint="pip install tinygrad==0.13.0 (CPU also needs clang)",
    warmup_tokens=3,
    count_flags=("--benchmark",),
)
