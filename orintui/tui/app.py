"""The orintui app: menu, live, replay and compare screens, over SSH, keyboard only."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from orintui import paths
from orintui.sanitize import clean_line
from orintui.session import SessionError, load_session
from orintui.session.model import Session
from orintui.session.status import failing_runs
from orintui.tui import themes

if TYPE_CHECKING:
    from orintui.engine import Execution
    from orintui.scenarios import Scenario
    from orintui.tui.screens.replay import ReplayScreen


class OrintuiApp(App):
    CSS_PATH = str(paths.bundled_dir("themes") / "orintui.tcss")
    TITLE = "orintui"
    BINDINGS = [
        Binding("f2", "cycle_theme", "Theme"),
        Binding("question_mark,f1", "toggle_help", "Keys"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, *, replay: Session | None = None, scenario: Scenario | None = None, out: str | None = None,
                 telemetry: str = "auto",
                 interval: float = 0.5, speed: float = 1.0, at: float | None = None, theme: str | None = None,
                 device_info: dict | None = None, first_screen: str | None = None, live_autostart: bool = True,
                 paused: bool = False, handle_signals: bool = False, label: str = ""):
        driver = None
        if handle_signals and hasattr(signal, "SIGHUP"):
            from orintui.tui.hangup import HangupAwareDriver

            driver = HangupAwareDriver
        super().__init__(driver_class=driver)
        self._handle_signals = handle_signals
        self._label = label
        self.hung_up = False
        for t in themes.THEMES:
            self.register_theme(t)
        self.settings = themes.load_settings()  # as they were at start
        chosen = theme or self.settings.get("theme") or themes.DEFAULT
        self.theme = chosen if chosen in themes.NAMES else themes.DEFAULT
        self._replay, self._scenario, self._out = replay, scenario, out
        self._telemetry, self._interval, self._speed, self._at = telemetry, interval, speed, at
        self._device_info = device_info
        self._first_screen = first_screen
        self._live_autostart = live_autostart
        self._paused = paused
        self.execution: Execution | None = None
        self.exit_code = 0
        self.crash: str | None = None  # one line about an unexpected error; the traceback is in a log file

    # -- start ----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(sig, self.hang_up, sig)
        if self._scenario is not None:
            self.start_live(self._scenario)
            return
        if self._replay is not None:
            self.push_screen(self._replay_screen(self._replay))
            return
        self.push_screen(self.menu())
        if self._first_screen == "demo" or (self._first_screen is None and not self.settings.get("demo_seen")):
            themes.save_settings(demo_seen=True)
            from orintui.catalog import demo_session_path

            demo = demo_session_path()
            if demo.exists():
                self.open_replay(str(demo))
                self.notify("A real session recorded on an H100: q returns to the menu", timeout=8)

    def menu(self) -> Screen:
        from orintui.tui.screens.menu import MenuScreen

        return MenuScreen(self._device_info)  # None: the menu probes in the background

    def device_probed(self, info: dict) -> None:
        self._device_info = info

    def _replay_screen(self, session: Session) -> ReplayScreen:
        from orintui.tui.screens.replay import ReplayScreen

        return ReplayScreen(session, speed=self._speed, at=self._at, paused=self._paused)

    # -- navigation -----------------------------------------------------------------------------
    def open_replay(self, path: str) -> None:
        try:
            session = load_session(path)
        except SessionError as exc:
            self.notify(clean_line(exc), severity="error", timeout=10, markup=False)
            return
        self.push_screen(self._replay_screen(session))

    def open_compare(self, *paths: str) -> None:
        from orintui.tui.screens.compare import CompareScreen

        try:
            self.push_screen(CompareScreen(*(load_session(p) for p in paths)))
        except SessionError as exc:
            self.notify(clean_line(exc), severity="error", timeout=10, markup=False)

    def start_live(self, scenario: Scenario, replace: Screen | None = None, label: str | None = None) -> None:
        from orintui.engine import Execution
        from orintui.scenarios import ScenarioError
        from orintui.tui.screens.live import LiveScreen

        try:
            execution = self.execution = Execution(scenario, self._out, self._telemetry, self._interval,
                                                   self._label if label is None else label)
        except ScenarioError as exc:
            self.notify(clean_line(exc), severity="error", timeout=12, markup=False)
            if not self.screen_stack[1:]:
                self.exit_code = 2
                self.exit(message=Text(f"orintui: {clean_line(exc)}"))
            return
        if replace is not None:
            replace.dismiss()
        self.push_screen(LiveScreen(execution, autostart=self._live_autostart))

    def exit_or_back(self, screen: Screen) -> None:
        """Back to the menu, or quit when the screen was what orintui was started for."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
            if hasattr(self.screen, "action_reload"):
                self.screen.action_reload()
        else:
            self.exit()

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
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def hang_up(self, sig: int) -> None:
        """A dropped SSH connection (SIGHUP) or a kill (SIGTERM): stop the runs, save, exit 130."""
        if self.exit_code == 130:
            return  # the signal and the failed terminal read both report one hang-up
        if sig == signal.SIGHUP:
            self.hung_up = True
            signal.signal(signal.SIGCONT, signal.SIG_DFL)  # Textual's handler would redraw into nothing
        self.exit_code = 130
        if self.execution is not None:
            self.execution.stop_and_wait("the terminal hung up" if sig == signal.SIGHUP else "orintui was terminated")
        self.exit()

    async def action_quit(self) -> None:
        if self.execution is not None:
            self.execution.stop_and_wait("orintui is quitting")
        self.exit()

    def action_interrupt(self) -> None:
        """Ctrl-C: like the headless command, stop the runs, save, exit 130."""
        self.exit_code = 130
        if self.execution is not None:
            self.execution.stop_and_wait("interrupted (Ctrl-C)")
        self.exit()

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


def run_app(**kwargs: Any) -> int:
    served = os.environ.get("TEXTUAL_DRIVER", "").endswith("web_driver:WebDriver")  # orintui serve: a browser tab
    if not served and (not sys.stdin.isatty() or not sys.stdout.isatty()):
        print("orintui: the app needs a terminal; use 'orintui run SCENARIO --headless' or 'orintui report'",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")  # quieter over SSH
    app = OrintuiApp(handle_signals=not served, **kwargs)  # served: Textual's web driver, not the terminal's
    if kwargs.get("theme") is None and not app.settings.get("theme") and app.console.color_system == "standard":
        app.theme = themes.BASIC  # 16 colours: the palette made for them, not the dark one rounded down
    try:
        app.run()
    finally:
        if app.execution is not None:
            app.execution.stop_and_wait("orintui exited")
            if problem := app.execution.recorder.listener_report():
                print(clean_line(problem), file=sys.stderr)
    if app.crash:
        print(app.crash, file=sys.stderr)
    if app.execution is not None and not app.hung_up:
        recorder = app.execution.recorder
        if recorder.saved and recorder.final_path.is_file():
            print(clean_line(f"session saved: {recorder.final_path}"))
        elif app.execution.done.is_set():
            print(clean_line(f"orintui: session NOT saved: {recorder.save_error}; what was recorded is in "
                             f"{recorder.journal_path}"), file=sys.stderr)
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
