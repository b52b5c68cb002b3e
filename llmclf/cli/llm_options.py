"""The six ``--llm-*`` options, declared once and added to a command by a decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from ..llm.config import LLMConfig, resolve_llm

_OPTIONS: list[tuple[str, Any, Any]] = [  # (parameter, annotation, typer option)
    ("llm_model", str | None, typer.Option(None, "--llm-model", help="LLM model name (env LLMCLF_LLM_MODEL).")),
    (
        "llm_base_url",
        str | None,
        typer.Option(None, "--llm-base-url", help="OpenAI-compatible URL (env OPENAI_BASE_URL)."),
    ),
    ("llm_api_key", str | None, typer.Option(None, "--llm-api-key", help="API key; prefer env OPENAI_API_KEY.")),
    (
        "llm_mode",
        str | None,
        typer.Option(None, "--llm-mode", help="instructor mode: tools (default), json, json_schema, md_json."),
    ),
    ("llm_timeout", float, typer.Option(60.0, "--llm-timeout", min=0.1, help="Seconds per LLM request.")),
    ("llm_retries", int, typer.Option(3, "--llm-retries", min=0, help="Retries for 429, 5xx and timeouts.")),
]


@dataclass(frozen=True)
class LLMOptions:
    """What the user gave on the command line; ``resolve()`` adds the environment."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    mode: str | None = None
    timeout: float = 60.0
    retries: int = 3

    def resolve(self) -> LLMConfig | None:
        """The endpoint to use, or None when no LLM is configured (raises InputError when it is half-configured)."""
        return resolve_llm(
            self.model, self.base_url, self.api_key, mode=self.mode, timeout=self.timeout, max_retries=self.retries
        )


def llm_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the ``--llm-*`` options; it receives them as ``llm: LLMOptions``.

    Resolution is left to the command, so one that needs no LLM (``classify``
    without ``--cascade-below``) never fails on a half-set environment.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "llm"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
        for name, annotation, option in _OPTIONS
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name.removeprefix("llm_"): kwargs.pop(name) for name, _, _ in _OPTIONS if name in kwargs}
        return command(*args, llm=LLMOptions(**given), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]} | {"return": None}
    return wrapper
