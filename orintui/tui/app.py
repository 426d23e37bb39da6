"""The orintui app: menu, live, replay and compare screens, over SSH, keyboard only."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from orintui.core import paths
from orintui.core.sanitize import clean_line
from orintui.session import SessionError, load_session
from orintui.session.model import Session
from orintui.session.status import failing_runs
from orintui.session.store import SessionFile, open_session
from orintui.tui import themes
from orintui.tui.messages import (
    CompareLoaded,
    DeviceProbed,
    GoBack,
    Notice,
    OpenCompare,
    OpenReplay,
    ReplayOpened,
    ReplayRefused,
    RunPrepared,
    StartRun,
)

if TYPE_CHECKING:
    from orintui.config.scenarios import Scenario
    from orintui.running.engine import Execution
    from orintui.tui.screens.replay import ReplayScreen

STOP_WAIT_S = 30.0  # a run's process group and the save get this long once a stop is asked


@dataclass(frozen=True)
class AppConfig:
    """What the app is started for: the command line's choices (tests build the same)."""

    replay: Session | SessionFile | None = None  # orintui replay: this session (a file: its events load in the app)
    scenario: Scenario | None = None  # orintui run: this scenario, live
    out: str | None = None
    telemetry: str = "auto"
    interval: float = 0.5
    label: str = ""
    speed: float = 1.0
    at: float | None = None  # replay from here (seconds; negative: the end)
    paused: bool = False
    theme: str | None = None
    first_screen: str | None = None  # "menu" or "demo"; None: the demo on the very first start
    device_info: dict | None = None  # the device's facts if known: the menu does not probe


def make_app(config: AppConfig | None = None, *, handle_signals: bool = False, **fields: Any) -> OrintuiApp:
    """The app for ``config`` (or for the AppConfig ``fields`` given)."""
    return OrintuiApp(config if config is not None else AppConfig(**fields), handle_signals=handle_signals)


