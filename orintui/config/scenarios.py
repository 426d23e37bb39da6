"""Scenario files: what to run, in order, with which variables.

A scenario is TOML: ``name``, ``description``, ``[variables]`` (defaults that ``--set KEY=VALUE``
and the menu override), optional ``[generate]`` (variable = model shape: orintui writes that
random-weight model on first use) and ``[[runs]]``. Strings may use ``{variable}``; built-ins are
``{python}`` (this interpreter), ``{models}`` (orintui's model cache) and ``{home}``.
Sweeps: ``[matrix]`` (variable = list of values: each run that uses one becomes one run per
combination, labelled with the values), ``[power]`` (nvpmodel modes and jetson_clocks states: every
run once per group) and ``[gate]`` (the quiet-machine gate before each run, orintui/config/quiet_gate.py).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

from orintui.config.quiet_gate import GATE_KEYS, GateConfig
from orintui.core import paths

RUN_KEYS = {"label", "backend", "argv", "env", "cwd", "repetitions", "warmup", "idle_timeout", "total_timeout",
            "model", "device", "optional", "notes", "requires", "input"}
# backend = "openai" (a served model, orintui/backends/openai_endpoint.py): these keys, and no argv
ENDPOINT_KEYS = {"server", "url", "prompt", "max_tokens", "api", "concurrency", "warmup_requests", "ready_timeout", "request"}
RUN_KEYS |= ENDPOINT_KEYS
MAX_CONCURRENCY = 256
TOP_KEYS = {"name", "description", "variables", "generate", "runs", "needs", "gate", "matrix", "power", "compare"}
MAX_CELLS = 256  # runs after [matrix] and [power] expansion (before repetitions): a typo must not queue thousands
MAX_GATE_S = 3600.0  # a gate's window, wait or cool-down
VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_REPETITIONS = 1000  # per run, for repetitions and for warmup: a typo must not queue 100,000,000 runs
MAX_EXPANDED = 65536  # characters a value may reach once its {variables} are expanded
MAX_SCENARIO_BYTES = 1 << 20  # a scenario file is a page of TOML
DEVICE_STYLES = ("DEV", "legacy")


class ScenarioError(Exception):
    """A scenario that cannot be used; str() is the one line to show."""


@dataclass
class RunSpec:
    label: str
    backend: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    repetitions: int = 1
    warmup: int = 0
    idle_timeout: float = 300.0
    total_timeout: float = 3600.0
    model: str | None = None
    optional: bool = False
    notes: str | None = None
    requires: list[str] = field(default_factory=list)  # Python modules the run imports ({python} -m ...)
    device: str | None = None  # tinygrad's device: CPU, CUDA, NV
    input: str | None = None  # typed at the backend's prompt (llama3.py --no_api's "Q: "), then the run ends
    # backend = "openai": launch ``server`` (its argv, also kept in argv) or attach to ``url``
    server: list[str] | None = None
    url: str | None = None
    prompt: str | None = None
    max_tokens: int = 128
    api: str = "completions"
    concurrency: int = 1
    warmup_requests: int = 0
    ready_timeout: float = 300.0
    request: dict[str, Any] = field(default_factory=dict)
    # a [power] group: the nvpmodel mode id and jetson_clocks state the run wants (None: as it is)
    nvpmodel: str | None = None
    jetson_clocks: bool | None = None
    cell: dict[str, str] = field(default_factory=dict)  # its [matrix] values (and power group), for charts


# an NVIDIA GPU's device nodes: a discrete GPU's driver, and Jetson's nvgpu (what tinygrad NV opens)
GPU_NODES = ("/dev/nvidiactl", "/dev/nvgpu/igpu0/ctrl", "/dev/nvidia0", "/dev/nvhost-ctrl-gpu")


MISSING_MODEL = "model not found"  # fatal even for an optional run: the user named a file that is not there


def stops_the_scenario(run: RunSpec, why: str) -> bool:
    """Whether a problem refuses the whole scenario, rather than skipping an optional run: a required
    run's, or a model the user named that is not there (a mistake, never something to skip)."""
    return not run.optional or why.startswith(MISSING_MODEL)


