"""Running a scenario: runs one after another (never at once: they would disturb each other),
repetitions and warm-ups, telemetry alongside, everything through one Recorder.

Used by ``orintui run --headless`` and by the app's live screen alike.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orintui.backends import get_adapter, openai_endpoint, versions
from orintui.backends.runner import BackendRunner
from orintui.config.quiet_gate import QuietGate, gate_disabled_here
from orintui.config.scenarios import RunSpec, Scenario, ScenarioError, how_to_get, stops_the_scenario
from orintui.core import paths
from orintui.figures.metrics import IDLE_WINDOW_S, RunMetrics, cpu_busy_pct
from orintui.figures.metrics_live import SessionAccumulator
from orintui.running.power_modes import PowerModeError, PowerModes, check_can_switch, needs
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.journal import JournalBusy, journal_locked, journal_path
from orintui.session.model import RunInfo, Session
from orintui.session.recorder import Recorder, new_session
from orintui.session.store import recover_journal, recover_orphans
from orintui.telemetry.profiles import host_facts, match_profile
from orintui.telemetry.sampler import TelemetrySampler


class TelemetryUnavailable(ScenarioError):
    """A telemetry source named by the user cannot start here (exit 2, like any bad input)."""


class OutRefused(ScenarioError):
    """``--out`` names a directory, an existing file (without --force), or a journal another orintui
    is writing now (exit 2)."""


def check_out(out: str | os.PathLike | None, force: bool = False) -> None:
    """Refuse an --out that would fail at the end or overwrite something, before anything runs."""
    if not out:
        return
    path = Path(out)
    if path.is_dir():
        raise OutRefused(f"--out {path}: is a directory; name the session file to write")
    if journal_locked(journal_path(path)):
        raise OutRefused(f"--out {path}: another orintui is recording to this file now ({journal_path(path)} is locked)")
    if journal_path(path).is_file():  # stale (its lock is free): saved as a session before a new journal replaces it
        recovered = recover_journal(journal_path(path))
        if recovered is not None:
            print(f"orintui: recovered an interrupted session: {recovered}", file=sys.stderr)
        elif not force:
            raise OutRefused(f"--out {path}: {journal_path(path)} is left from an earlier session and cannot be "
                             "recovered; move it, or use --force to overwrite it")
    if path.exists() and not force:
        raise OutRefused(f"--out {path}: the file exists; use --force to overwrite it")


QUIET_CHECK_S = 0.5  # how long the machine's CPU load is measured before each run
POWER_SOURCES = ("jtop", "tegrastats", "nvml")  # sources that measure power: runs get an idle baseline


def expand_runs(scenario: Scenario) -> list[RunInfo]:
    runs: list[RunInfo] = []
    for spec in scenario.runs:
        size = os.path.getsize(spec.model) if spec.model and os.path.exists(spec.model) else None
        total = spec.warmup + spec.repetitions
        for rep in range(total):
            runs.append(RunInfo(index=len(runs), label=spec.label, backend=spec.backend, argv=list(spec.argv),
                                env=dict(spec.env), cwd=spec.cwd, repetition=rep - spec.warmup if rep >= spec.warmup else rep,
                                warmup=rep < spec.warmup, model_path=spec.model, model_bytes=size))
    return runs


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set needs KEY=VALUE, not {pair!r}")
        out[key.strip()] = value
    return out


def prepare(scenario: Scenario) -> None:
    """Write the random-weight models the scenario asks for, once."""
    from orintui.core.modelgen import ensure_model

    for var, shape in scenario.generate.items():
        path = scenario.variables[var]
        if not os.path.exists(path):
            print(f"orintui: writing a random-weight {shape} model to {path}", file=sys.stderr)
            ensure_model(path, shape)


WATCHERS: list[Callable[[Execution], None]] = []  # callables given each new Execution: front ends add listeners (the metrics exporter)


def watch_executions(callback: Callable[[Execution], None]) -> None:
    """``callback(execution)`` for every Execution created from now on, before it starts: how a front end
    puts a listener beside the recorder of executions it does not create itself (the app's)."""
    WATCHERS.append(callback)


class Execution:
    """One scenario being executed on a background thread."""

    def __init__(self, scenario: Scenario, out: str | os.PathLike | None = None, telemetry: str = "auto",
                 interval: float = 0.5, label: str = ""):
        self.scenario = scenario
        check_can_switch(scenario.runs, scenario.path)  # a power sweep needs root: refused before anything
        problems = scenario.problems()
        # optional: this machine may lack the program; a model the user named that is not there is a mistake
        fatal = [(r, why) for r, why in problems if stops_the_scenario(r, why)]
        if not fatal and problems and {r.label for r, _ in problems} >= {r.label for r in scenario.runs}:
            fatal = problems  # nothing could run here: said now, not as a session of skipped runs
        if fatal:
            run, why = fatal[0]
            more = f" (and {len(fatal) - 1} more)" if len(fatal) > 1 else ""
            raise ScenarioError(f"{scenario.path}: run {run.label!r}: {why}{more}")
        self.skipped = {r.label: why + how_to_get(why) for r, why in problems if r.optional}
        prepare(scenario)
        facts = host_facts()
        self.profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
        runs = expand_runs(scenario)
        self.session = new_session(facts, {**scenario.to_dict(), "telemetry": telemetry}, runs, label)
        out = Path(out) if out else paths.sessions_dir() / f"{self.session.id}.json"
        try:
            self.recorder = Recorder(self.session, out)
        except JournalBusy as exc:
            raise OutRefused(str(exc)) from None
        self.sampler: TelemetrySampler | None = None
        try:
            self._open(scenario, telemetry, interval)
        except BaseException:  # SIGTERM or Ctrl-C while telemetry opens: no journal is left to recover
            if self.sampler is not None:
                self.sampler.stop()
            self.recorder.discard()
            raise

    def _open(self, scenario: Scenario, telemetry: str, interval: float) -> None:
        """Everything after the journal exists, up to a session ready to start."""
        self.write_error: str | None = None  # the journal could not be written: the runs were stopped
        self.recorder.on_write_error(self._write_failed)
        # every run's compact record, fed as the recorder writes (first of its listeners): the figures,
        # flags, report and Findings at the end come from it, and nothing is read back from the journal
        self.figures = SessionAccumulator(self.session)
        self.recorder.subscribe(self.figures.add)
        self.measured: tuple[Session, list[RunMetrics]] | None = None  # set when the session ends
        if telemetry != "none":
            self.sampler = TelemetrySampler(telemetry, interval, self.recorder.record, self.recorder.now,
                                            self.profile, mono_to_session=self.recorder.clock_of)
            source = self.sampler.open()
            if source is None and telemetry != "auto":
                # asked for by name: running without it would silently lose J/token and EMC figures
                # (the journal is discarded by the constructor)
                raise TelemetryUnavailable(f"telemetry source {telemetry} cannot start: "
                                           f"{self.sampler.skipped.get(telemetry, 'unavailable')}")
            if source is None:
                self.recorder.record(ev.note(0.0, "no telemetry source works here: no power, GPU or EMC figures "
                                                  f"({'; '.join(f'{k}: {v}' for k, v in self.sampler.skipped.items())})",
                                             "warning"))
            self.session.host.update({
                "telemetry_source": source.name if source else None,
                "telemetry_interval_s": source.real_interval if source else None,
                "telemetry_skipped": dict(self.sampler.skipped),
            })
            if source is not None and source.name == "nvml":
                facts = source.facts
                self.session.host.update({k: v for k, v in facts.items() if v is not None})
            identified = getattr(source, "identified", None)
            found = source.profile if source is not None else None
            if identified and self.profile is None and found is not None:
                # no device tree (a container): the board as the tegrastats line's shape tells it
                self.profile = found
                self.session.host.update({"profile": found.key, "profile_from": identified,
                                          "peak_bandwidth_gbs": found.peak_bandwidth_gbs, "bus_bytes": found.bus_bytes})
        self._stop = threading.Event()
        self._sweep_hooks(scenario)
        self.current: BackendRunner | openai_endpoint.EndpointRun | None = None
        self._versions: dict[tuple, dict[str, str]] = {}
        self._thread: threading.Thread | None = None
        self.done = threading.Event()
        for watcher in WATCHERS:
            watcher(self)

    # -- control ------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="execution", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        # a plain Event.wait would swallow Ctrl-C on the main thread: poll instead
        while not self.done.wait(0.2 if timeout is None else timeout):
            if timeout is not None:
                return False
        return True

    def skip_current(self) -> None:
        if self.current is not None:
            self.current.cancel("skipped by the user")

    def stop(self, reason: str = "stopped by the user") -> None:
        self._stop.set()
        if self.current is not None:
            self.current.cancel(reason)

    def _write_failed(self, why: str) -> None:
        """A full disk: what is recorded from now on would be lost with the next crash, and the final
        save will fail the same way. Stop the runs (a failure, not the user's doing)."""
        self.write_error = why
        self._stop.set()
        if self.current is not None:
            self.current.cancel(f"the journal cannot be written: {why}", st.FAILED, by_user=False)

    def stop_and_wait(self, reason: str, timeout: float = 30.0) -> None:
        """Leaving while a run is live: end it, and give the group and the save time to finish."""
        if not self.done.is_set():
            self.stop(reason)
            self.wait(timeout)

    # -- the thread ---------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            if self.sampler is not None:
                self.sampler.start()
            for run in self.session.runs:  # said at once, not after the runs before them: the lane shows why
                if run.label in self.skipped:
                    self._end(run, st.SKIPPED, None, None, self.skipped[run.label])
            for run in self.session.runs:
                if run.label in self.skipped:
                    continue
                if self._stop.is_set():
                    self._end(run, st.CANCELLED, None, None, "not started: the session was stopped", by_user=True)
                    continue
                self._execute(run)
                if self.gate is not None and run is not self.session.runs[-1]:
                    self.gate.cooldown()
        finally:
            try:
                if self.power is not None and (why := self.power.restore()):
                    self.recorder.record(ev.note(self.recorder.now(), f"power mode NOT restored: {why}", "error"))
                if self.sampler is not None:
                    self.sampler.stop()
                self.recorder.close(finish=self._store_flags)
            finally:
                self.done.set()  # whatever happened, nobody waits forever for a session that ended

    def _end(self, run: RunInfo, status: str, code: int | None, sig: int | None, error: str | None, by_user: bool = False,
             **process: Any) -> None:
        self.recorder.record(ev.run_ended(self.recorder.now(), run.index, status, code, sig, error, by_user=by_user,
                                          **process))

    def _store_flags(self, session: Session) -> None:
        """The session's final figures (``measured``: the report's and the Findings' input) from the
        accumulators, and every run's validity flags kept in the run table, so that readers of the JSON
        need not recompute them: what ``session_metrics`` gives for the saved session."""
        self.measured = self.figures.measured()
        for m in self.measured[1]:
            session.runs[m.run].flags = [flag.code for flag in m.flags]

    def _execute(self, run: RunInfo) -> None:
        spec = next(s for s in self.scenario.runs if s.label == run.label)
        adapter = get_adapter(run.backend)
        record = self.recorder.record
        index = run.index
        key = (run.backend, run.argv[0] if run.argv else None, tuple(sorted(run.env.items())), run.cwd)
        if key not in self._versions:  # once per program and environment, not per repetition
            self._versions[key] = versions.probe(run.backend, run.argv, run.env, run.cwd)
        run.versions = dict(self._versions[key])
        before = self._before_run(run, spec)
        cpu_before = self._quiet_check() if before is not None else None
        if self._stop.is_set() or before is None:
            if not self._stop.is_set():  # a power switch failed: the rest would run in an unknown mode
                self._stop.set()
                self._end(run, st.FAILED, None, None, self.power_error)
            else:
                self._end(run, st.CANCELLED, None, None, "not started: the session was stopped", by_user=True)
            return
        record(ev.run_started(self.recorder.now(), index, run.label, backend=run.backend, repetition=run.repetition,
                              warmup=run.warmup, cpu_load_before_pct=cpu_before, **before))
        record({**ev.phase(self.recorder.now(), ev.Phase.LOADING), "run": index})
        options = {"question": spec.input} if spec.input is not None else {}
        runner: BackendRunner | openai_endpoint.EndpointRun
        if run.backend == openai_endpoint.NAME:  # a served model: HTTP streams; its server (if any) through a BackendRunner
            runner = openai_endpoint.EndpointRun(openai_endpoint.spec_from_run(spec), lambda e: record({**e, "run": index}),
                                                 self.recorder.clock_of)
        else:
            runner = BackendRunner(run.argv, adapter.make_parser(run.argv, **options),
                                   lambda events: self.recorder.record_read(events, index),
                                   self.recorder.clock_of, env=run.env, cwd=run.cwd,
                                   idle_timeout=spec.idle_timeout, total_timeout=spec.total_timeout)
        self.current = runner
        result = runner.run()
        self.current = None
        record({**ev.phase(self.recorder.now(), ev.end_phase(result.status), result.describe()), "run": index})
        process: dict[str, Any] = {"pgid": result.pgid} if result.pgid else {}
        if result.leftover_pids:  # a daemonised helper survived the run: killed, and the run flagged
            process["leftover_pids"] = " ".join(map(str, result.leftover_pids))
        self._end(run, result.status, result.exit_code, result.signal, result.error, result.by_user, **process)

    # -- sweeps: the power group and the quiet-machine gate before each run (orintui/running/power_modes.py,
    #    orintui/config/quiet_gate.py) ------------------------------------------------------------------
    def _sweep_hooks(self, scenario: Scenario) -> None:
        self.power: PowerModes | None = None
        self.power_line: str | None = None  # what headless says before starting
        self.power_error: str | None = None
        modes, clocks = needs(scenario.runs)
        if modes or clocks:
            self.power = PowerModes()
            try:
                self.power_line = self.power.begin(clocks)
            except PowerModeError:
                if self.sampler is not None:
                    self.sampler.stop()
                self.recorder.discard()
                raise
            self.recorder.record(ev.note(0.0, f"power-mode sweep: {self.power_line}", "info"))
        self.gate: QuietGate | None = None
        self.gate_line: str | None = None
        self._last_sample: ev.Event | None = None
        if scenario.gate.enabled and not gate_disabled_here():
            self.gate = QuietGate(scenario.gate, self._stop, lambda: self._last_sample)
            c = scenario.gate
            self.gate_line = (f"quiet gate before each run: CPU <= {c.cpu_pct:g}%, GPU <= {c.gpu_pct:g}%, temperature "
                              f"within {c.temp_band_c:g} C for {c.window_s:g} s, waiting up to {c.max_wait_s:g} s")
            self.recorder.subscribe(self._keep_sample)
            self.recorder.record(ev.note(0.0, self.gate_line, "info"))  # in the app's output pane, and the session

    def _keep_sample(self, event: ev.Event) -> None:
        if event["kind"] == ev.TELEMETRY:
            self._last_sample = event

    def _before_run(self, run: RunInfo, spec: RunSpec) -> dict | None:
        """Switch the power group, then wait for a quiet machine; the fields for run_started, or
        None when the session was stopped or a switch failed (power_error says why)."""
        fields: dict = {}
        if self.power is not None and (spec.nvpmodel is not None or spec.jetson_clocks is not None):
            try:
                fields.update(self.power.apply(spec.nvpmodel, spec.jetson_clocks))
            except PowerModeError as exc:
                self.power_error = f"power mode switch failed: {exc}"
                return None
        if self.gate is not None:
            said = lambda why: self.recorder.record({**ev.note(  # noqa: E731
                self.recorder.now(), f"waiting for a quiet machine: {why}", "info"), "run": run.index, "gate": True})
            result = self.gate.wait(said)
            if result is None:
                return None
            fields.update(result.fields())
        return fields

    def _quiet_check(self) -> float | None:
        """CPU load of the whole machine over the moment before a run starts (the run's own
        process does not exist yet): a busy machine skews every figure, so it is recorded and
        flagged. None when it cannot be measured."""
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is a dependency
            return None
        before = psutil.cpu_times()
        if self._stop.wait(self._quiet_s()):
            return None
        return round(cpu_busy_pct(before, psutil.cpu_times()), 1)

    def _quiet_s(self) -> float:
        """Where the telemetry measures power, the moment before a run lasts IDLE_WINDOW_S plus a
        sample interval, so every run gets its idle baseline (metrics.idle_baseline); elsewhere the
        CPU check alone."""
        source = self.sampler.source if self.sampler is not None else None
        if source is not None and source.name in POWER_SOURCES:
            return IDLE_WINDOW_S + (source.real_interval or 0.5)
        return QUIET_CHECK_S


def start_checks() -> None:
    """At every start: recover stale journals (the sessions folder and wherever the registry says),
    and kill processes left by runs of an orintui that is gone; one line each on stderr."""
    from orintui.backends.runner import sweep_orphans

    for path in recover_orphans(paths.sessions_dir()):
        print(f"orintui: recovered an interrupted session: {path}", file=sys.stderr)
    for line in sweep_orphans():
        print(f"orintui: {line}", file=sys.stderr)