class OrintuiApp(App):
    CSS_PATH = str(paths.bundled_dir("themes") / "orintui.tcss")
    TITLE = "orintui"
    BINDINGS = [
        Binding("f2", "cycle_theme", "Theme"),
        Binding("question_mark,f1", "toggle_help", "Keys"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),  # in `?` and the palette, not the footer
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]
    # ctrl+p: every action of the screen and the app by name (tui/keys_panel.py)

    def __init__(self, config: AppConfig, handle_signals: bool = False):
        driver = None
        if handle_signals and hasattr(signal, "SIGHUP"):
            from orintui.tui.hangup import HangupAwareDriver

            driver = HangupAwareDriver
        super().__init__(driver_class=driver)
        from textual.scrollbar import ScrollBar

        from orintui.tui.glyphs import ScrollBars

        ScrollBar.renderer = ScrollBars  # ASCII mode: no eighth blocks at the scrollbars' ends either
        self.config = config
        self._handle_signals = handle_signals
        self.hung_up = False
        for t in themes.THEMES:
            self.register_theme(t)
        self.settings = themes.load_settings()  # as they were at start
        chosen = config.theme or self.settings.get("theme") or themes.DEFAULT
        self.theme = chosen if chosen in themes.NAMES else themes.DEFAULT
        self.device_info = config.device_info
        self.live_autostart = True  # False: the live screen shows an Execution it does not start (snapshots)
        self.execution: Execution | None = None
        self.preparing = False  # a scenario's Execution is being built in a worker
        self.stopping = False  # a live run is being stopped and saved before the app leaves
        self.leaving = False  # quit, Ctrl-C or a hang-up was asked
        self.exit_code = 0
        self.crash: str | None = None  # one line about an unexpected error; the traceback is in a log file
        self.refused: SessionError | None = None  # the replayed file, refused once its events were read

    # -- start ----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(sig, self.hang_up, sig)
        config = self.config
        if config.scenario is not None:
            self.post_message(StartRun(config.scenario, config.label))
            return
        if config.replay is not None:
            self.push_screen(self._replay_screen(config.replay))
            return
        self.push_screen(self.menu())
        if config.first_screen == "demo" or (config.first_screen is None and not self.settings.get("demo_seen")):
            themes.save_settings(demo_seen=True)
            from orintui.reading.catalog import demo_session_path

            demo = demo_session_path()
            if demo.exists():
                self.post_message(OpenReplay(str(demo)))
                self.notify("A real session recorded on an H100: q returns to the menu", timeout=8)

    def menu(self) -> Screen:
        from orintui.tui.screens.menu import MenuScreen

        return MenuScreen(self.device_info)  # None: the menu probes in the background

    def _replay_screen(self, session: Session | SessionFile) -> ReplayScreen:
        from orintui.tui.screens.replay import ReplayScreen

        c = self.config
        return ReplayScreen(session, speed=c.speed, at=c.at, paused=c.paused)

    # -- what screens ask for: slow parts in workers, which post the results back ---------------
    def on_open_replay(self, message: OpenReplay) -> None:
        self._load_replay(message.path)

    @work(thread=True, exclusive=True, group="load")
    def _load_replay(self, path: str) -> None:
        try:
            source = open_session(path)  # the header: the replay screen reads the events behind its first frame
        except SessionError as exc:
            self.post_message(Notice(clean_line(exc), error=True))
            return
        self.post_message(ReplayOpened(source))

    def on_replay_opened(self, message: ReplayOpened) -> None:
        self.push_screen(self._replay_screen(message.source))

    def on_replay_refused(self, message: ReplayRefused) -> None:
        """A replay's events turned out bad: back to the menu with the reason, or, when the replay is what
        orintui was started for, out with it (run_app raises it: one line, exit status 2)."""
        if len(self.screen_stack) > 2:
            self.post_message(Notice(clean_line(message.error), error=True))
            self.exit_or_back(message.screen)
        else:
            self.refused = message.error
            self.exit()

    def on_open_compare(self, message: OpenCompare) -> None:
        self._load_compare(message.paths)

    @work(thread=True, exclusive=True, group="load")
    def _load_compare(self, paths: tuple[str, ...]) -> None:
        try:
            sessions = [load_session(p) for p in paths]
        except SessionError as exc:
            self.post_message(Notice(clean_line(exc), error=True))
            return
        self.post_message(CompareLoaded(sessions))

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        from orintui.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(*message.sessions))

    def on_start_run(self, message: StartRun) -> None:
        if self.preparing or (self.execution is not None and not self.execution.done.is_set()):
            self.notify("a scenario is starting or running already", severity="warning")
            return
        self.preparing = True
        self.notify(clean_line(f"starting {message.scenario.name}: checking it, preparing models and telemetry"),
                    markup=False)
        self._prepare_run(message.scenario, message.label or self.config.label, message.replace)

    @work(thread=True, group="start")
    def _prepare_run(self, scenario: Scenario, label: str, replace: Screen | None) -> None:
        # validation, model writing, nvpmodel/jetson_clocks probes and telemetry opening take seconds
        from orintui.config.scenarios import ScenarioError
        from orintui.running.engine import Execution

        c = self.config
        try:
            execution = Execution(scenario, c.out, c.telemetry, c.interval, label)
        except ScenarioError as exc:
            self.post_message(RunPrepared(None, clean_line(exc), replace))
            return
        if self.leaving:
            execution.recorder.discard()  # quit while it was being prepared: nothing ran, nothing to keep
            return
        self.post_message(RunPrepared(execution, None, replace))

    def on_run_prepared(self, message: RunPrepared) -> None:
        from orintui.tui.screens.live import LiveScreen

        self.preparing = False
        if message.execution is None:
            self.notify(message.error or "", severity="error", timeout=12, markup=False)
            if not self.screen_stack[1:]:  # started for this scenario: nothing else to show
                self.exit_code = 2
                self.exit(message=Text(f"orintui: {message.error}"))
            return
        if self.leaving:
            message.execution.recorder.discard()  # quit while it was being prepared: nothing ran
            return
        self.execution = message.execution
        if message.replace is not None and message.replace in self.screen_stack:
            message.replace.dismiss()
        self.push_screen(LiveScreen(self.execution, autostart=self.live_autostart))

    def on_go_back(self, message: GoBack) -> None:
        screen = message.screen
        if message.stop_reason is None:
            self.exit_or_back(screen)
        else:
            self.stop_then(message.stop_reason, lambda: self.exit_or_back(screen))

    def on_device_probed(self, message: DeviceProbed) -> None:
        self.device_info = message.info

    def on_notice(self, message: Notice) -> None:
        self.notify(message.text, severity="error" if message.error else "information", timeout=15 if message.error else 5,
                    markup=False)

    def exit_or_back(self, screen: Screen) -> None:
        """Back to the menu, or quit when the screen was what orintui was started for."""
        if screen is not self.screen:
            return  # already left (two quick presses)
        if len(self.screen_stack) > 2:
            self.pop_screen()
            if hasattr(self.screen, "action_reload"):
                self.screen.action_reload()
        else:
            self.exit()

    # -- stopping: the runner ends the process group and the recorder saves, off the UI loop ----
    def stop_then(self, reason: str, then: Callable[[], object]) -> None:
        """Stop a live run and call ``then`` (on the UI loop) once it has ended and been saved."""
        execution = self.execution
        if execution is None or execution.done.is_set():
            then()
            return
        execution.stop(reason)
        if not self.stopping:
            self.stopping = True
            self.notify("stopping the run and saving the session...", timeout=30)
        self._wait_for_end(execution, then)

    @work(thread=True, group="stop")
    def _wait_for_end(self, execution: Execution, then: Callable[[], object]) -> None:
        execution.wait(STOP_WAIT_S)
        try:
            self.call_from_thread(then)
        except RuntimeError:
            pass  # the app is already gone (its loop closed): run_app's own wait covers the save

    # -- app-wide keys -------------------------------------------------------------------------
    PLAIN_KEYS = {"left": "<", "right": ">", "up": "up", "down": "down", "enter": "enter", "escape": "esc"}

    def get_key_display(self, binding: Binding) -> str:
        # arrows and the return symbol are missing from, or double width in, common console fonts
        return self.PLAIN_KEYS.get(binding.key, "") or super().get_key_display(binding)

    def action_cycle_theme(self) -> None:
        names = themes.NAMES
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        themes.save_settings(theme=self.theme)
        self.notify(f"theme: {self.theme}")

    def action_toggle_help(self) -> None:
        from orintui.tui.keys_panel import KeysPanel

        panels = self.screen.query(KeysPanel)
        if panels:
            panels.remove()
        else:
            self.screen.mount(KeysPanel())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from orintui.tui.keys_panel import binding_commands

        yield from binding_commands(self, screen)
        yield from super().get_system_commands(screen)

    def hang_up(self, sig: int) -> None:
        """A dropped SSH connection (SIGHUP) or a kill (SIGTERM): stop the runs, save, exit 130."""
        if self.exit_code == 130:
            return  # the signal and the failed terminal read both report one hang-up
        if sig == signal.SIGHUP:
            self.hung_up = True
            signal.signal(signal.SIGCONT, signal.SIG_DFL)  # Textual's handler would redraw into nothing
        self.exit_code = 130
        self.leaving = True
        self.stop_then("the terminal hung up" if sig == signal.SIGHUP else "orintui was terminated", self.exit)

    async def action_quit(self) -> None:
        self.leaving = True
        self.stop_then("orintui is quitting", self.exit)

    def action_interrupt(self) -> None:
        """Ctrl-C: like the headless command, stop the runs, save, exit 130."""
        self.exit_code = 130
        self.leaving = True
        self.stop_then("interrupted (Ctrl-C)", self.exit)

    def _handle_exception(self, error: Exception) -> None:
        # a crash is one line on exit and a log file with the traceback, never a screen of locals
        self.crash = write_crash_log(error)
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        self.bell()
        self._close_messages_no_wait()


