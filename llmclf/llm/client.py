"""Structured LLM calls: the :class:`StructuredLLM` Protocol and its OpenAI-compatible backend.

:class:`OpenAICompatibleLLM` is the ``openai`` SDK wrapped by ``instructor``.
The SDK retries 429, 5xx, connection errors and timeouts with exponential
backoff (``max_retries``); instructor re-asks when a reply fails pydantic
validation (``max_reasks``). Whatever still fails becomes one
:class:`~llmclf.errors.LLMError` whose message names the endpoint, never the key.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from ..errors import LLMError
from .config import LLMConfig

__all__ = ["LLMAuthError", "LLMCutShort", "LLMTimeout", "LLMUnreachable", "OpenAICompatibleLLM", "StructuredLLM"]

T = TypeVar("T", bound=BaseModel)


class LLMAuthError(LLMError):
    """The endpoint refused our credentials: retrying cannot help, so the whole run stops."""


class LLMUnreachable(LLMError):
    """No connection to the endpoint could be made (refused, DNS, TLS): no server answered at all."""


class LLMTimeout(LLMError):
    """The endpoint answered nothing within the timeout, on every retry."""


class LLMCutShort(LLMError):
    """The reply stopped at the token limit (finish_reason "length"): asking for less may fit."""


class StructuredLLM(Protocol):
    model: str | None
    endpoint: str
    requests: int  # chat-completion requests that got an HTTP answer, retries and re-asks included

    async def resolve_model(self) -> str: ...

    async def create(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        max_tokens: int,
        temperature: float = 0.7,
        context: dict[str, Any] | None = None,
        max_reasks: int | None = None,
    ) -> T: ...

    async def aclose(self) -> None: ...


class OpenAICompatibleLLM:
    """OpenAI, Ollama, vLLM or llama.cpp's server, through one ``/v1/chat/completions``."""

    def __init__(self, config: LLMConfig) -> None:
        # instructor logs every failed attempt at ERROR; we report failures ourselves.
        logging.getLogger("instructor").setLevel(logging.CRITICAL)
        self.config = config
        self.model = config.model
        self.endpoint = config.endpoint
        self.requests = 0
        self._open()
        # tools (the default): where the endpoint refuses tool calls (an Ollama model without tool support,
        # llama.cpp's llama-server without --jinja), JSON mode is used from then on.
        self.mode = config.mode
        # json: ask for JSON that follows the schema (llama.cpp's `{"type": "json_object", "schema": ...}`, which
        # constrains decoding); json_schema: OpenAI's own form. Where an endpoint refuses the form (OpenAI knows
        # no "schema" key; llama-cpp-python's server no "json_schema" type), each falls back to the other's.
        self._schema_in_json_object = config.mode != "json_schema"

    def _open(self) -> None:
        """(Re)build the HTTP, OpenAI and instructor clients. The synchronous ``Tagger.tag`` and ``generate`` close
        them as their event loop ends; the next call opens them again, on its own loop (a second ``tag()`` of one
        Tagger said "cannot reach ... after retries")."""
        import httpx
        from openai import AsyncOpenAI

        async def count(response: httpx.Response) -> None:
            # Only answered calls count: a refused connection or a timeout got no answer.
            if response.request.url.path.endswith("/chat/completions"):
                self.requests += 1

        config = self.config
        self._http = _deadline_client_class()(
            deadline=config.timeout,
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0)),
            event_hooks={"response": [count]},
        )
        self._openai = AsyncOpenAI(
            base_url=config.base_url, api_key=config.api_key, max_retries=config.max_retries, http_client=self._http
        )
        self._clients: dict[str, Any] = {}

    def _opened(self) -> Any:
        if self._http.is_closed:
            self._open()
        return self._openai

    def _instructor(self, mode: str) -> Any:
        self._opened()
        if mode not in self._clients:
            import instructor

            client = instructor.from_openai(self._openai, mode=_mode(mode))
            client.on("completion:response", _repair_json_strings)
            self._clients[mode] = client
        return self._clients[mode]

    async def resolve_model(self) -> str:
        """The configured model, or the one the endpoint serves (llama.cpp and vLLM serve one). An endpoint that
        lists several (Ollama lists every model pulled, embedding models too) must be told which: the first listed
        was taken, which could be an embedding model or any other."""
        if self.model:
            return self.model
        try:
            page = await self._opened().models.list()
        except Exception as exc:
            raise _as_llm_error(exc, self.endpoint) from None
        models = [m.id for m in page.data]
        if not models:
            raise LLMError(f"{self.endpoint} lists no models: set --llm-model or LLMCLF_LLM_MODEL")
        if len(models) > 1:
            shown = ", ".join(_printable(str(m))[:80] for m in models[:5])  # names the endpoint chose
            shown += f" and {len(models) - 5} more" if len(models) > 5 else ""
            raise LLMError(
                f"{self.endpoint} serves {len(models)} models ({shown}): pick one with --llm-model or LLMCLF_LLM_MODEL",
                f"the LLM endpoint serves {len(models)} models and none was named",
            )
        self.model = models[0]
        return self.model

    async def create(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        max_tokens: int,
        temperature: float = 0.7,
        context: dict[str, Any] | None = None,
        max_reasks: int | None = None,
    ) -> T:
        model = await self.resolve_model()

        async def ask() -> T:
            mode, in_object = self.mode, self._schema_in_json_object
            extra = {"response_format": {"type": "json_object", "schema": response_model.model_json_schema()}}
            try:
                return await self._instructor(mode).chat.completions.create(
                    model=model,
                    messages=messages,
                    response_model=response_model,
                    max_retries=self.config.max_reasks if max_reasks is None else max_reasks,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    context=context,
                    **({"extra_body": extra} if in_object and mode in ("json", "json_schema") else {}),
                )
            except Exception as exc:
                if mode == "tools" and (said := _refused(exc, "tool", self.config.api_key)) is not None:
                    if self.mode == "tools":  # the first call to be refused says so; the others just follow
                        self.mode = "json"
                        _warn(f"{self.endpoint} refused tool calls ({said}): asking for JSON instead")
                    return await ask()
                first_form = in_object == (mode != "json_schema")  # each mode's own form, not yet the other's
                if mode in ("json", "json_schema") and first_form and _refused(exc, "response_format") is not None:
                    self._schema_in_json_object = not in_object  # for the rest of this client's calls too
                    return await ask()
                raise

        try:
            return await ask()
        except Exception as exc:
            raise _as_llm_error(exc, self.endpoint, self.config.api_key) from None

    async def aclose(self) -> None:
        await self._http.aclose()


