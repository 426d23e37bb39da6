"""The parsers' fast paths against the general ones they stand for, on every captured transcript:
one whole line per read against any other cut of the same text, positions against slicing,
the sanitiser's shortcut against the sanitiser, tinygrad.llm's split token patterns against the
whole-line ones."""

from __future__ import annotations

import math
import os
import random
import re

import pytest
from conftest import FIXTURES

from orintui.backends import ADAPTERS
from orintui.backends.base import MAX_PENDING, CumulativeText, Parser, common_prefix_len, is_clean, strip_ansi
from orintui.backends.llama_bench import KEEP
from orintui.backends.tinygrad_llm import TOKEN_LINE, TOKEN_LINE_012, token_line
from orintui.core.sanitize import clean_text
from orintui.session.schema import check_event

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


def test_round6_is_round_to_six_places():
    from orintui.session.events import round6

    rng = random.Random(0)
    values = [rng.random() * 10 ** rng.randrange(-8, 10) for _ in range(200_000)] + [i * 0.001 for i in range(20_000)]
    # ties and near-ties of the sixth place, where the product's rounding could decide
    values += [(k + 0.5) / 1e6 for k in range(0, 10**6, 101)] + [(k + 0.5) / 1e6 for k in range(2**40, 2**40 + 5000)]
    values += [math.nextafter((k + 0.5) / 1e6, d) for k in range(0, 10**9, 99_991) for d in (0.0, 1e10)]
    values += [0.0, -0.0, -1.5, 1.0, 5e-7, 1.5e-6, 2.5e-6, 5e-324, 8999999999.9999995, 9e9, 1e300, math.inf, math.nan, 3, True]
    for value in values:
        fast, exact = round6(value), round(value, 6)
        assert repr(fast) == repr(exact) and type(fast) is type(exact), value


def test_is_clean_is_whether_the_sanitiser_changes_a_text():
    texts = HOSTILE + ["x" * 200 + c for c in ("\x1b", "\x9b", "\x7f", "\x00", "\t", "\r", "\u00e9", "\x85")]
    texts += [line for path in TRANSCRIPTS for line in re.split(r"\r\n|\n|\r", read(path))]
    for text in texts:
        assert is_clean(text) == (clean_text(text) == text), text