def how_to_get(why: str) -> str:
    """The next step for a missing part, appended to what is missing ('' when orintui has none to give)."""
    if "binary not found" in why and "llama-" in why:
        if "on PATH" in why:
            return " (orintui setup builds llama.cpp, or put your own build on PATH)"
        flavour = "cuda" if any(os.path.exists(node) for node in GPU_NODES) else "cpu"
        return f" (build llama.cpp there, or run orintui setup and --set llama_bin={paths.llama_cpp_dir(flavour)})"
    if "module tinygrad" in why:
        return "; pip install tinygrad, or set python to a tinygrad checkout's interpreter"
    if why.startswith(MISSING_MODEL):
        return " (orintui models lists where each model comes from and fetches it)"
    return ""


def missing_gpu(device: str | None) -> str | None:
    if device not in ("CUDA", "NV") or any(os.path.exists(node) for node in GPU_NODES):
        return None
    return f"no NVIDIA GPU for DEV={device} (no {GPU_NODES[0]}, no {GPU_NODES[1]})"


def missing_module(name: str) -> str | None:
    """Why a Python module the run needs is not importable by this interpreter, or None."""
    import importlib.util

    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    hint = " (tinygrad 0.12 and later need Python >= 3.11)" if name.startswith("tinygrad") and sys.version_info < (3, 11) else ""
    return f"Python module {name} not found for {sys.executable}{hint}"


def wrong_device_style(run: RunSpec) -> str | None:
    """A run of this interpreter's tinygrad with NV=1-style variables when that tinygrad (0.13 and
    later) only takes DEV=NV: said before it starts, where orintui can tell the version."""
    if not run.device or run.env.get(run.device) != "1" or run.argv[0] != sys.executable or "PYTHONPATH" in run.env:
        return None
    try:
        from importlib.metadata import version

        major, minor = (int(x) for x in version("tinygrad").split(".")[:2])
    except Exception:  # not installed, or a version string we cannot read: the run itself will say
        return None
    if (major, minor) < (0, 13):
        return None
    return (f"tinygrad {version('tinygrad')} takes DEV={run.device}, not {run.device}=1: "
            "set device_style = \"DEV\" (legacy is for tinygrad 0.12 and older)")


@dataclass
class Scenario:
    name: str
    description: str
    path: str
    variables: dict[str, str]
    generate: dict[str, str]
    runs: list[RunSpec]
    raw_runs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    gate: GateConfig = field(default_factory=GateConfig)
    matrix: dict[str, list[str]] = field(default_factory=dict)
    compare: list[list[str]] = field(default_factory=list)  # label pairs the Findings give verdicts on

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("raw_runs")
        return d

    def problems(self) -> list[tuple[RunSpec, str]]:
        """What is missing on this machine, per run, found before anything starts."""
        found = []
        for run in self.runs:
            binary = run.argv[0] if run.argv else None  # an endpoint run attached to a url starts nothing
            if binary is not None and paths.resolve_binary(binary, {**os.environ, **run.env}, run.cwd) is None:  # as the runner will look
                where = "" if os.sep in binary else " on PATH"
                found.append((run, f"binary not found{where}: {binary}"))
            if run.cwd and not os.path.isdir(run.cwd):
                found.append((run, f"working directory not found: {run.cwd}"))
            for module in run.requires:
                if why := missing_module(module):
                    found.append((run, why))
            if why := missing_gpu(run.device):
                found.append((run, why))
            if run.argv and (why := wrong_device_style(run)):
                found.append((run, why))
            generated = {self.variables.get(k) for k in self.generate}
            if run.model and not os.path.exists(run.model) and run.model not in generated:
                found.append((run, f"{MISSING_MODEL}: {run.model}"))
        return found


