"""llama.cpp ``llama-cli`` as builds since late 2025 have it: a chat program.

It prints a banner (a spinner with backspaces, an ASCII-art logo, build and model lines, the
available commands), echoes the prompt as ``> PROMPT``, streams the answer one write per token,
then prints ``[ Prompt: 1011.3 t/s | Generation: 107.2 t/s ]`` and waits at a ``> `` prompt. orintui
reads that line as the backend's figures and types ``/exit`` at the prompt (with standard input
closed the program also ends after one answer). Those figures line is the end-of-run marker.
"""

from __future__ import annotations

import re
from typing import Any

from orintui.backends.base import Adapter, Parser, to_float
from orintui.session import events as ev

FIGURES = re.compile(r"\[\s*Prompt:\s*([\d.]+|nan|inf)\s*t/s\s*\|\s*Generation:\s*([\d.]+|nan|inf)\s*t/s\s*\]")
MARK = "[ Prompt:"  # the start of the figures line, which may arrive split across reads
BUILD = re.compile(r"^build\s*:\s*(\S+)")
MODEL = re.compile(r"^model\s*:\s*(.+)$")
EXIT = "/exit\n"


class LlamaCliParser(Parser):
    backend = "llama-cli"

    def __init__(self, prompt: str | None = None, **options: Any):
        super().__init__(**options)
        self.prompt = prompt.strip() if prompt else None
        self.state = "banner"  # banner -> answer (after the prompt's echo) -> after (the figures line)
        self.held = ""  # the answer's last characters that may be the start of the figures line
        self.held_t = 0.0
        self.figures_seen = False
        self.exited = False

    def text(self, text: str, t: float, out: list) -> None:
        if self.state == "answer":
            self._answer(text, t, out)
            return
        rest = self.lines_until(text, t, out, lambda: self.state == "answer")
        if rest:  # the answer began inside this read
            self._answer(rest, t, out)
        if self.state == "after" and self._pending.strip() == ">" and not self.exited:
            self.exited = True  # the prompt for the next turn: the answer is complete
            self._pending = ""
            self.reply(EXIT)

    def line(self, line: str, t: float, out: list) -> None:
        body = line.replace("\b", "").strip()
        if self.state == "banner" and body.startswith("> "):
            echoed = body[2:].strip()
            if self.prompt is None or echoed == self.prompt or self.prompt.startswith(echoed):
                self.recognised = True
                self.state = "answer"
                out.append(ev.phase(t, ev.Phase.PREFILL))
            return
        if m := FIGURES.search(body):
            self._figures(m, t, out)
        elif m := BUILD.match(body):
            out.append(ev.summary(t, build=m.group(1)))
        elif m := MODEL.match(body):
            out.append(ev.summary(t, model_file=m.group(1).strip()))

    # -- the answer ---------------------------------------------------------------------------
    def _answer(self, text: str, t: float, out: list) -> None:
        if self.held:
            text, t = self.held + text, self.held_t
            self.held = ""
        text = text.replace("\r\n", "\n")
        at = text.find(MARK)
        if at < 0:
            keep = _partial_mark(text)
            if keep:
                self.held, self.held_t, text = text[-keep:], t, text[:-keep]
            self._token(text, t, out)
            return
        self._token(text[:at].rstrip("\n"), t, out)
        self.state = "after"
        rest = text[at:]
        self._pending = ""
        self.text(rest, t, out)

    def _token(self, text: str, t: float, out: list) -> None:
        if not text or (not text.strip() and not self.token_count):
            return
        if not text.strip():  # the blank lines before the figures line are not a token
            self.held, self.held_t = text + self.held, t
            return
        if self.token_count == 0:
            out.append(ev.phase(t, ev.Phase.DECODE))
            text = text.lstrip("\n")
        self.emit_token(out, t, text)

    def _figures(self, m: re.Match, t: float, out: list) -> None:
        self.recognised = True
        self.figures_seen = True
        self.held = ""
        out.append(ev.phase(t, ev.Phase.DONE))
        out.append(ev.summary(t, prompt_tok_s=to_float(m.group(1)), eval_tok_s=to_float(m.group(2)),
                              decode_source="backend: llama-cli Generation t/s",
                              prefill_source="backend: llama-cli Prompt t/s"))

    def end(self, t: float, out: list) -> None:
        if self.held and self.state == "answer":
            held, self.held = self.held, ""
            if held.strip():
                self._token(held, self.held_t, out)

    # -- verdict ------------------------------------------------------------------------------
    def has_figures(self) -> bool:
        return self.token_count > 0 or self.figures_seen

    def incomplete(self) -> str | None:
        if not self.figures_seen:
            return "no [ Prompt | Generation ] line: the answer did not finish"
        return None  # the chat ends its answer itself (EOS or -n): the figures line marks it done


def _partial_mark(text: str) -> int:
    """Length of a tail of ``text`` that could be the start of the figures line."""
    for n in range(min(len(MARK), len(text)), 0, -1):
        if MARK.startswith(text[-n:]) and (n > 1 or text[-1] == "["):
            return n
    return 0


def options_from_argv(argv: list[str]) -> dict:
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-p", "--prompt"):
            return {"prompt": argv[i + 1]}
    return {}


ADAPTER = Adapter(
    name="llama-cli",
    description="llama.cpp llama-cli, the chat program of builds since late 2025 (one answer, then /exit)",
    parser=LlamaCliParser,
    binary_hint="build it with scripts/build-llama-cpp (CPU) or scripts/build-llama-cpp --cuda",
    options_from_argv=options_from_argv,
)
