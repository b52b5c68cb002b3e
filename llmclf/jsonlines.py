"""One JSON value per line, safe for any line splitter.

JSON may hold U+0085 (NEL), U+2028 and U+2029 raw inside strings, but
``str.splitlines()`` and many JSON Lines readers break lines there, cutting a
record in two. Every JSON Lines llmclf writes escapes them (``\\u0085`` ...),
which any JSON parser reads back as the same characters; readers split on
``\\n`` only, so files written raw before this still load.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_line", "split_lines"]

_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_line(value: Any) -> str:
    """``value`` as strict JSON (no NaN), UTF-8 text kept, on one line with its ``\\n``."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_BREAKS) + "\n"


def split_lines(text: str) -> list[str]:
    """JSON Lines text into lines: on ``\\n`` (and ``\\r\\n``) only, never inside a record."""
    return [line.removesuffix("\r") for line in text.split("\n")]
