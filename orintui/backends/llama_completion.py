"""llama.cpp ``llama-completion`` (and old ``llama-cli -no-cnv`` / ``main`` builds).

Generated text goes to stdout, one flushed write per token; logs go to stderr; on a PTY both
arrive in one stream. Before the ``generate: n_ctx = ...`` log line everything is log; after
it, each read is one token (REFERENCE.md: 123 of 125 reads carried exactly one token) until
the perf summary. The prompt is echoed first unless ``--no-display-prompt``: the parser knows
the prompt from argv and strips it. Newer builds prefix logs with ``M.SS.mmm.uuu L ``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from orintui.backends.base import NUMBER, Adapter, Parser, ascii_twin, strip_ansi, to_float, to_int
from orintui.session import events as ev
from orintui.session.schema import MAX_INT

LOG_PREFIX = re.compile(r"^(?:\d+\.\d{2}\.\d{3}\.\d{3} )?(?:[IWED] )?")
GENERATE = re.compile(r"\bgenerate: n_ctx = (\d+), n_batch = (\d+), n_predict = (-?\d+)")
PERF_HEAD = r"(?:common_perf_print|llama_perf_context_print|llama_perf_sampler_print|llama_print_timings)"
PERF = re.compile(rf"{PERF_HEAD}:\s+(.*)$")
LOAD = re.compile(rf"load time =\s+{NUMBER} ms")
PROMPT_EVAL = re.compile(rf"prompt eval time =\s+{NUMBER} ms /\s+(\d+) tokens \(\s*{NUMBER} ms per token,\s+{NUMBER} tokens per second\)")
EVAL = re.compile(rf"^eval time =\s+{NUMBER} ms /\s+(\d+) (?:runs|tokens)\s+\(\s*{NUMBER} ms per token,\s+{NUMBER} tokens per second\)")
TOTAL = re.compile(rf"total time =\s+{NUMBER} ms /\s+(\d+) tokens")
SAMPLING = re.compile(rf"sampling time =\s+{NUMBER} ms")
DEVICE = re.compile(r"^\s*Device (\d+): (.+?), compute capability ([\d.]+)")
OFFLOAD = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
FILE_SIZE = re.compile(r"file size\s+=\s+([\d.]+) (GiB|MiB|KiB|B)\b")
# where generated text ends and logs start again, inside one chunk
TEXT_END = re.compile(
    r"(?:\r?\n)*(?:\d+\.\d{2}\.\d{3}\.\d{3} [IWED] )?"
    rf"(?:{PERF_HEAD}:|Interrupted by user|llama_memory_breakdown|common_memory_breakdown| \[end of text\]"
    r"|\w+: context full and context shift is disabled)"
)
CONTEXT_FULL = re.compile(r"context (?:is )?full|n_past .* > n_ctx|failed to decode|context shift is disabled")
EOS_MARK = " [end of text]"
JSONL_START = '{"type":'  # --log-jsonl output, told apart from plain logs by its first bytes
UNITS = {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10, "B": 1}
# a whole prefixed log line inside the generated stream (the empty INFO line after 'generate:')
LOG_LINE = re.compile(r"(?:(?<=\n)|^)\d+\.\d{2}\.\d{3}\.\d{3} [IWED] [^\n]*(?:\n|$)")
# what every LOG_LINE match holds: searched for first (a pattern that starts with a literal is found
# fast), so a generated text is not walked position by position (as every TEXT_END match holds
# "_print", "Interrupted by user", "_memory_breakdown", "[end of text]" or "context full")
LOG_CORE = re.compile(r"\.\d{3} [IWED] ")


# the patterns every log line or perf line is tried with, for ASCII lines (base.ascii_twin)
ASCII_LOG_PREFIX, ASCII_PERF = ascii_twin(LOG_PREFIX), ascii_twin(PERF)
FIGURES = (PROMPT_EVAL, EVAL, LOAD, TOTAL, SAMPLING)  # in the order _perf tries them
ASCII_FIGURES = tuple(ascii_twin(p) for p in FIGURES)


MARKERS = ("common_perf_print:", "llama_perf_context_print:", "llama_perf_sampler_print:", "llama_print_timings:",
           "Interrupted by user", "llama_memory_breakdown", "common_memory_breakdown",
           "llama_completion: context full and context shift is disabled")
PARTIAL_LOG = re.compile(r"^\d+(?:\.\d{0,3}){0,3}(?: (?:[IWED](?: [^\n]*)?)?)?$")


def _log_body(line: str) -> str:
    """The line without its log prefix (a match and a slice: ``sub`` would try every position)."""
    m = (ASCII_LOG_PREFIX if line.isascii() else LOG_PREFIX).match(line)  # it matches every line, maybe empty
    return line[m.end():] if m else line


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


class LlamaCompletionParser(Parser):
    backend = "llama-completion"

    def __init__(self, prompt: str | None = None, echo: bool = True, timed: bool = True, jsonl: bool | None = None,
                 **options: Any):
        super().__init__(**options)
        self.jsonl = jsonl  # --log-jsonl: every log line, generated text included, is a JSON object
        self.jsonl_last_us: int | None = None  # llama.cpp's own clock at the previous generated piece
        self.prompt = _normalise(prompt) if prompt else None
        self.echo = echo
        self.timed = timed  # False for imported logs: one chunk is the whole log, not a token
        self.state = "log"
        self.echo_buffer: str | None = ""
        self.held_ws: tuple[float, str] | None = None  # a whitespace-only read: a token, or the "\n\n" before logs
        self.hold: tuple[float, str] | None = None  # a trailing partial line that may turn out to be a log line
        self.at_line_start = True
        self.carry = ""  # trailing "\n\n" of a read: the start of the next token, or the gap before logs
        self.figures: dict = {}
        self.devices: list[str] = []
        self.stopped_by: str | None = None  # why generation ended early: EOS, context full, SIGINT
        # feed's shortcut (a one-line read is that line) holds for plain logs outside generation, where
        # text goes line by line through lines_until: set as jsonl is found out and the state changes
        self._by_lines = jsonl is False

    # -- the stream ---------------------------------------------------------------------------
    def text(self, text: str, t: float, out: list) -> None:
        if self.jsonl is None and text.strip():
            start = (self._pending + text).lstrip()
            if len(start) < len(JSONL_START) and JSONL_START.startswith(start):
                self._pending += text  # too short to tell yet
                return
            self.jsonl = start.startswith(JSONL_START)
            self._by_lines = not self.jsonl  # plain logs: a one-line read is that line (not in "gen")
        if self.jsonl:
            self._jsonl_text(text, t, out)
            return
        if not text:
            # a read whose bytes end mid-character: a token (its text comes with the next read)
            if self.state == "gen" and self.timed and self.echo_buffer is None and self.token_count:
                self._flush_held_ws(out)
                self._token(t, "", out)
            return
        if self.state != "gen":
            before = self.state
            self._log_text(text, t, out)
            if before == "log" and self.state == "gen" and self._rest:
                rest, self._rest = self._rest, ""
                self._gen_text(rest, t, out)
            return
        self._gen_text(text, t, out)

    _rest = ""

    # -- --log-jsonl ------------------------------------------------------------------------------
    def _jsonl_text(self, text: str, t: float, out: list) -> None:
        """One JSON object per line: level "none" messages after 'generate:' are generated pieces,
        one per token with llama.cpp's own time in microseconds, so merged reads lose nothing."""
        parts = (self._pending + text).split("\n")
        self._pending = parts.pop()
        for raw in parts:
            self._jsonl_line(raw.rstrip("\r"), t, out)

    def _jsonl_line(self, raw: str, t: float, out: list) -> None:
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        msg = obj.get("msg") if isinstance(obj, dict) and obj.get("type") == "log" else None
        if not isinstance(msg, str):
            if raw.strip():
                self._line(raw, t, out)  # a plain line, or another record (the memory breakdown)
            return
        if obj.get("level") == "none" and self.state == "gen":
            when = obj.get("time")
            ms = None
            if isinstance(when, int) and not isinstance(when, bool):
                if self.jsonl_last_us is not None and self.token_count:
                    ms = (when - self.jsonl_last_us) / 1000.0
                self.jsonl_last_us = when
            before = self.token_count
            self._generated(msg, t, out)
            if self.token_count > before and ms is not None and out and out[-1].get("kind") == ev.TOKEN:
                out[-1]["ms"] = ms
            return
        lines = msg.rstrip("\n").split("\n") or [""]
        for line in lines:
            body = _log_body(line)
            if self.state == "gen" and (PERF.search(body) or "Interrupted by user" in body):
                self.held_ws = None  # the blank piece before the summary is not a token
                self.state = "after"
                out.append(ev.phase(t, ev.Phase.DONE))
            self._line(line, t, out)

    def _generating(self) -> bool:
        return self.state == "gen"

    def _log_text(self, text: str, t: float, out: list) -> None:
        # line by line, so the text after 'generate:' is not taken for a log line
        rest = self.lines_until(text, t, out, self._generating)
        if rest is not None:
            self._rest = rest

    def line(self, line: str, t: float, out: list) -> None:
        # each pattern is tried only when a word it needs is in the line: most log lines match none. The
        # words are looked for in the whole line (the log prefix, digits, dots and a level letter, holds
        # none of them), and the prefix is cut off only for a line that has one
        if not ("generate:" in line or "_print" in line or "Device " in line or "offloaded " in line
                or "file size" in line or "Interrupted by user" in line or "invalid argument: -no-cnv" in line
                or "context" in line or "n_past" in line or "failed to decode" in line):
            return
        first = line[:1]
        body = _log_body(line) if first.isdigit() or (first in "IWED" and line[1:2] == " ") else line
        if "generate:" in body and (m := GENERATE.search(body)):
            self.recognised = True
            self.state = "gen"
            self._by_lines = False
            self.figures["n_predict"] = to_int(m.group(3))
            out.append(ev.phase(t, ev.Phase.PREFILL))
            if self.prompt is None or not self.echo:
                self.echo_buffer = None
            return
        if "_print" in body and (m := (ASCII_PERF if body.isascii() else PERF).search(body)):
            self.recognised = True
            self._perf(m.group(1).strip(), t, out)
            return
        if "Device " in body and (m := DEVICE.match(body)):
            self.devices.append(m.group(2))
            out.append(ev.summary(t, device=m.group(2), compute_capability=m.group(3)))
        elif "offloaded " in body and (m := OFFLOAD.search(body)):
            out.append(ev.summary(t, offloaded_layers=to_int(m.group(1)), total_layers=to_int(m.group(2))))
        elif "file size" in body and (m := FILE_SIZE.search(body)):
            size = to_float(m.group(1))  # None for "1.2.3" or a figure too large for a float
            size = size * UNITS[m.group(2)] if size is not None else None
            out.append(ev.summary(t, model_bytes=int(size) if size is not None and size < MAX_INT else None))
        elif "Interrupted by user" in body:
            self.stopped_by = "interrupted (SIGINT)"
            out.append(ev.note(t, "llama.cpp: interrupted by user (SIGINT)"))
        elif "invalid argument: -no-cnv" in body:
            self.hint = ("this llama-cli is the chat program and refuses -no-cnv: use llama-completion for a "
                         "one-shot completion, or backend \"llama-cli\" without -no-cnv")
        elif ("context" in body or "n_past" in body or "failed to decode" in body) \
                and ("context full" in body or CONTEXT_FULL.search(body)):
            self.stopped_by = "context full"
            out.append(ev.note(t, f"llama.cpp: {body.strip()}", "warning"))

    def _perf(self, body: str, t: float, out: list) -> None:
        fig = {}
        prompt_eval, eval_, load, total, sampling = ASCII_FIGURES if body.isascii() else FIGURES
        if m := prompt_eval.search(body):
            tokens = to_int(m.group(2))
            fig = {"prompt_ms": to_float(m.group(1)), "prompt_tokens": tokens,
                   "prompt_ms_per_token": to_float(m.group(3)), "prompt_tok_s": to_float(m.group(4))}
            out.append(ev.prefill(t, tokens, to_float(m.group(1))))
        elif m := eval_.search(body):
            fig = {"eval_ms": to_float(m.group(1)), "eval_runs": to_int(m.group(2)),
                   "eval_ms_per_token": to_float(m.group(3)), "eval_tok_s": to_float(m.group(4))}
        elif m := load.search(body):
            fig = {"load_ms": to_float(m.group(1))}
        elif m := total.search(body):
            fig = {"total_ms": to_float(m.group(1)), "total_tokens": to_int(m.group(2))}
        elif m := sampling.search(body):
            fig = {"sampling_ms": to_float(m.group(1))}
        if fig:
            self.figures.update(fig)
            out.append(ev.summary(t, **fig))

    # -- generated text -----------------------------------------------------------------------
    def _partial_tail(self, text: str) -> int:
        """Length of a trailing partial line that could still become a log line, or of a tail that
        could be the start of the EOS marker (which follows the last token on its line)."""
        # the longest tail (2 characters or more) that begins the marker: it starts with the marker's " ["
        i = text.find(EOS_MARK[:2], max(0, len(text) - len(EOS_MARK)))
        while i >= 0:
            if EOS_MARK.startswith(text[i:]):
                return len(text) - i
            i = text.find(EOS_MARK[:2], i + 1)
        nl = max(text.rfind("\n"), text.rfind("\r"))
        if nl < 0 and not self.at_line_start:
            return 0
        tail = text[nl + 1:]
        if tail and (PARTIAL_LOG.match(tail) or any(m.startswith(tail) for m in MARKERS)):
            return len(tail)
        return 0

    def _gen_text(self, text: str, t: float, out: list, final: bool = False) -> None:
        if self.hold is not None:
            t, text = self.hold[0], self.hold[1] + text
            self.hold = None
        cut = 0 if final else self._partial_tail(text)
        if cut:
            text, self.hold = text[:-cut], (t, text[-cut:])
            if not text:
                return
        self.at_line_start = text.endswith(("\n", "\r"))
        m = TEXT_END.search(text) if ("_print" in text or "Interrupted by user" in text or "_memory_breakdown" in text
                                      or "[end of text]" in text or "context full" in text) else None
        generated, rest = (text[: m.start()], text[m.start():]) if m else (text, "")
        if LOG_CORE.search(generated):
            generated = LOG_LINE.sub("", generated)
        if self.token_count == 0 and self.held_ws is None and self.echo_buffer in (None, ""):
            generated = generated.lstrip("\r\n")  # blank log lines between 'generate:' and the first output
        if generated:
            self._generated(generated, t, out)
        if m:
            self.held_ws = None  # the blank lines before the summary are not a token
            self.carry = ""
            if self.hold is not None:  # a partial log line held back belongs to the logs now
                rest += self.hold[1]
                self.hold = None
            self.state = "after"
            self._by_lines = True
            out.append(ev.phase(t, ev.Phase.DONE))
            if rest.lstrip("\r\n").startswith(" [end of text]"):
                self.stopped_by = "end of text (EOS)"
                out.append(ev.note(t, "llama.cpp: end of text (EOS)"))
                rest = rest.split("[end of text]", 1)[1]
            self._log_text(rest, t, out)

    def _generated(self, text: str, t: float, out: list) -> None:
        text = _normalise(strip_ansi(text))
        if self.echo_buffer is not None and self.prompt is not None:
            self.echo_buffer += text
            if self.prompt.startswith(self.echo_buffer):
                if len(self.echo_buffer) < len(self.prompt):
                    return
                text = ""
            elif self.echo_buffer.startswith(self.prompt):
                text = self.echo_buffer[len(self.prompt):]
            else:  # the echo differs from argv's prompt (templating, a file): take it all as echo
                text = ""
            self.echo_buffer = None
            out.append(ev.note(t, "prompt echoed"))
            if not text:
                return
        if not self.timed and not self.jsonl:  # an imported plain log: one chunk, no token boundaries
            return
        self._flush_held_ws(out)
        if not text.strip():
            self.held_ws = (t, text)
            return
        text, self.carry = self.carry + text, ""
        if text.endswith("\n\n"):
            stripped = text.rstrip("\n")
            text, self.carry = stripped, text[len(stripped):]
        self._token(t, text, out)

    def _flush_held_ws(self, out: list) -> None:
        if self.held_ws is not None:
            held_t, held_text = self.held_ws
            self.held_ws = None
            self._token(held_t, held_text, out)

    def _token(self, t: float, text: str, out: list) -> None:
        if self.token_count == 0:
            out.append(ev.phase(t, ev.Phase.DECODE))
        self.emit_token(out, t, text)

    def end(self, t: float, out: list) -> None:
        if self.hold is not None and self.state == "gen":
            self._gen_text("", t, out, final=True)
        # a whitespace read held back is a token only if the summary's count says so
        runs = self.figures.get("eval_runs")
        if self.held_ws is not None and runs is not None and self.token_count < runs + 1:
            self._token(self.held_ws[0], self.held_ws[1], out)
        self.held_ws = None
        if runs is not None and (runs or self.token_count):
            # the true count: a read that carried two tokens is one token event (the reader lagged)
            out.append(ev.summary(t, generated_tokens=runs + 1))
        if runs is not None and self.timed and self.token_count != runs + 1 and self.token_count:
            out.append(ev.note(t, f"{self.token_count} token reads for {runs + 1} tokens: "
                                  "some reads carried several tokens", "warning"))


    def has_figures(self) -> bool:
        return self.token_count > 0 or self.figures.get("eval_tok_s") is not None

    def incomplete(self) -> str | None:
        runs = self.figures.get("eval_runs")
        generated = runs + 1 if runs is not None else self.token_count
        asked = self.figures.get("n_predict") if (self.figures.get("n_predict") or 0) > 0 else self.expected_tokens
        short = f"{generated} of {asked} tokens" if asked and generated < asked else None
        if self.stopped_by:
            return f"{self.stopped_by} after {short or f'{generated} tokens'}"
        if runs is None:
            # builds whose logger thread is never joined at exit (llama.cpp issue 22142) lose their last
            # queued lines, tokens and summary, when the machine is busy, and still exit 0
            return ("no perf summary: llama.cpp's output ended early (its log thread can lose its last lines "
                    "at exit on a busy machine)" + (f"; {short}" if short else ""))
        return short


def options_from_argv(argv: list[str]) -> dict:
    prompt = None
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-p", "--prompt"):
            prompt = argv[i + 1]
        elif arg in ("-f", "--file"):
            try:
                prompt = Path(argv[i + 1]).read_text(errors="replace")
            except OSError:
                prompt = None
    return {"prompt": prompt, "echo": "--no-display-prompt" not in argv and "-no-display-prompt" not in argv,
            "jsonl": True if "--log-jsonl" in argv else None}


ADAPTER = Adapter(
    name="llama-completion",
    description="llama.cpp llama-completion (or llama-cli -no-cnv on older builds)",
    parser=LlamaCompletionParser,
    binary_hint="build it with scripts/build-llama-cpp (CPU) or scripts/build-llama-cpp --cuda",
    options_from_argv=options_from_argv,
    count_flags=("-n", "--n-predict", "--predict"),
)
