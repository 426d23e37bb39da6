"""The registered themes: a dark default, a light one, and a low-colour one that uses the
terminal's own 16 ANSI colours (reads well on TERM=linux or a plain console)."""

from __future__ import annotations

import json
from typing import Any

from textual.theme import Theme

from orintui.core import paths

THEMES = (
    Theme(name="orintui-dark", primary="#76b900", secondary="#4aa3df", accent="#f0a030", warning="#f0c040",
          error="#ff5555", success="#76b900", foreground="#d8dee4", background="#101418", surface="#182028",
          panel="#222c36", dark=True),
    Theme(name="orintui-light", primary="#3d7a00", secondary="#1b6fae", accent="#b86400", warning="#a06800",
          error="#c01c28", success="#2a7a00", foreground="#1a1a1a", background="#f6f7f8", surface="#ffffff",
          panel="#e6e9ec", dark=False),
    Theme(name="orintui-basic", primary="ansi_green", secondary="ansi_cyan", accent="ansi_yellow",
          warning="ansi_yellow", error="ansi_red", success="ansi_green", foreground="ansi_default",
          background="ansi_default", surface="ansi_default", panel="ansi_default", boost="ansi_default", dark=True,
          ansi=True, variables={"ansi-background": "ansi_black", "ansi-foreground": "ansi_white",
                                "border-blurred": "ansi_black", "block-cursor-foreground": "ansi_black",
                                "block-cursor-background": "ansi_white", "input-cursor-background": "ansi_black",
                                "input-cursor-foreground": "ansi_bright_white", "input-cursor-text-style": "none",
                                "input-selection-background": "ansi_bright_blue", "input-selection-foreground": "ansi_black",
                                "screen-selection-background": "ansi_bright_blue",
                                "screen-selection-foreground": "ansi_black"}),
)
NAMES = tuple(t.name for t in THEMES)
DEFAULT = "orintui-dark"
BASIC = "orintui-basic"  # the default where the terminal has 16 colours (TERM=linux, xterm)


def settings_path():
    return paths.config_dir() / "settings.json"


def load_settings() -> dict:
    try:
        data = json.loads(settings_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_settings(**changes: Any) -> None:
    data = {**load_settings(), **changes}
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
    except OSError:
        pass  # a read-only home must not stop the app
