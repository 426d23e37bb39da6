"""tinygrad ``examples/gpt2.py --timing`` (run from a tinygrad checkout with PYTHONPATH=.).

Per step a blank line and ``ran model in   3.41 ms``; DEBUG>=1 appends ``, 0.71 GOPS, 1.42 GB``
and DEBUG>=2 ``, 3.02 ms on NV`` and ``, 470.20 GB/s``. Step 1 runs the whole prompt (prefill),
steps 2-3 are JIT warm-up. The text is printed only at the end, so tokens carry no text.
"""

from __future__ import annotations

import re
from typing import Any

from orintui.backends.base import NUMBER, Adapter, Parser, ascii_twin, to_float
from orintui.session import events as ev

STEP = re.compile(rf"^ran model in\s+{NUMBER} ms(.*)$")
ON_DEVICE = re.compile(rf",\s*{NUMBER} ms on (\w+)")
GBS = re.compile(rf",\s*{NUMBER} GB/s")
GOPS = re.compile(rf",\s*{NUMBER} GOPS")
LOADED = re.compile(rf"^loaded weights in\s+{NUMBER} ms(?:,\s*{NUMBER} GB loaded at\s*{NUMBER} GB/s)?")
USING = re.compile(r"^using (\S+) backend|^using (gpt2\S*)")
ASCII_STEP, ASCII_ON_DEVICE, ASCII_GBS, ASCII_GOPS = (ascii_twin(p) for p in (STEP, ON_DEVICE, GBS, GOPS))


class TinygradGPT2Parser(Parser):
    backend = "tinygrad-gpt2"

    def __init__(self, warmup_tokens: int = 3, **options: Any):
        super().__init__(**options)
        self.warmup_tokens = warmup_tokens
        self.generating_text = False

    def line(self, line: str, t: float, out: list) -> None:
        # each pattern is tried only on lines that start with its words (DEBUG=2 prints every kernel);
        # half the lines are blank, which one comparison of the first character passes over
        first = line[:1]
        if not first:
            return
        if first == "r" and line.startswith("ran model in") and (
                m := (ASCII_STEP if (ascii := line.isascii()) else STEP).match(line)):
            self.recognised = True
            ms, rest = to_float(m.group(1)), m.group(2)
            if self.token_count == 0:
                out.append(ev.prefill(t, None, ms))
                out.append(ev.phase(t, ev.Phase.DECODE))
            index = self.token_count
            self.token_count = index + 1  # emit_token, inlined (the same keys in the same order): once a step
            token = {"t": t, "kind": ev.TOKEN, "run": None, "text": "",
                     "ms": ms, "warmup": index < self.warmup_tokens, "index": index}
            if rest:  # DEBUG>=1's figures
                if d := (ASCII_ON_DEVICE if ascii else ON_DEVICE).search(rest):
                    token["device_ms"], token["device"] = to_float(d.group(1)), d.group(2)
                if g := (ASCII_GBS if ascii else GBS).search(rest):
                    token["gbs"] = to_float(g.group(1))
                if g := (ASCII_GOPS if ascii else GOPS).search(rest):
                    token["gops"] = to_float(g.group(1))
            out.append(token)
            return
        if line.startswith("loaded weights in") and (m := LOADED.match(line)):
            self.recognised = True
            out.append(ev.summary(t, load_ms=to_float(m.group(1)),
                                  loaded_gb=to_float(m.group(2)) if m.group(2) else None))
            out.append(ev.phase(t, ev.Phase.PREFILL))
            return
        if line.startswith("using ") and (m := USING.match(line)):
            out.append(ev.summary(t, **({"device": m.group(1)} if m.group(1) else {"model_name": m.group(2)})))
            return
        if line.startswith("Generating text"):
            self.generating_text = True
            out.append(ev.phase(t, ev.Phase.DONE, "printing text"))


ADAPTER = Adapter(
    name="tinygrad-gpt2",
    description="tinygrad examples/gpt2.py --timing",
    parser=TinygradGPT2Parser,
    binary_hint="a tinygrad git checkout (examples/ is not in the wheel); run with PYTHONPATH=<checkout>",
    warmup_tokens=3,
    count_flags=("--count",),
)
