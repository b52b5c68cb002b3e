"""LLM-written training data: one structured call per class, or a few for large counts.

Classes run concurrently under a bound. Each reply is cleaned (empty, too
long, copies of the description, exact and near duplicates by embedding
cosine) and topped up by further calls until the count is reached or a call
adds nothing new. Replies are cached on disk, so an unchanged retrain makes
no calls. One class failing never sinks the others; bad credentials stop
everything at once.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field, WithJsonSchema, create_model

from ..descriptions import description_examples, split_sentences
from ..embedding import Embedder
from ..errors import LLMError
from ..examples import Example, Source
from ..generation import MAX_EXAMPLES_PER_CLASS, GenerationResult
from ..inputs import whole_number
from ..sync import run_sync
from .cache import GenerationCache
from .client import LLMAuthError, LLMCutShort, OpenAICompatibleLLM, StructuredLLM
from .config import LLMConfig
from .prompts import generation_messages

__all__ = ["LLMGenerator", "SyntheticExamples"]

MAX_CHARS = 200  # longer texts are dropped, not sent back; the schema tells the LLM the bound
PER_CALL = 25  # examples asked for in one call
FORCED_MIN = 5  # items the schema demands per call; more would make small local models crawl
NEAR_DUPLICATE = 0.95  # embedding cosine above which a text adds nothing
TEMPERATURE = 0.9


# The string bounds go into the JSON schema (which constrains decoding on
# llama.cpp) but are not validated here: an over-long item is dropped in
# clean-up instead of failing the whole reply.
Text = Annotated[str, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_CHARS})]


class SyntheticExamples(BaseModel):
    """Example texts that belong to one class."""

    examples: list[Text] = Field(min_length=1, max_length=PER_CALL)


@functools.lru_cache(maxsize=PER_CALL)
def response_model(count: int) -> type[SyntheticExamples]:
    """SyntheticExamples whose schema asks for up to ``count`` items, and at least a few.

    Where the schema constrains decoding (llama.cpp, vLLM), the model must
    write at least ``min(count, FORCED_MIN)`` items instead of closing the list
    after one. Validation still accepts fewer, and the generator tops up with
    another call.
    """
    return create_model(
        "SyntheticExamples",
        __base__=SyntheticExamples,
        examples=(
            list[Text],
            Field(
                min_length=1,
                max_length=PER_CALL,
                json_schema_extra={"minItems": min(count, FORCED_MIN), "maxItems": count},
            ),
        ),
    )


_WORDY = re.compile(r"[^\W\d_]{2,}")  # at least one word of two letters: drops "", ".1", "--"


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


class LLMGenerator:
    """An :class:`~llmclf.generation.ExampleGenerator` backed by an OpenAI-compatible LLM."""

    def __init__(
        self,
        config: LLMConfig | None = None,
        embedder: Embedder | None = None,
        *,
        llm: StructuredLLM | None = None,
        examples_per_class: int = 20,
        concurrency: int = 8,
        cache: GenerationCache | None = None,
        on_class_done: Callable[[str], None] | None = None,
    ) -> None:
        if llm is None and config is None:
            raise ValueError("give an LLMConfig or a StructuredLLM")
        whole_number(examples_per_class, "examples_per_class", 1, MAX_EXAMPLES_PER_CLASS)  # -n 10**9 asked without end
        whole_number(concurrency, "concurrency", 1)
        self.config = config
        self._llm = llm
        self.embedder = embedder
        self.examples_per_class = examples_per_class
        self.concurrency = concurrency
        self.cache = cache
        self.on_class_done = on_class_done

    def generate(self, descriptions: Mapping[str, str | None], examples: Sequence[Example]) -> GenerationResult:
        async def run() -> GenerationResult:
            try:
                return await self.agenerate(descriptions, examples)
            finally:  # a client given to us: its connections belong to this call's loop, which ends here
                if self._llm is not None:
                    await self._llm.aclose()  # OpenAICompatibleLLM opens again on its next use

        return run_sync(run)

    async def agenerate(self, descriptions: Mapping[str, str | None], examples: Sequence[Example]) -> GenerationResult:
        llm = self._llm or OpenAICompatibleLLM(self.config)
        result = GenerationResult()
        try:
            result.model = await llm.resolve_model()
            derived = [e.text for name, d in descriptions.items() for e in description_examples(name, d)]
            known = [e.text for e in examples] + derived
            state = await asyncio.to_thread(_DedupState, self.embedder, known)  # embeds: off the caller's loop
            sem = asyncio.Semaphore(self.concurrency)
            tasks = [
                asyncio.create_task(self._one_class(llm, sem, state, name, descriptions, examples, result))
                for name in descriptions
            ]
            try:
                await asyncio.gather(*tasks)
                rank = {name: i for i, name in enumerate(descriptions)}
                result.examples.sort(key=lambda e: rank[e.label])  # class order, not completion order
            except LLMAuthError:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        finally:
            result.calls = llm.requests
            if self._llm is None:
                await llm.aclose()
        return result

    async def _one_class(
        self,
        llm: StructuredLLM,
        sem: asyncio.Semaphore,
        state: _DedupState,
        name: str,
        descriptions: Mapping[str, str | None],
        examples: Sequence[Example],
        result: GenerationResult,
    ) -> None:
        description = descriptions[name]
        seeds = [e.text for e in examples if e.label == name and e.source in (Source.USER, Source.FEEDBACK)]
        others = [c for c in descriptions if c != name]
        banned = {_norm(description)} | {_norm(s) for s in split_sentences(description)} if description else set()
        kept: list[Example] = []
        target = self.examples_per_class
        max_calls = math.ceil(target / FORCED_MIN) + 1  # a call that adds nothing new ends the loop sooner
        error: str | None = None
        barren = 0  # calls in a row that added nothing
        calls, per_call = 0, PER_CALL
        while calls < max_calls:
            want = min(per_call, target - len(kept))
            if want <= 0:
                break
            messages = generation_messages(name, description, seeds, others, want, [e.text for e in kept])
            try:
                entry, cached = await self._ask(llm, sem, messages, want)
            except LLMAuthError:
                raise
            except LLMCutShort as exc:
                # 64 tokens an example did not fit: 200 characters of Chinese or Japanese are ~200 tokens, and every
                # call of the class was cut short, so it got no examples. Fewer a call fit; halving ends at one.
                if want > 1:
                    per_call = want // 2
                    max_calls = calls + math.ceil((target - len(kept)) / per_call) + 1  # room for the smaller calls
                    continue
                error = str(exc)
                break
            except LLMError as exc:
                error = str(exc)
                break
            calls += 1
            result.cached += cached
            fresh = [t.strip() for t in entry["examples"] if isinstance(t, str)]
            fresh = [t for t in fresh if _WORDY.search(t) and len(t) <= MAX_CHARS and _norm(t) not in banned]
            added = (await state.aadmit(fresh))[: target - len(kept)]
            meta = {"model": entry["model"], "created_at": entry["created_at"]}
            kept.extend(Example(t, name, Source.SYNTHETIC, dict(meta)) for t in added)
            barren = 0 if added else barren + 1
            if barren == 2:
                break  # the LLM has nothing new to say for this class
        result.examples.extend(kept)
        if not kept:
            result.failed[name] = error or "the LLM returned no usable examples"
        elif len(kept) < target:
            result.short[name] = len(kept)
        if self.on_class_done is not None:
            self.on_class_done(name)

    async def _ask(
        self, llm: StructuredLLM, sem: asyncio.Semaphore, messages: list[dict[str, str]], want: int
    ) -> tuple[dict[str, Any], int]:
        key = None
        if self.cache is not None:
            mode = self.config.mode if self.config else None
            key = self.cache.key(model=llm.model, messages=messages, n=want, temperature=TEMPERATURE, mode=mode)
            entry = self.cache.get(key)
            if entry is not None and _is_entry(entry):
                return entry, 1
        async with sem:
            reply = await llm.create(
                messages, response_model(want), max_tokens=min(4096, 96 + 64 * want), temperature=TEMPERATURE
            )
        entry = {
            "examples": list(reply.examples),
            "model": llm.model,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if self.cache is not None and key is not None:
            self.cache.put(key, entry)
        return entry, 0


def _is_entry(entry: dict[str, Any]) -> bool:
    """Whether a cached entry is one :meth:`LLMGenerator._ask` wrote; anything else on disk is a miss."""
    examples = entry.get("examples")
    texts = isinstance(examples, list) and bool(examples) and all(isinstance(t, str) for t in examples)
    return texts and isinstance(entry.get("model"), str) and isinstance(entry.get("created_at"), str)


class _DedupState:
    """Exact and near-duplicate filter shared by all classes of one run."""

    def __init__(self, embedder: Embedder | None, known: Sequence[str]) -> None:
        self.embedder = embedder
        self.seen = {_norm(t) for t in known}
        self.vectors = embedder.embed(list(dict.fromkeys(known))) if embedder is not None and known else None
        self._lock = asyncio.Lock()

    async def aadmit(self, texts: Sequence[str]) -> list[str]:
        """:meth:`admit` in a worker thread (it embeds), one class at a time (they share ``seen`` and ``vectors``)."""
        async with self._lock:
            return await asyncio.to_thread(self.admit, texts)

    def admit(self, texts: Sequence[str]) -> list[str]:
        unique = []
        for t in texts:
            key = _norm(t)
            if key and key not in self.seen:
                self.seen.add(key)
                unique.append(t)
        if self.embedder is None or not unique:
            return unique
        vecs = self.embedder.embed(unique)
        out = []
        for text, vec in zip(unique, vecs, strict=True):
            if self.vectors is not None and len(self.vectors) and float(np.max(self.vectors @ vec)) > NEAR_DUPLICATE:
                continue
            self.vectors = vec[None, :] if self.vectors is None else np.vstack([self.vectors, vec])
            out.append(text)
        return out
