"""Running llmclf's async work from synchronous code, including code that already runs inside an event loop.

``asyncio.run`` refuses to start while a loop runs in the calling thread, which is where a Jupyter cell, an
IPython shell with autoawait, or a synchronous call made from an async web handler runs: ``Tagger.tag``,
``tag_texts`` and ``LLMGenerator.generate`` (so ``prompt_train`` with a generator) failed there with
"asyncio.run() cannot be called from a running event loop". There the work runs on a loop of its own in a worker
thread, and the caller waits for it, as it would for any synchronous call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(work: Callable[[], Awaitable[T]]) -> T:
    """``work()``'s result, run to the end on a fresh event loop: this thread's, or a worker thread's when a loop
    already runs here. ``work`` makes the coroutine, so none is made that is never awaited."""

    async def main() -> T:
        return await work()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # the work runs below, outside this clause: its errors would carry this one as their context
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="llmclf-sync") as pool:
            return pool.submit(asyncio.run, main()).result()
    return asyncio.run(main())
