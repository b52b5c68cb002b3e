"""One LLM for every request of the service, with a server-wide bound on calls at once, shared fairly.

Each request already bounds its own calls (a Tagger's ``concurrency``), but without a server-wide bound, fifty
clients tagging at once put 400 calls on the endpoint (429s from OpenAI, a queue that times out on llama.cpp). A
plain semaphore would bound them unfairly: its waiters are served first come, so a one-text request would wait
behind the 256 calls of a request that came just before it, the stall the inference batcher was built to prevent.
Instead a freed slot goes to the waiting request that holds the fewest, and among equals by turns.

The request a call belongs to is read from a context variable that the service sets for each request; the tasks a
request starts (one per text) inherit it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the service imports this module at start-up; openai and instructor load with the first LLM call
    from ..llm.client import StructuredLLM

__all__ = ["REQUEST", "FairLimiter", "SharedLLM"]

T = TypeVar("T")

REQUEST: ContextVar[object | None] = ContextVar("llmclf_request", default=None)


class FairLimiter:
    """At most ``capacity`` holders at once. A freed slot goes to the waiting owner that holds the fewest (a request
    that holds none goes before one that holds some), and among equals to the one whose turn is oldest."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be 1 or more")
        self.capacity = capacity
        self._held: Counter[object] = Counter()  # slots each owner holds; none held: not in it
        self._waiting: OrderedDict[object, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def in_use(self) -> int:
        return sum(self._held.values())

    @property
    def waiting(self) -> int:
        """Owners with a call waiting for a slot."""
        return len(self._waiting)

    @asynccontextmanager
    async def slot(self, owner: object) -> AsyncIterator[None]:
        if self.in_use < self.capacity and not self._waiting:
            self._held[owner] += 1
        else:
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(owner, deque()).append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():  # handed a slot as it was cancelled: pass it on
                    self._release(owner)
                else:
                    self._forget(owner, granted)
                raise
        try:
            yield
        finally:
            self._release(owner)

    def _release(self, owner: object) -> None:
        self._held[owner] -= 1
        if not self._held[owner]:
            del self._held[owner]
        while self._waiting:
            turn = min(self._waiting, key=lambda o: self._held[o])  # the first of the fewest held, in turn order
            queue = self._waiting[turn]
            granted = queue.popleft()
            if queue:
                self._waiting.move_to_end(turn)  # its next call waits for every other owner's turn
            else:
                del self._waiting[turn]
            if not granted.done():
                granted.set_result(None)
                self._held[turn] += 1
                return

    def _forget(self, owner: object, granted: asyncio.Future[None]) -> None:
        queue = self._waiting.get(owner)
        if queue is None:
            return
        try:
            queue.remove(granted)
        except ValueError:
            return
        if not queue:
            del self._waiting[owner]


class SharedLLM:
    """``llm`` behind ``limiter``, each call owned by the request it serves."""

    def __init__(self, llm: StructuredLLM, limiter: FairLimiter) -> None:
        self.llm = llm
        self.limiter = limiter

    @property
    def model(self) -> str | None:
        return self.llm.model

    @property
    def endpoint(self) -> str:
        return self.llm.endpoint

    @property
    def requests(self) -> int:
        return self.llm.requests

    async def resolve_model(self) -> str:
        return await self.llm.resolve_model()

    async def create(self, messages: list[dict[str, str]], response_model: type[T], **options: Any) -> T:
        async with self.limiter.slot(REQUEST.get()):
            return await self.llm.create(messages, response_model, **options)

    async def aclose(self) -> None:
        await self.llm.aclose()
