"""The one place that decides which LLM, if any, llmclf talks to.

Flags win over the environment: ``--llm-model`` / ``LLMCLF_LLM_MODEL``,
``--llm-base-url`` / ``OPENAI_BASE_URL``, ``--llm-api-key`` / ``OPENAI_API_KEY``.
With none of them set there is no LLM, and training says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError, redact

__all__ = ["DEFAULT_OPENAI_MODEL", "HOW_TO_CONFIGURE", "LLMConfig", "resolve_llm"]

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# Mode.TOOLS works both on OpenAI and on llama.cpp's server, where the tool
# schema constrains decoding (see OFFLINE-MODELS.md). json and json_schema get
# the same constraint there through the client's response_format fallbacks.
DEFAULT_MODE = "tools"
MODES = ("tools", "json", "json_schema", "md_json")
HOW_TO_CONFIGURE = (
    "set OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) and LLMCLF_LLM_MODEL, "
    "or OPENAI_API_KEY for OpenAI, or pass --llm-base-url/--llm-model"
)


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str | None  # None: the one model the endpoint's /models lists
    api_key: str = field(repr=False)  # never printed: repr and errors name the endpoint only
    mode: str = DEFAULT_MODE
    timeout: float = 60.0  # seconds per request
    max_retries: int = 3  # HTTP retries for 429, 5xx, timeouts (exponential backoff)
    max_reasks: int = 2  # re-asks after a response that fails validation

    @property
    def endpoint(self) -> str:
        """The base URL for messages: userinfo and query string redacted."""
        return redact(self.base_url.rstrip("/"))


def resolve_llm(
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    mode: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    env: Mapping[str, str] | None = None,
) -> LLMConfig | None:
    env = os.environ if env is None else env
    model = (model or env.get("LLMCLF_LLM_MODEL") or "").strip() or None  # an env file's CR LF around them
    base_url = (base_url or env.get("OPENAI_BASE_URL") or "").strip() or None
    api_key = api_key or env.get("OPENAI_API_KEY") or None
    if not (model or base_url or api_key):
        return None
    mode = (mode or env.get("LLMCLF_LLM_MODE") or DEFAULT_MODE).lower()
    if mode not in MODES:
        raise InputError(f"unknown LLM mode {mode!r}; choose one of: {', '.join(MODES)}")
    if not base_url:
        if not api_key:
            raise InputError(f"an LLM model was named but no endpoint: {HOW_TO_CONFIGURE}")
        base_url = OPENAI_URL
    if base_url == OPENAI_URL and not model:
        model = DEFAULT_OPENAI_MODEL
    if not base_url.startswith(("http://", "https://")):
        raise InputError(f"LLM base URL must start with http:// or https://, got {redact(base_url)!r}")
    _check_url(base_url)
    api_key = _check_key(api_key)
    return LLMConfig(
        base_url=base_url,
        model=model,
        api_key=api_key or "not-needed",  # local servers accept any key; the SDK wants one
        mode=mode,
        timeout=60.0 if timeout is None else timeout,
        max_retries=3 if max_retries is None else max_retries,
    )


def _check_key(api_key: str | None) -> str | None:
    """The key without the spaces and line breaks around it (an env file's CR LF, a pasted key's newline); a key
    holding any other character a header cannot carry is one line, never quoted. It reached the HTTP client,
    which refused the header, and the user read "cannot reach <url>" about a server that was up."""
    if api_key is None:
        return None
    api_key = api_key.strip()
    if not api_key or any(not ("\x21" <= ch <= "\x7e") for ch in api_key):
        raise InputError(
            "the LLM API key (OPENAI_API_KEY or --llm-api-key) is empty or holds a space, a line break or a "
            "character outside ASCII, which an HTTP header cannot carry; check how it was set"
        )
    return api_key


def _check_url(base_url: str) -> None:
    """One line for a base URL that the HTTP client would refuse later, as an internal error: 'http://[::1',
    'http://host:port', 'http:///v1'."""
    import httpx

    try:
        host = httpx.URL(base_url).host
    except httpx.InvalidURL as exc:
        why = "" if "@" in base_url or "?" in base_url else f" ({exc})"  # a reason could quote a secret
        raise InputError(f"LLM base URL is not a valid URL{why}: {redact(base_url)!r}") from None
    if not host:
        raise InputError(f"LLM base URL names no host: {redact(base_url)!r}")
