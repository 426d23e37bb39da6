"""The parsers' fast paths against the general ones they stand for, on every captured transcript:
one whole line per read against any other cut of the same text, positions against slicing,
the sanitiser's shortcut against the sanitiser, tinygrad.llm's split token patterns against the
whole-line ones."""

from __future__ import annotations

import os
import random
import re

import pytest
from conftest import FIXTURES

from orintui.backends import ADAPTERS
from orintui.backends.base import MAX_PENDING, CumulativeText, Parser, common_prefix_len, strip_ansi
from orintui.backends.tinygrad_llm import TOKEN_LINE, TOKEN_LINE_012, token_line
from orintui.sanitize import clean_text

TRANSCRIPTS = sorted((FIXTURES / "transcripts").glob("*.txt"))
HOSTILE = ["\x1b[31mred\x1b[0m", "a\x1b]52;c;aGk=\x07b", "caf\u00e9 \x85 \x9b31m x", "\t tab\x7f", "\u2028 x\x00y",
           "^C\x08\x08enqueue in 1.00 ms", "x" * 3000 + "\x1b[m", "plain ascii", "", "\r", "a\rb\r\n"]


def read(path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def cuts(text: str, seed: int) -> list[str]:
    """The text cut at random places inside lines, never between CR and LF (a read that ends on CR
    ends its line there, as a progress bar's redraw does)."""
    rng = random.Random(seed)
    places = [i for i in range(1, len(text)) if text[i - 1:i + 1] != "\r\n"]
    points = sorted(rng.sample(places, min(len(places), max(1, len(text) // 40))))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


def outputs(parser: Parser, chunks: list[str]) -> list:
    events = []
    for chunk in chunks:
        events += parser.feed(chunk, 1.0)  # one time for all: only the cuts differ
    return events + parser.finish(1.0)


class UntilParser(Parser):
    """Splits lines with lines_until (as llama.cpp's parsers do before generation) and never stops."""

    def text(self, text: str, t: float, out: list) -> None:
        assert self.lines_until(text, t, out, lambda: False) is None


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
def test_one_line_per_read_gives_what_any_cut_gives(path):
    text = read(path)
    by_line = re.split(r"(?<=\n)", text)  # the fast path: each read one whole line
    expected = outputs(Parser(), [text])
    assert outputs(Parser(), by_line) == expected
    assert outputs(Parser(), cuts(text, 1)) == expected
    assert outputs(UntilParser(), by_line) == expected
    assert outputs(UntilParser(), cuts(text, 2)) == expected
    assert outputs(UntilParser(), [text]) == expected


@pytest.mark.parametrize("name", ["tinygrad-llm", "tinygrad-gpt2", "tinygrad-llama3", "llama-bench"])
def test_line_based_adapters_give_the_same_events_however_the_lines_come(name):
    for path in TRANSCRIPTS:
        text = read(path)
        whole = outputs(ADAPTERS[name].make_parser(["--benchmark"]), [text])
        assert outputs(ADAPTERS[name].make_parser(["--benchmark"]), re.split(r"(?<=\n)", text)) == whole, path.name


def test_lines_until_returns_the_rest_after_the_stopping_line():
    class StopAt(Parser):
        stopped = False

        def line(self, line: str, t: float, out: list) -> None:
            self.stopped = line == "stop"

        def has_stopped(self) -> bool:
            return self.stopped

    for text, rest in [("a\nstop\nb\nc", "b\nc"), ("a\r\nstop\r\nb\r", "b\r"), ("stop\n", ""), ("a\nb", None)]:
        p = StopAt()
        assert p.lines_until(text, 1.0, [], p.has_stopped) == rest
        assert p._pending == ("" if rest is not None else "b")


def test_a_long_line_without_a_newline_is_cut_at_the_pending_limit():
    p = Parser()
    events = p.feed("x" * (MAX_PENDING + 1), 1.0)
    assert len(events) == 1 and events[0]["line"].startswith("x" * 100) and p._pending == ""


def test_strip_ansi_is_clean_text():
    texts = HOSTILE + [line for path in TRANSCRIPTS for line in re.split(r"\r\n|\n|\r", read(path))]
    assert len(texts) > 9000
    for text in texts:
        assert strip_ansi(text) == clean_text(text), text


def whole_line_forms(line: str):
    if m := TOKEN_LINE_012.match(line):
        return (*m.group(1, 2, 3, 4), None)
    if m := TOKEN_LINE.match(line):
        return (*m.group(1, 2, 3), None, m.group(6))
    return None


EDGES = ["  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB", "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB ",
         "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB  --", "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB  -- ",
         "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB  --  ", "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB --   x",
         "  1.26 ms, 796.74 tok/s,    0.34 GB/s, 0/0 MB\t--  x y", "1 ms, 2 tok/s, 3 GB/s, 4/5 MBx",
         "nan ms, inf tok/s, -inf GB/s, 1/2 MB  --  a", "5175.35 ms,   0.19 tok/s,    0.82 GB/s, param    0.58 GB/s",
         "5175.35 ms,   0.19 tok/s,    0.82 GB/s, param    0.58 GB/s  ", "1 ms, 2 tok/s, 3 GB/s, param 4 GB/s x",
         "1 ms, 2 tok/s, 3 GB/s,param 4 GB/s", "1 ms, 2 tok/s, 3 GB/s, 4/5 MB  --  param 6 GB/s", ""]


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
def test_tinygrad_llm_token_line_is_the_whole_line_patterns(path):
    lines = [strip_ansi(line) for line in re.split(r"\r\n|\n|\r", read(path))] + EDGES
    for line in lines:
        assert token_line(line) == whole_line_forms(line), line


def test_cumulative_text_shortcut_is_the_common_prefix():
    rng = random.Random(0)
    for _ in range(2000):
        a = "".join(rng.choice("ab\ufffd") for _ in range(rng.randrange(8)))
        b = "".join(rng.choice("ab\ufffd") for _ in range(rng.randrange(8)))
        tracker = CumulativeText()
        tracker.previous = a
        assert tracker.new_part(b) == b[len(os.path.commonprefix([a, b])):] == b[common_prefix_len(a, b):]
        assert tracker.previous == b


def test_tail_sorted_in_batches_is_the_last_three_lines_with_a_letter_or_digit():
    rng = random.Random(0)
    pool = ["", "^^^^", "----", "x", "  7", "Traceback (most recent call last):", "\u00e9", "__", "a" * 2500, "^" * 2500]
    for n in (0, 1, 2, 5, 63, 64, 65, 130, 300):
        lines = [rng.choice(pool) for _ in range(n)]
        p = Parser()
        p.feed("".join(line + "\n" for line in lines), 1.0)
        # the tail as it was kept before: every line with a letter or digit, as shown
        shown = [e["line"] for e in outputs(Parser(), [line + "\n" for line in lines])]
        kept = [s for s, line in zip(shown, lines) if re.search(r"[^\W_]", line)][-3:]
        words = [w.strip()[:200] for w in kept if w.strip()]
        assert p.last_words() == (": " + " | ".join(words) if words else ""), n


BENCH_ROWS = [line for path in TRANSCRIPTS if path.name.startswith("llama-bench") for line in read(path).splitlines()]


@pytest.mark.parametrize("row", [
    *[line for line in BENCH_ROWS if line.startswith("{")],
    '{"avg_ts": 1.5, "model_type": "a\x7fb"}', '{"avg_ts": 1.5, "model_type": "caf\u00e9 \x9b31m"}',
    '{"avg_ts": 1.5, "model_type": "a\\u001b[31mb"}', '{"avg_ts":\t1.5}', '  {"avg_ts": 1.5}  ', '{"avg_ts": NaN}',
    '{"avg_ts": 1.5, "x": "\x1b[31m"}', '{"avg_ts": 1.5}\x1b[0m', '{"avg_ts": 1.5', '{}', '{"n_gen": 5}',
])
def test_llama_bench_json_rows_skip_the_sanitiser_only_where_it_would_change_nothing(row):
    p = ADAPTERS["llama-bench"].make_parser()
    assert p.clean(row) == strip_ansi(row)
    fast = p.feed(row + "\n", 1.0) + p.finish(2.0)
    slow = ADAPTERS["llama-bench"].make_parser()
    slow.clean = strip_ansi  # type: ignore[method-assign]  # the sanitiser, then the row decoded again
    assert fast == slow.feed(row + "\n", 1.0) + slow.finish(2.0)


def test_llama_completion_prefilters_pass_whatever_the_patterns_match():
    from orintui.backends.llama_completion import LOG_CORE, LOG_LINE, TEXT_END

    texts = [read(path) for path in TRANSCRIPTS if path.name.startswith("llama")]
    pieces = [chunk for i, text in enumerate(texts) for chunk in cuts(text, i)] + texts
    matched = 0
    for piece in pieces:
        if TEXT_END.search(piece):
            matched += 1
            assert any(w in piece for w in ("_print", "Interrupted by user", "_memory_breakdown", "[end of text]",
                                            "context full")), piece
        if LOG_LINE.search(piece):
            assert LOG_CORE.search(piece), piece
    assert matched > 10


def test_llama_completion_eos_tail_is_the_longest_start_of_the_marker():
    from orintui.backends.llama_completion import EOS_MARK

    parser = ADAPTERS["llama-completion"].make_parser(["x", "-p", "hi"])
    parser.at_line_start = False  # only the marker's part of _partial_tail
    rng = random.Random(0)
    alphabet = [" ", "[", "e", "x", " [", " [end", " [end of", EOS_MARK, "]", "t"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
        longest = next((n for n in range(min(len(EOS_MARK), len(text)), 1, -1) if EOS_MARK.startswith(text[-n:])), 0)
        assert parser._partial_tail(text) == longest, text
