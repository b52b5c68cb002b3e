"""The HTTP service under a real uvicorn on 127.0.0.1, driven with httpx."""

import asyncio
import re

import httpx
import pytest

from llmclf import Classifier
from llmclf.llm import resolve_llm
from llmclf.service import create_app
from llmclf.store import Store

from .fakellm import FakeLLMServer, tool_reply
from .served import serving
from .tutorial import TUTORIAL_BODY


def phone_or_email(req, n):
    text = next(m["content"] for m in req["messages"] if "Text:\n" in (m.get("content") or ""))
    return tool_reply(req, {"tag": "2: email" if "@" in text else "1: phone"})


@pytest.fixture(scope="module")
def fake_llm():
    with FakeLLMServer(phone_or_email) as server:
        yield server


@pytest.fixture(scope="module")
def service(pets_bundle, tmp_path_factory, fake_llm):
    db = tmp_path_factory.mktemp("svc") / "db.sqlite"
    Store(db).add_tags("contact", [("1", "phone", "Phone number"), ("2", "email", "Email address")])
    llm = resolve_llm(base_url=fake_llm.base_url, timeout=5, max_retries=0, env={})
    app = create_app({"pets": pets_bundle}, db=db, llm=llm, max_body_bytes=64 * 1024)
    with serving(app) as url:
        yield url


def test_healthz_and_models(service, pets_bundle):
    assert httpx.get(f"{service}/healthz").json() == {"status": "ok", "models": 1}
    (model,) = httpx.get(f"{service}/models").json()
    assert model == {
        "name": "pets",
        "classes": ["cat", "dog"],
        "embedder": "minilm-l6-v2-int8-matmul",
        "model_id": Classifier.load(pets_bundle).model_id,  # which version is served (a retrain changes it)
    }


