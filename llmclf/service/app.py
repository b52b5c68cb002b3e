"""The FastAPI service: a thin layer over Classifier, Tagger and the store.

Models load when the app is built, and again when their file changes (.reload).
Embedding and the head run in a worker thread, so one slow request never blocks
the event loop. Errors come back as ``{"error": ...}`` JSON; a 500 never carries
exception details.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from ..classifier import Classifier
from ..embedding import get_embedder
from ..errors import InputError, LLMError, StoreError
from ..feedback import RunLog, model_target, set_target
from ..feedback_cache import FeedbackCache
from ..inputs import whole_number
from ..jsonlines import GivenTwice, unique_pairs
from ..llm.config import HOW_TO_CONFIGURE, LLMConfig
from ..store import Store, Tag
from .batching import ClientGone, MicroBatcher, Overloaded
from .fair_llm import REQUEST, FairLimiter, SharedLLM
from .limits import MAX_BODY_BYTES, BodyLimit
from .reload import RELOAD_EVERY, BundleWatcher
from .schemas import (
    ClassifyItem,
    ClassifyRequest,
    ClassifyResponse,
    ErrorBody,
    FeedbackRequest,
    FeedbackResponse,
    Health,
    ModelInfo,
    TagChoiceOut,
    TagPrediction,
    TagRequest,
    TagResponse,
)
from .server import open_files_limit

__all__ = ["create_app"]

log = logging.getLogger("llmclf.service")

LLM_CONCURRENCY = 16  # LLM calls in flight for all requests together
ERRORS = {code: {"model": ErrorBody} for code in (401, 404, 413, 422, 502, 503)}


def create_app(
    models: Mapping[str, str | os.PathLike[str]] | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
    llm: LLMConfig | None = None,
    api_key: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    log_runs: bool = True,
    k: int = 5,
    request_timeout: float = 30.0,
    threads: int | None = None,
    reload_every: float = RELOAD_EVERY,
    llm_concurrency: int = LLM_CONCURRENCY,
) -> FastAPI:
    """Build the app. ``api_key`` (default: env ``LLMCLF_API_KEY``) turns on bearer-token auth.

    Every ``reload_every`` seconds (0: never) each bundle file is looked at, and one that has changed (a retrain
    saved over it) is loaded and served in its model's place.

    ``request_timeout`` is each request's budget for inference: past it the request gets
    503 with ``Retry-After`` instead of waiting behind others without end.

    ``llm_concurrency`` bounds the LLM calls in flight for all requests together; a freed one goes to the waiting
    request that holds the fewest (see .fair_llm). Each request also keeps to 8 of its own.
    """
    llm_calls = FairLimiter(whole_number(llm_concurrency, "llm_concurrency", 1))  # every request's LLM calls
    watcher = BundleWatcher(models or {}, threads=threads)
    loaded = watcher.loaded  # the newest of each: a retrained bundle takes its model's place (see .reload)
    store = Store(db)
    runs = RunLog(store)
    feedback_sets = FeedbackCache(runs)  # each target's feedback dataset, read again only after it changed
    batcher = MicroBatcher()  # inference off the event loop, requests batched together in fair turns

    async def infer(clf: Classifier, texts: list[str], request: Request | None = None):
        disconnected = request.is_disconnected if request is not None else None
        return await batcher.classify(clf, texts, timeout=request_timeout, disconnected=disconnected)

    # an env file's CR LF around the key made every client's "Bearer <key>" fail, with 401 and no clue why
    api_key = api_key if api_key is not None else os.environ.get("LLMCLF_API_KEY", "").strip() or None
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(int)  # anyio imports its thread backend now, not on the first request (see ready)
        watching = asyncio.create_task(watcher.run(reload_every)) if reload_every and loaded else None
        yield
        if watching is not None:
            watching.cancel()
        client = state.get("llm")
        if client is not None:
            await client.aclose()
        await batcher.aclose()
        store.close()

    # FastAPI's own /docs and /redoc pages load their scripts from a CDN: offline, /docs was a blank page
    app = FastAPIOffline(title="llmclf", version=__version__, lifespan=lifespan, responses=ERRORS)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    # an answer for 256 texts x 77 classes is ~680 KB; gzip runs on the event loop, where every other client waits
    # for it: level 1 (3.6 ms, 4.5x smaller), not Starlette's default 9 (19.9 ms, 7.0x) (bench/gzip_answers.py)
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)
    bearer = HTTPBearer(auto_error=False)

    async def one_value_per_key(request: Request) -> None:
        """JSON keeps the last of two equal keys without a word ({"texts": [...], "texts": [...]} classified the
        second list); llmclf's file readers refuse such keys, and so does the service."""
        try:
            json.loads(await request.body(), object_pairs_hook=unique_pairs)
        except GivenTwice as exc:
            raise HTTPException(422, f"the key {exc.key!r} is given twice in one object") from None
        except (ValueError, RecursionError):
            return  # not JSON: FastAPI's own parse says what is wrong

    async def authorized(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        if creds is None or not hmac.compare_digest(creds.credentials.encode(), api_key.encode()):
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def log_or_not(write, *args):
        """Log runs; a run log that cannot be written (a full disk) costs the answer its run ids, not the answer."""
        try:
            return await run_in_threadpool(write, *args)
        except StoreError as exc:
            log.error("run log unavailable, answering without run ids: %s", exc)
            return None

    def llm_client():
        if llm is None:
            raise HTTPException(503, f"no LLM configured on the server: {HOW_TO_CONFIGURE}")
        if "llm" not in state:
            from ..llm.client import OpenAICompatibleLLM

            state["llm"] = SharedLLM(OpenAICompatibleLLM(llm), llm_calls)
        REQUEST.set(object())  # this request's calls take their turns apart from every other request's
        return state["llm"]

    def pick_model(name: str | None) -> tuple[str, Classifier]:
        if name is None:
            if len(loaded) != 1:
                raise HTTPException(
                    422, f"say which model: one of {sorted(loaded)}" if loaded else "no model is loaded"
                )
            name = next(iter(loaded))
        if name not in loaded:
            raise HTTPException(404, f"unknown model {name!r}; loaded: {sorted(loaded)}")
        return name, loaded[name]

    @app.exception_handler(StarletteHTTPException)  # FastAPI's, and the router's own 404 and 405 too
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's, for bytes that
            detail = "the body could not be read as JSON text: JSON is sent in UTF-8"  # no JSON decoder can read
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Overloaded)
    async def _overloaded(_request: Request, exc: Overloaded) -> JSONResponse:
        message = (
            str(exc) or f"the server is busy: this request did not finish within {request_timeout:g} s; retry later"
        )
        return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(ClientGone)
    async def _gone(_request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it: the client has left

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        body_refused = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
        if body_refused and not _is_json(request.headers.get("content-type", "")):  # FastAPI reads JSON only so
            message = "the body must be JSON, sent with Content-Type: application/json"
            message += " (curl: -H 'Content-Type: application/json')"
            return JSONResponse({"error": message}, status_code=415)
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]  # no input echo
        return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        log.error("%s", exc)
        return JSONResponse({"error": "storage unavailable"}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(LLMError)
    async def _llm_error(_request: Request, exc: LLMError) -> JSONResponse:
        return JSONResponse({"error": exc.public}, status_code=502)  # never the LLM's address

    @app.exception_handler(OSError)  # handled here, so that Starlette does not raise it again to uvicorn's log
    async def _os_error(_request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.EMFILE, errno.ENFILE):  # idle clients hold them all: the next request may find one
            log.error("out of file descriptors (open files limit %s): %s", open_files_limit(), exc.strerror)
            message = "the server has no file descriptor free for this request; retry later"
            return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "2"})
        return await _crash(_request, exc)

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the details stay in the server log
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok", models=len(loaded))

    @app.head("/healthz", include_in_schema=False)
    async def healthz_head() -> Response:
        return Response(status_code=200)

    @app.get("/models", response_model=list[ModelInfo], dependencies=[Depends(authorized)])
    async def list_models() -> list[ModelInfo]:
        return [
            ModelInfo(name=n, classes=c.class_names, embedder=c.embedder_.id, model_id=c.model_id)
            for n, c in loaded.items()
        ]

    @app.post(
        "/classify", response_model=ClassifyResponse, dependencies=[Depends(authorized), Depends(one_value_per_key)]
    )
    async def classify(body: ClassifyRequest, request: Request) -> ClassifyResponse:
        name, clf = pick_model(body.model)
        client = llm_client() if body.cascade_below is not None else None  # 503 before any work
        predictions = [p.limited(body.top_n, body.threshold) for p in await infer(clf, body.texts, request)]
        target = model_target(clf.model_id)
        if client is not None:
            from ..cascade import send_unsure

            few_shot = await run_in_threadpool(feedback_sets.few_shot, target, clf.embedder_, k) if k else None
            await send_unsure(clf.descriptions, predictions, client, body.cascade_below, few_shot=few_shot, public=True)
        ids: list[str | None] = [None] * len(predictions)
        if log_runs:
            records = [(p.text, p.label, p.probabilities) for p in predictions]
            ids = await log_or_not(runs.log, "classify", target, name, clf.class_names, records) or ids
        return ClassifyResponse(
            model=name,
            results=[
                ClassifyItem(**p.to_dict() | {"run_id": run_id}) for p, run_id in zip(predictions, ids, strict=True)
            ],
        )

    @app.post("/tag", response_model=TagResponse, dependencies=[Depends(authorized), Depends(one_value_per_key)])
    async def tag(body: TagRequest, request: Request) -> TagResponse:
        from ..embedding_tagger import BuildsBusy, atag_texts

        if body.tags is not None:
            tags = [Tag(str(t.tag_id), t.name, t.instructions) for t in body.tags]
            asked: list = [t.model_dump() for t in body.tags]  # ids as sent: atag_texts answers in their type
            set_name = inline_set_name(tags)  # inline tags still take feedback and build a dataset
        else:
            tags = await run_in_threadpool(store.tags, body.tag_set)
            if not tags:
                raise HTTPException(404, f"unknown tag set {body.tag_set!r}")
            asked, set_name = tags, body.tag_set
        client = llm_client() if llm is not None else None
        if body.cascade_below is not None and client is None:
            raise HTTPException(503, f"cascade_below needs an LLM on the server: {HOW_TO_CONFIGURE}")
        target = set_target(set_name)
        dataset = await run_in_threadpool(feedback_sets.dataset, target)
        few_shot = (
            await run_in_threadpool(feedback_sets.few_shot, target, embedder(), k, dataset) if k and client else None
        )
        try:
            results = await atag_texts(
                body.texts,
                asked,
                llm=client,
                cascade_below=body.cascade_below,
                multi=body.multi,
                confidence=body.confidence,
                embedder=embedder(),
                examples=dataset.examples,
                digest=dataset.digest,
                few_shot=few_shot,
                infer=lambda clf, texts: infer(clf, texts, request),
                build_timeout=request_timeout,  # a new set's head is built once, on past a 503: a retry finds it ready
            )
        except BuildsBusy as exc:  # other new tag sets wait for their heads already
            raise Overloaded(f"the server is busy: {exc}") from None
        except TimeoutError:  # the tag set's head is still being built
            raise Overloaded() from None
        if log_runs:
            await log_or_not(runs.log_tags, set_name, [t.name for t in tags], results, body.multi)
        return TagResponse(texts=[r.text for r in results], predictions=[tag_prediction(r) for r in results])

    @app.post(
        "/feedback", response_model=FeedbackResponse, dependencies=[Depends(authorized), Depends(one_value_per_key)]
    )
    async def feedback(body: FeedbackRequest) -> FeedbackResponse:
        try:
            outcome = await run_in_threadpool(runs.record, body.run_id, body.score, body.correction)
        except InputError as exc:
            status = 404 if str(exc).startswith("unknown run id") else 422
            raise HTTPException(status, str(exc)) from None
        return FeedbackResponse(run_id=outcome.run_id, stored=True, replaced=outcome.replaced, label=outcome.label)

    def embedder():
        if "embedder" not in state:
            state["embedder"] = get_embedder()
        return state["embedder"]

    app.state.models = loaded
    app.state.batcher = batcher
    app.state.llm_calls = llm_calls
    app.state.store = store
    app.state.requires_key = api_key is not None
    return app


