"""JSON for sessions and journals through msgspec (a C encoder and decoder: several times faster than
the standard library on the 200,000-event documents orintui writes and reads).

The text is the same JSON either way. Whatever msgspec refuses (NaN or Infinity literals, a number
out of range, a lone surrogate escape, nesting deeper than it allows, invalid UTF-8) is decoded again
by the standard library, so every hostile document gets exactly the answer and the one-line message
it got before (callers keep their ``json.JSONDecodeError`` / ``ValueError`` / ``RecursionError``
handling).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8, non-ASCII kept as it is (NaN, never written by orintui, becomes null)."""
    return _encoder.encode(value)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number orintui accepts (numbers must be finite)")


def decode(data: bytes | str) -> Any:
    """A JSON value; raises what ``json.loads`` raises (NaN and Infinity refused as ValueError)."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        pass
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return json.loads(text, parse_constant=_refuse_constant)


def is_raw_list(value: object) -> bool:
    """Whether ``value`` is the undecoded JSON of a list (a session's events, left for later)."""
    return isinstance(value, msgspec.Raw) and bytes(memoryview(value)[:1]) == b"["