def _line_of(text: str, needle: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return None


def _fail(path: str, text: str, message: str, needle: str | None = None) -> ScenarioError:
    line = _line_of(text, needle) if needle else None
    return ScenarioError(f"{path}{f':{line}' if line else ''}: {message}")


def builtin_variables() -> dict[str, str]:
    return {"python": sys.executable, "models": str(paths.models_dir()), "home": str(Path.home())}


def _fail_key(path: str, text: str, message: str, key: str) -> ScenarioError:
    """As _fail, at the line that sets ``key`` (``key = ...``), else the first that mentions it."""
    m = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", text, re.M)
    if m:
        return ScenarioError(f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {message}")
    return _fail(path, text, message, key)


def expand(value: str, variables: dict[str, str], path: str, text: str, _stack: tuple[str, ...] = (),
           _done: dict[str, str] | None = None) -> str:
    """``{name}`` replaced by the variable's value, itself expanded (a default may use a built-in,
    {models}/x.gguf, or another variable). A loop or an expansion past MAX_EXPANDED characters is
    refused, never passed through literally or left to fill memory."""
    done = {} if _done is None else _done  # each variable expanded once: "{b}{b}" chains stay linear
    parts, size, pos = [], 0, 0
    for m in VAR.finditer(value):
        name = m.group(1)
        if name not in variables:
            raise _fail(path, text, f"unknown variable {{{name}}}", "{" + name + "}")
        if name in _stack:
            chain = " -> ".join(f"{{{n}}}" for n in (*_stack[_stack.index(name):], name))
            raise _fail_key(path, text, f"variable {{{name}}} refers to itself: {chain}", name)
        if name not in done:
            done[name] = expand(variables[name], variables, path, text, (*_stack, name), done)
        part = done[name]
        parts += [value[pos:m.start()], part]
        size += m.start() - pos + len(part)
        pos = m.end()
        if size > MAX_EXPANDED:
            break
    parts.append(value[pos:])
    size += len(value) - pos
    if size > MAX_EXPANDED:
        raise _fail_key(path, text, f"{{{_stack[-1]}}} expands to more than {MAX_EXPANDED:,} characters", _stack[-1]) if _stack \
            else _fail(path, text, f"a value expands to more than {MAX_EXPANDED:,} characters")
    return "".join(parts)


def _plain_value(value: Any) -> bool:
    """What a variable, an argv item or an env value may be in TOML: a string or a finite number
    (not a boolean, a list, a table or a date, which would become Python's text for them)."""
    return isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    names: dict[type, str] = {list: "a list", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def _no_nul(path: str, text: str, where: str, what: str, value: str, needle: str) -> None:
    if "\0" in value:
        raise _fail(path, text, f"{where}: {what} contains a NUL byte, which no program can receive", needle)


def parse_scenario(text: str, path: str, overrides: dict[str, str] | None = None) -> Scenario:
    from orintui.backends import ADAPTERS

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f":{m.group(1)}" if m else ""
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError(f"{path}{where}: not valid TOML: {msg}") from None
    unknown = set(doc) - TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, text, f"unknown key {key!r} (expected: {', '.join(sorted(TOP_KEYS))})", key)
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, text, "a scenario needs a name = \"...\"", "name")
    if not isinstance(doc.get("description", ""), str):
        raise _fail_key(path, text, f"description must be a string, not {_toml_type(doc['description'])}", "description")
    raw_vars = doc.get("variables", {})
    if not isinstance(raw_vars, dict):
        raise _fail(path, text, "[variables] must be a table", "variables")
    for key, value in raw_vars.items():
        if not _plain_value(value):
            raise _fail_key(path, text, f"variable {key} must be a string or a number, not {_toml_type(value)}", key)
    matrix = _parse_matrix(doc, raw_vars, path, text)
    overrides = dict(overrides or {})
    for key in [k for k in overrides if k in matrix]:  # --set threads=1,2,4: the list, llama-bench style
        matrix[key] = _matrix_values(key, overrides.pop(key), path, text)
    gate = _parse_gate(doc, path, text)
    groups = _parse_power(doc, path, text)
    variables = {**builtin_variables(), **{k: str(v) for k, v in raw_vars.items()}}
    defaults = dict(variables)
    for key, value in overrides.items():
        if key not in raw_vars:
            known = ", ".join(sorted(raw_vars)) or "none"
            raise ScenarioError(f"{path}: --set {key}: no such variable (this scenario has: {known})")
        variables[key] = value
    variables = {k: expand(v, variables, path, text) for k, v in variables.items()}
    style = variables.get("device_style", "DEV")
    if style not in DEVICE_STYLES:
        raise ScenarioError(f"{path}: device_style must be DEV (tinygrad >= 0.13) or legacy (NV=1, up to 0.12), not {style!r}")
    generate = doc.get("generate", {})
    if not isinstance(generate, dict):
        raise _fail(path, text, "[generate] must be a table of variable = model shape", "generate")
    from orintui.core.modelgen import SHAPES

    for var, shape in generate.items():
        if var not in raw_vars:
            raise _fail(path, text, f"[generate] names {var!r}, which is not a variable", "generate")
        if shape not in SHAPES:
            raise _fail(path, text, f"[generate] {var}: unknown model shape {shape!r} (known: {', '.join(SHAPES)})", var)
    raw_runs = doc.get("runs")
    if not isinstance(raw_runs, list) or not raw_runs:
        raise _fail(path, text, "a scenario needs at least one [[runs]] entry", "runs")
    runs = []
    for i, raw, cell, group in _cells(raw_runs, matrix, groups, path, text):
        label = raw.get("label") if isinstance(raw, dict) else None
        cell_vars = {**variables, **cell}
        where = f"run {i}" + (f" ({label})" if isinstance(label, str) else "") + "".join(f" {k}={v}" for k, v in cell.items())
        needle = f'"{label}"' if isinstance(label, str) else "[[runs]]"
        if not isinstance(raw, dict):
            raise _fail(path, text, f"{where}: must be a table", "[[runs]]")
        unknown = set(raw) - RUN_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise _fail(path, text, f"{where}: unknown key {key!r}", key)
        if not isinstance(label, str) or not label:
            raise _fail(path, text, f"{where}: needs a label", needle)
        backend = raw.get("backend")
        if backend not in ADAPTERS:
            raise _fail(path, text, f"{where}: unknown backend {backend!r} (known: {', '.join(sorted(ADAPTERS))})",
                        f'"{backend}"' if isinstance(backend, str) else needle)
        endpoint = _endpoint_keys(raw, backend, where, path, text)
        argv = raw.get("server", []) if backend == "openai" else raw.get("argv")
        if backend == "openai" and not argv:
            pass  # attached to a url: nothing to start
        elif not isinstance(argv, list) or not argv or not all(_plain_value(a) for a in argv):
            bad = next((a for a in argv if not _plain_value(a)), None) if isinstance(argv, list) and argv else None
            got = f" (an item is {_toml_type(bad)})" if bad is not None else ""
            raise _fail(path, text, f"{where}: argv must be a non-empty list of strings{got}", "argv")
        env = raw.get("env", {})
        if not isinstance(env, dict):
            raise _fail(path, text, f"{where}: env must be a table", "env")
        for key, value in env.items():
            if not key or "=" in key or "\0" in key:
                raise _fail(path, text, f"{where}: env name {key!r} is not a valid variable name (empty, or has = or NUL)",
                            "env")
            if not _plain_value(value):
                raise _fail_key(path, text, f"{where}: env {key} must be a string, not {_toml_type(value)}", key)
        for key in ("optional",):
            if key in raw and not isinstance(raw[key], bool):
                raise _fail_key(path, text, f"{where}: {key} must be true or false, not {_toml_type(raw[key])}", key)
        for key in ("cwd", "model", "device", "notes"):
            if key in raw and not isinstance(raw[key], str):
                raise _fail_key(path, text, f"{where}: {key} must be a string, not {_toml_type(raw[key])}", key)
        numbers: dict[str, Any] = {}
        for key, kind, low, high in (("repetitions", int, 1, MAX_REPETITIONS), ("warmup", int, 0, MAX_REPETITIONS),
                                     ("idle_timeout", (int, float), 0.1, None), ("total_timeout", (int, float), 0.1, None)):
            if key in raw:
                value = raw[key]
                if isinstance(value, str):  # "{variable}": a number after expansion
                    try:
                        value = (int if kind is int else float)(expand(value, cell_vars, path, text))
                    except ValueError:
                        raise _fail(path, text, f"{where}: {key} must be a number, not {value!r}", key) from None
                if not isinstance(value, kind) or isinstance(value, bool) or not math.isfinite(value) or value < low:
                    raise _fail(path, text, f"{where}: {key} must be a finite number >= {low}, not {value!r}", key)
                if high is not None and value > high:
                    raise _fail(path, text, f"{where}: {key} = {value} is more than orintui runs ({high} at most)", key)
                numbers[key] = value
        exp = lambda s, v=cell_vars: expand(str(s), v, path, text)  # noqa: E731
        env = {str(k): exp(v) for k, v in env.items()}
        requires = raw.get("requires", [])
        if not isinstance(requires, list) or not all(isinstance(m, str) for m in requires):
            raise _fail(path, text, f"{where}: requires must be a list of Python module names", "requires")
        device = raw.get("device")
        if device is not None:
            device = exp(device).upper()
            if not device or "=" in device or "\0" in device:
                raise _fail_key(path, text, f"{where}: device {device!r} cannot name an environment variable", "device")
            env.update({"DEV": device} if style == "DEV" else {device: "1"})
        argv_out = [exp(a) for a in argv or []]
        for item in argv_out:
            _no_nul(path, text, where, "an argv item", item, "argv")
        for key, value in env.items():
            _no_nul(path, text, where, f"env {key}", value, key)
        for key in ("cwd", "model"):
            if raw.get(key):
                _no_nul(path, text, where, key, exp(raw[key]), key)
        for key in ("url", "prompt"):
            if key in endpoint:
                endpoint[key] = exp(endpoint[key])
                _no_nul(path, text, where, key, endpoint[key], key)
        if endpoint.get("url") and not re.match(r"https?://[^/\s]+", endpoint["url"]):
            raise _fail_key(path, text, f"{where}: url must be http://HOST:PORT, not {endpoint['url']!r}", "url")
        if backend == "openai":
            endpoint["server"] = argv_out or None
        typed = raw.get("input")
        if typed is not None and (not isinstance(typed, str) or "\0" in typed):
            raise _fail_key(path, text, f"{where}: input must be a string (typed at the backend's prompt)", "input")
        label = _cell_label(label, cell, group, cell_vars, path, text)
        runs.append(RunSpec(
            input=exp(typed) if typed is not None else None, cell={**cell, **_group_cell(group)},
            nvpmodel=group[0], jetson_clocks=group[1],
            label=label, backend=backend, argv=argv_out, env=env,
            cwd=exp(raw["cwd"]) if raw.get("cwd") else None, model=exp(raw["model"]) if raw.get("model") else None,
            optional=bool(raw.get("optional", False)), notes=raw.get("notes"), requires=requires, device=device,
            **numbers, **endpoint,
        ))
    labels = [r.label for r in runs]
    dupes = {x for x in labels if labels.count(x) > 1}
    if dupes:
        label = sorted(dupes)[0]
        raise _fail(path, text, f"two runs are labelled {label!r}: labels match runs across sessions", f'"{label}"')
    # a random-weight model is written only where the scenario itself says, inside orintui's model
    # folder: a mistyped --set model=/typo.gguf is a missing model, never a fake one written anywhere
    default_values = {k: expand(defaults[k], defaults, path, text) for k in generate}
    writable = {k: str(v) for k, v in generate.items()
                if variables[k] == default_values[k] and inside_models_dir(variables[k])}
    return Scenario(name=name, description=str(doc.get("description", "")), path=path,
                    variables={k: v for k, v in variables.items() if k in raw_vars},
                    generate=writable, runs=runs, raw_runs=raw_runs, gate=gate, matrix=matrix,
                    compare=_compare_pairs(doc, [r.label for r in runs], path, text))


def _compare_pairs(doc: dict[str, Any], labels: list[str], path: str, text: str) -> list[list[str]]:
    """compare = [["A", "B"], ...]: pairs of two different run labels (after [matrix] expansion)."""
    pairs = doc.get("compare", [])
    if not isinstance(pairs, list):
        raise _fail(path, text, 'compare must be a list of label pairs: compare = [["A", "B"]]', "compare")
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair) and pair[0] != pair[1]):
            raise _fail(path, text, 'compare: each entry is two different labels, ["A", "B"]', "compare")
        for label in pair:
            if label not in labels:
                raise _fail(path, text, f"compare names {label!r}, which is no run's label", "compare")
    return [list(p) for p in pairs]


