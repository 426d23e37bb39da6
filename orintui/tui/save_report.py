"""The `r` key of the live, replay and compare screens: markdown into the reports folder."""

from __future__ import annotations

from textual.screen import Screen

from orintui import paths
from orintui.sanitize import UnsafePath, clean_line, inside


def save_report(screen: Screen, filename: str, text: str, what: str) -> None:
    """``filename`` is made from data (session ids): callers pass each id through safe_component,
    and the file must still land in the reports folder once links are resolved."""
    folder = paths.reports_dir()
    path = folder / filename
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = inside(folder, filename)
        path.write_text(text + "\n")
    except (OSError, UnsafePath) as exc:
        why = exc.strerror or exc if isinstance(exc, OSError) else exc
        screen.notify(clean_line(f"could not write {path}: {why}"), severity="error", timeout=10, markup=False)
        return
    screen.notify(clean_line(f"{what} written: {path}"), timeout=10, markup=False)
