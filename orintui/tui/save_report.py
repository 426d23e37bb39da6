"""The `r` key of the live, replay and compare screens: markdown into the reports folder."""

from __future__ import annotations

from textual.screen import Screen

from orintui import paths


def save_report(screen: Screen, filename: str, text: str, what: str) -> None:
    path = paths.reports_dir() / filename
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    except OSError as exc:
        screen.notify(f"could not write {path}: {exc.strerror or exc}", severity="error", timeout=10)
        return
    screen.notify(f"{what} written: {path}", timeout=10)