# -- sweeps: [gate], [matrix], [power] ------------------------------------------------------------
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _fail_in(section: str, path: str, text: str, message: str, key: str) -> ScenarioError:
    """As _fail_key, at ``key``'s line inside the ``[section]`` table (the same key may be set elsewhere)."""
    head = re.search(rf"^[ \t]*\[{section}\][ \t]*(#.*)?$", text, re.M)
    start = head.end() if head else 0
    m = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.M).search(text, start)
    if m:
        return ScenarioError(f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {message}")
    return _fail(path, text, message, f"[{section}]")


def _parse_gate(doc: dict[str, Any], path: str, text: str) -> GateConfig:
    raw = doc.get("gate", {})
    if not isinstance(raw, dict):
        raise _fail(path, text, "[gate] must be a table (enabled, cpu_pct, gpu_pct, temp_band_c, window_s, "
                                "max_wait_s, cooldown_s)", "gate")
    if bad := sorted(set(raw) - GATE_KEYS):
        raise _fail_in("gate", path, text, f"[gate]: unknown key {bad[0]!r} (expected: {', '.join(sorted(GATE_KEYS))})", bad[0])
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise _fail_in("gate", path, text, f"[gate]: enabled must be true or false, not {_toml_type(value)}", key)
        elif (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
              or not 0 <= value <= (100 if key.endswith("_pct") else MAX_GATE_S) or (key == "window_s" and value <= 0)):
            top = 100 if key.endswith("_pct") else MAX_GATE_S
            raise _fail_in("gate", path, text, f"[gate]: {key} must be a number from 0 to {top:g}"
                                        f"{' (above 0)' if key == 'window_s' else ''}, not {value!r}", key)
        out[key] = value
    return GateConfig(**out)


def _matrix_values(key: str, values: Any, path: str, text: str) -> list[str]:
    """A list of strings or numbers, or one string of comma-separated values ("1,2,4", as llama-bench takes)."""
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",")]
    if not isinstance(values, list) or not values or not all(_plain_value(v) for v in values):
        raise _fail_in("matrix", path, text, f"[matrix]: {key} must be a non-empty list of strings or numbers "
                                    "(or \"a,b,c\")", key)
    out = [str(v) for v in values]
    if "" in out:
        raise _fail_in("matrix", path, text, f"[matrix]: {key} has an empty value", key)
    if len(out) > MAX_CELLS:
        raise _fail_in("matrix", path, text, f"[matrix]: {key} has {len(out)} values, more than orintui runs ({MAX_CELLS} cells at most)",
                        key)
    if dupes := sorted({v for v in out if out.count(v) > 1}):
        raise _fail_in("matrix", path, text, f"[matrix]: {key} lists {dupes[0]!r} twice (each value is one cell)", key)
    return out


