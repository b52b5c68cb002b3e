"""llmclf.cli.live_batches: batches that do not wait for input that has not come yet."""

import threading

import pytest

from llmclf.cli.live_batches import live_batches
from llmclf.errors import InputError


def test_a_file_goes_in_full_batches():
    assert [len(b) for b in live_batches(iter(range(2500)), 1000, wait=5)] == [1000, 1000, 500]
    assert list(live_batches(iter([]), 10)) == []


def test_what_has_come_is_handed_on_while_the_source_waits():
    more = threading.Event()

    def source():
        yield "first"
        yield "second"
        assert more.wait(30), "the consumer never got the first batch"
        yield "third"

    batches, got = live_batches(source(), 100), []
    while len(got) < 2:
        got += next(batches)
    assert got == ["first", "second"]
    more.set()
    assert list(batches) == [["third"]]


def test_an_error_of_the_reader_comes_after_the_items_before_it():
    def source():
        yield from "ab"
        raise InputError("data.csv: line 3 is broken")

    got = []
    with pytest.raises(InputError, match="line 3 is broken"):
        for batch in live_batches(source(), 10):
            got.extend(batch)
    assert got == ["a", "b"]


def test_stopping_early_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    batches = live_batches(source(), 10)
    assert next(batches) == list(range(10))
    batches.close()
    assert closed.wait(30)
