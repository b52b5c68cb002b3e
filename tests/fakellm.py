"""A scripted OpenAI-compatible server on 127.0.0.1 for fault tests.

The script is a function of (request body, call number) that returns a
:class:`Reply`: a status, a JSON body or raw text, and a delay. Helpers build
the chat-completion replies that instructor's TOOLS mode expects.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str -> sent as is
    delay: float = 0.0


def tool_reply(request: dict, arguments: str | dict) -> Reply:
    """A completion whose tool call carries ``arguments`` (a dict, or raw text for malformed JSON)."""
    name = request["tools"][0]["function"]["name"]
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return Reply(
        200,
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        },
    )


def error_reply(status: int, message: str = "scripted failure") -> Reply:
    return Reply(status, {"error": {"message": message, "type": "scripted", "code": status}})


def class_of(request: dict) -> str:
    """The class a generation request is about (from the prompt)."""
    for message in request["messages"]:
        text = message.get("content") or ""
        if 'belong to the class "' in text:
            return text.split('belong to the class "', 1)[1].split('"', 1)[0]
    raise AssertionError("not a generation request")


Script = Callable[[dict, int], Reply]


class FakeLLMServer:
    def __init__(self, script: Script, model: str = "fake-model", also: tuple[str, ...] = ()) -> None:
        self.script = script
        self.model = model
        self.models = [model, *also]  # what GET /models lists (Ollama lists every model pulled)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = raw.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): that is the point of some tests

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    listed = [{"id": m, "object": "model"} for m in server.models]
                    self._send(Reply(200, {"object": "list", "data": listed}))
                else:
                    self._send(error_reply(404, "not found"))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    n = len(server.requests)
                self._send(server.script(body, n))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
