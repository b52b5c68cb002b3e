"""The service's LLM calls: bounded for all requests together, and taken in turn between requests."""

import asyncio
import threading
import time

import httpx
import pytest

from llmclf.llm import resolve_llm
from llmclf.service import create_app
from llmclf.service.fair_llm import FairLimiter

from .fakellm import FakeLLMServer, tool_reply
from .served import serving

TAGS = [{"tag_id": "1", "name": "phone"}, {"tag_id": "2", "name": "email"}]


def text_of(request: dict) -> str:
    user = next(m["content"] for m in request["messages"] if "Text:\n" in (m.get("content") or ""))
    return user.split("Text:\n", 1)[1].split("\n\n", 1)[0]


def test_a_small_request_takes_its_turn_among_a_big_ones_calls_and_the_bound_holds(tmp_path):
    """Each request kept to 8 calls of its own and nothing bounded them together: fifty clients put 400 calls on the
    endpoint at once. A plain semaphore would bound them but serve first come, so a one-text request would wait
    behind the big request's queued calls. With a bound of 2, the small request's call starts before the big one's
    fourth. (The endpoint holds the first two calls until the small request waits for a slot, so the order does not
    hang on how fast this machine is.)"""
    lock, in_flight, peak, started = threading.Lock(), [0], [0], []
    queued = threading.Event()

    def script(request, n):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            started.append(text_of(request))
            first = len(started) <= 2
        if first:
            queued.wait(30)
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return tool_reply(request, {"tag": "1: phone"})

    big = [f"big text {i}" for i in range(12)]
    with FakeLLMServer(script) as server:
        llm = resolve_llm(base_url=server.base_url, timeout=30, max_retries=0, env={})
        app = create_app({}, db=tmp_path / "db.sqlite", llm=llm, llm_concurrency=2, log_runs=False)
        with serving(app) as url:

            async def until(condition):
                for _ in range(3000):
                    if condition():
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError("waited 30 s")

            async def run():
                async with httpx.AsyncClient(timeout=60) as client:
                    first = asyncio.create_task(client.post(f"{url}/tag", json={"texts": big, "tags": TAGS}))
                    await until(lambda: len(started) == 2 and app.state.llm_calls.waiting == 1)  # big holds both
                    small = asyncio.create_task(client.post(f"{url}/tag", json={"texts": ["small one"], "tags": TAGS}))
                    await until(lambda: app.state.llm_calls.waiting == 2)  # the small request waits for a slot too
                    queued.set()
                    return await small, await first

            small, first = asyncio.run(run())
    assert small.status_code == first.status_code == 200, (small.text, first.text)
    assert [p["name"] for p in small.json()["predictions"]] == ["phone"]
    assert [p["name"] for p in first.json()["predictions"]] == ["phone"] * 12
    assert peak[0] == 2, peak
    assert sorted(started) == sorted([*big, "small one"])
    assert started.index("small one") <= 3, started


def test_the_limiter_hands_slots_round_the_waiting_owners_and_loses_none_to_cancellation():
    async def run():
        limiter = FairLimiter(1)
        order: list[str] = []
        release = asyncio.Event()

        async def call(owner: str, name: str):
            async with limiter.slot(owner):
                order.append(name)
                await release.wait()
                await asyncio.sleep(0)

        holder = asyncio.create_task(call("a", "a0"))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(call("a", f"a{i}")) for i in range(1, 4)]
        waiting += [asyncio.create_task(call("b", "b0")), asyncio.create_task(call("c", "c0"))]
        gone = asyncio.create_task(call("d", "d0"))
        await asyncio.sleep(0)
        gone.cancel()  # a client that left while waiting: its place is dropped, not its slot kept
        await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, *waiting), 10)  # a lost slot fails here, not hangs
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert order == ["a0", "a1", "b0", "c0", "a2", "a3"], order
        assert limiter.in_use == 0

        # a waiter handed the slot in the moment it is cancelled passes the slot on
        entered: list[str] = []

        async def enter(owner: str):
            async with limiter.slot(owner):
                entered.append(owner)

        async with limiter.slot("a"):
            unlucky, after = asyncio.create_task(enter("b")), asyncio.create_task(enter("c"))
            await asyncio.sleep(0)
        unlucky.cancel()  # leaving the block handed "b" the slot; "b" has not run since
        await asyncio.wait_for(after, 10)
        assert entered == ["c"] and unlucky.cancelled() and limiter.in_use == 0

        # a freed slot goes to the waiting owner that holds the fewest, before the turn of one that holds more
        two, picked = FairLimiter(2), []
        gates = {name: asyncio.Event() for name in ("big0", "big1", "big2", "big3", "small")}

        async def held_until_set(owner: str, name: str):
            async with two.slot(owner):
                picked.append(name)
                await gates[name].wait()

        tasks = [asyncio.create_task(held_until_set("big", f"big{i}")) for i in range(4)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(held_until_set("small", "small")))
        await asyncio.sleep(0)
        assert picked == ["big0", "big1"] and two.waiting == 2
        gates["big0"].set()  # "big" holds 1 after this, "small" none: "small" goes before "big2"
        for _ in range(5):
            await asyncio.sleep(0)
        assert picked == ["big0", "big1", "small"], picked
        for gate in gates.values():
            gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert picked == ["big0", "big1", "small", "big2", "big3"] and two.in_use == 0

    asyncio.run(run())
