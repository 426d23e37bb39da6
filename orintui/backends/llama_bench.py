"""llama.cpp ``llama-bench``: ``-o jsonl`` (one JSON object per finished test), ``-o json`` (one
pretty-printed array at the end), ``-o csv`` (a header line, then a row per test) or ``-o md``.

A jsonl line becomes one ``summary`` event with ``bench`` set, carrying the test name (pp512,
tg128, pp512+tg128), the mean and sample standard deviation of the per-repetition rates, and
every sample. An md row becomes the same without samples. ``--progress`` lines become phases.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from typing import Annotated, Any

import msgspec

from orintui.backends.base import Adapter, Parser, strip_ansi, to_float, to_int
from orintui.session import events as ev
from orintui.session.schema import check_summary, number

PROGRESS = re.compile(r"llama-bench: benchmark (\d+)/(\d+): (\w+)")
BUILD = re.compile(r"^build: (\S+) \((\d+)\)")
RATE = re.compile(r"^([\d.]+)\s*±\s*([\d.]+)$")
KEEP = ("model_type", "model_size", "model_n_params", "backends", "gpu_info", "cpu_info", "n_gpu_layers",
        "flash_attn", "n_threads", "n_batch", "n_ubatch", "type_k", "type_v", "build_commit", "build_number",
        "n_prompt", "n_gen", "n_depth", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts")


# A -o jsonl row as llama-bench prints it, decoded straight into its summary event: the event's own
# fields first (defaults, under names no row uses, set after decoding), then the kept fields in KEEP's
# order (msgspec skips the rest in C), typed as llama-bench writes them and as a session's schema wants
# them (finite numbers, ints within int64, lists of them), so a decoded row needs no other check. Any
# other row (an older build's types, a field missing, a hostile value) takes the general path.
_MAX_FLOAT = 1.7976931348623157e308
_INT = Annotated[int, msgspec.Meta(ge=-(2**63) + 1, le=2**63 - 1)]
_COUNT = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # a test's tokens: what test_name is made of
_NUMBER = _INT | Annotated[float, msgspec.Meta(ge=-_MAX_FLOAT, le=_MAX_FLOAT)]
_TYPES: dict[str, Any] = {
    **dict.fromkeys(("model_type", "backends", "gpu_info", "cpu_info", "type_k", "type_v", "build_commit"), str),
    **dict.fromkeys(("model_size", "model_n_params", "n_gpu_layers", "flash_attn", "n_threads", "n_batch", "n_ubatch",
                     "build_number", "avg_ns", "stddev_ns"), _INT),
    **dict.fromkeys(("n_prompt", "n_gen", "n_depth"), _COUNT),
    "avg_ts": _NUMBER, "stddev_ts": _NUMBER, "samples_ns": list[_INT], "samples_ts": list[_NUMBER]}
_EVENT_HEAD = (("t", 0.0), ("kind", ev.SUMMARY), ("run", None), ("bench", True), ("test", ""))
_row_event_decoder = msgspec.json.Decoder(msgspec.defstruct(
    "_RowEvent", [(k, Any, msgspec.field(default=v, name=f"orintui:{k}")) for k, v in _EVENT_HEAD]
    + [(k, _TYPES[k]) for k in KEEP], kw_only=True, gc=False))
_asdict = msgspec.structs.asdict


# a -o jsonl row decoded straight into the fields orintui keeps (msgspec skips the rest in C). A real
# row has all of them: decoded into a struct that requires them all, its fields are the row as they
# are (asdict, without to_builtins' walk over the values to leave out fields the row lacks). Not
# tracked by the garbage collector: decoded JSON holds no cycle, and the struct is dropped at once.
_full_row_decoder = msgspec.json.Decoder(msgspec.defstruct("_FullRow", [(k, Any) for k in KEEP], gc=False))
_row_decoder = msgspec.json.Decoder(msgspec.defstruct("_Row", [(k, Any, msgspec.UNSET) for k in KEEP], gc=False))


def _decode(text: str) -> dict | None:
    """The kept fields a JSON object has, in KEEP's order, or None: not an object, or what only the
    standard decoder reads (NaN)."""
    try:
        return msgspec.structs.asdict(_full_row_decoder.decode(text))
    except msgspec.ValidationError:  # a field missing (or not an object): the fields it has
        pass
    except (msgspec.DecodeError, RecursionError):
        return None
    try:
        return msgspec.to_builtins(_row_decoder.decode(text))  # the fields the row has (UNSET left out)
    except (msgspec.DecodeError, RecursionError):
        return None


def _jsonl_row(text: str, decoded: dict | None = None) -> dict | None:
    """The kept fields of one JSON row with an avg_ts, or None (not JSON, not a result row)."""
    row = decoded if decoded is not None else _decode(text)
    if row is None:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict):
            return None
        row = {k: obj[k] for k in KEEP if k in obj}
    return row if "avg_ts" in row else None


def _count(value: Any) -> int:
    """A test's token count as a row gives it: a finite number, or 0 (absent, or a scalar that is none)."""
    return int(value) if number(value) else 0


