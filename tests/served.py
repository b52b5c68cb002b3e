"""Run an ASGI app under a real uvicorn server on a free 127.0.0.1 port, in a thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


def stop(proc, timeout: float = 10) -> None:
    """Terminate a server process, and kill it if it has not gone within ``timeout`` seconds."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def service_log() -> Iterator[list[logging.LogRecord]]:
    """The records the service logs meanwhile, caught on its own logger: caplog's handler sits on the root, which a
    CLI run in the same process replaces (basicConfig(force=True)), and `serve` stops the service's propagating."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("llmclf.service")
    log.addHandler(handler)
    try:
        yield records
    finally:
        log.removeHandler(handler)


def finish_head_builds(timeout: float = 120) -> None:
    """Wait for every tag-set head build the service has queued (they go on past their requests' 503)."""
    import llmclf.embedding_tagger as embedding_tagger

    for queued in list(embedding_tagger._QUEUED.values()):
        queued.result(timeout=timeout)


def wait_healthy(url: str, seconds: float = 60) -> None:
    """Wait until ``url``/healthz answers 200 (a server started in another process)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer /healthz within {seconds} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
