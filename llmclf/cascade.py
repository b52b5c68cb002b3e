"""The cascade: the head answers when it is sure, the LLM only when it is not.

Texts whose top probability is at or above ``below`` keep the head's label.
The rest go to the LLM, limited to the bundle's classes, with each class's
description as its instructions. If the LLM fails for a text, the head's
label stands (or none, below ``threshold``) and the record says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from .classifier import Classifier, Prediction
from .errors import LLMError
from .inputs import check_probability
from .llm.client import StructuredLLM
from .tagging import Tagger, tags_from_classes

__all__ = ["CascadeResult", "cascade_classify", "send_unsure"]


@dataclass
class CascadeResult:
    predictions: list[Prediction]
    sent_to_llm: int
    llm_failed: int


async def cascade_classify(
    clf: Classifier,
    texts: Sequence[str],
    llm: StructuredLLM,
    below: float,
    *,
    concurrency: int = 8,
    few_shot=None,
    top_n: int | None = None,
    threshold: float | None = None,
    llm_down: LLMError | None = None,
) -> CascadeResult:
    """``llm_down``: the endpoint stopped answering earlier in this run (see Tagger.down): nothing is sent."""
    check_probability(below, "below")
    # the head embeds every text: in a worker thread, so the caller's event loop (a web app's) keeps serving
    predictions = await asyncio.to_thread(clf.classify, texts, threshold=threshold, top_n=top_n)
    return await send_unsure(
        clf.descriptions, predictions, llm, below, concurrency=concurrency, few_shot=few_shot, llm_down=llm_down
    )


async def send_unsure(
    descriptions: dict[str, str | None],
    predictions: list[Prediction],
    llm: StructuredLLM,
    below: float,
    *,
    concurrency: int = 8,
    few_shot=None,
    public: bool = False,
    llm_down: LLMError | None = None,
) -> CascadeResult:
    """Relabel, in place, the predictions whose top probability is below ``below`` by asking the LLM.

    ``public``: name LLM failures without the LLM's address (for the HTTP service's clients).
    """
    unsure = [i for i, p in enumerate(predictions) if p.confidence < below]
    for p in predictions:
        p.extra["source"] = "head"
    if not unsure:
        return CascadeResult(predictions, 0, 0)
    tagger = Tagger(llm, tags_from_classes(descriptions), concurrency=concurrency, few_shot=few_shot, down=llm_down)
    results = await tagger.atag([predictions[i].text for i in unsure])
    failed = 0
    for i, result in zip(unsure, results, strict=True):
        if result.ok:
            predictions[i].label = result.tags[0]["name"]
            predictions[i].extra["source"] = "llm"
        else:
            failed += 1
            predictions[i].extra["llm_error"] = result.public_error if public else result.error
    return CascadeResult(predictions, len(unsure), failed)
