"""LLM tagging against a fixed tag set, validated so that a tag outside the set is never accepted.

Two guards, because endpoints differ:

* the response model is built per tag set, with the allowed ids and names as
  ``Literal`` values (a JSON-schema ``enum``), so an endpoint that constrains
  decoding to the schema cannot even write another tag;
* a validator checks that id and name belong to the *same* tag, with the
  allowed set passed through instructor's validation ``context``. A reply that
  fails either is re-asked; if it still fails, the text gets an error record,
  never a guessed tag.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, model_validator

from .errors import InputError, LLMError
from .llm.client import LLMAuthError, StructuredLLM
from .store import Tag

__all__ = ["TagResult", "Tagger", "build_response_model", "tags_from_classes"]


class _TagChoice(BaseModel):
    tag_id: str
    name: str

    @model_validator(mode="after")
    def _same_tag(self, info: ValidationInfo) -> _TagChoice:
        allowed: dict[str, str] = (info.context or {}).get("allowed_tags") or {}
        if not allowed:
            raise ValueError("no allowed tags were given to validate against")
        if allowed.get(self.tag_id) != self.name:
            listing = "; ".join(f"{i}={n}" for i, n in allowed.items())
            raise ValueError(
                f"tag (id={self.tag_id!r}, name={self.name!r}) is not in the tag set; choose one of: {listing}"
            )
        return self


def build_response_model(tags: Sequence[Tag], multi: bool = False, confidence: bool = False) -> type[BaseModel]:
    """A pydantic response model whose tag fields can only hold this set's ids and names."""
    return _build(tuple(tags), multi, confidence)


@functools.lru_cache(maxsize=64)
def _build(tags: tuple[Tag, ...], multi: bool, confidence: bool) -> type[BaseModel]:
    ids = tuple(t.tag_id for t in tags)
    names = tuple(t.name for t in tags)
    fields: dict[str, Any] = {
        "tag_id": (Literal[ids], Field(description="The id of the chosen tag.")),  # type: ignore[valid-type]
        "name": (Literal[names], Field(description="The name of the chosen tag.")),  # type: ignore[valid-type]
    }
    if confidence:
        fields["confidence"] = (float, Field(ge=0.0, le=1.0, description="How sure you are, from 0 to 1."))
    choice = create_model("TagChoice", __base__=_TagChoice, **fields)
    if multi:
        return create_model(
            "TagList",
            tags=(list[choice], Field(min_length=1, max_length=len(tags), description="Every tag that applies.")),
        )
    return create_model("TagAnswer", tag=(choice, Field(description="The one tag that fits best.")))


def tags_from_classes(descriptions: dict[str, str | None]) -> list[Tag]:
    """A bundle's classes as a tag set: the class is id and name, its description the instructions."""
    return [Tag(name, name, desc or "") for name, desc in descriptions.items()]


@dataclass
class TagResult:
    text: str
    tags: list[dict[str, Any]] | None = None  # [{tag_id, name, confidence?}]
    error: str | None = None
    examples_used: int = 0
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        record = {"text": self.text, "tags": self.tags, "error": self.error}
        if self.run_id is not None:
            record["run_id"] = self.run_id
        return record


@dataclass
class Tagger:
    """Tag texts with an LLM, concurrently, each result or error in input order."""

    llm: StructuredLLM
    tags: Sequence[Tag]
    multi: bool = False
    confidence: bool = False
    max_retries: int = 2  # re-asks after a reply that fails validation
    concurrency: int = 8
    few_shot: Any = None  # a llmclf.feedback.FewShot: similar labelled examples for the prompt
    _model: type[BaseModel] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.tags:
            raise InputError("a tag set needs at least one tag")
        if self.concurrency < 1:
            raise InputError("concurrency must be at least 1")
        self._model = build_response_model(self.tags, self.multi, self.confidence)

    def messages(self, text: str, examples: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        listing = "\n".join(
            f"- id {t.tag_id}, name {t.name}" + (f": {t.instructions}" if t.instructions else "") for t in self.tags
        )
        ask = "Choose every tag that applies (at least one)." if self.multi else "Choose the one tag that fits best."
        if self.confidence:
            ask += " Give your confidence in each choice, from 0 to 1."
        shots = ""
        if examples:
            shots = "Labelled examples:\n" + "\n".join(f"{t!r} -> {label}" for t, label in examples) + "\n\n"
        return [
            {
                "role": "system",
                "content": "You tag texts using only the tags of a fixed set. Never invent a tag. "
                "Answer with the tag's id and name exactly as listed.",
            },
            {"role": "user", "content": f"Tags:\n{listing}\n\n{shots}Text:\n{text}\n\n{ask}"},
        ]

    async def _one(self, sem: asyncio.Semaphore, text: str, examples: list[tuple[str, str]]) -> TagResult:
        allowed = {t.tag_id: t.name for t in self.tags}
        try:
            async with sem:
                reply = await self.llm.create(
                    self.messages(text, examples),
                    self._model,
                    max_tokens=200 + (150 * len(self.tags) if self.multi else 0),
                    temperature=0.0,
                    context={"allowed_tags": allowed},
                    max_reasks=self.max_retries,
                )
        except LLMAuthError:
            raise
        except LLMError as exc:
            return TagResult(text, error=str(exc), examples_used=len(examples))
        choices = reply.tags if self.multi else [reply.tag]
        tags, seen = [], set()
        for c in choices:
            if c.tag_id not in seen:
                seen.add(c.tag_id)
                tags.append(c.model_dump())
        return TagResult(text, tags=tags, examples_used=len(examples))

    async def atag(self, texts: Sequence[str]) -> list[TagResult]:
        for i, text in enumerate(texts, 1):
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"text {i} is empty")
        shots = self.few_shot.lookup(texts) if self.few_shot is not None else [[] for _ in texts]
        sem = asyncio.Semaphore(self.concurrency)
        return list(await asyncio.gather(*(self._one(sem, t, s) for t, s in zip(texts, shots, strict=True))))

    def tag(self, texts: Sequence[str]) -> list[TagResult]:
        async def run() -> list[TagResult]:
            try:
                return await self.atag(texts)
            finally:
                await self.llm.aclose()

        return asyncio.run(run())