@functools.lru_cache(maxsize=256)  # a run has a handful of tests, each named once a row
def test_name(n_prompt: int, n_gen: int, n_depth: int = 0) -> str:
    parts = ([f"pp{n_prompt}"] if n_prompt else []) + ([f"tg{n_gen}"] if n_gen else [])
    name = "+".join(parts) or "none"
    return f"{name} @ d{n_depth}" if n_depth else name


class LlamaBenchParser(Parser):
    backend = "llama-bench"

    def __init__(self, **options):
        super().__init__(**options)
        self.header: list[str] | None = None
        self.csv_header: list[str] | None = None
        self.json_lines: list[str] | None = None  # inside a -o json array
        self.complete_marker = False  # the array closed, or md's build line: the whole output came
        self.tests = 0
        self.refused: str | None = None  # why the first result row that could not be recorded was refused
        self.announced = 0  # --progress: "benchmark i/N" says how many tests to expect
        self._decoded: tuple[str, str, dict] | None = None  # a JSON row clean() decoded: stripped, raw, its fields

    def _whole_line(self, line: str, t: float, out: list) -> None:
        # A -o jsonl result row read alone (most reads of such a run), in llama-bench's own types: decoded
        # into its summary event (which is what finds it clean, as clean() says), then its output event
        # and the event, as _line -> clean -> line give them (tests/test_parser_fast_paths.py holds the two
        # to each other), without their calls, the row's copy into the event or the schema's check.
        if line[:1] == "{" and line[-1:] == "}" and self.json_lines is None and line.isascii() and "\x7f" not in line:
            try:
                event = _asdict(_row_event_decoder.decode(line))
            except (msgspec.DecodeError, RecursionError):  # ValidationError among them: the general path
                event = None
            if event is not None:
                self._output(line, t, out)
                self.recognised = True
                self.tests += 1
                event["t"], event["kind"], event["run"], event["bench"] = t, ev.SUMMARY, None, True
                event["test"] = test_name(event["n_prompt"], event["n_gen"], event["n_depth"])
                out.append(event)
                return
        self._line(line, t, out)

    def clean(self, raw: str) -> str:
        """A JSON row (most of a -o jsonl run, 900 characters each) is decoded first: msgspec refuses
        every control character but DEL, even in the fields it skips (strict JSON), so an ASCII row it
        decodes, without DEL, is clean as it is and the sanitiser's scan is not needed."""
        self._decoded = None
        if self.json_lines is None and raw.isascii() and "\x7f" not in raw:
            stripped = raw.strip()
            if stripped.startswith("{") and stripped.endswith("}") and (decoded := _decode(stripped)) is not None:
                self._decoded = (stripped, raw, decoded)
                return raw
        return strip_ansi(raw)

    def line(self, line: str, t: float, out: list) -> None:
        if self._decoded is not None and self._decoded[1] is line:  # a JSON row, decoded by clean(): no other form
            stripped, decoded = self._decoded[0], self._decoded[2]
            self._decoded = None
            if (row := _jsonl_row(stripped, decoded)) is not None:
                self._row(t, out, row)
            return
        stripped = line.strip()
        if self.json_lines is not None:
            self.json_lines.append(line)
            if stripped == "]":
                self._json_array(t, out)
            return
        if stripped == "[":
            self.json_lines = [line]
            return
        if stripped.startswith("build_commit,") and "avg_ts" in stripped:
            self.csv_header = next(csv.reader([stripped]))
            self.recognised = True
            return
        if self.csv_header is not None and stripped.startswith('"'):
            self._csv_row(stripped, t, out)
            return
        if stripped.startswith("{") and stripped.endswith("}"):
            row = _jsonl_row(stripped)
            if row is not None:
                self._row(t, out, row)
            return
        if m := PROGRESS.search(line):
            self.recognised = True
            self.announced = max(self.announced, to_int(m.group(2)) or 0)
            if m.group(3) == "starting":
                out.append(ev.phase(t, ev.Phase.DECODE, f"test {m.group(1)}/{m.group(2)}"))
            return
        if stripped.startswith("|"):
            self._md(stripped, t, out)
            return
        if m := BUILD.match(stripped):
            self.recognised = True
            self.complete_marker = True
            out.append(ev.summary(t, build_commit=m.group(1), build_number=to_int(m.group(2))))

    def _json_array(self, t: float, out: list) -> None:
        text = "\n".join(self.json_lines or [])
        self.json_lines = None
        try:
            rows = json.loads(text)
        except json.JSONDecodeError:
            return
        if isinstance(rows, list):
            self.complete_marker = True
            for row in rows:
                if isinstance(row, dict) and "avg_ts" in row:
                    self._row(t, out, {k: row[k] for k in KEEP if k in row})

    def _csv_row(self, line: str, t: float, out: list) -> None:
        try:
            cells = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            return
        if not self.csv_header or len(cells) != len(self.csv_header):
            return
        row: dict = {}
        for key, value in zip(self.csv_header, cells):
            if key not in KEEP:
                continue
            number = to_float(value) if key not in ("build_commit", "model_type", "backends", "gpu_info",
                                                     "cpu_info", "type_k", "type_v") else None
            row[key] = (int(number) if number is not None and number.is_integer() and key not in ("avg_ts", "stddev_ts")
                        else number) if number is not None else value
        if "avg_ts" in row:
            self._row(t, out, row)

    def _md(self, line: str, t: float, out: list) -> None:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if self.header is None:
            if "test" in cells and "t/s" in cells:
                self.header = cells
            return
        if all(set(c) <= set("-: ") for c in cells) or len(cells) != len(self.header):
            return
        row = dict(zip(self.header, cells))
        rate = RATE.match(row.get("t/s", ""))
        test = row.get("test", "")
        m = re.fullmatch(r"(?:pp(\d+))?\+?(?:tg(\d+))?(?: @ d(\d+))?", test)
        if not rate or not m:
            return
        fields: dict[str, Any] = {"avg_ts": to_float(rate.group(1)), "stddev_ts": to_float(rate.group(2)),
                  "n_prompt": to_int(m.group(1) or "0"), "n_gen": to_int(m.group(2) or "0"),
                                  "n_depth": to_int(m.group(3) or "0")}
        for src, dst in (("model", "model_type"), ("size", "model_size_text"), ("params", "model_params_text"),
                         ("backend", "backends"), ("ngl", "n_gpu_layers"), ("fa", "flash_attn"), ("threads", "n_threads")):
            if src in row:
                fields[dst] = row[src]
        self._row(t, out, fields)

    def has_figures(self) -> bool:
        # an array that began: its output was cut; a row refused: a result orintui could not read
        return self.tests > 0 or self.json_lines is not None or self.refused is not None

    def incomplete(self) -> str | None:
        if self.refused:
            return self.refused
        if self.announced and self.tests < self.announced:
            return f"{self.tests} of {self.announced} tests"
        if self.json_lines is not None:
            return "the JSON array of results never closed"
        return None

    def _row(self, t: float, out: list, row: dict) -> None:
        """A result row of any form as its summary event. A row with a value a session cannot hold (a
        string where a figure belongs, an infinity, an object) stays an output line, and the run is
        partial: orintui did not understand all of it."""
        if (problem := check_summary(row, "")) is not None:
            self.recognised = True
            self.refused = self.refused or f"a result row refused ({problem})"
            return
        self.recognised = True
        self.tests += 1
        name = test_name(_count(row.get("n_prompt")), _count(row.get("n_gen")), _count(row.get("n_depth")))
        # ev.summary(t, bench=True, test=name, **row), inlined (the same keys in the same order): a row has
        # 24 fields, which keyword arguments would copy three times
        event = {"t": t, "kind": ev.SUMMARY, "run": None,
                 "bench": True, "test": name}
        event.update(row)
        out.append(event)


ADAPTER = Adapter(
    name="llama-bench",
    description="llama.cpp llama-bench -o jsonl, json, csv or md",
    parser=LlamaBenchParser,
    binary_hint="build it with scripts/build-llama-cpp (CPU) or scripts/build-llama-cpp --cuda",
)