def _parse_matrix(doc: dict[str, Any], raw_vars: dict[str, Any], path: str, text: str) -> dict[str, list[str]]:
    raw = doc.get("matrix", {})
    if not isinstance(raw, dict):
        raise _fail(path, text, "[matrix] must be a table of variable = [values]", "matrix")
    matrix = {}
    for key, values in raw.items():
        if not VAR_NAME.fullmatch(key):
            raise _fail(path, text, f"[matrix]: {key!r} is not a variable name (letters, digits, _)", "matrix")
        if key in raw_vars or key in builtin_variables():
            raise _fail_in("matrix", path, text, f"[matrix]: {key} is also a variable; a name is either one value or a list", key)
        matrix[key] = _matrix_values(key, values, path, text)
    for var, value in raw_vars.items():
        if used := [n for n in VAR.findall(str(value)) if n in matrix]:
            raise _fail_key(path, text, f"variable {var} uses the [matrix] variable {{{used[0]}}}: matrix variables "
                                        "go in [[runs]] strings (argv, env, model, label...)", var)
    return matrix


def _parse_power(doc: dict[str, Any], path: str, text: str) -> list[tuple[str | None, bool | None]]:
    """The [power] groups, in order: every nvpmodel mode, within it every jetson_clocks state."""
    raw = doc.get("power", {})
    if not isinstance(raw, dict):
        raise _fail(path, text, "[power] must be a table: nvpmodel = [mode ids], jetson_clocks = [true, false]", "power")
    if bad := sorted(set(raw) - {"nvpmodel", "jetson_clocks"}):
        raise _fail_in("power", path, text, f"[power]: unknown key {bad[0]!r} (expected: jetson_clocks, nvpmodel)", bad[0])
    modes = raw.get("nvpmodel", [])
    if (not isinstance(modes, list) or not all(isinstance(m, (int, str)) and not isinstance(m, bool)
                                               and re.fullmatch(r"\d{1,3}", str(m)) for m in modes)):
        raise _fail_in("power", path, text, "[power]: nvpmodel must be a list of mode ids (numbers, as nvpmodel -m takes; "
                                    "nvpmodel -p --verbose lists them)", "nvpmodel")
    clocks = raw.get("jetson_clocks", [])
    if not isinstance(clocks, list) or not all(isinstance(c, bool) for c in clocks):
        raise _fail_in("power", path, text, "[power]: jetson_clocks must be a list of true (locked) / false", "jetson_clocks")
    modes = [str(int(m)) for m in modes]
    for name, values in (("nvpmodel", modes), ("jetson_clocks", clocks)):
        if len(set(values)) != len(values):
            raise _fail_in("power", path, text, f"[power]: {name} lists a value twice", name)
    return list(itertools.product(modes or [None], clocks or [None]))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _cells(raw_runs: list[Any], matrix: dict[str, list[str]], groups: list[tuple[str | None, bool | None]],
           path: str, text: str) -> Iterator[tuple[Any, ...]]:
    """(index of the [[runs]] entry, the entry, its matrix values, its power group) for every run the
    scenario expands to, power group outermost; refused past MAX_CELLS before anything is built."""
    uses = []
    total = 0
    for raw in raw_runs:
        names = {n for s in _strings(raw) for n in VAR.findall(s)} if isinstance(raw, dict) else set()
        used = [k for k in matrix if k in names]
        uses.append(used)
        total += math.prod(len(matrix[k]) for k in used) * len(groups)
        if total > MAX_CELLS:
            raise _fail(path, text, f"the [matrix] and [power] lists expand to more than {MAX_CELLS} runs "
                                    "(orintui's limit per scenario; split it)", "matrix" if matrix else "power")
    for group in groups:
        for i, (raw, used) in enumerate(zip(raw_runs, uses), 1):
            for values in itertools.product(*(matrix[k] for k in used)):
                yield i, raw, dict(zip(used, values)), group