@functools.cache
def _deadline_client_class():
    """Built on first use, once: httpx is imported lazily."""
    import asyncio

    import httpx

    class DeadlineClient(httpx.AsyncClient):
        """httpx's timeouts are per read: a server that drips one byte a second never trips them.

        This bounds each whole request, body included, by one deadline; it fails as an httpx
        timeout, so the SDK retries it like any other.
        """

        def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline = deadline

        async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            try:
                return await asyncio.wait_for(super().send(request, **kwargs), self._deadline)
            except asyncio.TimeoutError:
                raise httpx.ReadTimeout(f"no complete answer within {self._deadline:g} s", request=request) from None

    return DeadlineClient


def escape_control_characters(text: str) -> str:
    """Escape raw control characters inside JSON strings, leaving the rest alone.

    llama.cpp's JSON grammar lets a raw newline or tab into a string value;
    JSON forbids them, so without this a reply that is otherwise valid would
    cost a re-ask (seen with the SmolLM2 tests).
    """
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            elif ord(ch) < 0x20:
                out.append(f"\\u{ord(ch):04x}")
                continue
        elif ch == '"':
            in_string = True
        out.append(ch)
    return "".join(out)


def _repair_json_strings(response: Any) -> None:
    """instructor hook: runs on each completion before it is parsed."""
    for choice in getattr(response, "choices", None) or []:
        message = getattr(choice, "message", None)
        for call in getattr(message, "tool_calls", None) or []:
            if isinstance(call.function.arguments, str):
                call.function.arguments = escape_control_characters(call.function.arguments)
        if isinstance(getattr(message, "content", None), str):
            message.content = escape_control_characters(message.content)


