"""The command line. Exit codes: 0 ok, 1 a run or operation failed, 2 bad usage or bad input,
130 interrupted. Every error is one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import TYPE_CHECKING

from orintui import __version__
from orintui.core.sanitize import clean_line

if TYPE_CHECKING:
    from orintui.running.exporter import MetricsExporter
    from orintui.session.model import Session
    from orintui.session.store import SessionFile

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _parse_size(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 120x40, not {text!r}") from None
    if not (40 <= cols <= 400 and 12 <= rows <= 200):
        raise argparse.ArgumentTypeError("size must be between 40x12 and 400x200")
    return cols, rows


def _positive(kind):
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value
    return parse


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535; 0: any free one)")
    return int(text)


ASCII_HELP = "plain ASCII sparklines and chart markers, for console fonts without block or braille glyphs (automatic on TERM=linux)"
SESSION_HELP = "a session file, a session id or its first characters (orintui sessions), last, or demo"
# the app's themes (orintui/tui/themes.py, kept equal by a test: the parser does not import Textual)
THEMES = ("orintui-dark", "orintui-light", "orintui-basic")


def _theme(text: str) -> str:
    if text not in THEMES:
        raise argparse.ArgumentTypeError(f"unknown theme {text!r} (known: {', '.join(THEMES)})")
    return text


def _add_theme(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # after the subcommand too; SUPPRESS there keeps a theme given before it
    parser.add_argument("--theme", type=_theme, default=None if top else argparse.SUPPRESS, metavar="NAME",
                        help=f"theme for the app: {', '.join(THEMES)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orintui",
        description="Live monitor for local LLM inference benchmarks on NVIDIA Jetson. "
                    "With no command, opens the app.")
    p.add_argument("--version", action="version", version=f"orintui {__version__}")
    _add_theme(p, top=True)
    p.add_argument("--ascii", action="store_true", help=ASCII_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="run a scenario (in the app, or --headless)")
    r.add_argument("--ascii", action="store_true", default=argparse.SUPPRESS, help=ASCII_HELP)
    r.add_argument("scenario", help="a bundled or user scenario name, or a .toml file")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a scenario variable")
    r.add_argument("--headless", action="store_true", help="no app: progress lines, then the results table")
    r.add_argument("--out", help="session file to write (default: the sessions folder); an existing file is "
                                 "refused unless --force")
    r.add_argument("--force", action="store_true", help="let --out overwrite an existing session file")
    r.add_argument("--label", default="", help="a name for the session, shown in the menu and reports (\"MAXN, clocks locked\")")
    r.add_argument("--telemetry", default="auto", choices=["auto", "jtop", "tegrastats", "nvml", "psutil", "none"],
                   help="where telemetry comes from (default auto: the best source this machine has)")
    r.add_argument("--interval", type=_positive(float), default=0.5, help="telemetry interval in seconds")
    r.add_argument("--progress", type=_positive(float), default=10.0, metavar="S",
                   help="headless: every S seconds of a run, the tokens so far and the recent rate, or how long it "
                        "has loaded without a token (default 10)")
    _add_theme(r)
    r.add_argument("--metrics-port", type=_port, metavar="PORT", help="serve OpenMetrics for Prometheus while it runs "
                                                                     "(telemetry and per-run figures, orintui_*)")
    r.add_argument("--metrics-bind", default="127.0.0.1", metavar="ADDR", help="address to serve metrics on "
                                                                               "(default 127.0.0.1: this machine only)")
    r.add_argument("--metrics-hold", type=float, default=60.0, metavar="S",
                   help="headless: after the session, serve until one scrape has taken the final figures, at most S "
                        "seconds (default 60; 0: leave at once)")

    r = sub.add_parser("replay", help="replay a saved session in the app ('demo': the bundled H100 session)")
    r.add_argument("--ascii", action="store_true", default=argparse.SUPPRESS, help=ASCII_HELP)
    r.add_argument("session", help=SESSION_HELP)
    r.add_argument("--speed", type=_positive(float), default=1.0, help="replay speed (2 = twice as fast)")
    _add_theme(r)

    r = sub.add_parser("report", help="results table of one or more sessions")
    r.add_argument("sessions", nargs="+", metavar="SESSION", help=SESSION_HELP)
    r.add_argument("--format", choices=["md", "csv", "json", "html"], default="md",
                   help="md (default), csv (raw numbers), json, or html (one self-contained page with charts)")
    r.add_argument("--out", help="file to write instead of standard output")

    r = sub.add_parser("compare", help="two or more sessions (boards, power modes) side by side, runs matched by label")
    r.add_argument("sessions", nargs="+", metavar="SESSION", help=SESSION_HELP + "; two or more, named A, B, C...")
    r.add_argument("--baseline", metavar="N|ID", help="the session ratios are taken against: its position (1 = the "
                                                      "first), letter, or id (default: the first)")
    r.add_argument("--format", choices=["md", "json"], default="md", help="md (default) or json")
    r.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a figure got worse against the baseline beyond both --threshold and the spread")
    r.add_argument("--metric", default="decode", help="with --fail-on-regression: decode, j_per_token, ttft (comma list)")
    r.add_argument("--threshold", type=float, default=None, metavar="PCT",
                   help="with --fail-on-regression: the smallest change that counts, in %% (default 5)")

    r = sub.add_parser("card", help="a share card of a session: key figures, board, power mode, versions, flags")
    r.add_argument("session", help=SESSION_HELP)
    r.add_argument("--out", required=True, help="card.svg, or card.png (rendered by headless Chromium)")

    r = sub.add_parser("serve", help="serve the app to a web browser (textual-serve): the replay of SESSION, or the menu")
    r.add_argument("session", nargs="?", help=SESSION_HELP + " (default: the menu)")
    r.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    r.add_argument("--port", type=_positive(int), default=8000, help="port to listen on (default 8000)")
    r.add_argument("--public-url", help="the URL browsers reach it by, when that differs from http://HOST:PORT")
    r.add_argument("--speed", type=_positive(float), default=1.0, help="replay speed of SESSION (2 = twice as fast)")
    _add_theme(r)

    r = sub.add_parser("setup", help="get what the demo needs (clang, tinygrad, llama.cpp built for this board), "
                                     "say where it is, then start the demo live")
    r.add_argument("--headless", action="store_true", help="run the demo headless instead of in the app")
    r.add_argument("--no-run", action="store_true", help="set up only: do not start the demo")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a demo variable (tokens=64)")

    r = sub.add_parser("pareto", help="chart decode tok/s against J/token (Pareto front marked) as SVG or PNG")
    r.add_argument("sessions", nargs="+", metavar="SESSION", help=SESSION_HELP)
    r.add_argument("--out", required=True, help="the chart file to write: .svg, or .png (needs Pillow)")

    r = sub.add_parser("sessions", help="list saved sessions, newest first, with the ids other commands take")
    r.add_argument("--json", action="store_true", help="one JSON list with id, start, scenario, label, runs, path")
    r.add_argument("--saved", action="store_true", help="leave out the bundled demo session")

    r = sub.add_parser("models", help="the model files scenarios expect, where they look, and fetching them")
    r.add_argument("action", nargs="?", choices=["list", "fetch"], default="list",
                   help="list (default), or fetch FILE... from the Hugging Face Hub (HF_ENDPOINT is honoured)")
    r.add_argument("files", nargs="*", metavar="FILE", help="fetch: a .gguf file name from the list")
    r.add_argument("--repo", help="fetch: the Hub repository to take FILE from (default: orintui's list)")
    r.add_argument("--revision", default="main", help="fetch: a branch, tag or commit of the repository")
    r.add_argument("--dest", help="fetch: the folder to write to (default: where the scenarios look for it)")
    r.add_argument("--json", action="store_true", help="list: one JSON list")

    r = sub.add_parser("import", help="turn existing backend logs into a session")
    r.add_argument("--backend", required=True, help="the adapter that reads the logs (as in a scenario's backend)")
    r.add_argument("logs", nargs="+", metavar="LOG", help="log files, one run each")
    r.add_argument("--label", action="append", default=[], help="a label per log, in order")
    r.add_argument("--out", required=True, help="session file to write")

    r = sub.add_parser("scenarios", help="list or validate scenarios")
    r.add_argument("files", nargs="*", help="scenario files to validate (default: list all)")
    r.add_argument("--json", action="store_true", help="one JSON list of scenarios")

    r = sub.add_parser("telemetry", help="print telemetry samples")
    r.add_argument("--source", default="auto", choices=["auto", "jtop", "tegrastats", "nvml", "psutil"],
                   help="telemetry source (default auto)")
    r.add_argument("--interval", type=_positive(float), default=1.0, help="seconds between samples")
    r.add_argument("--count", type=_positive(int), help="stop after N samples")
    r.add_argument("--json", action="store_true", help="one JSON object per line")

    r = sub.add_parser("exporter", help="serve telemetry alone as OpenMetrics, for a board that is not benchmarking")
    r.add_argument("--port", type=_port, required=True, help="port to serve /metrics on (0: any free port)")
    r.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address to serve on (default 127.0.0.1)")
    r.add_argument("--source", default="auto", choices=["auto", "jtop", "tegrastats", "nvml", "psutil"],
                   help="telemetry source (default: the best this board has)")
    r.add_argument("--interval", type=_positive(float), default=1.0, help="seconds between samples")

    r = sub.add_parser("doctor", help="what works on this machine and what will skew results")
    r.add_argument("--json", action="store_true", help="one JSON object")

    r = sub.add_parser("screenshot", help="render the replay screen of a session to SVG or PNG")
    r.add_argument("--ascii", action="store_true", default=argparse.SUPPRESS, help=ASCII_HELP)
    r.add_argument("session", help=SESSION_HELP)
    r.add_argument("--out", required=True, help="x.svg, or x.png (rendered by headless Chromium)")
    r.add_argument("--size", type=_parse_size, default=(120, 40), metavar="COLSxROWS", help="terminal size (default 120x40)")
    r.add_argument("--at", type=float, default=None, metavar="SECONDS", help="moment of the session (default: the end)")
    r.add_argument("--pane", choices=["table", "chart", "output"], default="table", help="what the bottom area shows")
    _add_theme(r)
    return p


def _load(handle: str) -> Session:
    """A session from a SESSION argument: a path, an id or id prefix, last, or demo."""
    return _open(handle).load()


def _open(handle: str) -> SessionFile:
    """A SESSION argument's file with its header read and checked (its events: ``load()``)."""
    from orintui.reading.catalog import HandleError, resolve_session
    from orintui.session.store import open_session

    try:
        path = resolve_session(handle)
    except HandleError as exc:
        raise CliError(str(exc)) from None
    return open_session(str(path))


