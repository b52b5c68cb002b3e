"""Training examples made from class descriptions and label names alone.

With no LLM, these are what a class description turns into: each sentence of
the description, plus a few templates around the label name. They give a
zero-shot classifier and anchor the classes when an LLM or the user adds more.

A label that names nothing (``3``, ``-1``, ``LABEL_2``: what many data sets store) counts once, bare, and
never in a sentence: "This text is about 3." and "A message about 4." differ in one digit, and those
near-twins of each class taught the head noise. With 8 labelled texts a class and labels numbered, they put
the default 3.4 points below a plain frozen-embedding head on ag_news (BENCHMARKS.md, session 18).
"""

from __future__ import annotations

import re

from .examples import Example, Source

__all__ = ["description_examples", "humanize_label", "names_nothing", "split_sentences"]

TEMPLATES = (
    "{name}",
    "This text is about {name}.",
    "A message about {name}.",
)

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+|;\s+")
_NUMBERED = re.compile(r"(?:label|class)\s*\d+", re.IGNORECASE)  # "LABEL_2" (Hugging Face's), "class 3"


def humanize_label(name: str) -> str:
    """`card_arrival` -> `card arrival`, `SciTech` stays as it is."""
    return re.sub(r"[_\-]+", " ", name).strip()


def names_nothing(name: str) -> bool:
    """Whether a label is a number or a numbered placeholder: no word in it says what its class is."""
    human = humanize_label(name)
    return not any(c.isalpha() for c in human) or _NUMBERED.fullmatch(human) is not None


def split_sentences(description: str) -> list[str]:
    parts = (p.strip(" \t-•*") for p in _SENTENCE_END.split(description))
    return [p for p in parts if len(p) >= 3]


def description_examples(name: str, description: str | None) -> list[Example]:
    # a name that names nothing counts as given: "-1" and "1" are two classes, and humanized both were "1"
    texts = [name.strip()] if names_nothing(name) else [t.format(name=humanize_label(name)) for t in TEMPLATES]
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
