"""Batches that do not wait for input that has not come yet.

`tail -f app.log | llmclf classify` printed nothing until 1,024 lines had arrived (a full batch) or the pipe
closed: a text typed into a slow pipe sat unclassified. The input is read on a thread of its own here, and a
batch is handed on as soon as the reader has nothing more ready, so a slow source gets answers line by line
while a file still goes in full batches (its reader is always ahead of the embedding).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["live_batches"]

T = TypeVar("T")

_ITEM, _DONE, _FAILED = range(3)


def live_batches(items: Iterable[T], size: int, wait: float = 0.05) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, cut short when no next item comes within ``wait`` seconds.

    An error raised while reading comes out here, after the items read before it. Closing this
    generator (an error downstream, Ctrl-C) stops the reader and closes ``items``.
    """
    ready: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=2 * size)
    stop = threading.Event()

    def send(message: tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                ready.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        it = iter(items)
        try:
            for item in it:
                if not send((_ITEM, item)):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            send((_FAILED, exc))
        else:
            send((_DONE, None))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="llmclf-input", daemon=True)
    reader.start()
    batch: list[T] = []
    try:
        while True:
            try:
                kind, value = ready.get(timeout=wait) if batch else ready.get()
            except queue.Empty:  # nothing more is ready: answer what has come
                yield batch
                batch = []
                continue
            if kind == _ITEM:
                batch.append(value)  # type: ignore[arg-type]
                if len(batch) == size:
                    yield batch
                    batch = []
                continue
            if batch:
                yield batch
            if kind == _FAILED:
                raise value  # type: ignore[misc]
            return
    finally:
        stop.set()