def cmd_setup(args: argparse.Namespace) -> int:
    from orintui.commands.bootstrap import setup

    report = setup(lambda line: print(clean_line(f"orintui setup: {line}"), file=sys.stderr, flush=True))
    width = max(len(what) for what, _ in report.lines)
    for what, state in report.lines:
        print(clean_line(f"{what:{width}}  {state}"))
    for problem in report.problems:
        print(clean_line(f"orintui setup: {problem}"), file=sys.stderr)
    if args.no_run:
        return EXIT_OK
    print(f"starting the demo{' headless' if args.headless else ''}: orintui run demo", flush=True)
    run_args = ["run", "demo", *(x for kv in args.set for x in ("--set", kv))] + (["--headless"] if args.headless else [])
    return cmd_run(build_parser().parse_args(run_args))


def cmd_sessions(args: argparse.Namespace) -> int:
    from orintui.reading.catalog import list_sessions

    entries = list_sessions(include_demo=not args.saved)
    if args.json:
        print(json.dumps([{"id": e.id, "started_at": e.started_at, "scenario": e.scenario, "label": e.label,
                           "runs": e.runs, "headline": e.headline, "path": e.path, "bundled": e.bundled,
                           "error": e.error} for e in entries], indent=2))
        return EXIT_OK
    if not entries:
        print("no saved sessions yet: orintui run SCENARIO saves one")
    for e in entries:
        name = e.title + (" (bundled)" if e.bundled else "")
        print(clean_line(f"{e.id:24} {e.started_at[:16]:16} {e.runs:>3} runs  {name}"))
        print(f"    {clean_line(e.error or e.headline)}")
    return EXIT_OK


