"""Data in widgets: sanitised (orintui.core.sanitize) and wrapped in rich Text, so it is never markup."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from orintui.core.sanitize import clean, clean_line


def data_line(value: object, style: str = "", **kwargs: Any) -> Text:
    """One line of data (a label, a title, an error) as plain text."""
    return Text(clean_line(value), style=style, **kwargs)


def data_text(value: object, style: str = "", **kwargs: Any) -> Text:
    """Data that may span lines (a question naming a file, a scenario's description) as plain text."""
    return Text(clean(value), style=style, **kwargs)