def _group_cell(group: tuple[str | None, bool | None]) -> dict[str, str]:
    mode, clocks = group
    return {**({"nvpmodel": mode} if mode is not None else {}),
            **({"jetson_clocks": "on" if clocks else "off"} if clocks is not None else {})}


def _cell_label(label: str, cell: dict[str, str], group: tuple[str | None, bool | None], variables: dict[str, str],
                path: str, text: str) -> str:
    """A matrix run's label: the label with its {variables} filled in where it names them, else the
    label followed by var=value for each; a power group adds @mode=ID clocks=on|off."""
    if cell:
        named = set(VAR.findall(label))
        if named & set(cell):
            label = expand(label, variables, path, text)
        else:
            label += " " + " ".join(f"{k}={v}" for k, v in cell.items())
    if extra := _group_cell(group):
        label += " @" + " ".join(f"{'mode' if k == 'nvpmodel' else 'clocks'}={v}" for k, v in extra.items())
    return label


def _endpoint_keys(raw: dict[str, Any], backend: str, where: str, path: str, text: str) -> dict[str, Any]:
    """The endpoint keys of a run (backend = "openai"), checked; refused on any other backend."""
    given = sorted(set(raw) & ENDPOINT_KEYS)
    if backend != "openai":
        if given:
            raise _fail_key(path, text, f"{where}: {given[0]} is for backend = \"openai\" (a served model) only", given[0])
        return {}
    if "argv" in raw:
        raise _fail_key(path, text, f"{where}: an openai run has no argv: server = [argv] launches its server, "
                                    "url attaches to one already serving", "argv")
    out: dict[str, Any] = {}
    if not isinstance(raw.get("url"), str) or not raw["url"]:
        raise _fail_key(path, text, f"{where}: an openai run needs url = \"http://127.0.0.1:PORT\" (where the server listens)",
                        "url" if "url" in raw else "openai")
    out["url"] = raw["url"]
    if "server" in raw:
        server = raw["server"]
        if not isinstance(server, list) or not server or not all(_plain_value(a) for a in server):
            raise _fail_key(path, text, f"{where}: server must be a non-empty list of strings (the server's argv)", "server")
    if "prompt" in raw:
        if not isinstance(raw["prompt"], str) or not raw["prompt"]:
            raise _fail_key(path, text, f"{where}: prompt must be a non-empty string", "prompt")
        out["prompt"] = raw["prompt"]
    if "api" in raw:
        if raw["api"] not in ("chat", "completions", "ollama", "ollama-chat"):
            raise _fail_key(path, text, f"{where}: api must be \"chat\", \"completions\", \"ollama\" or \"ollama-chat\", "
                                        f"not {raw['api']!r}", "api")
        out["api"] = raw["api"]
    for key, low, high in (("max_tokens", 1, 1 << 20), ("concurrency", 1, MAX_CONCURRENCY), ("warmup_requests", 0, MAX_REPETITIONS)):
        if key in raw:
            value = raw[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise _fail_key(path, text, f"{where}: {key} must be a whole number from {low} to {high}, not {value!r}", key)
            out[key] = value
    if "ready_timeout" in raw:
        value = raw["ready_timeout"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0.1:
            raise _fail_key(path, text, f"{where}: ready_timeout must be a finite number >= 0.1, not {value!r}", "ready_timeout")
        out["ready_timeout"] = float(value)
    if "request" in raw:
        if not isinstance(raw["request"], dict):
            raise _fail_key(path, text, f"{where}: request must be a table of extra request fields "
                                        "(model, temperature, ignore_eos ...)", "request")
        out["request"] = dict(raw["request"])
    return out


def inside_models_dir(path: str) -> bool:
    root = paths.models_dir().resolve()
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def load_scenario(name_or_path: str, overrides: dict[str, str] | None = None) -> Scenario:
    path = find_scenario(name_or_path)
    try:
        if Path(path).stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_SCENARIO_BYTES >> 20} MiB, not a scenario file")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    return parse_scenario(text, str(path), overrides)


def scenario_dirs() -> list[tuple[str, Path]]:
    return [("user", paths.user_scenarios_dir()), ("bundled", paths.bundled_dir("scenarios"))]


def find_scenario(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in name_or_path:
        if not candidate.exists():
            raise ScenarioError(f"{name_or_path}: no such scenario file")
        return candidate
    for _, folder in scenario_dirs():
        path = folder / f"{name_or_path}.toml"
        if path.exists():
            return path
    known = ", ".join(e.name for e in list_scenarios()) or "none"
    raise ScenarioError(f"no scenario named {name_or_path!r} (known: {known})")


@dataclass
class ScenarioEntry:
    name: str
    origin: str
    path: str
    description: str = ""
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    runs: int = 0
    skipped: list[str] = field(default_factory=list)  # optional runs this machine cannot do, and how to get them
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.error is None and not self.missing and len(self.skipped) < self.runs

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ready": self.ready}


def _per_problem(problems: list[tuple[RunSpec, str]]) -> list[str]:
    """One line per distinct problem: a [matrix] or [power] sweep's runs share theirs, and the first
    run's label stands for the others."""
    runs: dict[str, list[str]] = {}
    for run, why in problems:
        labels = runs.setdefault(why, [])
        if run.label not in labels:
            labels.append(run.label)
    out = []
    for why, labels in runs.items():
        more = len(labels) - 1
        also = f" (and {more} more run{'s' if more > 1 else ''})" if more else ""
        out.append(f"{labels[0]}{also}: {why}{how_to_get(why)}")
    return out


def list_scenarios() -> list[ScenarioEntry]:
    """Every scenario with what it needs and whether this machine has it. Bad files are listed
    with their error, not hidden."""
    seen, entries = set(), []
    for origin, folder in scenario_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            entry = ScenarioEntry(name=path.stem, origin=origin, path=str(path))
            try:
                s = load_scenario(str(path))
            except ScenarioError as exc:
                entry.error = str(exc)
            else:
                entry.description, entry.runs = s.description, len(s.runs)
                problems = s.problems()
                fatal = [(r, why) for r, why in problems if stops_the_scenario(r, why)]
                swept = s.matrix or any(r.nvpmodel is not None or r.jetson_clocks is not None for r in s.runs)
                entry.missing = sorted(_per_problem(fatal) if swept else
                                       {f"{run.label}: {why}{how_to_get(why)}" for run, why in fatal})
                skipped: dict[str, str] = {}
                for run, why in problems:
                    if not stops_the_scenario(run, why):
                        skipped.setdefault(run.label, f"{run.label}: {why}{how_to_get(why)}")
                entry.skipped = list(skipped.values())
                entry.notes = list(dict.fromkeys(f"{run.label}: {run.notes}" for run in s.runs if run.notes))
            entries.append(entry)
    return entries