def cumulative_lines(rng: random.Random, n: int = 400) -> list[str]:
    """tinygrad.llm's long lines (timings, then the whole text so far), long enough for the repeat
    shortcut, with hostile turns: an escape or control character in the new words (it stays in every
    later line), before the timings, in them in place, in the middle of the repeated text for one line, a changed earlier
    word (a replacement character resolved), a wider head, a line cut short, non-ASCII words."""
    words = ["w1", "w22", "\u00e9t\u00e9", "\x1b[31mred\x1b[0m", "\x07", "\x9b1m", "\t", "\x7f", "\ufffd", "z" * 300]
    text, lines = "<|begin_of_text|>" + " x" * 600, []
    for i in range(n):
        text += " " + (rng.choice(words) if rng.random() < 0.1 else f"w{i}")
        line = f"  20.{i % 100:02d} ms,  49.90 tok/s,   12.31 GB/s, 2504/2744 MB  --  {text}"
        turn = rng.random()
        if turn < 0.03:
            line = "\x1b[2K" + line
        elif turn < 0.05:  # in place: the repeated text stays in its columns
            line = line[:5] + rng.choice("\x07\x1b\x9b\x00") + line[6:]
        elif turn < 0.1:
            mid = rng.randrange(100, len(line))
            line = line[:mid] + rng.choice(words[3:]) + line[mid:]
        elif turn < 0.13:
            text = text.replace(" x", " y", 1)
        elif turn < 0.16:
            line = "1" + line
        elif turn < 0.19:
            line = line[: len(line) // 2]
        lines.append(line)
    return lines


class NoShortcut(Parser):
    """Every line through clean: the general path the repeat shortcut stands for."""

    def _clean_long(self, raw: str) -> str:
        return self.clean(raw)


@pytest.mark.parametrize("seed", range(6))
def test_long_repeated_lines_are_cleaned_as_the_sanitiser_cleans_them(seed):
    from orintui.backends.base import LONG_LINE

    lines = cumulative_lines(random.Random(seed))
    assert sum(len(line) >= LONG_LINE for line in lines) > 300
    fast, slow = Parser(), NoShortcut()
    for line in lines:
        got = fast.feed(line + "\n", 1.0)
        assert got == slow.feed(line + "\n", 1.0)
        assert got[0]["line"] == (lambda s: s if len(s) <= 2000 else s[:2000] + f"... ({len(s) - 2000} more characters)")(
            clean_text(line))
    class SlowLLM(type(ADAPTERS["tinygrad-llm"].make_parser())):  # type: ignore[misc]
        _clean_long = NoShortcut._clean_long

    fast_llm, slow_llm = ADAPTERS["tinygrad-llm"].make_parser(), SlowLLM()
    text = "".join(line + "\n" for line in lines)
    assert outputs(fast_llm, re.split(r"(?<=\n)", text)) == outputs(slow_llm, re.split(r"(?<=\n)", text))


def test_llama_bench_rows_decode_to_the_standard_decoders_fields_in_keep_order():
    import json

    from orintui.backends.llama_bench import KEEP, _decode

    full = next(line for line in BENCH_ROWS if line.startswith("{"))
    obj = json.loads(full)
    rows = [line for line in BENCH_ROWS if line.startswith("{")]
    rng = random.Random(0)
    for _ in range(200):  # some fields left out, others added, values of every JSON kind
        keys = [k for k in obj if rng.random() < 0.8] + ["extra"]
        rows.append(json.dumps({k: obj.get(k, rng.choice([[1, {"a": None}], "s", 1.5, True, None, {}])) for k in keys}))
    rows += ['{"avg_ts": 1}', "{}", '{"avg_ts": NaN}', "[1]", '{"a": [[[[1]]]]}', '{"avg_ts": 1, "avg_ts": 2}']
    for row in rows:
        try:
            obj = json.loads(row)
        except ValueError:
            obj = None
        decoded = _decode(row)
        if decoded is None:
            assert not isinstance(obj, dict) or "NaN" in row, row
            continue
        assert list(decoded.items()) == [(k, obj[k]) for k in KEEP if k in obj], row


def ascii_twins() -> list[tuple[str, re.Pattern, re.Pattern]]:
    """Every ASCII_X pattern of the adapters with the X it stands for."""
    from orintui.backends import llama_completion, tinygrad_gpt2, tinygrad_llama3, tinygrad_llm

    pairs = [(f"{m.__name__}.{name}", getattr(m, name[6:]), twin) for m in (tinygrad_llm, tinygrad_gpt2, tinygrad_llama3)
             for name, twin in vars(m).items() if name.startswith("ASCII_")]
    pairs += [(f"llama_completion.{p.pattern[:20]}", p, twin) for p, twin in zip(llama_completion.FIGURES,
                                                                                  llama_completion.ASCII_FIGURES)]
    pairs += [("LOG_PREFIX", llama_completion.LOG_PREFIX, llama_completion.ASCII_LOG_PREFIX),
              ("PERF", llama_completion.PERF, llama_completion.ASCII_PERF)]
    assert len(pairs) >= 15
    return pairs


def test_ascii_twins_match_what_their_patterns_match_in_ascii_text():
    from orintui.backends.base import ascii_twin

    rng = random.Random(0)
    lines = [line for path in TRANSCRIPTS for line in re.split(r"\r\n|\n|\r", read(path)) if line.isascii()] + EDGES
    spaces = [" ", "\t", "\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c", "\n", "\r"]
    texts = lines + ["".join(rng.choice(spaces) if c == " " and rng.random() < 0.3 else c for c in line) for line in lines]
    texts = sorted({text[text.index(key):] for text in texts for key in ("", "ran model", "enqueue", "total", "param", ",")
                    if key in text})
    texts = rng.sample(texts, min(len(texts), 4000))
    for name, pattern, twin in ascii_twins():
        for text in texts:
            a, b = pattern.match(text), twin.match(text)
            assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups())), (name, text)
            a, b = pattern.search(text), twin.search(text)
            assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups())), (name, text)
    assert ascii_twin(re.compile(r"a\\s\\\s+")).pattern == r"a\\s\\[\s\x1c-\x1f]+"  # an escaped backslash is no \s
    with pytest.raises(ValueError):
        ascii_twin(re.compile(r"[\s,]"))


