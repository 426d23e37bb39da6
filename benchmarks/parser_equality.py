"""Do two source trees' parsers give the same events? The check behind every parser speed-up.

    python benchmarks/parser_equality.py OTHER_TREE            # this tree against OTHER_TREE
    python benchmarks/parser_equality.py --digests OUT.json    # (used by the above) one tree's digests

Every adapter, with each argv form, is fed every recorded transcript in tests/fixtures/transcripts/,
the same transcripts with escape sequences and control characters inserted, and a 2,000-token
tinygrad.llm run with hostile variants (escapes, an escape that persists in the text, a changed
earlier word, a wider head, non-ASCII, backslashes, a cut line); each input whole, one line per
read and in random cuts. A case's digest is the SHA-256 of the repr of everything the parser gave
(events in order with their key order and exact floats, times to the microsecond, the verdict, the last words, the counts):
str enums count as their values, so a field turned into an enum compares equal. Each tree runs in
its own process, with its own code on sys.path.
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ESCAPES = ["\x1b[31m", "\x1b]52;c;aGk=\x07", "\x9b31m", "\x07", "\x08", "\x7f", "\x00", "\t", "\r", "\u2028", "\x85",
           "\x1b", "\u00e9", "\ufffd", "\x1b[", "\x1b]0;t"]
ARGVS = {"llama-completion": [["llama-completion", "-p", "Hello from orintui"], ["x", "-p", "The quick brown fox"], ["x"]],
         "tinygrad-llama3": [["--benchmark"], ["--no_api"]]}


def hostile(text: str, seed: int) -> str:
    rng = random.Random(seed)
    chars = list(text)
    for _ in range(max(1, len(chars) // 50)):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(ESCAPES))
    return "".join(chars)


def long_variant(lines: list[str], kind: str, seed: int) -> str:
    rng = random.Random(seed)
    lines = list(lines)
    for _ in range(30):
        i = rng.randrange(len(lines))
        line = lines[i]
        j = rng.randrange(len(line) - 1)
        if kind == "esc":
            lines[i] = line[:j] + rng.choice(ESCAPES) + line[j:]
        elif kind == "persist":  # an escape that stays in the text from here on
            esc = rng.choice(ESCAPES)
            lines[i:] = [x.replace("<|begin_of_text|> ", "<|begin_of_text|> " + esc, 1) for x in lines[i:]]
        elif kind == "prefix":  # the earlier text changes (a replacement character resolved)
            lines[i:] = [x.replace(" w", " \ufffd", 1) if n % 2 else x for n, x in enumerate(lines[i:])]
        elif kind == "width":  # the head grows wider
            lines[i] = "1" + line
        elif kind == "unicode":
            lines[i:] = [x.replace(" w", " \u00e9", 1) for x in lines[i:]]
        elif kind == "backslash":
            lines[i:] = [x.replace(" w", " \\n", 1) for x in lines[i:]]
        elif kind == "cut":
            lines[i] = line[: len(line) // 2] + "\n"
    return "".join(lines)


def cuts(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    points = sorted({rng.randrange(1, len(text)) for _ in range(max(1, len(text) // 60))}) if len(text) > 1 else []
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


def plain(x: object) -> object:
    """str enums as their values (equal to the words, but their repr differs), and an event's time as
    the recorder records it, to the microsecond (older parsers rounded it themselves)."""
    if isinstance(x, enum.Enum):
        return x.value
    if isinstance(x, dict):
        return {k: round(v, 6) if k == "t" and isinstance(v, float) else plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x)
    return x


def digests(tree: Path) -> dict[str, str]:
    sys.path[:0] = [str(tree), str(tree / "benchmarks")]
    import parser_throughput

    from orintui.backends import ADAPTERS

    folder = tree / "tests" / "fixtures" / "transcripts"
    texts = {p.name: p.read_bytes().decode("utf-8", errors="replace") for p in sorted(folder.glob("*.txt"))}
    inputs = dict(texts)
    for name, text in texts.items():
        inputs["hostile-" + name] = hostile(text, len(name))
    long = parser_throughput.long_cumulative_run()
    inputs["long"] = "".join(long)
    for kind in ("esc", "persist", "prefix", "width", "unicode", "backslash", "cut"):
        for seed in range(3):
            inputs[f"long-{kind}-{seed}"] = long_variant(long, kind, seed)
    out = {}
    for name, adapter in ADAPTERS.items():
        for argv in ARGVS.get(name, [["--benchmark"]]):
            for input_name, text in inputs.items():
                if input_name.startswith("long"):
                    if name != "tinygrad-llm" and input_name != "long":
                        continue
                    forms = {"lines": re.split(r"(?<=\n)", text)}
                    if name == "tinygrad-llm" and input_name.endswith("-0"):
                        forms["chunks"] = [text[i:i + 5000] for i in range(0, len(text), 5000)]
                else:
                    forms = {"whole": [text], "lines": re.split(r"(?<=\n)", text), "cuts1": cuts(text, 1),
                             "cuts2": cuts(text, 2)}
                for form, chunks in forms.items():
                    parser = adapter.make_parser(argv)
                    given: list[object] = [("feed", parser.feed(c, 1.0 + i * 0.0013)) for i, c in enumerate(chunks)]
                    given.append(("finish", parser.finish(99.0)))
                    given.append(("verdict", parser.verdict(), parser.last_words(), parser.token_count,
                                  parser.lines_seen, parser.recognised))
                    key = " | ".join([name, " ".join(argv), input_name, form])
                    out[key] = hashlib.sha256(repr(plain(given)).encode("utf-8", "surrogatepass")).hexdigest()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("other", nargs="?", help="another source tree (a git worktree of an older commit)")
    p.add_argument("--digests", metavar="OUT", help="write the digests of --tree's parsers to OUT (JSON) and stop")
    p.add_argument("--tree", help="with --digests: the source tree whose code is imported (default: this one)")
    args = p.parse_args()
    here = Path(__file__).resolve().parent.parent
    if args.digests:
        Path(args.digests).write_text(json.dumps(digests(Path(args.tree or here).resolve())))
        return 0
    if not args.other:
        p.error("another source tree to compare with")
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, tree in enumerate((here, Path(args.other).resolve())):
            out = Path(tmp) / f"{n}.json"  # each tree in its own process: its own orintui imported
            subprocess.run([sys.executable, __file__, "--digests", str(out), "--tree", str(tree)], check=True)
            found.append(json.loads(out.read_text()))
    a, b = found
    if a.keys() != b.keys():
        print(f"{len(a.keys() ^ b.keys())} cases are fed by one tree only (its fixtures differ)")
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    print(f"{len(a.keys() & b.keys())} cases, {len(differ)} give different events")
    for key in differ[:20]:
        print("  " + key)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
