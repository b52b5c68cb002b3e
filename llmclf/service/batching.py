"""Micro-batching for the service: requests that wait together are embedded together.

One worker thread runs inference (onnxruntime already uses every core for
one batch). While it works, new requests queue; the next round takes them
all (up to ``max_texts``), so many small requests share one length-sorted
batch instead of each paying for its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..classifier import Classifier, Prediction

__all__ = ["MicroBatcher"]


@dataclass
class _Job:
    clf: Classifier
    texts: list[str]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(self, max_texts: int = 2048) -> None:
        self.max_texts = max_texts
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmclf-infer")

    async def classify(self, clf: Classifier, texts: list[str]) -> list[Prediction]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run())
        job = _Job(clf, list(texts), asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].texts)
            while not self._queue.empty() and size < self.max_texts:
                jobs.append(self._queue.get_nowait())
                size += len(jobs[-1].texts)
            for clf in {id(j.clf): j.clf for j in jobs}.values():  # one batch per model
                mine = [j for j in jobs if j.clf is clf]
                texts = [t for j in mine for t in j.texts]
                try:
                    predictions = await loop.run_in_executor(self._pool, clf.classify, texts)
                except Exception as exc:  # handed to each waiting request, which reports it
                    for j in mine:
                        if not j.future.done():
                            j.future.set_exception(exc)
                    continue
                start = 0
                for j in mine:
                    if not j.future.done():
                        j.future.set_result(predictions[start : start + len(j.texts)])
                    start += len(j.texts)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._pool.shutdown(wait=False)
