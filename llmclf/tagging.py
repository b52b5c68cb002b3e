"""LLM tagging against a fixed tag set, validated so that a tag outside the set is never accepted.

The reply names its tag in *one* field whose JSON-schema ``enum`` lists the
set's tags as ``"<id>: <name>"`` strings (just ``"<name>"`` when id and name
are the same). The id is derived from that one string, so an endpoint that
constrains decoding to the schema (llama.cpp, vLLM, OpenAI's strict tools)
can only write a valid tag. Two independent ``tag_id`` and ``name`` enums
let a grammar write a mismatched pair such as ``("2", "phone")``; one field
cannot.

For endpoints that do not constrain decoding, a validator checks the choice
against the allowed set passed through instructor's validation ``context``,
and a reply that fails is re-asked; if it still fails, the text gets an error
record, never a guessed tag.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, field_validator

from .blank import is_blank
from .errors import InputError, LLMError
from .inputs import name_form, one_line, texts_of, whole_number
from .llm.client import LLMAuthError, LLMTimeout, LLMUnreachable, StructuredLLM
from .store import Tag
from .sync import run_sync

__all__ = ["TagResult", "Tagger", "build_response_model", "choice_label", "tags_from_classes"]


def choice_label(tag: Tag) -> str:
    """How a tag is written in the schema's enum and in the prompt."""
    return tag.name if tag.tag_id == tag.name else f"{tag.tag_id}: {tag.name}"


def _check_allowed(value: Any, info: ValidationInfo) -> Any:
    allowed: Sequence[str] = (info.context or {}).get("allowed_choices") or ()
    if allowed and value not in allowed:
        raise ValueError(f"{value!r} is not in the tag set; answer with one of: {'; '.join(allowed)}")
    return value


class _Choice(BaseModel):
    """Base of the single-tag answer: the validator runs even where the enum was not enforced."""

    @field_validator("tag", check_fields=False, mode="after")
    @classmethod
    def _in_set(cls, value: Any, info: ValidationInfo) -> Any:
        return _check_allowed(value, info)


