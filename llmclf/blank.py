"""Whether a text says anything at all."""

from __future__ import annotations

import unicodedata

__all__ = ["is_blank"]


def is_blank(text: str) -> bool:
    """True for a text of nothing but whitespace, control characters (NUL ...) and format characters (zero-width
    space, byte-order mark, direction marks). The tokenizer drops them all, so the model saw an empty text and
    still gave it a class: "\\x00" was 'cat 0.54'."""
    return all(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in text)
