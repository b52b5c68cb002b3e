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

from .errors import LLMError
from .examples import Example

__all__ = ["MAX_EXAMPLES_PER_CLASS", "ExampleGenerator", "GenerationResult", "NoSyntheticData"]

MAX_EXAMPLES_PER_CLASS = 1000  # -n 10**9 asked an LLM without end, a few texts a call, on the user's bill


@dataclass
class GenerationResult:
    examples: list[Example] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # class -> why it got no synthetic data
    short: dict[str, int] = field(default_factory=dict)  # class -> how many it got, when fewer than asked
    calls: int = 0  # LLM requests actually sent (0 when served from cache)
    cached: int = 0  # classes answered from the cache
    model: str | None = None


class NoSyntheticData(LLMError):
    """The generator gave no class any example: the LLM behind it failed (one class's failure is not an error)."""

    @classmethod
    def check(cls, result: GenerationResult, classes: Sequence[str]) -> None:
        if not result.examples and result.failed and set(result.failed) >= set(classes):
            reasons = sorted(set(result.failed.values()))
            why = (
                reasons[0] if len(reasons) == 1 else "; ".join(f"{c}: {r}" for c, r in list(result.failed.items())[:3])
            )
            raise cls(f"the LLM gave no synthetic data for any class ({why})", "the LLM gave no synthetic data")


class ExampleGenerator(Protocol):
    def generate(self, descriptions: Mapping[str, str | None], examples: Sequence[Example]) -> GenerationResult:
        """Write synthetic examples for each class; never raise for one class's failure."""
        ...
