"""Running the app under uvicorn with limits that a slow or idle client cannot wear down.

uvicorn closes a connection that idles *between* requests (``timeout_keep_alive``),
but not one that sends nothing, half a header, or a body that never ends. The
protocol here gives every request ``header_timeout`` seconds from its first byte
(or from the connection, for the first one) to arrive whole, then closes the
connection. ``limit_concurrency`` answers 503 past that many connections, and the
listening socket is bound before anything is printed, so a busy port is one
line and exit 2.
"""

from __future__ import annotations

import socket
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


def serve(app, sock: socket.socket, limits: ServerLimits = ServerLimits()) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        http=_guarded_protocol(limits.header_timeout),
        timeout_keep_alive=int(max(1, limits.keep_alive)),
        limit_concurrency=limits.limit_concurrency,
        backlog=limits.backlog,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[sock])