@pytest.mark.parametrize("name", ["tinygrad-llm", "tinygrad-gpt2", "tinygrad-llama3"])
def test_non_ascii_numbers_are_read_as_the_unicode_patterns_read_them(name):
    # Unicode digits (fullwidth, Arabic-Indic) are \d, and float() reads them: such a line takes the
    # Unicode pattern, and gives what it gave before the ASCII twins
    lines = ["\uff12\uff10.5 ms,  49.90 tok/s,   12.31 GB/s, 2504/2744 MB  --  a", "  1.5 ms,\u00a0 2 tok/s, 3 GB/s, 4/5 MB",
             "ran model in \u0663.5 ms, \u0661 GB/s", "enqueue in  \uff11 ms", "total \u0661 ms, 2 tok/s, 3 GB/s, param 4 GB/s",
             "caf\u00e9", "ran model in 2 ms\u2028x", "  1 ms, 2 tok/s, 3 GB/s, 4/5 MB  --  caf\u00e9"]
    parser = ADAPTERS[name].make_parser(["--benchmark"])
    events = outputs(parser, [line + "\n" for line in lines])
    assert [e for e in events if e["kind"] == "token"], events
    if name == "tinygrad-llm":
        for line in lines:
            assert token_line(line) == whole_line_forms(line), line


def test_number_matches_what_the_old_number_pattern_matched():
    from orintui.backends.base import NUMBER

    old = r"(nan|-?inf|[-+]?\d+(?:\.\d+)?)"  # the form before it was reordered for speed
    rng = random.Random(0)
    texts = ["".join(rng.choice("0123456789.-+naif ms,\uff13") for _ in range(rng.randrange(12))) for _ in range(20_000)]
    for context in ("{}", "{} ms", r"\s*{} ms,\s+{}", "{}$", "x{}"):
        a, b = re.compile(context.format(old, old)), re.compile(context.format(NUMBER, NUMBER))
        for text in texts:
            for how in ("match", "search", "fullmatch"):
                x, y = getattr(a, how)(text), getattr(b, how)(text)
                assert (x and (x.span(), x.groups())) == (y and (y.span(), y.groups())), (context, text)



def general(name: str, argv: list[str]) -> Parser:
    """The adapter's parser with every read through ``text`` (split_lines or its own): no shortcut."""
    def feed(self, text, t):
        out: list = []
        self.text(text, t, out)
        return out
    parser = ADAPTERS[name].make_parser(argv)
    parser.__class__ = type("General", (type(parser),), {"feed": feed})
    return parser


SHORTCUT_ARGVS = {"llama-completion": ["llama-completion", "-p", "Hello from orintui"]}


@pytest.mark.parametrize("name", ["tinygrad-llm", "tinygrad-gpt2", "tinygrad-llama3", "llama-completion", "llama-bench"])
def test_one_line_reads_take_shortcuts_that_give_the_general_paths_events(name):
    """feed's shortcuts (a whole line straight to _line, an adapter's own for its common line) against
    every read through ``text``, on every recorded transcript, one line per read."""
    argv = SHORTCUT_ARGVS.get(name, ["--benchmark"])
    for path in TRANSCRIPTS:
        reads = [x for x in re.split(r"(?<=\n)", read(path)) if x]
        fast, slow = ADAPTERS[name].make_parser(argv), general(name, argv)
        for i, chunk in enumerate(reads):
            assert fast.feed(chunk, i * 0.001) == slow.feed(chunk, i * 0.001), (path.name, i, chunk[:120])
        assert fast.finish(1.0) == slow.finish(1.0)
        assert (fast.verdict(), fast.last_words(), fast.token_count) == (slow.verdict(), slow.last_words(), slow.token_count)


