"""The seam where synthetic training data comes in.

:meth:`Classifier.prompt_train` asks an :class:`ExampleGenerator` for extra
examples per class before fitting the head. With none configured, training
uses the class descriptions and the user's data only, and says so. The LLM
implementation lives in :mod:`llmclf.llm`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .examples import Example

__all__ = ["MAX_EXAMPLES_PER_CLASS", "ExampleGenerator", "GenerationResult"]

MAX_EXAMPLES_PER_CLASS = 1000  # -n 10**9 asked an LLM without end, a few texts a call, on the user's bill


@dataclass
class GenerationResult:
    examples: list[Example] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # class -> why it got no synthetic data
    short: dict[str, int] = field(default_factory=dict)  # class -> how many it got, when fewer than asked
    calls: int = 0  # LLM requests actually sent (0 when served from cache)
    cached: int = 0  # classes answered from the cache
    model: str | None = None


class ExampleGenerator(Protocol):
    def generate(self, descriptions: Mapping[str, str | None], examples: Sequence[Example]) -> GenerationResult:
        """Write synthetic examples for each class; never raise for one class's failure."""
        ...
