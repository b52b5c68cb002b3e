"""Running the app under uvicorn with limits that a slow or idle client cannot wear down.

uvicorn closes a connection that idles *between* requests (``timeout_keep_alive``),
but not one that sends nothing, half a header, or a body that never ends. The
protocol here gives every request ``header_timeout`` seconds from its first byte
(or from the connection, for the first one) to arrive whole, then closes the
connection. ``limit_concurrency`` answers 503 past that many connections, and the
listening socket is bound before anything is printed, so a busy port is one
line and exit 2.

Out of file descriptors (many idle clients under a low ``ulimit -n``), asyncio
logs a traceback for every refused ``accept()``: CPython keeps looping after
EMFILE, so that is up to a backlog's worth per try, 50-150 KB a second. Into a
stderr pipe nobody drains, that blocks the whole server. Here it is one line
per 10 seconds instead, and the soft open-files limit is raised to the hard one
at start, as Go's runtime does.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["ServerLimits", "bind", "serve"]


@dataclass(frozen=True)
class ServerLimits:
    keep_alive: float = 5.0  # seconds an idle keep-alive connection stays open
    header_timeout: float = 10.0  # seconds for a request to arrive whole, headers and body
    limit_concurrency: int = 512  # connections at once; past it uvicorn answers every new request 503
    backlog: int = 128


def _guarded_protocol(header_timeout: float):
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _guard = None

        def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
                if self._guard is None:
                    self._arm()
            else:
                self._disarm()

        def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()  # keep-alive's own timer covers the idle time from here

        def _arm(self) -> None:
            self._guard = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._guard is not None:
                self._guard.cancel()
                self._guard = None

        def _too_slow(self) -> None:
            self._guard = None
            if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def bind(host: str, port: int, backlog: int = 128) -> socket.socket:
    """The listening socket, or a one-line InputError when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


OUT_OF_RESOURCE = "socket.accept() out of system resource"  # asyncio's message, fixed since Python 3.7


class AcceptErrors:
    """The event loop's exception handler: refused accepts become one line per ``every`` seconds."""

    def __init__(self, every: float = 10.0, stream=None) -> None:
        self.every, self.stream = every, stream
        self.refused = 0
        self._said_at: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if context.get("message") != OUT_OF_RESOURCE or not isinstance(exc, OSError):
            loop.default_exception_handler(context)
            return
        self.refused += 1
        now = loop.time()
        if self._said_at is None or now - self._said_at >= self.every:
            self._said_at = now
            stream = self.stream or sys.stderr
            stream.write(
                f"llmclf serve: cannot accept new connections: {exc.strerror or exc} (open files limit "
                f"{open_files_limit()}); {self.refused} refused so far, retrying each second\n"
            )
            stream.flush()


def open_files_limit() -> int | str:
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return "unknown"


def raise_open_files_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (capped at 65,536): each client holds one descriptor."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, OSError, ValueError):  # not on this platform, or not allowed: keep what we have
        pass


def serve(app, sock: socket.socket, limits: ServerLimits = ServerLimits()) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        http=_guarded_protocol(limits.header_timeout),
        loop="asyncio",  # the loop whose exception handler is set below
        timeout_keep_alive=int(max(1, limits.keep_alive)),
        limit_concurrency=limits.limit_concurrency,
        backlog=limits.backlog,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    raise_open_files_limit()

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(AcceptErrors())
        await server.serve(sockets=[sock])

    asyncio.run(main())
