"""``llmclf serve``: the HTTP service under uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path

import typer

from ..embedding import MAX_THREADS
from ._common import SHOTS_HELP, err, friendly_errors, pick, warn
from .llm_options import LLMOptions, llm_options


@friendly_errors
@llm_options
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    load: list[Path] = typer.Option(
        [], "--load", "-l", help="A .model bundle to serve (repeatable); named by its stem."
    ),
    db: Path | None = typer.Option(None, "--db", help="SQLite database for tag sets (default: user data dir)."),
    max_body: int = typer.Option(1024 * 1024, "--max-body-bytes", min=1024, help="Largest request body accepted."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions (responses carry no run ids)."),
    shots: int = typer.Option(5, "--shots", "-k", min=0, help=SHOTS_HELP),
    k: int | None = typer.Option(None, "--k", min=0, hidden=True),
    request_timeout: float = typer.Option(
        30.0, "--request-timeout", min=0.1, help="Seconds a request may wait for inference before 503 + Retry-After."
    ),
    header_timeout: float = typer.Option(
        10.0, "--header-timeout", min=0.1, help="Seconds a request may take to arrive whole; slower ones are closed."
    ),
    keep_alive: float = typer.Option(
        5.0, "--keep-alive", min=1, help="Seconds an idle keep-alive connection stays open."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, max=MAX_THREADS, help="onnxruntime threads (default: LLMCLF_THREADS, else all cores)."
    ),
    limit_concurrency: int = typer.Option(
        512, "--limit-concurrency", min=1, help="Connections at once; past it every request is answered 503."
    ),
    reload_every: float = typer.Option(
        2.0,
        "--reload-every",
        min=0,
        help="Seconds between looks at each bundle file; a changed one is served (0: never).",
    ),
    llm_concurrency: int = typer.Option(
        16,
        "--llm-concurrency",
        min=1,
        help="LLM calls in flight for all requests together; a freed one goes to the waiting request holding fewest.",
    ),
    llm: LLMOptions = LLMOptions(),
) -> None:
    """Serve /classify, /tag, /feedback, /models and /healthz (OpenAPI docs at /docs).

    Set LLMCLF_API_KEY to require `Authorization: Bearer <key>`. A bundle that `llmclf retrain` (or `train
    --save`) replaces is loaded and served in its place, while the old one answers until it is ready.
    """
    from ..feedback import logging_enabled
    from ..service import create_app, model_names
    from ..service.server import ServerLimits, bind, serve

    k = pick(shots, k)
    config = llm.resolve()
    limits = ServerLimits(keep_alive, header_timeout, limit_concurrency)
    sock = bind(host, port, limits.backlog)  # a busy port fails here, before anything is loaded or printed
    app = create_app(
        model_names(load),
        db=db,
        llm=config,
        max_body_bytes=max_body,
        log_runs=not no_log and logging_enabled(),
        k=k,
        request_timeout=request_timeout,
        threads=threads,
        reload_every=reload_every,
        llm_concurrency=llm_concurrency,
    )
    _show_service_log()
    err.print(f"llmclf serving {len(app.state.models)} model(s) on http://{host}:{port} (docs at /docs)")
    if not app.state.requires_key and not _loopback(sock):
        uses = (
            "classify, tag (on your LLM's account) and send feedback" if config else "classify, tag and send feedback"
        )
        warn(f"no LLMCLF_API_KEY is set: anyone who reaches {host}:{port} can {uses}; set one to require a key")
    serve(app, sock, limits)


def _loopback(sock: socket.socket) -> bool:
    """Whether the socket listens on a loopback address only (127.0.0.1, ::1, what "localhost" bound to)."""
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {line}"


def _show_service_log() -> None:
    """The service's own lines on stderr, info included: "model pets: reloaded ..." is news to whoever runs it."""
    service = logging.getLogger("llmclf.service")
    service.setLevel(logging.INFO)
    if not service.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_Plain("%(message)s"))
        service.addHandler(handler)
        service.propagate = False
