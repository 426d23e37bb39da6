"""Every field a typed event path reads is one its TypedDict names, ``.get`` included.

mypy makes a misspelt ``event["key"]`` on a typed path an error, but a misspelt ``event.get("key")``
is only ``object`` to it (no error where the value is merely tested for truth). This walks orintui's
source: in each function, a name whose annotation is one of the event types (``TokenLike``,
``RunEndedEvent`` ...), one bound to ``cast(SomeEvent, ...)``, and a ``self.attr`` annotated so in its
class; each string key read from one (``x["k"]``, ``x.get("k")``) must be a field of that TypedDict.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_type_hints

from orintui.session import events as ev

ORINTUI = Path(ev.__file__).resolve().parents[1]


def _typed_dicts() -> dict[str, frozenset[str]]:
    """Each event type's name and its fields (for a union, every member's)."""
    fields: dict[str, frozenset[str]] = {}
    for name in dir(ev):
        value = getattr(ev, name)
        if hasattr(value, "__total__") and hasattr(value, "__required_keys__"):  # a TypedDict
            fields[name] = frozenset(get_type_hints(value))
    fields["TokenLike"], fields["TelemetryLike"] = fields["TokenEvent"], fields["TelemetryEvent"]
    fields["SampleLike"] = fields["Sample"] | fields["TelemetryEvent"]
    return fields


FIELDS = _typed_dicts()


def _type_name(annotation: ast.expr | None) -> str | None:
    """The event type an annotation names (``RunEndedEvent | None`` and ``"X"`` included), else None."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if isinstance(annotation, ast.BinOp):  # X | None
        return _type_name(annotation.left) or _type_name(annotation.right)
    name = annotation.attr if isinstance(annotation, ast.Attribute) else getattr(annotation, "id", None)
    return name if name in FIELDS else None


def _cast_type(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "cast" and node.args:
        return _type_name(node.args[0])
    return None


def _key(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _target(node: ast.expr, names: dict[str, str], attrs: dict[str, str]) -> str | None:
    """The event type of the expression a key is read from."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "self":
        return attrs.get(node.attr)
    if isinstance(node, ast.NamedExpr):  # (note := cast(NoteEvent, event)).get(...)
        return _cast_type(node.value)
    return _cast_type(node)


def _reads(function: ast.FunctionDef, attrs: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, type, key) for each string key read from a typed event in ``function``."""
    names = {a.arg: t for a in function.args.args + function.args.kwonlyargs if (t := _type_name(a.annotation))}
    for node in ast.walk(function):  # names bound to a cast, or annotated, anywhere in the body
        if isinstance(node, (ast.Assign, ast.NamedExpr)) and (t := _cast_type(node.value)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    names[target.id] = t
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and (t := _type_name(node.annotation)):
            names[node.target.id] = t
    reads = []
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and (key := _key(node.slice)) is not None:
            source, line = node.value, node.lineno
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and (key := _key(node.args[0])) is not None):
            source, line = node.func.value, node.lineno
        else:
            continue
        if (t := _target(source, names, attrs)) is not None:
            reads.append((line, t, key))
    return reads


def _class_attrs(cls: ast.ClassDef) -> dict[str, str]:
    """``self.x: SomeEvent ...`` annotations in a class's methods."""
    attrs = {}
    for node in ast.walk(cls):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute)
                and getattr(node.target.value, "id", None) == "self" and (t := _type_name(node.annotation))):
            attrs[node.target.attr] = t
    return attrs


def typed_reads(source: str) -> list[tuple[int, str, str]]:
    tree = ast.parse(source)
    attrs_of = {id(f): _class_attrs(c) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                for f in ast.walk(c) if isinstance(f, ast.FunctionDef)}
    return sorted({read for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)  # a nested function's once
                   for read in _reads(f, attrs_of.get(id(f), {}))})


def unknown_reads(source: str) -> list[tuple[int, str, str]]:
    return [(line, t, key) for line, t, key in typed_reads(source) if key not in FIELDS[t]]


def test_every_key_read_on_a_typed_event_path_is_a_field_of_its_typed_dict() -> None:
    problems, checked = [], 0
    for path in sorted(ORINTUI.rglob("*.py")):
        source = path.read_text()
        checked += len(typed_reads(source))
        problems += [f"{path.relative_to(ORINTUI.parent)}:{line}: {t} has no field {key!r}"
                     for line, t, key in unknown_reads(source)]
    assert not problems, "\n".join(problems)
    assert checked > 50  # the typed paths are found: the accumulators, LiveState, the exporter ...


def test_a_misspelt_get_on_each_kind_of_typed_path_is_found() -> None:
    source = '''
from typing import cast
def token(e: TokenLike) -> None:
    e.get("tok_ss")
def ended(event: Event) -> None:
    end = cast(RunEndedEvent, event)
    end.get("exit_cod")
    if (note := cast(NoteEvent, event)).get("gates"):
        pass
    cast(SummaryEvent, event).get("eval_toks")
class Acc:
    def __init__(self) -> None:
        self.summary: SummaryFigures = {}
    def rate(self) -> None:
        self.summary.get("eval_tok_s"), self.summary["load_s"]
'''
    assert [(t, key) for _, t, key in unknown_reads(source)] == [
        ("TokenLike", "tok_ss"), ("RunEndedEvent", "exit_cod"), ("NoteEvent", "gates"), ("SummaryEvent", "eval_toks"),
        ("SummaryFigures", "load_s")]


def test_every_adapters_token_events_have_ev_tokens_shape():
    """The adapters build their token events inline (a keyword call a token costs too much on the reader
    thread): four places that write the token's fields. Each must give ev.token's keys in its order,
    then index, then only TokenEvent's fields, with the types it names, on every recorded transcript."""
    from conftest import FIXTURES

    from orintui.backends import ADAPTERS
    head = [*ev.token(0.0, "", None, False), "index"]
    argvs = {"llama-completion": ["llama-completion", "-p", "Hello from orintui"], "llama-bench": []}
    seen = set()
    for name, adapter in ADAPTERS.items():
        for path in sorted((FIXTURES / "transcripts").glob("*.txt")):
            parser = adapter.make_parser(argvs.get(name, ["--benchmark"]))
            text = path.read_bytes().decode("utf-8", errors="replace")
            events = [e for line in text.splitlines(keepends=True) for e in parser.feed(line, 1.5)] + parser.finish(2.0)
            for e in (e for e in events if e["kind"] == ev.TOKEN):
                seen.add(name)
                assert list(e)[:len(head)] == head and set(e) <= FIELDS["TokenEvent"], (name, path.name, list(e))
                assert type(e["text"]) is str and type(e["index"]) is int and type(e["warmup"]) is bool, (name, e)
                assert e["ms"] is None or type(e["ms"]) is float, (name, e)
    assert seen >= {"tinygrad-llm", "tinygrad-gpt2", "tinygrad-llama3", "llama-completion"}, seen
