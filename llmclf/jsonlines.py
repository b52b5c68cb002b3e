"""One JSON value per line, safe for any line splitter.

JSON may hold U+0085 (NEL), U+2028 and U+2029 raw inside strings, but
``str.splitlines()`` and many JSON Lines readers break lines there, cutting a
record in two. Every JSON Lines llmclf writes escapes them (``\\u0085`` ...),
which any JSON parser reads back as the same characters; readers split on
``\\n`` only, so files written raw before this still load.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["GivenTwice", "json_line", "loads", "split_lines", "unique_pairs"]

_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_line(value: Any) -> str:
    """``value`` as strict JSON (no NaN), UTF-8 text kept, on one line with its ``\\n``."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_BREAKS) + "\n"


class _NotJSON(json.JSONDecodeError):
    """A value refused inside the parser, which does not say where: the message names no position."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)
        self.args = (self.msg,)

    def __str__(self) -> str:
        return self.msg


def _no_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not JSON")


def _whole_number(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # past Python's 4,300 digits: a bare ValueError from inside the parser, an "internal error"
        raise _NotJSON(f"a number of {len(digits.lstrip('-'))} digits is too long") from None


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: the class or text 'inf'
        raise _NotJSON(f"{text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return value


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """Strict JSON: Python's parser also takes NaN, Infinity and -Infinity, which no JSON writer emits;
    a label or text of NaN became the class or text 'nan'. They raise ``json.JSONDecodeError``, as do numbers that
    overflow a float (1e400) or have more digits than Python converts (4,300).
    ``kwargs`` go to :func:`json.loads` (``object_pairs_hook``)."""
    return json.loads(text, parse_constant=_no_constant, parse_int=_whole_number, parse_float=_number, **kwargs)


def split_lines(text: str) -> list[str]:
    """JSON Lines text into lines: on ``\\n`` (and ``\\r\\n``) only, never inside a record."""
    return [line.removesuffix("\r") for line in text.split("\n")]


class GivenTwice(Exception):
    """A key an object holds twice: JSON parsers (and YAML's) keep the last one and drop the first without a word."""

    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` that raises :class:`GivenTwice` for a key given twice in one object."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise GivenTwice(key)
        out[key] = value
    return out
