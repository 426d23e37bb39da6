"""``orintui serve``: the app in a web browser through textual-serve. Each browser tab starts its
own ``orintui replay SESSION`` (or the menu) as a child process; textual-serve relays its
terminal over a websocket to xterm.js in the page. Bound to 127.0.0.1 unless --host says
otherwise: the app can start benchmarks, so reaching it is running programs on this machine."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from orintui.core.sanitize import clean_line


def app_command(session: Path | None, theme: str | None, speed: float = 1.0) -> str:
    """The shell command textual-serve runs per browser tab: this Python, this orintui."""
    argv = [sys.executable, "-m", "orintui"]
    if theme:
        argv += ["--theme", theme]
    if session is not None:
        argv += ["replay", str(session), "--speed", repr(speed)]
    return shlex.join(argv)


def serve(session: Path | None, host: str, port: int, theme: str | None = None, public_url: str | None = None,
          speed: float = 1.0) -> int:
    from textual_serve.server import Server

    title = "orintui" + (f": {clean_line(session.name)}" if session is not None else "")
    server = Server(app_command(session, theme, speed), host=host, port=port, title=title, public_url=public_url)
    shown = public_url or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    print(clean_line(f"orintui: serving {title} at {shown} (Ctrl-C stops)"), flush=True)
    server.serve()
    return 0