def _emit(text: str, out: str | None) -> None:
    """Standard output, or a file (a report to keep or attach)."""
    if out is None:
        print(text)
        return
    from pathlib import Path

    Path(out).write_text(text + "\n", encoding="utf-8")
    print(out)


def cmd_report(args: argparse.Namespace) -> int:
    sessions = [_load(s) for s in args.sessions]
    if args.format == "html":
        from orintui.sharing.html_report import render_html

        _emit(render_html(sessions), args.out)
        return EXIT_OK
    from orintui.reading.report import render_report

    _emit(render_report(sessions, args.format), args.out)
    return EXIT_OK


def cmd_pareto(args: argparse.Namespace) -> int:
    from orintui.figures.pareto import ParetoError, write_chart

    sessions = [_load(s) for s in args.sessions]
    try:
        print(write_chart(sessions, args.out))
    except ParetoError as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from orintui.sharing.compare import CompareError, render_compare, resolve_baseline

    if len(args.sessions) < 2:
        raise CliError("compare needs two or more sessions")
    gate = regression_gate_args(args)
    sessions = [_load(s) for s in args.sessions]
    try:
        baseline = resolve_baseline(sessions, args.baseline)
        print(render_compare(sessions, args.format, baseline))
    except CompareError as exc:
        raise CliError(str(exc)) from None
    return regression_gate(sessions, baseline, *gate) if gate else EXIT_OK


