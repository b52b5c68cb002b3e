"""The ``llmclf`` command line: a thin typer layer over the public library API."""

from .app import app, main

__all__ = ["app", "main"]