def write_crash_log(error: BaseException) -> str:
    """The traceback to a file in orintui's data folder; the one line to show."""
    import time
    import traceback

    what = clean_line(f"{type(error).__name__}: {error}")
    try:
        logs = paths.logs_dir()
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        log.write_text("".join(traceback.format_exception(type(error), error, error.__traceback__)), encoding="utf-8")
        return f"orintui: the app crashed ({what}); the details are in {log}"
    except OSError as exc:
        return f"orintui: the app crashed ({what}); no log could be written ({exc.strerror or exc})"


def run_app(config: AppConfig | None = None, **fields: Any) -> int:
    """The app on this terminal for ``config`` (or the AppConfig ``fields``): the exit status."""
    config = config if config is not None else AppConfig(**fields)
    served = os.environ.get("TEXTUAL_DRIVER", "").endswith("web_driver:WebDriver")  # orintui serve: a browser tab
    if not served and (not sys.stdin.isatty() or not sys.stdout.isatty()):
        if isinstance(config.replay, SessionFile):
            config.replay.load()  # a bad file is refused for what it is (SessionError), as the app would
        print("orintui: the app needs a terminal; use 'orintui run SCENARIO --headless' or 'orintui report'",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")  # quieter over SSH
    app = make_app(config, handle_signals=not served)  # served: Textual's web driver, not the terminal's
    if config.theme is None and not app.settings.get("theme") and app.console.color_system == "standard":
        app.theme = themes.BASIC  # 16 colours: the palette made for them, not the dark one rounded down
    try:
        app.run()
    finally:
        if app.execution is not None:
            app.execution.stop_and_wait("orintui exited", STOP_WAIT_S)
            if problem := app.execution.recorder.listener_report():
                print(clean_line(problem), file=sys.stderr)
    if app.crash:
        print(app.crash, file=sys.stderr)
    if app.refused is not None:
        raise app.refused  # the command's one line about the file, exit status 2
    if app.execution is not None and not app.hung_up:
        recorder = app.execution.recorder
        if recorder.saved and recorder.final_path.is_file():
            print(clean_line(f"session saved: {recorder.final_path}"))
        elif app.execution.done.is_set():
            print(clean_line(f"orintui: session NOT saved: {recorder.save_error}; what was recorded is in "
                             f"{recorder.journal_path}"), file=sys.stderr)
            return 1
        else:  # the run did not end within the wait: never 'saved' without a file
            print(clean_line(f"orintui: the run did not end in {STOP_WAIT_S:.0f} s; what was recorded is in "
                             f"{recorder.journal_path} (recovered by the next start)"), file=sys.stderr)
            return 1
    if app.crash or (app.return_code or 0) not in (0, app.exit_code):
        return 1
    if app.exit_code == 0 and app.execution is not None:
        # the same rule as headless: a run that ended other than ok or skipped fails the command
        failing = failing_runs(app.execution.session.runs)
        if failing:
            print(clean_line(f"orintui: {len(failing)} run(s) not ok: " + "; ".join(
                f"{r.label}: {r.status}" for r in failing)), file=sys.stderr)
            return 1
    return app.exit_code