@pytest.mark.parametrize("seed", range(6))
def test_tinygrad_llm_token_line_shortcut_gives_the_general_paths_events(seed, monkeypatch):
    """tinygrad-llm's shortcut for a plain token line against split_lines -> _line -> line on hostile
    long lines (escapes in the new words and in the repeated text, a changed earlier word, a wider
    head, a cut line, non-ASCII), ending in LF or a PTY's CR LF; and the shortcut is taken (the
    fallbacks to _line counted), or this would compare the general path with itself."""
    fallbacks = []
    hostile = [line + ("\r\n" if seed % 2 else "\n") for line in cumulative_lines(random.Random(seed))]  # a PTY's CR LF
    h100 = [x for x in re.split(r"(?<=\n)", read(FIXTURES / "transcripts" / "tinygrad-llm-cuda-h100.txt")) if x]
    # a figure too long for a float (infinite: refused, None) in a line the shortcut would take
    huge = [("9" * 400 + x.lstrip(" ") if i == 10 else x) for i, x in enumerate(h100)]
    # a text ending in a backslash, then a word starting with n: the general path reads the two as an
    # escaped newline, which the shortcut, checking only the new words, must not miss
    head = "  28.85 ms,  34.67 tok/s,   86.85 GB/s, 2505/2744 MB  --  <|begin_of_text|>"
    escape = [f"{head}{text}\n" for text in [" a", " a b", " a b\\", " a b\\nc", " a b\\nc d", " a b\\nc d e"]]
    taken = {}
    for name, reads in [("hostile", hostile), ("h100", h100), ("huge", huge), ("escape", escape)]:
        fast, slow = ADAPTERS["tinygrad-llm"].make_parser(["--benchmark"]), general("tinygrad-llm", ["--benchmark"])
        fast_line = fast._line
        monkeypatch.setattr(fast, "_line", lambda line, t, out, f=fast_line: fallbacks.append(line) or f(line, t, out))
        fallbacks.clear()
        for i, chunk in enumerate(reads):
            assert fast.feed(chunk, i * 0.001) == slow.feed(chunk, i * 0.001), (name, i, chunk[:120])
        taken[name] = len(reads) - len(fallbacks)
        assert fast.finish(1.0) == slow.finish(1.0)
        assert (fast.verdict(), fast.last_words()) == (slow.verdict(), slow.last_words())
    # all of the H100 run's token lines but the first; hostile lines until an escape stays in the text
    assert taken["h100"] == len(h100) - 2 and taken["huge"] == len(huge) - 3 and taken["escape"] == 1
    assert [e["ms"] for e in ADAPTERS["tinygrad-llm"].make_parser([]).feed(huge[10], 0.0) if e["kind"] == "token"] == [None]
    assert 0 < taken["hostile"] < len(hostile)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_event_a_parser_gives_is_one_a_session_file_can_hold(name):
    """Whatever a backend prints (every recorded transcript, and each with hostile lines put between
    its own: escapes, controls, a JSON row with an object where a figure belongs, a huge figure), as
    one read, a line a read and random cuts: every event passes the schema a session file is loaded
    with, so a recorded run's file always loads."""
    hostile = [*HOSTILE, '{"avg_ts": {"a": 1}, "n_prompt": "x"}', '{"avg_ts": 1e400}', "9" * 400 + " ms, 1.0 tok/s, 1.0 GB/s,",
               "build_commit,avg_ts", '"x","[1]"', "| test | t/s |", "| pp1e999 | 1e999 ± 1 |"]
    for path in TRANSCRIPTS:
        lines = read(path).splitlines(keepends=True)
        mixed = "".join(x + hostile[i % len(hostile)] + "\n" if i % 3 == 0 else x for i, x in enumerate(lines))
        for text in (read(path), mixed):
            for chunks in ([text], re.split(r"(?<=\n)", text), cuts(text, 7)):
                parser = ADAPTERS[name].make_parser(SHORTCUT_ARGVS.get(name, ["--benchmark"]))
                events = [e for i, c in enumerate(chunks) for e in parser.feed(c, 0.5 + i * 0.001)] + parser.finish(9.0)
                problems = {check_event({**e, "run": 0}, 1) for e in events} - {None}
                assert not problems, (path.name, problems)


# each adapter's own lines with an integer where a count belongs: N is a sane one, a 400-digit one (more than
# a session holds) or a 5,000-digit one (more than int() reads); and a file size that is no number
OWN_LINES = {
    "tinygrad-llm": ['using model "x" with N bytes and N params, max context N on CPU', 'using model "x" with , bytes and ,N params'],
    "tinygrad-llama3": ["seed = N"],
    "llama-completion": ["main: generate: n_ctx = N, n_batch = N, n_predict = N",
                         "llama_perf_context_print: prompt eval time = 10.00 ms / N tokens ( 1.00 ms per token, 100.00 tokens per second)",
                         "llama_perf_context_print:        eval time = 10.00 ms / N runs   ( 1.00 ms per token, 100.00 tokens per second)",
                         "llama_perf_context_print:       total time =  10.00 ms /  N tokens",
                         "load_tensors: offloaded N/N layers to GPU", "print_info: file size   = N.5 GiB",
                         "print_info: file size   = 1.2.N GiB"],
    "llama-bench": ["llama-bench: benchmark 1/N: starting", "build: abc1234 (N)",
                    "| model | test | t/s |\n| --- | --- | --- |\n| m | ppN | 1.0 ± 0.1 |"],
    "openai": ["/v1/chat/completions  --  in:    N +   N  --  prefill:  123 tok/s  --  gen:   45 tok/s  --  out:   N  --  total:  1.23s"],
}