def test_classify(service):
    r = httpx.post(f"{service}/classify", json={"texts": ["woof", "meow"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "pets"
    assert [x["prediction"] for x in body["results"]] == ["dog", "cat"]
    assert abs(sum(body["results"][0]["probabilities"].values()) - 1) < 1e-4
    unknown = httpx.post(f"{service}/classify", json={"texts": ["woof"], "model": "nope"})
    assert unknown.status_code == 404 and "unknown model 'nope'" in unknown.json()["error"]


def test_classify_threshold_top_n_and_cascade(pets_bundle, tmp_path):
    texts = ["woof", "meow", "hello there"]
    confidence = {p.text: p.confidence for p in Classifier.load(pets_bundle).classify(texts)}
    below = sorted(confidence.values())[1] + 1e-6  # the two least sure texts go to the LLM

    def always_cat(req, n):
        return tool_reply(req, {"tag": "cat"})

    with FakeLLMServer(always_cat) as fake:
        llm = resolve_llm(base_url=fake.base_url, timeout=5, max_retries=0, env={})
        with serving(create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite", llm=llm)) as url:
            plain = httpx.post(f"{url}/classify", json={"texts": texts, "threshold": 1.0, "top_n": 1}).json()
            cascaded = httpx.post(f"{url}/classify", json={"texts": texts, "cascade_below": below}, timeout=60).json()
        assert len(fake.requests) == 2
    assert all(r["prediction"] is None and len(r["probabilities"]) == 1 for r in plain["results"])
    sources = {r["text"]: (r["source"], r["prediction"]) for r in cascaded["results"]}
    unsure = sorted(texts, key=confidence.get)[:2]
    assert all(sources[t] == ("llm", "cat") for t in unsure)
    assert sources[({*texts} - {*unsure}).pop()][0] == "head"
    with serving(create_app({"pets": pets_bundle}, db=tmp_path / "db2.sqlite")) as url:
        no_llm = httpx.post(f"{url}/classify", json={"texts": texts, "cascade_below": 0.5})
    assert no_llm.status_code == 503 and "no LLM configured" in no_llm.json()["error"]


def test_tag_with_a_stored_set_and_with_inline_tags(service):
    r = httpx.post(f"{service}/tag", json={"texts": ["call 555-1234", "bob@example.com"], "set": "contact"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["texts"] == ["call 555-1234", "bob@example.com"]
    assert [(x["id"], x["name"], x["source"]) for x in body["predictions"]] == [
        ("1", "phone", "llm"),
        ("2", "email", "llm"),
    ]
    inline = {"texts": ["555-1234"], "tags": [{"tag_id": "1", "name": "phone"}, {"tag_id": "2", "name": "email"}]}
    (result,) = httpx.post(f"{service}/tag", json=inline).json()["predictions"]
    assert result["name"] == "phone" and result["run_id"]  # inline tags are logged too
    fb = httpx.post(f"{service}/feedback", json={"run_id": result["run_id"], "correction": "email"})
    assert fb.status_code == 200 and fb.json()["label"] == "email"
    missing = httpx.post(f"{service}/tag", json={"texts": ["x"], "set": "nope"})
    assert missing.status_code == 404
    both = httpx.post(f"{service}/tag", json={**inline, "set": "contact"})
    assert both.status_code == 422 and "exactly one of" in both.text


def test_tag_takes_the_tutorials_body_verbatim_and_answers_in_its_shape(service):
    def by_text(req, n):
        text = next(m["content"] for m in req["messages"] if "Text:\n" in (m.get("content") or ""))
        return tool_reply(req, {"tag": "2: email" if "email" in text else "1: phone"})

    r = httpx.post(f"{service}/tag", json=TUTORIAL_BODY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["texts"] == TUTORIAL_BODY["texts"]
    allowed = {(t["id"], t["name"]) for t in TUTORIAL_BODY["tags"]}
    for p in body["predictions"]:
        assert (p["id"], p["name"]) in allowed and isinstance(p["id"], int)  # ids come back as the numbers sent
        assert p["error"] is None and p["run_id"]


def test_tag_without_llm_tags_offline_with_the_tutorials_body(pets_bundle, tmp_path):
    with serving(create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite")) as url:
        r = httpx.post(f"{url}/tag", json=TUTORIAL_BODY, timeout=60)
        cascade = httpx.post(f"{url}/tag", json={**TUTORIAL_BODY, "cascade_below": 0.5})
    assert r.status_code == 200, r.text
    body = r.json()
    allowed = {(t["id"], t["name"]) for t in TUTORIAL_BODY["tags"]}
    assert body["texts"] == TUTORIAL_BODY["texts"]
    assert all((p["id"], p["name"]) in allowed and p["source"] == "embedding" for p in body["predictions"])
    assert [p["name"] for p in body["predictions"][:3]] == ["phone", "email", "address"]
    assert cascade.status_code == 503 and "needs an LLM" in cascade.json()["error"]


def test_feedback_route_exists_and_validates(service):
    assert httpx.post(f"{service}/feedback", json={"run_id": "x"}).status_code == 422
    assert httpx.post(f"{service}/feedback", json={"run_id": "x", "score": 1}).status_code in (200, 404, 501)


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"texts": ["a"] * 257}, 422, "at most 256"),
        ({"texts": ["a" * 10_001]}, 422, "at most 10000"),
        ({"texts": [""]}, 422, "at least 1 character"),
        ({"texts": ["ok"], "surprise": 1}, 422, "Extra inputs"),
    ],
)
def test_limits_answer_422_with_a_clear_json_error(service, body, status, message):
    r = httpx.post(f"{service}/classify", json=body)
    assert r.status_code == status
    assert r.json()["error"] == "invalid request" and message in r.text
    assert "a" * 100 not in r.text  # the input is not echoed back


@pytest.mark.parametrize(
    "route, raw, key",
    [
        ("/classify", b'{"texts": ["meow"], "texts": ["woof"]}', "texts"),
        ("/tag", b'{"texts": ["x"], "tags": [{"id": 1, "name": "a", "name": "b"}, {"id": 2, "name": "c"}]}', "name"),
        ("/feedback", b'{"run_id": "x", "correction": "cat", "correction": "dog"}', "correction"),
    ],
)
def test_a_key_given_twice_in_a_body_is_refused_not_taken_as_the_last(service, route, raw, key):
    """{"texts": ["meow"], "texts": ["woof"]} classified "woof": JSON keeps the last value without a word."""
    r = httpx.post(f"{service}{route}", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json() == {"error": f"the key {key!r} is given twice in one object"}
    assert httpx.post(f"{service}/classify", json={"texts": ["woof"]}).status_code == 200  # one of each is fine


def test_body_over_the_limit_is_413(service):
    big = {"texts": ["x" * 9000] * 10}  # ~90 KB > 64 KB
    r = httpx.post(f"{service}/classify", json=big)
    assert r.status_code == 413 and "larger than 65536 bytes" in r.json()["error"]

    def chunks():
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"]}'

    chunked = httpx.post(f"{service}/classify", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413


def test_a_gzip_body_is_read_and_held_to_the_limit_once_decompressed(service):
    """A body sent gzip-compressed (log shippers and big batch clients do) was handed to the JSON parser still
    compressed: 400 'JSON is sent in UTF-8'. It is decompressed now, and a small body that unpacks past the limit (a
    gzip bomb) is 413 without being unpacked whole; a coding the server cannot read is 415, broken gzip 400."""
    import gzip
    import json
    import zlib

    raw = json.dumps({"texts": ["woof", "meow"]}).encode()
    for coding, packed in (("gzip", gzip.compress(raw)), ("GZip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
        r = httpx.post(
            f"{service}/classify",
            content=packed,
            headers={"content-type": "application/json", "content-encoding": coding},
        )
        assert r.status_code == 200, (coding, r.text)
        assert [x["prediction"] for x in r.json()["results"]] == ["dog", "cat"]
    bomb = gzip.compress(b'{"texts": ["' + b"x" * 50_000_000 + b'"]}')  # ~50 KB that unpacks to 50 MB
    assert len(bomb) < 64 * 1024
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    r = httpx.post(f"{service}/classify", content=bomb, headers=headers)
    assert r.status_code == 413 and "once decompressed" in r.json()["error"]
    for broken in (b"not gzip at all", gzip.compress(raw)[:-5], gzip.compress(raw) + b"junk"):
        r = httpx.post(f"{service}/classify", content=broken, headers=headers)
        assert r.status_code == 400 and r.json() == {"error": "the body is not valid gzip data"}, r.text
    r = httpx.post(f"{service}/classify", content=raw, headers={**headers, "content-encoding": "br"})
    assert r.status_code == 415 and "Content-Encoding 'br' is not supported" in r.json()["error"]
    r = httpx.post(f"{service}/classify", content=raw, headers={**headers, "content-encoding": "identity"})
    assert r.status_code == 200


def test_a_big_answer_is_gzipped_for_a_client_that_accepts_it(service):
    texts = ["woof", "meow"] * 40
    raw = httpx.post(f"{service}/classify", json={"texts": texts}, headers={"accept-encoding": "identity"})
    packed = httpx.post(f"{service}/classify", json={"texts": texts}, headers={"accept-encoding": "gzip"})
    assert raw.status_code == packed.status_code == 200
    assert "content-encoding" not in raw.headers and packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(raw.content) / 3
    assert [x["prediction"] for x in packed.json()["results"]] == [x["prediction"] for x in raw.json()["results"]]
    # gzip runs on the event loop: the fastest level (gzip's header says which, byte 8: 4), not Starlette's 9 (2),
    # which took 5x longer on the loop (bench/gzip_answers.py)
    with httpx.stream("POST", f"{service}/classify", json={"texts": texts}, headers={"accept-encoding": "gzip"}) as r:
        head = b"".join(r.iter_raw())[:10]
    assert head[:2] == b"\x1f\x8b" and head[8] == 4, head


def test_a_body_sent_without_a_json_content_type_is_415_and_says_so(service):
    """`curl -d '{...}'` sends application/x-www-form-urlencoded, which FastAPI does not read as JSON: the answer was
    422 'Input should be a valid dictionary or object to extract fields from'."""
    body = '{"texts": ["woof"]}'
    for headers in ({"content-type": "application/x-www-form-urlencoded"}, {"content-type": "text/plain"}, {}):
        r = httpx.post(f"{service}/classify", content=body, headers=headers)
        assert r.status_code == 415 and "Content-Type: application/json" in r.json()["error"], (headers, r.text)
    for kind in ("application/json; charset=utf-8", "application/merge-patch+json"):
        assert httpx.post(f"{service}/classify", content=body, headers={"content-type": kind}).status_code == 200
    wrong = httpx.post(f"{service}/classify", json={"texts": []})
    assert wrong.status_code == 422 and wrong.json()["error"] == "invalid request"
    latin = '{"texts": ["caf\xe9"]}'.encode("latin-1")  # said only "There was an error parsing the body"
    r = httpx.post(f"{service}/classify", content=latin, headers={"content-type": "application/json; charset=latin-1"})
    assert r.status_code == 400 and r.json() == {
        "error": "the body could not be read as JSON text: JSON is sent in UTF-8"
    }


def test_openapi_document_is_generated_from_the_models(service):
    doc = httpx.get(f"{service}/openapi.json").json()
    assert {"/classify", "/tag", "/feedback", "/models", "/healthz"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert {"TagRequest", "TagResponse", "ClassifyRequest", "ClassifyResponse"} <= set(schemas)
    assert schemas["ClassifyRequest"]["properties"]["texts"]["maxItems"] == 256
    assert httpx.get(f"{service}/docs").status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_the_service_itself(service, page):
    """FastAPI's own pages load Swagger UI and ReDoc from cdn.jsdelivr.net: offline, /docs was a blank page."""
    html = httpx.get(f"{service}{page}").text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"""url: ?["']([^"']+)["']""", html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts and not [a for a in assets if "//" in a and not a.startswith(service)], assets
    for asset in assets:
        got = httpx.get(httpx.URL(service).join(asset))
        assert got.status_code == 200 and got.content, asset
    assert any(len(httpx.get(httpx.URL(service).join(s)).content) > 100_000 for s in scripts)


def test_requests_run_concurrently(service):
    async def go():
        async with httpx.AsyncClient(base_url=service, timeout=60) as client:
            replies = await asyncio.gather(
                *(client.post("/classify", json={"texts": [f"woof {i}"] * 8}) for i in range(20))
            )
        return [r.status_code for r in replies]

    assert asyncio.run(go()) == [200] * 20


def test_bearer_auth_when_api_key_is_set(pets_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMCLF_API_KEY", "s3cret-token\r\n")  # an env file's line end: every client got 401
    app = create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite")
    with serving(app) as url:
        assert httpx.post(f"{url}/classify", json={"texts": ["woof"]}).status_code == 401
        wrong = httpx.post(f"{url}/classify", json={"texts": ["woof"]}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "s3cret-token" not in wrong.text
        ok = httpx.post(f"{url}/classify", json={"texts": ["woof"]}, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200  # health checks need no token
        assert httpx.get(f"{url}/models").status_code == 401


def test_llm_failures_reach_api_clients_without_the_llms_address(pets_bundle, tmp_path):
    from .fakellm import error_reply

    with FakeLLMServer(lambda req, n: error_reply(500)) as fake:
        secret_url = fake.base_url.replace("http://", "http://admin:hunter2@") + "?key=s3cret"
        llm = resolve_llm(base_url=secret_url, timeout=5, max_retries=0, env={})
        with serving(create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite", llm=llm)) as url:
            tagged = httpx.post(f"{url}/tag", json=TUTORIAL_BODY, timeout=60)
            cascaded = httpx.post(f"{url}/classify", json={"texts": ["hello"], "cascade_below": 1.0}, timeout=60)
    for r in (tagged, cascaded):
        assert r.status_code == 200, r.text
        assert "hunter2" not in r.text and "s3cret" not in r.text and "127.0.0.1" not in r.text
    assert all(p["error"] == "the LLM failed (HTTP 500)" for p in tagged.json()["predictions"])
    assert cascaded.json()["results"][0]["llm_error"] == "the LLM failed (HTTP 500)"


def test_a_run_log_that_cannot_be_written_costs_the_run_ids_not_the_answer(pets_bundle, tmp_path, monkeypatch):
    """A full disk under the run log made every /classify and /tag a 503 "storage unavailable", though the
    predictions were made: the run ids are what is lost, and the answer comes with run_id null."""
    from llmclf.errors import StoreError
    from llmclf.feedback import RunLog

    def full(self, *args, **kwargs):
        raise StoreError("database db.sqlite: database or disk is full")

    monkeypatch.setattr(RunLog, "log", full)
    with serving(create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite")) as url:
        classified = httpx.post(f"{url}/classify", json={"texts": ["woof woof"]}, timeout=60)
        tagged = httpx.post(f"{url}/tag", json=TUTORIAL_BODY, timeout=60)
        feedback = httpx.post(f"{url}/feedback", json={"run_id": "01a212c6-10fb-741b-a000-000000000000", "score": 1})
    assert classified.status_code == 200, classified.text
    (item,) = classified.json()["results"]
    assert item["prediction"] == "dog" and item["run_id"] is None
    assert tagged.status_code == 200 and all(p["run_id"] is None and p["name"] for p in tagged.json()["predictions"])
    assert feedback.status_code == 404  # feedback itself still reads and writes the log


def test_server_error_does_not_leak_details(pets_bundle, tmp_path, monkeypatch):
    app = create_app({"pets": pets_bundle}, db=tmp_path / "db.sqlite")

    def boom(*a, **k):
        raise RuntimeError("sk-leaky-secret in a stack trace")

    monkeypatch.setattr(app.state.models["pets"], "classify", boom)
    with serving(app) as url:
        r = httpx.post(f"{url}/classify", json={"texts": ["woof"]})
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