def _is_json(content_type: str) -> bool:
    """Whether a Content-Type names JSON, as FastAPI reads it: application/json or application/*+json."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def tag_prediction(result) -> TagPrediction:
    """One TagResult in the tutorial's shape; LLM failures are named without the LLM's address."""
    chosen = [TagChoiceOut(id=t["tag_id"], name=t["name"], confidence=t.get("confidence")) for t in result.tags or []]
    best = chosen[0] if chosen else None
    return TagPrediction(
        id=best.id if best else None,
        name=best.name if best else None,
        confidence=best.confidence if best else None,
        tags=chosen or None,
        source=result.source,
        error=(result.public_error or "tagging failed") if result.error else None,
        llm_error=(result.public_error or "the LLM call failed") if result.llm_error else None,
        run_id=result.run_id,
        feedback_pending=True if result.feedback_pending else None,
    )


def inline_set_name(tags: list[Tag]) -> str:
    """A stable name for tags sent inline, so their runs still take feedback and build a dataset."""
    blob = json.dumps(sorted((t.tag_id, t.name) for t in tags)).encode()
    return f"inline-{hashlib.sha256(blob).hexdigest()[:12]}"


def model_names(paths: list[Path]) -> dict[str, Path]:
    """Name each bundle by its file stem; two bundles with one stem are an error."""
    names: dict[str, Path] = {}
    for path in paths:
        if path.stem in names:
            raise InputError(f"two models are named {path.stem!r}: {names[path.stem]} and {path}")
        names[path.stem] = path
    return names