class _Choices(BaseModel):
    @field_validator("tags", check_fields=False, mode="after")
    @classmethod
    def _in_set(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        for item in value:
            _check_allowed(getattr(item, "tag", item), info)
        return value


NOT_SENT = "not sent: "  # how the error of a text starts when the endpoint had stopped answering before it
STEPS = {"enum": [round(i / 10, 1) for i in range(11)]}  # 0.0, 0.1 ... 1.0


def build_response_model(tags: Sequence[Tag], multi: bool = False, confidence: bool = False) -> type[BaseModel]:
    """A pydantic response model whose one tag field can only hold this set's tags."""
    return _build(tuple(tags), multi, confidence)


@functools.lru_cache(maxsize=64)
def _build(tags: tuple[Tag, ...], multi: bool, confidence: bool) -> type[BaseModel]:
    choices = tuple(choice_label(t) for t in tags)
    Choice = Literal[choices]  # type: ignore[valid-type]  # a JSON-schema enum
    # The enum is for endpoints that decode by a grammar (llama.cpp): a grammar cannot bound a number, and the
    # 135M model wrote confidences of 1.5 and 3.7 in json mode. Validation still takes any value from 0 to 1.
    sure = (float, Field(ge=0.0, le=1.0, description="How sure you are, from 0 to 1.", json_schema_extra=STEPS))
    if not multi:
        fields: dict[str, Any] = {"tag": (Choice, Field(description="The one tag that fits best, exactly as listed."))}
        if confidence:
            fields["confidence"] = sure
        return create_model("TagAnswer", __base__=_Choice, **fields)
    item: Any = Choice
    if confidence:
        item = create_model("TagChoice", tag=(Choice, Field(description="A tag, exactly as listed.")), confidence=sure)
    return create_model(
        "TagList",
        __base__=_Choices,
        tags=(list[item], Field(min_length=1, max_length=len(tags), description="Every tag that applies.")),
    )


def tags_from_classes(descriptions: dict[str, str | None]) -> list[Tag]:
    """A bundle's classes as a tag set: the class is id and name, its description the instructions."""
    return [Tag(name, name, desc or "") for name, desc in descriptions.items()]


@dataclass
class TagResult:
    """One text's tags (best first), or an error record; ``source`` says which tagger answered."""

    text: str
    tags: list[dict[str, Any]] | None = None  # [{tag_id, name, confidence?}]
    error: str | None = None
    examples_used: int = 0
    run_id: str | None = None
    source: str = "llm"  # "llm" or "embedding"
    llm_error: str | None = None  # a cascade whose LLM failed: the embedding answer stands
    public_error: str | None = None  # ``error`` or ``llm_error`` without the endpoint, for API clients
    feedback_pending: bool = False  # answered by the set's previous head while one with the newest feedback is built

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def best(self) -> dict[str, Any] | None:
        return self.tags[0] if self.tags else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best or {}
        record = {
            "text": self.text,
            "id": best.get("tag_id"),
            "name": best.get("name"),
            "tags": self.tags,
            "error": self.error,
            "source": self.source,
        }
        if self.llm_error is not None:
            record["llm_error"] = self.llm_error
        if self.feedback_pending:
            record["feedback_pending"] = True
        if self.run_id is not None:
            record["run_id"] = self.run_id
        return record


def stopped_answering(errors: Iterable[tuple[str | None, str | None]]) -> LLMError | None:
    """The first "not sent" error among (error, public error) pairs: the endpoint had stopped answering, so a caller
    that tags in runs (a CLI chunk, a cascade batch) sends its later runs nothing either (see ``Tagger.down``)."""
    for message, public in errors:
        if message and message.startswith(NOT_SENT):
            return LLMError(message, public)
    return None


def check_texts(texts: Sequence[Any]) -> list[str]:
    """The texts as a list (one string is one text, not one per character); an empty or non-string one refused."""
    texts = texts_of(texts)
    for i, text in enumerate(texts, 1):
        if not isinstance(text, str):
            raise InputError(f"text {i} must be a string, got {type(text).__name__}")
        if is_blank(text):
            raise InputError(f"text {i} is empty")
    return texts


def check_tags(tags: Sequence[Any]) -> list[Tag]:
    """The tags as :class:`Tag` objects, each id and name given once and neither empty. A mapping with ``tag_id``
    (or ``id``), ``name`` and ``instructions``, the shape of the JSON a tag set is written in, is taken too: it was
    an AttributeError; two tags of one name said "need at least two classes", and two of one id went through."""
    out = []
    for i, tag in enumerate(tags or (), 1):
        if isinstance(tag, Mapping):
            tag = Tag(tag.get("tag_id", tag.get("id", "")), tag.get("name", ""), tag.get("instructions") or "")
        elif not isinstance(tag, Tag):
            raise InputError(
                f"tag {i} must be a Tag or a mapping of tag_id, name and instructions, not a {type(tag).__name__}"
            )
        tag = Tag(str(tag.tag_id if tag.tag_id is not None else ""), str(tag.name or ""), str(tag.instructions or ""))
        for what, value in (("id", tag.tag_id), ("name", tag.name)):
            if is_blank(value):
                raise InputError(f"tag {i} has an empty {what}")
            one_line(value.strip(), f"tag {what}")
        out.append(tag)
    if not out:
        raise InputError("a tag set needs at least one tag")
    names = [name_form(t.name) for t in out]
    for what, values in (("id", [t.tag_id for t in out]), ("name", names)):
        if twice := next((v for v in values if values.count(v) > 1), None):
            raise InputError(f"the tag {what} {twice!r} is given twice in one set")
    return out


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
    on_result: Any = None  # called with each TagResult as it arrives (a progress bar)
    # After this many texts in a row got no answer at all (timed out or unreachable, after retries), the texts not
    # yet sent get an error record without a call: with a hung endpoint, 1,000 texts at 60 s x 4 tries, 8 at a time,
    # took eight hours to fail. Default: twice the concurrency, so one wave of slow answers is not enough.
    give_up_after: int | None = None
    # Set: the endpoint already stopped answering (a CLI run tags chunk by chunk), so texts get this error at once
    down: LLMError | None = None
    _model: type[BaseModel] = field(init=False, repr=False)
    _by_choice: dict[str, Tag] = field(init=False, repr=False)
    _silent: int = field(default=0, init=False, repr=False)  # texts in a row with no answer
    _down: LLMError | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tags = check_tags(self.tags)
        self.concurrency = whole_number(self.concurrency, "concurrency", 1)
        self.max_retries = whole_number(self.max_retries, "max_retries")
        if self.give_up_after is not None:
            self.give_up_after = whole_number(self.give_up_after, "give_up_after", 1)
        self._model = build_response_model(self.tags, self.multi, self.confidence)
        self._by_choice = {choice_label(t): t for t in self.tags}
        if self.give_up_after is None:
            self.give_up_after = max(2 * self.concurrency, 8)

    def messages(self, text: str, examples: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        names = {t.name: choice_label(t) for t in self.tags}
        listing = "\n".join(
            f"- {choice_label(t)}" + (f" ({t.instructions})" if t.instructions else "") for t in self.tags
        )
        ask = "Choose every tag that applies (at least one)." if self.multi else "Choose the one tag that fits best."
        if self.confidence:
            ask += " Give your confidence in each choice, from 0 to 1."
        shots = ""
        if examples:
            shots = (
                "Labelled examples:\n"
                + "\n".join(f"{t!r} -> {names.get(label, label)}" for t, label in examples)
                + "\n\n"
            )
        return [
            {
                "role": "system",
                "content": "You tag texts using only the tags of a fixed set. Never invent a tag. "
                "Write each tag exactly as it is listed.",
            },
            {"role": "user", "content": f"Tags:\n{listing}\n\n{shots}Text:\n{text}\n\n{ask}"},
        ]

    def _tags_of(self, reply: BaseModel) -> list[dict[str, Any]]:
        if self.multi:
            picked = [(getattr(c, "tag", c), getattr(c, "confidence", None)) for c in reply.tags]
        else:
            picked = [(reply.tag, getattr(reply, "confidence", None))]
        out, seen = [], set()
        for choice, conf in picked:
            tag = self._by_choice[choice]
            if tag.tag_id in seen:
                continue
            seen.add(tag.tag_id)
            out.append({"tag_id": tag.tag_id, "name": tag.name, **({"confidence": conf} if conf is not None else {})})
        if self.confidence:  # best first
            out.sort(key=lambda t: -t["confidence"])
        return out

    async def _one(self, sem: asyncio.Semaphore, text: str, examples: list[tuple[str, str]]) -> TagResult:
        result = await self._ask(sem, text, examples)
        if self.on_result is not None:
            self.on_result(result)
        return result

    async def _ask(self, sem: asyncio.Semaphore, text: str, examples: list[tuple[str, str]]) -> TagResult:
        try:
            async with sem:
                if self._down is not None:  # the endpoint has stopped answering: do not queue up more waits
                    down = self._down
                    return TagResult(text, error=str(down), examples_used=len(examples), public_error=down.public)
                reply = await self.llm.create(
                    self.messages(text, examples),
                    self._model,
                    max_tokens=100 + (40 * len(self.tags) if self.multi else 0),
                    temperature=0.0,
                    context={"allowed_choices": list(self._by_choice)},
                    max_reasks=self.max_retries,
                )
        except LLMAuthError:
            raise
        except (LLMTimeout, LLMUnreachable) as exc:
            self._silent += 1
            if self._down is None and self._silent >= (self.give_up_after or 1):
                n = self._silent
                self._down = LLMError(
                    f"{NOT_SENT}the {n} texts before got no answer ({exc})",
                    f"{NOT_SENT}the {n} texts before got no answer ({exc.public})",
                )
            return TagResult(text, error=str(exc), examples_used=len(examples), public_error=exc.public)
        except LLMError as exc:
            return TagResult(text, error=str(exc), examples_used=len(examples), public_error=exc.public)
        self._silent = 0
        return TagResult(text, tags=self._tags_of(reply), examples_used=len(examples))

    async def atag(self, texts: Sequence[str]) -> list[TagResult]:
        texts = check_texts(texts)
        if self.few_shot is None:
            shots: list[list[tuple[str, str]]] = [[] for _ in texts]
        else:  # it embeds every text: in a worker thread, or a big request holds the event loop (a server's every client)
            shots = await asyncio.to_thread(self.few_shot.lookup, list(texts))
        sem = asyncio.Semaphore(self.concurrency)
        self._silent, self._down = 0, self.down  # each run asks afresh (the endpoint may be back) unless told
        return list(await asyncio.gather(*(self._one(sem, t, s) for t, s in zip(texts, shots, strict=True))))

    def tag(self, texts: Sequence[str]) -> list[TagResult]:
        async def run() -> list[TagResult]:
            try:
                return await self.atag(texts)
            finally:
                await self.llm.aclose()

        return run_sync(run)