def _mode(name: str):
    import instructor

    return {
        "tools": instructor.Mode.TOOLS,
        "json": instructor.Mode.JSON,
        "json_schema": instructor.Mode.JSON_SCHEMA,
        "md_json": instructor.Mode.MD_JSON,
    }[name]


def _refused(exc: BaseException, what: str, secret: str | None = None) -> str | None:
    """What the endpoint said, where it refused a request for naming ``what`` (``tool``, ``response_format``):
    HTTP 400 or 422, or 500/501 as llama-cpp-python's server and llama.cpp's say it; else None."""
    import openai

    api = next((e for e in _chain(exc) if isinstance(e, openai.APIStatusError)), None)
    if api is None or api.status_code not in (400, 422, 500, 501) or what not in str(api).lower():
        return None
    return _said(api, secret) or f"HTTP {api.status_code}"


def _said(api: Any, secret: str | None = None) -> str:
    """The endpoint's own message in an error reply, as one short printable line."""
    body = api.body
    error = body.get("error", body) if isinstance(body, dict) else body
    text = error.get("message") or error.get("detail") if isinstance(error, dict) else error
    text = _printable(str(text or ""))
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= 200 else text[:199] + "…"


def _printable(text: str) -> str:
    """``text`` as one printable line: what an endpoint says never brings a control character to a terminal."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _warn(text: str) -> None:
    import warnings

    from ..errors import LLMWarning, redact

    warnings.warn(redact(text), LLMWarning, stacklevel=2)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def _as_llm_error(exc: Exception, endpoint: str, secret: str | None = None) -> LLMError:
    """One line for the user; the message never carries the API key."""
    import httpx
    import openai
    from pydantic import ValidationError

    chain = _chain(exc)
    api = next((e for e in chain if isinstance(e, openai.APIError)), None)
    if isinstance(api, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMAuthError(
            f"authentication failed at {endpoint} (HTTP {api.status_code}): check the API key",
            f"the LLM refused the server's credentials (HTTP {api.status_code})",
        )
    if isinstance(api, openai.APITimeoutError) or any(isinstance(e, httpx.TimeoutException) for e in chain):
        return LLMTimeout(f"{endpoint} timed out after retries", "the LLM timed out")
    if isinstance(api, openai.APIConnectionError):
        return LLMUnreachable(f"cannot reach {endpoint} after retries", "the LLM could not be reached")
    if isinstance(api, openai.RateLimitError):
        return LLMError(
            f"{endpoint} kept answering 429 (rate limited) after retries", "the LLM was rate limited (HTTP 429)"
        )
    if isinstance(api, openai.APIStatusError):
        retried = " after retries" if api.status_code in (408, 409) or api.status_code >= 500 else ""  # as the SDK
        said = f": {text}" if (text := _said(api, secret)) else ""
        if api.status_code == 404 and not endpoint.split("?")[0].rstrip("/").endswith("/v1"):
            said += f" (OpenAI-compatible servers answer under /v1: try {endpoint.split('?')[0].rstrip('/')}/v1)"
        return LLMError(
            f"{endpoint} answered HTTP {api.status_code}{retried}{said}", f"the LLM failed (HTTP {api.status_code})"
        )
    if any(type(e).__name__ == "IncompleteOutputException" for e in chain):  # by name: instructor moves its classes
        return LLMCutShort(
            f"{endpoint} cut its reply short at the token limit (finish_reason length)",
            "the LLM's reply was cut short at its token limit",
        )
    parse = next((e for e in chain if isinstance(e, ValidationError | ValueError)), None)
    if parse is not None:
        first = str(parse).strip().splitlines()[0] if str(parse).strip() else type(parse).__name__
        return LLMError(
            f"{endpoint} gave no valid structured reply after re-asks ({first[:160]})",
            "the LLM gave no valid structured reply after re-asks",
        )
    return LLMError(f"LLM call to {endpoint} failed: {type(chain[-1]).__name__}", "the LLM call failed")
