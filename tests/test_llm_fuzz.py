"""Hypothesis fuzzing of what an LLM endpoint answers: any status, any body, any tool-call arguments.

Tagging and generation must come back with valid tags, examples, or error records; never an exception (but for
bad credentials, which stop a run on purpose) and never a tag outside the set.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmclf.llm import LLMGenerator, resolve_llm
from llmclf.llm.client import OpenAICompatibleLLM
from llmclf.tagging import Tagger

from .fakellm import FakeLLMServer, Reply, error_reply, tool_reply
from .test_tagging import TAGS

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
choices = st.sampled_from([f"{t.tag_id}: {t.name}" for t in TAGS] + ["9: fax", "", "phone"])
arguments = st.one_of(
    json_values,
    st.text(max_size=40),  # not JSON at all
    st.fixed_dictionaries({"tag": choices}),
    st.fixed_dictionaries({"tag": choices, "confidence": json_values}),
    st.fixed_dictionaries({"tags": st.lists(choices | json_values, max_size=4)}),
    st.fixed_dictionaries({"examples": st.lists(st.text(max_size=30) | json_values, max_size=5)}),
)
replies = st.one_of(
    arguments.map(lambda a: ("tool", a)),
    st.tuples(st.sampled_from([400, 404, 409, 422, 429, 500, 502, 503]), st.text(max_size=30)),
    st.text(max_size=60).map(lambda t: (200, t)),  # a 200 whose body is not JSON
)


def scripted(plan):
    def script(request, n):
        kind, value = plan[(n - 1) % len(plan)]
        if kind == "tool":
            return tool_reply(request, value)
        if kind == 200:
            return Reply(200, value)
        return error_reply(kind, value)

    return script


def config_for(server):
    return resolve_llm(base_url=server.base_url, timeout=2, max_retries=0, env={})


@FUZZ
@given(plan=st.lists(replies, min_size=1, max_size=4), multi=st.booleans(), confidence=st.booleans())
def test_tagging_returns_tags_of_the_set_or_error_records_whatever_the_llm_answers(plan, multi, confidence):
    allowed = {t.name for t in TAGS}
    with FakeLLMServer(scripted(plan)) as server:
        tagger = Tagger(
            OpenAICompatibleLLM(config_for(server)), TAGS, multi=multi, confidence=confidence, max_retries=1
        )
        results = tagger.tag(["call me at 555-0100", "write to me at a@b.example"])
    assert len(results) == 2
    for result in results:
        if result.ok:
            assert result.tags and {t["name"] for t in result.tags} <= allowed
            if confidence:
                assert all(0.0 <= t["confidence"] <= 1.0 for t in result.tags)
        else:
            assert result.error and "\n" not in result.error.strip()
            json.dumps(result.public_error)


@FUZZ
@given(plan=st.lists(replies, min_size=1, max_size=4))
def test_generation_keeps_only_text_examples_or_says_the_class_failed(plan):
    classes = {"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch sticks."}
    with FakeLLMServer(scripted(plan)) as server:
        result = LLMGenerator(config_for(server), None, examples_per_class=2, concurrency=2).generate(classes, [])
    assert all(isinstance(e.text, str) and e.text.strip() and e.label in classes for e in result.examples)
    assert set(result.failed) <= set(classes)
