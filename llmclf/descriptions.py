"""Training examples made from class descriptions and label names alone.

With no LLM, these are what a class description turns into: each sentence of
the description, plus a few templates around the label name. They give a
zero-shot classifier and anchor the classes when an LLM or the user adds more.
"""

from __future__ import annotations

import re

from .examples import Example, Source

__all__ = ["description_examples", "humanize_label", "split_sentences"]

TEMPLATES = (
    "{name}",
    "This text is about {name}.",
    "A message about {name}.",
)

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+|;\s+")


def humanize_label(name: str) -> str:
    """`card_arrival` -> `card arrival`, `SciTech` stays as it is."""
    return re.sub(r"[_\-]+", " ", name).strip()


def split_sentences(description: str) -> list[str]:
    parts = (p.strip(" \t-•*") for p in _SENTENCE_END.split(description))
    return [p for p in parts if len(p) >= 3]


def description_examples(name: str, description: str | None) -> list[Example]:
    human = humanize_label(name)
    texts = [t.format(name=human) for t in TEMPLATES]
    if description:
        texts.extend(split_sentences(description))
    seen: set[str] = set()
    out = []
    for text in texts:
        key = text.casefold()
        if key not in seen:
            seen.add(key)
            out.append(Example(text, name, Source.DESCRIPTION))
    return out
