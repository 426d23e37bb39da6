"""The `?` panel and the command palette: orintui's own keys first, then the focused widget's.

Textual's key panel lists the focused widget's keys first (a table's cursor keys, a text field's
editing keys), which pushes the screen's keys off an 80x24 terminal; the palette (ctrl+p) offers every
action of the screen and the app by name."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import Static


def _rank(namespace: object, screen: Screen) -> int:
    return 0 if namespace is screen else 1 if isinstance(namespace, App) else 2


def ordered_bindings(app: App, screen: Screen) -> list[tuple[int, str, str]]:
    """(rank, keys, description) of every shown key: the screen's, the app's, then the focused widget's."""
    by_action: dict[tuple[int, str], tuple[int, list[str], str]] = {}
    for namespace, binding, enabled, _tooltip in screen.active_bindings.values():
        if not enabled or binding.system or not binding.description:
            continue
        rank = _rank(namespace, screen)
        entry = by_action.setdefault((id(namespace), binding.action), (rank, [], binding.description))
        key = app.get_key_display(binding)
        if key not in entry[1]:
            entry[1].append(key)
    rows = [(rank, " ".join(keys), description) for rank, keys, description in by_action.values()]
    return sorted(rows, key=lambda row: row[0])  # stable: each group keeps its own order


class KeysPanel(Static):
    DEFAULT_CSS = """
    KeysPanel { dock: right; width: 34; height: 1fr; border-left: vkey $foreground 30%; padding: 0 1;
                background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.show_keys())
        self.show_keys()

    def show_keys(self) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", style="bold")
        table.add_column()
        names = {0: "this screen", 1: "everywhere", 2: "the focused list or field"}
        last: int | None = None
        for rank, keys, description in ordered_bindings(self.app, self.screen):
            if rank != last:
                table.add_row("", Text(names[rank], style="dim italic"))
                last = rank
            table.add_row(Text(keys), Text(description))
        self.update(table)


def binding_commands(app: App[Any], screen: Screen) -> Iterable[SystemCommand]:
    """One palette entry per key of the screen and the app (orintui's actions), named as in the footer."""
    seen: set[tuple[int, str]] = set()
    for namespace, binding, enabled, _tooltip in screen.active_bindings.values():
        if not enabled or binding.system or not binding.description or _rank(namespace, screen) == 2:
            continue
        if (id(namespace), binding.action) in seen:
            continue
        seen.add((id(namespace), binding.action))
        yield SystemCommand(binding.description, f"key {app.get_key_display(binding)}",
                            partial(app.run_action, binding.action, namespace))