def regression_gate_args(args: argparse.Namespace) -> tuple[list[str], float] | None:
    """--metric and --threshold checked before anything is loaded; None without --fail-on-regression."""
    from orintui.analysis.gate import DEFAULT_THRESHOLD_PCT, GATE_METRICS

    if not args.fail_on_regression:
        if args.threshold is not None or args.metric != "decode":
            raise CliError("--metric and --threshold go with --fail-on-regression")
        return None
    metrics = [m.strip() for m in args.metric.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in GATE_METRICS]
    if not metrics or unknown:
        raise CliError(f"--metric: unknown {', '.join(unknown) or 'empty list'} (known: {', '.join(GATE_METRICS)})")
    threshold = DEFAULT_THRESHOLD_PCT if args.threshold is None else args.threshold
    if not 0 <= threshold <= 1000:  # NaN fails this too
        raise CliError("--threshold must be a percentage from 0 to 1000")
    return metrics, threshold


def regression_gate(sessions: list, baseline: int, metrics: list[str], threshold: float) -> int:
    """Every other session against the baseline; the reasons go to stderr, so stdout stays the comparison."""
    from orintui.analysis.gate import check, render

    failed = 0
    for i, other in enumerate(sessions):
        if i != baseline:
            checks = check(sessions[baseline], other, metrics, threshold)
            print(clean_line(f"{other.id} against {sessions[baseline].id}:"), file=sys.stderr)
            print(render(checks), file=sys.stderr)
            failed += sum(c.regressed for c in checks)
    print(f"orintui: {failed} regression(s)" if failed else "orintui: no regression", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _png(svg: str, out: str) -> None:
    from orintui.sharing.png import PngError, svg_to_png

    try:
        svg_to_png(svg, out)
    except PngError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None


def _image_kind(out: str) -> str:
    kind = out.lower().rsplit(".", 1)[-1] if "." in out else ""
    if kind not in ("svg", "png"):
        raise CliError(f"--out must end in .svg or .png, not {out!r}")
    return kind


def cmd_card(args: argparse.Namespace) -> int:
    from pathlib import Path

    from orintui.sharing.card import render_card

    kind = _image_kind(args.out)
    svg = render_card(_load(args.session))
    if kind == "png":
        _png(svg, args.out)
    else:
        Path(args.out).write_text(svg, encoding="utf-8")
    print(args.out)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from orintui.tui.serve import serve

    path = None
    if args.session:
        from orintui.reading.catalog import HandleError, resolve_session

        try:
            path = resolve_session(args.session)
        except HandleError as exc:
            raise CliError(str(exc)) from None
        _load(str(path))  # a bad file is refused here, not in the browser
    return serve(path, args.host, args.port, args.theme, args.public_url, args.speed)


def cmd_import(args: argparse.Namespace) -> int:
    from orintui.backends import ADAPTERS
    from orintui.config.importer import ImportError_, import_logs
    from orintui.session import events as ev
    from orintui.session import save_session

    if args.backend not in ADAPTERS:
        raise CliError(f"unknown backend {args.backend!r} (known: {', '.join(sorted(ADAPTERS))})")
    try:
        session, _ = import_logs(args.backend, args.logs, args.label)
    except ImportError_ as exc:
        raise CliError(str(exc)) from None
    save_session(session, args.out)
    tokens = sum(1 for e in session.events if e["kind"] == ev.TOKEN)
    print(clean_line(f"imported {len(session.runs)} run(s), {tokens} tokens -> {args.out}"))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from pathlib import Path

    from orintui.running import models

    if args.action == "list":
        if args.files:
            raise CliError("models list takes no file names (did you mean: orintui models fetch FILE?)")
        expected = models.expected_models()
        if args.json:
            print(json.dumps([e.to_dict() for e in expected], indent=2))
            return EXIT_OK
        for e in expected:
            state = "present" if e.present else "missing"
            print(clean_line(f"{state:8} {e.path}"))
            if e.generated:
                how = f"written by orintui (random weights, shape {e.generated}) when a scenario starts"
            elif e.source:
                how = f"orintui models fetch {e.source.file}   ({e.source.repo}; {e.source.about})"
            else:
                how = "no known source: put your own file there, or --set the scenario's model variable"
            print(clean_line(f"         {how}"))
            print(clean_line(f"         used by: {', '.join(e.scenarios)}"))
        return EXIT_OK
    if not args.files:
        raise CliError("models fetch needs at least one FILE (orintui models lists them)")
    known = models.sources()
    dests = {} if args.dest else models.default_dests(args.files)
    for file in args.files:
        if args.repo:
            source = models.Source(file, args.repo, revision=args.revision)
        elif file in known:
            source = known[file]
            source = models.Source(source.file, source.repo, source.about, source.sha256, args.revision)
        else:
            raise CliError(f"{file!r} is not in orintui's list of models: give --repo OWNER/NAME to fetch it")
        dest = Path(args.dest) if args.dest else dests[file]
        print(clean_line(f"fetching {source.repo}/{source.file} into {dest}"), file=sys.stderr)
        try:
            got = models.fetch(source, dest)
        except models.ModelError as exc:
            raise CliError(str(exc), EXIT_FAILED) from None
        print(clean_line(f"{got}  ({got.stat().st_size} bytes, SHA-256 checked)"))
    return EXIT_OK


def cmd_scenarios(args: argparse.Namespace) -> int:
    from orintui.config.scenarios import ScenarioError, list_scenarios, load_scenario

    if args.files:
        bad = 0
        for f in args.files:
            try:
                s = load_scenario(f)
                print(clean_line(f"ok  {f}: {s.name} ({len(s.runs)} runs)"))
            except ScenarioError as exc:
                print(f"orintui: {clean_line(exc)}", file=sys.stderr)
                bad += 1
        return EXIT_USAGE if bad else EXIT_OK
    entries = list_scenarios()
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return EXIT_OK
    for e in entries:
        state = "ready" if e.ready else ("error" if e.error else "missing: " + "; ".join(e.missing))
        if e.ready and e.skipped:
            state += f", {len(e.skipped)} of {e.runs} runs skipped here"
        print(clean_line(f"{e.name:28} {e.origin:8} {state}"))
        if e.error:
            print(f"    {clean_line(e.error)}")
        elif e.description:
            print(f"    {clean_line(e.description)}")
        for skipped in e.skipped if not e.error else []:
            print(f"    skipped: {clean_line(skipped)}")
    return EXIT_OK


def cmd_telemetry(args: argparse.Namespace) -> int:
    from orintui.telemetry.cli import telemetry_command

    return telemetry_command(args)


def cmd_exporter(args: argparse.Namespace) -> int:
    from orintui.running.exporter import ExporterError, serve_telemetry

    try:
        return serve_telemetry(args.port, args.bind, args.source, args.interval)
    except ExporterError as exc:
        raise CliError(str(exc)) from None


def _serve_run_metrics(args: argparse.Namespace) -> MetricsExporter | None:
    """The exporter beside every execution of this run, listening before anything runs; or None."""
    if args.metrics_port is None:
        return None
    from orintui.running.engine import watch_executions
    from orintui.running.exporter import ExporterError, MetricsExporter

    exporter = MetricsExporter()
    try:
        url = exporter.serve(args.metrics_port, args.metrics_bind)
    except ExporterError as exc:
        raise CliError(str(exc)) from None
    watch_executions(exporter.watch)
    print(clean_line(f"orintui: serving metrics on {url}"), file=sys.stderr, flush=True)
    return exporter


def cmd_doctor(args: argparse.Namespace) -> int:
    from orintui.telemetry.doctor import doctor_command

    return doctor_command(args)


def cmd_run(args: argparse.Namespace) -> int:
    # the front ends live here, not in the engine: the engine never imports the app or the printer
    from orintui.config.scenarios import load_scenario
    from orintui.running.engine import check_out, parse_overrides, start_checks

    start_checks()
    check_out(args.out, getattr(args, "force", False))
    scenario = load_scenario(args.scenario, parse_overrides(args.set))
    exporter = _serve_run_metrics(args)
    try:
        if not args.headless:
            from orintui.tui.app import run_app

            return run_app(scenario=scenario, out=args.out, telemetry=args.telemetry, interval=args.interval,
                           label=args.label, theme=args.theme)
        from orintui.commands.headless import run_headless

        code = run_headless(scenario, args.out, args.telemetry, args.interval, args.label, args.progress)
        if exporter is not None and args.metrics_hold > 0:
            print(f"orintui: serving the final figures until a scrape takes them (at most {args.metrics_hold:g} s)",
                  file=sys.stderr, flush=True)
            if not exporter.hold(args.metrics_hold):
                print("orintui: no scrape took the final figures", file=sys.stderr)
        return code
    finally:
        if exporter is not None:
            exporter.close()


def cmd_replay(args: argparse.Namespace) -> int:
    source = _open(args.session)  # the header now; the app shows it and reads the events behind its first frame
    from orintui.tui.app import run_app

    return run_app(replay=source, speed=args.speed, theme=args.theme)


def cmd_screenshot(args: argparse.Namespace) -> int:
    kind = _image_kind(args.out)
    session = _load(args.session)
    from orintui.tui.screenshot import render_screenshot, screenshot_svg

    if kind == "png":
        _png(screenshot_svg(session, size=args.size, at=args.at, theme=args.theme, pane=args.pane), args.out)
        print(args.out)
        return EXIT_OK
    path = render_screenshot(session, args.out, size=args.size, at=args.at, theme=args.theme, pane=args.pane)
    print(path)
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    from orintui.running.engine import start_checks
    from orintui.tui.app import run_app

    start_checks()
    return run_app(theme=args.theme)


COMMANDS = {
    None: cmd_app, "run": cmd_run, "replay": cmd_replay, "report": cmd_report, "compare": cmd_compare,
    "import": cmd_import, "scenarios": cmd_scenarios, "telemetry": cmd_telemetry, "doctor": cmd_doctor,
    "screenshot": cmd_screenshot, "exporter": cmd_exporter, "sessions": cmd_sessions, "models": cmd_models, "setup": cmd_setup,
    "card": cmd_card, "serve": cmd_serve, "pareto": cmd_pareto,
}


def _hangup(signum, frame):
    # a dropped SSH connection: unwind like Ctrl-C so runs are stopped and the session is saved
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors exit here, before the imports below
    from orintui.config.scenarios import ScenarioError
    from orintui.session import SessionError

    if args.ascii:  # read by the app's widgets (orintui.tui.glyphs), and by any app it serves
        os.environ["ORINTUI_ASCII"] = "1"
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _hangup)
    signal.signal(signal.SIGTERM, _hangup)
    try:
        return COMMANDS[args.command](args)
    except (SessionError, ScenarioError) as exc:
        print(f"orintui: {clean_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"orintui: {clean_line(exc)}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        from orintui.backends.runner import terminate_all

        terminate_all("interrupted")
        print("orintui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        target = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(clean_line(f"orintui: {exc.strerror or exc}{target}"), file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
