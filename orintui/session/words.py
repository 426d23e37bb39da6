"""The base of orintui's vocabularies (statuses, event kinds, phases)."""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A str enum that is its word: it compares equal to it, goes to JSON as it and formats as it
    (Python 3.12 would otherwise format ``Status.OK`` as "Status.OK")."""

    def __str__(self) -> str:
        return self.value
