"""Schema fuzzing: schemathesis drives the running service from its own OpenAPI document (slow suite)."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from llmclf.llm import resolve_llm  # noqa: E402
from llmclf.service import create_app  # noqa: E402
from llmclf.store import Store  # noqa: E402

from .fakellm import FakeLLMServer, tool_reply  # noqa: E402
from .served import serving  # noqa: E402

pytestmark = pytest.mark.slow


def first_allowed_tag(req, n):
    """Answer any tagging request with the first tag its schema allows."""
    props = req["tools"][0]["function"]["parameters"]
    if "tag" in props["properties"]:
        return tool_reply(req, {"tag": props["properties"]["tag"]["enum"][0], "confidence": 0.5})
    items = props["properties"]["tags"]["items"]
    if "enum" in items:
        return tool_reply(req, {"tags": [items["enum"][0]]})
    item = next(iter(props["$defs"].values()))["properties"]
    return tool_reply(req, {"tags": [{"tag": item["tag"]["enum"][0], "confidence": 0.5}]})


@pytest.fixture(scope="module")
def service_url(pets_bundle, tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "db.sqlite"
    Store(db).add_tags("contact", [("1", "phone", "Phone number"), ("2", "email", "Email")])
    with FakeLLMServer(first_allowed_tag) as llm_server:
        llm = resolve_llm(base_url=llm_server.base_url, timeout=5, max_retries=0, env={})
        with serving(create_app({"pets": pets_bundle}, db=db, llm=llm)) as url:
            yield url


def test_no_request_makes_a_server_error(service_url):
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{service_url}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case):
            response = case.call(base_url=service_url, timeout=60)
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])

        no_500()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /classify", "POST /tag", "POST /feedback", "GET /models", "GET /healthz"} <= set(checked)
