"""Fair micro-batching for the service: requests that wait together are embedded together, in turns.

One worker thread runs inference (onnxruntime already uses every core for one
batch). Work is done in *rounds*. Each round takes, from every waiting request
in turn, at most :data:`CHUNK` texts, until the round's cost budget is spent;
cost is about a text's length, since a 3,900-character text costs ~30 times a
one-word one. So a one-text request waits for at most the round in progress
and one more, however large the others are, and many small requests still
share one length-sorted batch.

A request whose client has gone, or whose time budget has run out, is dropped
before its next chunk: nobody pays for work nobody will read.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..classifier import Classifier, Prediction

__all__ = ["ClientGone", "MicroBatcher", "Overloaded"]

CHUNK = 32  # texts one request may put into one round
ROUND_COST = (
    8_000  # budget of a round, in cost units (see _cost): ~6 texts of 4,000 characters (~0.3 s here), ~60 short ones
)
POLL = 0.1  # seconds between checks for a gone client or a spent budget


class Overloaded(Exception):
    """The request's time budget ran out before its texts were classified."""


class ClientGone(Exception):
    """The client disconnected; its remaining work was dropped."""


def _cost(text: str) -> int:
    return 64 + min(len(text), 1200)  # the embedder cuts at 256 tokens; a token is ~4-5 characters


@dataclass(eq=False)
class _Job:
    clf: Classifier
    texts: list[str]
    future: asyncio.Future = field(repr=False)
    results: list[Prediction | None] = field(default_factory=list)
    next: int = 0
    dropped: bool = False

    def __post_init__(self) -> None:
        self.results = [None] * len(self.texts)


class MicroBatcher:
    def __init__(self, chunk: int = CHUNK, round_cost: int = ROUND_COST) -> None:
        self.chunk, self.round_cost = chunk, round_cost
        self._jobs: list[_Job] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._turn = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmclf-infer")
        self.rounds = 0  # rounds run, for tests and curious operators

    async def classify(
        self,
        clf: Classifier,
        texts: list[str],
        *,
        timeout: float | None = None,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[Prediction]:
        """Classify ``texts`` in fair turns with every other request; Overloaded or ClientGone if it cannot finish."""
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._wake = asyncio.Event()
            self._worker = asyncio.create_task(self._run())
        job = _Job(clf, list(texts), loop.create_future())
        self._jobs.append(job)
        self._wake.set()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                done, _ = await asyncio.wait({job.future}, timeout=POLL)
                if done:
                    return job.future.result()
                if disconnected is not None and await disconnected():
                    raise ClientGone()
                if deadline is not None and loop.time() >= deadline:
                    raise Overloaded()
        finally:
            job.dropped = True

    def _round(self) -> list[tuple[_Job, int, int]]:
        """(job, start, end) slices for the next round, starting with a different job each time."""
        live = [j for j in self._jobs if not j.dropped and j.next < len(j.texts)]
        self._jobs = live
        if not live:
            return []
        first = next(self._turn) % len(live)
        budget, picks = self.round_cost, []
        for job in live[first:] + live[:first]:
            start = end = job.next
            while end < len(job.texts) and end - start < self.chunk and budget > 0:
                budget -= _cost(job.texts[end])
                end += 1
            if end > start:
                picks.append((job, start, end))
                job.next = end
            if budget <= 0:
                break
        return picks

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            picks = self._round()
            if not picks:
                self._wake.clear()
                await self._wake.wait()
                continue
            self.rounds += 1
            for clf in {id(job.clf): job.clf for job, _, _ in picks}.values():  # one batch per model
                mine = [(job, s, e) for job, s, e in picks if job.clf is clf]
                texts = [t for job, s, e in mine for t in job.texts[s:e]]
                try:
                    predictions = await loop.run_in_executor(self._pool, clf.classify, texts)
                except Exception as exc:  # handed to each waiting request, which reports it
                    for job, _, _ in mine:
                        job.dropped = True
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                offset = 0
                for job, s, e in mine:
                    job.results[s:e] = predictions[offset : offset + e - s]
                    offset += e - s
                    if job.next >= len(job.texts) and not job.future.done():
                        job.future.set_result(job.results)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._pool.shutdown(wait=False)
