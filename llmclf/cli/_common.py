"""Helpers shared by the CLI commands: consoles, error handling, NAME:VALUE flags."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from ..errors import InputError, LlmclfError

out = Console()
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn llmclf's own errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LlmclfError as exc:
            raise fail(_one_line(str(exc))) from None

    return wrapper  # type: ignore[return-value]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def notice(message: str) -> None:
    err.print(f"[yellow]notice:[/] {message}", markup=True, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/] {message}", markup=True, soft_wrap=True)


def setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )


def split_pair(value: str, flag: str, what: str) -> tuple[str, str]:
    """Parse ``NAME:VALUE`` as given to ``--class`` or ``--train``."""
    if ":" not in value:
        raise InputError(f"{flag} {value!r} must look like NAME:{what.upper()} (no colon found)")
    name, _, rest = value.partition(":")
    if not name.strip():
        raise InputError(f"{flag} {value!r} has an empty class name")
    if not rest.strip():
        raise InputError(f"{flag} {value!r} has an empty {what}")
    return name.strip(), rest.strip()


def stdin_is_piped() -> bool:
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