@pytest.mark.parametrize("name", sorted(OWN_LINES))
def test_a_count_no_session_can_hold_neither_crashes_the_reader_nor_breaks_the_file(name):
    """A backend's own line with a count of 400 or 5,000 digits (or a file size of two dots) is read
    like any other: no exception in the reader thread (int() refuses a text of over 4,300 digits, a
    float of 400 digits is infinite), and every event passes the schema a session file is loaded with;
    the same line with a sane count gives its figure, so each line takes the path it is meant to."""
    for template in OWN_LINES[name]:
        for n in ("12", "9" * 400, "9" * 5000):
            text = template.replace("N", n) + "\r\n"
            for chunks in ([text], [f"plain line\r\n{text}"]):  # feed's one-line shortcut, and the general path
                parser = ADAPTERS[name].make_parser([])
                events = [e for c in chunks for e in parser.feed(c, 0.5)] + parser.finish(9.0)
                parser.verdict()
                problems = {check_event({**e, "run": 0}, 1) for e in events} - {None}
                assert not problems, (template, len(n), problems)
                if n == "12" and "1.2" not in template:
                    assert parser.recognised or any(e["kind"] != "output" for e in events), template


HOSTILE_VALUES = ['"x"', "[1]", "1e400", "-1", "1.5", "true", "null", '{"a": 1}', "9223372036854775808", "[1, null]",
                  '["a", 2]', "[[1]]", "2", "7.0"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_llama_bench_rows_with_any_value_give_the_general_paths_events_and_a_session_can_hold_them(value):
    """Each kept field of a recorded row set to a hostile value, one row a read: the shortcut (its own
    types) gives what the general path (msgspec's Any, then the schema's check) gives, never raises,
    and every event passes the session schema, so the run's file loads; a refused row makes it partial."""
    row = read(FIXTURES / "transcripts" / "llama-bench-jsonl.txt").splitlines()[0]
    refused = 0
    for key in KEEP:
        changed = re.sub(rf'"{key}": (\[[^]]*\]|"[^"]*"|[^,}}]+)', lambda m, new=f'"{key}": {value}': new, row, count=1)
        assert changed != row or value in row
        fast, slow = ADAPTERS["llama-bench"].make_parser(), general("llama-bench", [])
        for i, chunk in enumerate([row + "\r\n", changed + "\r\n"]):
            events = fast.feed(chunk, i + 0.5)
            assert events == slow.feed(chunk, i + 0.5), (key, value)
            assert all(check_event({**e, "run": 0}, 1) is None for e in events), (key, value, events)
        assert fast.verdict() == slow.verdict()
        refused += fast.verdict()[0] == "partial"
        assert fast.tests + (fast.verdict()[0] == "partial") == 2, (key, value, fast.verdict())
    # a number anywhere is kept; a string only where no figure belongs (avg_ts, stddev_ts, n_prompt, n_gen);
    # an object, an infinity or an integer a float cannot hold nowhere
    expected = {"2": 0, "7.0": 0, '"x"': 4, '{"a": 1}': len(KEEP), "1e400": len(KEEP), "9223372036854775808": len(KEEP)}
    assert refused == expected.get(value, refused), refused


def test_llama_bench_rows_take_the_shortcut(monkeypatch):
    """Every -o jsonl row read alone takes llama-bench's shortcut (or the comparison above would hold the
    general path to itself): no read of the recorded jsonl runs falls back to _line."""
    fallbacks = []
    base_line = Parser._line
    monkeypatch.setattr(Parser, "_line", lambda self, line, t, out: fallbacks.append(line) or base_line(self, line, t, out))
    for name in ("llama-bench-jsonl.txt", "llama-bench-fa01-jsonl.txt"):
        reads = [x for x in re.split(r"(?<=\n)", read(FIXTURES / "transcripts" / name)) if x.strip()]
        parser = ADAPTERS["llama-bench"].make_parser()
        crlf = [x if x.endswith("\r\n") else x[:-1] + "\r\n" for x in reads]  # as a PTY delivers them
        events = [e for chunk in crlf for e in parser.feed(chunk, 1.0)]
        assert not fallbacks and len([e for e in events if e.get("bench")]) == len(reads) > 0
