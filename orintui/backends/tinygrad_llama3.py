"""tinygrad ``examples/llama3.py --benchmark`` and ``--no_api --timing``.

Per token: ``enqueue in   1.62 ms`` then ``total   4.10 ms, 243.90 tok/s, 1490.24 GB/s, param
1463.41 GB/s``, then the token's text: in --benchmark the whole text so far on its own line, in
--no_api the new piece alone, printed without a newline. --no_api reads the question at a
``Q: `` prompt; after the first answer orintui ends the run at the next prompt.
"""

from __future__ import annotations

import re
from typing import Any

from orintui.backends.base import NUMBER, Adapter, CumulativeText, Parser, ascii_twin, to_float, to_int
from orintui.session import events as ev

ENQUEUE = re.compile(rf"^enqueue in\s+{NUMBER} ms(.*)$")
TOTAL = re.compile(rf"^total\s+{NUMBER} ms,\s+{NUMBER} tok/s,\s+{NUMBER} GB/s, param\s+{NUMBER} GB/s")
ON_DEVICE = re.compile(rf",\s*{NUMBER} ms on (\w+)")
SEED = re.compile(r"^seed = (\d+)")
LOADED = re.compile(rf"^loaded weights in\s+{NUMBER} ms")
ASCII_ENQUEUE, ASCII_TOTAL, ASCII_ON_DEVICE = ascii_twin(ENQUEUE), ascii_twin(TOTAL), ascii_twin(ON_DEVICE)
PROMPT = "Q: "


class TinygradLlama3Parser(Parser):
    backend = "tinygrad-llama3"

    def __init__(self, warmup_tokens: int = 0, cumulative: bool | None = None, question: str | None = None,
                 **options: Any):
        super().__init__(**options)
        self.warmup_tokens = warmup_tokens  # 0: warm-up is told from the enqueue times (metrics.leading_slow)
        # --benchmark prints the whole text so far after each token, --no_api each new piece: from argv,
        # or (an imported log) from the second token's text, which repeats the first only when cumulative
        self.layout_known = cumulative is not None
        self.cumulative = CumulativeText() if cumulative is not False else None
        self.question = question
        self.questions_asked = 0
        self.held: dict | None = None  # the token whose text has not arrived yet
        self.enqueue_ms: float | None = None
        self.device_ms: float | None = None
    # a read of one whole line with nothing pending leaves nothing pending: no prompt to look for, so
    # feed's shortcut for such reads (straight to _line) gives what text would
    _by_lines = True

    def text(self, text: str, t: float, out: list) -> None:
        self.split_lines(text, t, out)
        pending = self._pending
        if pending.endswith(PROMPT) and pending.strip() == PROMPT.strip():
            self._pending = ""
            out.append(ev.output(t, PROMPT))
            self._flush_held("", out)
            if self.questions_asked == 0 and self.question is not None:
                self.questions_asked += 1
                self.reply(self.question + "\n")
                out.append(ev.phase(t, ev.Phase.PREFILL, "question sent"))
            else:
                self.stop_requested = True

    def _flush_held(self, text: str, out: list) -> None:
        if self.held is None:
            return
        held, self.held = self.held, None
        if not self.layout_known and self.token_count == 1:
            self.layout_known = True
            first = self.cumulative.previous if self.cumulative else ""  # while unknown, kept as cumulative
            if not (first and text.startswith(first) and len(text) > len(first)):
                self.cumulative = None  # the second text does not repeat the first: pieces (--no_api)
        if self.cumulative is not None:
            text = self.cumulative.new_part(text)
        # emit_token, inlined (the same keys in the same order): the held token's figures after the text
        index = self.token_count
        self.token_count = index + 1
        t = held["t"]
        out.append({"t": t, "kind": ev.TOKEN, "run": None, "text": text,
                    "ms": held["ms"], "warmup": held["warmup"], "index": index, **held["figures"]})

    interrupted = False  # a Ctrl-C was echoed (^C): the next timing pair belongs to no token

    def line(self, line: str, t: float, out: list) -> None:
        first = line[:1]
        if first == "^" and line.startswith("^C"):
            line, self.interrupted = line[2:], True
            first = line[:1]
        # each pattern is tried only on lines that start with its word: a third of them are the tokens'
        # text, and a first character is compared for less than a startswith call costs
        if first == "e" and line.startswith("enqueue in") and (
                m := (ASCII_ENQUEUE if (ascii := line.isascii()) else ENQUEUE).match(line)):
            self.recognised = True
            if self.held is not None:  # no text came for the last token
                self._flush_held(self.cumulative.previous if self.cumulative else "", out)
            self.enqueue_ms = to_float(m.group(1))
            d = (ASCII_ON_DEVICE if ascii else ON_DEVICE).search(m.group(2)) if m.group(2) else None
            self.device_ms = to_float(d.group(1)) if d else None
            return
        if first == "t" and line.startswith("total") and (m := (ASCII_TOTAL if line.isascii() else TOTAL).match(line)):
            self.recognised = True
            if self.held is not None:
                self._flush_held(self.cumulative.previous if self.cumulative else "", out)
            if self.interrupted:
                out.append(ev.note(t, "interrupted inside a model call: its timing line is not a token", "warning"))
                return
            if self.token_count == 0:
                out.append(ev.phase(t, ev.Phase.DECODE))
            figures = {"tok_s": to_float(m.group(2)), "gbs": to_float(m.group(3)), "param_gbs": to_float(m.group(4)),
                       "enqueue_ms": self.enqueue_ms}
            if self.device_ms is not None:
                figures["device_ms"] = self.device_ms
            self.held = {"t": t, "ms": to_float(m.group(1)), "warmup": self.token_count < self.warmup_tokens,
                         "figures": figures}
            return
        if first == "s" and line.startswith("seed") and (m := SEED.match(line)):
            out.append(ev.summary(t, seed=to_int(m.group(1))))
            return
        if first == "l" and line.startswith("loaded") and (m := LOADED.match(line)):
            self.recognised = True
            out.append(ev.summary(t, load_ms=to_float(m.group(1))))
            out.append(ev.phase(t, ev.Phase.PREFILL))
            return
        if self.held is not None and first == "T" and line.startswith("Traceback (most recent call last)"):
            # a Ctrl-C inside a model call prints one more timing pair and a traceback: not a token
            self.held = None
            out.append(ev.note(t, "interrupted inside a model call: its timing line is not a token", "warning"))
            return
        if self.held is not None and (line or self.cumulative is None):
            self._flush_held(line, out)

    def end(self, t: float, out: list) -> None:
        self._flush_held(self.cumulative.previous if self.cumulative else "", out)


def options_from_argv(argv: list[str]) -> dict:
    return {"cumulative": "--benchmark" in argv}


def expected_from_argv(argv: list[str]) -> int | None:
    """--benchmark generates a fixed 20 tokens (examples/llama3.py); --no_api answers until EOS."""
    return 20 if "--benchmark" in argv else None


ADAPTER = Adapter(
    name="tinygrad-llama3",
    description="tinygrad examples/llama3.py --benchmark or --no_api --timing",
    parser=TinygradLlama3Parser,
    binary_hint="a tinygrad git checkout (examples/ is not in the wheel); run with PYTHONPATH=<checkout>",
    warmup_tokens=0,
    options_from_argv=lambda argv: {**options_from_argv(argv), "expected_tokens": expected_from_argv(argv)},
)
