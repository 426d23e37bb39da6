"""llama.cpp ``llama-completion`` (and old ``llama-cli -no-cnv`` / ``main`` builds).

Generated text goes to stdout, one flushed write per token; logs go to stderr; on a PTY both
arrive in one stream. Before the ``generate: n_ctx = ...`` log line everything is log; after
it, each read is one token (REFERENCE.md: 123 of 125 reads carried exactly one token) until
the perf summary. The prompt is echoed first unless ``--no-display-prompt``: the parser knows
the prompt from argv and strips it. Newer builds prefix logs with ``M.SS.mmm.uuu L ``.
"""

from __future__ import annotations

import re
from pathlib import Path

from orintui.backends.base import NUMBER, Adapter, Parser, strip_ansi, to_float
from orintui.session import events as ev

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
    rf"(?:{PERF_HEAD}:|Interrupted by user|llama_memory_breakdown|common_memory_breakdown| \[end of text\])"
)
UNITS = {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10, "B": 1}
# a whole prefixed log line inside the generated stream (the empty INFO line after 'generate:')
LOG_LINE = re.compile(r"(?:(?<=\n)|^)\d+\.\d{2}\.\d{3}\.\d{3} [IWED] [^\n]*(?:\n|$)")


MARKERS = ("common_perf_print:", "llama_perf_context_print:", "llama_perf_sampler_print:", "llama_print_timings:",
           "Interrupted by user", "llama_memory_breakdown", "common_memory_breakdown")
PARTIAL_LOG = re.compile(r"^\d+(?:\.\d{0,3}){0,3}(?: (?:[IWED](?: [^\n]*)?)?)?$")


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


class LlamaCompletionParser(Parser):
    backend = "llama-completion"

    def __init__(self, prompt: str | None = None, echo: bool = True, timed: bool = True, **options):
        super().__init__(**options)
        self.prompt = _normalise(prompt) if prompt else None
        self.echo = echo
        self.timed = timed  # False for imported logs: one chunk is the whole log, not a token
        self.state = "log"
        self.echo_buffer = ""
        self.held_ws: tuple[float, str] | None = None  # a whitespace-only read: a token, or the "\n\n" before logs
        self.hold: tuple[float, str] | None = None  # a trailing partial line that may turn out to be a log line
        self.at_line_start = True
        self.carry = ""  # trailing "\n\n" of a read: the start of the next token, or the gap before logs
        self.figures: dict = {}
        self.devices: list[str] = []

    # -- the stream ---------------------------------------------------------------------------
    def text(self, text: str, t: float, out: list) -> None:
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

    def _log_text(self, text: str, t: float, out: list) -> None:
        # split line by line ourselves so the text after 'generate:' is not taken for a log line
        buf = self._pending + text
        self._pending = ""
        while self.state != "gen":
            m = re.search(r"\r\n|\n|\r", buf)
            if not m:
                self._pending = buf
                return
            line, buf = buf[: m.start()], buf[m.end():]
            self._line(line, t, out)
        self._rest = buf

    def line(self, line: str, t: float, out: list) -> None:
        body = LOG_PREFIX.sub("", line)
        if m := GENERATE.search(body):
            self.recognised = True
            self.state = "gen"
            self.figures["n_predict"] = int(m.group(3))
            out.append(ev.phase(t, "prefill"))
            if self.prompt is None or not self.echo:
                self.echo_buffer = None
            return
        if m := PERF.search(body):
            self.recognised = True
            self._perf(m.group(1).strip(), t, out)
            return
        if m := DEVICE.match(body):
            self.devices.append(m.group(2))
            out.append(ev.summary(t, device=m.group(2), compute_capability=m.group(3)))
        elif m := OFFLOAD.search(body):
            out.append(ev.summary(t, offloaded_layers=int(m.group(1)), total_layers=int(m.group(2))))
        elif m := FILE_SIZE.search(body):
            if body.startswith("print_info") or "file size" in body:
                out.append(ev.summary(t, model_bytes=int(float(m.group(1)) * UNITS[m.group(2)])))
        elif "Interrupted by user" in body:
            out.append(ev.note(t, "llama.cpp: interrupted by user (SIGINT)"))

    def _perf(self, body: str, t: float, out: list) -> None:
        fig = {}
        if m := PROMPT_EVAL.search(body):
            fig = {"prompt_ms": to_float(m.group(1)), "prompt_tokens": int(m.group(2)),
                   "prompt_ms_per_token": to_float(m.group(3)), "prompt_tok_s": to_float(m.group(4))}
            out.append(ev.prefill(t, int(m.group(2)), to_float(m.group(1))))
        elif m := EVAL.search(body):
            fig = {"eval_ms": to_float(m.group(1)), "eval_runs": int(m.group(2)),
                   "eval_ms_per_token": to_float(m.group(3)), "eval_tok_s": to_float(m.group(4))}
        elif m := LOAD.search(body):
            fig = {"load_ms": to_float(m.group(1))}
        elif m := TOTAL.search(body):
            fig = {"total_ms": to_float(m.group(1)), "total_tokens": int(m.group(2))}
        elif m := SAMPLING.search(body):
            fig = {"sampling_ms": to_float(m.group(1))}
        if fig:
            self.figures.update(fig)
            out.append(ev.summary(t, **fig))

    # -- generated text -----------------------------------------------------------------------
    def _partial_tail(self, text: str) -> int:
        """Length of a trailing partial line that could still become a log line."""
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
        m = TEXT_END.search(text)
        generated, rest = (text[: m.start()], text[m.start():]) if m else (text, "")
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
            out.append(ev.phase(t, "done"))
            if rest.lstrip("\r\n").startswith(" [end of text]"):
                out.append(ev.note(t, "llama.cpp: end of text (EOS)"))
                rest = rest.split("[end of text]", 1)[1]
            self._log_text(rest, t, out)

    def _generated(self, text: str, t: float, out: list) -> None:
        text = _normalise(strip_ansi(text))
        if self.echo_buffer is not None:
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
        if not self.timed:
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
            out.append(ev.phase(t, "decode"))
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
    return {"prompt": prompt, "echo": "--no-display-prompt" not in argv and "-no-display-prompt" not in argv}


ADAPTER = Adapter(
    name="llama-completion",
    description="llama.cpp llama-completion (or llama-cli -no-cnv on older builds)",
    parser=LlamaCompletionParser,
    binary_hint="build it with scripts/build-llama-cpp (CPU) or scripts/build-llama-cpp --cuda",
    options_from_argv=options_from_argv,
)
