"""The `r` key of the live, replay and compare screens: markdown into the reports folder."""

from __future__ import annotations

from orintui.core import paths
from orintui.core.sanitize import UnsafePath, clean_line, inside
from orintui.tui.messages import Notice


def save_report(filename: str, text: str, what: str) -> Notice:
    """Writes the report (in a worker: any thread) and says how it went, for the screen to post.
    ``filename`` is made from data (session ids): callers pass each id through safe_component,
    and the file must still land in the reports folder once links are resolved."""
    folder = paths.reports_dir()
    path = folder / filename
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = inside(folder, filename)
        path.write_text(text + "\n")
    except (OSError, UnsafePath) as exc:
        why = exc.strerror or exc if isinstance(exc, OSError) else exc
        return Notice(clean_line(f"could not write {path}: {why}"), error=True)
    return Notice(clean_line(f"{what} written: {path}"))
