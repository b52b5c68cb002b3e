"""llmclf.sync.run_sync: async work from synchronous code, inside a running event loop or not."""

import asyncio

import pytest

from llmclf.sync import run_sync


@pytest.mark.parametrize("in_a_loop", [False, True], ids=["plain", "inside a running loop"])
def test_the_works_result_and_errors_come_back_as_they_are(in_a_loop):
    """An error of the work carried run_sync's own "no running event loop" probe as its context, and the LLM
    error built from that chain said "LLM call to ... failed: RuntimeError"."""

    async def work(value):
        await asyncio.sleep(0)
        if value is None:
            raise ValueError("no value")
        return value * 2

    def call(value):
        return run_sync(lambda: work(value))

    async def in_loop(value):
        return call(value)

    run = (lambda v: asyncio.run(in_loop(v))) if in_a_loop else call
    assert run(21) == 42
    with pytest.raises(ValueError, match="no value") as caught:
        run(None)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
