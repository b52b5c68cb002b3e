"""A request-body size limit as plain ASGI middleware (it also covers chunked and gzip-compressed bodies).

The body is read, and counted, before the app sees it, and then replayed:
bounded by the limit, that costs at most ``max_bytes`` of memory a request.
A body sent with ``Content-Encoding: gzip`` (or ``deflate``) is decompressed here, and its decompressed size is held
to the same limit, so a small compressed body cannot unpack into gigabytes. Any other coding is refused with 415.
"""

from __future__ import annotations

import json
import zlib

MAX_BODY_BYTES = 1024 * 1024

_WBITS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _decoded(body: bytes, coding: bytes, max_bytes: int) -> bytes:
    """The body without its content coding (not identity: the caller passes such a body on as it is), or _Refused:
    an unknown coding, bytes that are not in it, or more than ``max_bytes`` once decompressed (only
    ``max_bytes + 1`` bytes are ever unpacked)."""
    wbits = _WBITS.get(coding)
    if wbits is None:
        shown = coding.decode("latin-1")
        raise _Refused(415, f"Content-Encoding {shown!r} is not supported: send the body as it is, or gzip it")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_bytes + 1)
        if len(out) > max_bytes:
            raise _Refused(413, f"request body is larger than {max_bytes} bytes once decompressed")
        if not inflater.eof or inflater.unused_data:
            raise zlib.error("truncated, or followed by other bytes")
    except zlib.error:
        raise _Refused(400, f"the body is not valid {coding.decode('latin-1')} data") from None
    return out


class BodyLimit:
    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        length = dict(headers).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(send, 413, f"request body is larger than {self.max_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._reject(send, 413, f"request body is larger than {self.max_bytes} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        coding = b",".join(v.strip().lower() for k, v in headers if k.lower() == b"content-encoding")
        if coding not in (b"", b"identity"):
            try:
                body = _decoded(body, coding, self.max_bytes)
            except _Refused as exc:
                return await self._reject(send, exc.status, str(exc))
            dropped = (b"content-encoding", b"content-length")
            kept = [(k, v) for k, v in headers if k.lower() not in dropped]
            scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
