"""The LLM layer against a scripted OpenAI-compatible server: retries, re-asks, partial failure, cache."""

import json
import os
import threading

import pytest
from typer.testing import CliRunner

from llmclf import Classifier, LLMError, Source
from llmclf.cli import app
from llmclf.llm import GenerationCache, LLMGenerator, resolve_llm

from .conftest import without_waiting_on
from .fakellm import FakeLLMServer, Reply, class_of, error_reply, tool_reply

CLASSES = {"cat": "Cats meow and purr.", "dog": "Dogs bark and fetch sticks."}
TEXTS = {
    "cat": ["my kitten naps in the sun", "she purrs when I stroke her", "the tabby chased a mouse", "litter box again"],
    "dog": ["we walked the puppy twice", "he fetched the ball", "the hound howled at night", "bought a new leash"],
}


def examples_for(request, n=None):
    name = class_of(request)
    prompt = next(m["content"] for m in request["messages"] if "Write " in (m.get("content") or ""))
    asked = int(prompt.split("Write ", 1)[1].split(" ", 1)[0])
    return tool_reply(request, {"examples": TEXTS[name][: n or asked]})


def generator(server, n=3, concurrency=8, cache=None, embedder=None, retries=2, timeout=0.5):
    config = resolve_llm(base_url=server.base_url, timeout=timeout, max_retries=retries, env={})
    return LLMGenerator(config, embedder, examples_per_class=n, concurrency=concurrency, cache=cache)


def chat_requests(server):
    return len(server.requests)


def test_the_examples_asked_per_class_are_bounded_in_the_api_and_the_cli(tmp_path):
    """-n 10**9 asked the LLM without end, a few texts a call, until two calls in a row added nothing."""
    config = resolve_llm(base_url="http://127.0.0.1:9/v1", env={})
    for bad in (10**9, 1001, 0, "5", 2.5):
        with pytest.raises(ValueError, match="examples_per_class must be a whole number from 1 to 1000"):
            LLMGenerator(config, None, examples_per_class=bad)
    assert LLMGenerator(config, None, examples_per_class=1000).examples_per_class == 1000
    args = ["train", "--class", "a: x", "--class", "b: y", "-n", "1001", "--save", str(tmp_path / "m.model")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "1000" in result.stderr  # the runner shows usage errors in a box


def test_429_then_success_is_retried():
    script = lambda req, n: error_reply(429, "slow down") if n == 1 else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, concurrency=1).generate(CLASSES, [])
    assert result.failed == {}
    assert sorted(e.text for e in result.examples if e.label == "cat") == sorted(TEXTS["cat"][:3])
    assert result.calls == chat_requests(server) == 3  # one 429, then one call per class


def test_persistent_500_fails_one_class_and_keeps_the_others():
    script = lambda req, n: error_reply(500) if class_of(req) == "dog" else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, retries=2).generate(CLASSES, [])
    assert "HTTP 500" in result.failed["dog"]
    assert {e.label for e in result.examples} == {"cat"}
    assert sum(class_of(r) == "dog" for r in server.requests) == 3  # first try + 2 retries, then stop


def test_prompt_train_with_an_llm_that_failed_every_class_raises_before_fitting():
    """Classifier(generator=...).prompt_train() with an LLM answering 500 to every call trained without a word: the
    report's generation.failed was the only trace. It raises one LLMError naming the failure; one class's failure
    is still not an error."""
    with FakeLLMServer(lambda req, n: error_reply(500)) as server:
        clf = Classifier(generator=generator(server, retries=0))
        with pytest.raises(LLMError, match=r"^the LLM gave no synthetic data for any class \(.*HTTP 500"):
            clf.prompt_train(CLASSES)
    assert clf.head is None
    script = lambda req, n: error_reply(500) if class_of(req) == "dog" else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        clf = Classifier(generator=generator(server, retries=0)).prompt_train(CLASSES)
    assert list(clf.report.generation.failed) == ["dog"] and clf.predict(["meow"]).shape == (1,)


def test_reply_slower_than_the_timeout_fails_that_class_without_hanging():
    script = lambda req, n: Reply(delay=3.0) if class_of(req) == "dog" else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, retries=1, timeout=0.4).generate(CLASSES, [])
    assert "timed out" in result.failed["dog"]
    assert len([e for e in result.examples if e.label == "cat"]) == 3


def test_malformed_json_is_reasked_then_accepted():
    script = lambda req, n: tool_reply(req, '{"examples": ["unterminated') if n == 1 else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, concurrency=1).generate({"cat": CLASSES["cat"], "dog": CLASSES["dog"]}, [])
    assert result.failed == {}
    assert len(server.requests[1]["messages"]) > len(server.requests[0]["messages"])  # the re-ask carries the error


def test_malformed_json_forever_fails_that_class_after_bounded_reasks():
    script = lambda req, n: tool_reply(req, "not json at all") if class_of(req) == "cat" else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server).generate(CLASSES, [])
    assert "no valid structured reply" in result.failed["cat"]
    assert sum(class_of(r) == "cat" for r in server.requests) == 3  # 1 + max_reasks
    assert len([e for e in result.examples if e.label == "dog"]) == 3


def test_too_few_items_are_topped_up_by_another_call():
    def script(req, n):
        asked = req["messages"][-1]["content"]
        if "Write 4 " in asked:
            return tool_reply(req, {"examples": TEXTS[class_of(req)][:2]})
        assert "Write 2 " in asked and TEXTS[class_of(req)][0] in asked  # asks for the rest, avoiding repeats
        return tool_reply(req, {"examples": TEXTS[class_of(req)][2:4]})

    with FakeLLMServer(script) as server:
        result = generator(server, n=4).generate(CLASSES, [])
    assert result.failed == {} and result.short == {}
    assert sorted(e.text for e in result.examples if e.label == "dog") == sorted(TEXTS["dog"])
    assert result.calls == 4


def test_a_reply_cut_at_the_token_limit_is_asked_again_for_fewer_examples():
    """Every call for a class whose examples are long in tokens (200 characters of Chinese are ~200 tokens; the
    budget is 64 an example) stopped at max_tokens, and the class got no examples at all."""
    asked_for = []

    def script(req, n):
        prompt = next(m["content"] for m in req["messages"] if "Write " in (m.get("content") or ""))
        asked = int(prompt.split("Write ", 1)[1].split(" ", 1)[0])
        asked_for.append(asked)
        if asked > 2:  # no room for more than two of these in the tokens allowed
            reply = tool_reply(req, '{"examples": ["猫咪')
            reply.body["choices"][0]["finish_reason"] = "length"
            return reply
        done = sum(1 for a in asked_for if a <= 2)
        return tool_reply(req, {"examples": [f"猫咪 {class_of(req)} {done} {i}" for i in range(asked)]})

    with FakeLLMServer(script) as server:
        result = generator(server, n=5, concurrency=1).generate({"cat": CLASSES["cat"], "dog": CLASSES["dog"]}, [])
    assert result.failed == {} and result.short == {}, (result.failed, result.short)
    assert sorted(sum(e.label == c for e in result.examples) for c in ("cat", "dog")) == [5, 5]
    assert sorted(asked_for) == sorted([5, 2, 2, 1] * 2)  # per class: cut short, then halved for the rest


def test_an_endpoint_that_serves_several_models_is_not_given_the_first_one_listed(tmp_path):
    """Ollama lists every model pulled, embedding models too; with no model named, the first one listed was used."""
    script = lambda req, n: examples_for(req)  # noqa: E731
    args = ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "-n", "2", "--save"]
    with FakeLLMServer(script, model="nomic-embed-text", also=("llama3.1", "qwen2.5")) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "LLMCLF_CACHE_DIR": str(tmp_path / "cache")}
        refused = CliRunner().invoke(app, [*args, str(tmp_path / "a.model")], env=env)
        assert refused.exit_code == 2 and server.requests == [], refused.output
        assert refused.stderr == (
            f"error: {server.base_url} serves 3 models (nomic-embed-text, llama3.1, qwen2.5): pick one with "
            "--llm-model or LLMCLF_LLM_MODEL\n"
        )
        named = CliRunner().invoke(app, [*args, str(tmp_path / "b.model"), "--llm-model", "llama3.1"], env=env)
        assert named.exit_code == 0, named.output
    assert {r["model"] for r in server.requests} == {"llama3.1"}
    many = tuple(f"m{i}" for i in range(7))
    with FakeLLMServer(script, model="bad\x1b[2Jname", also=many) as server:  # the names are the endpoint's words
        env = {"OPENAI_BASE_URL": server.base_url, "LLMCLF_CACHE_DIR": str(tmp_path / "cache")}
        refused = CliRunner().invoke(app, [*args, str(tmp_path / "a.model")], env=env)
    assert "serves 8 models (bad [2Jname, m0, m1, m2, m3 and 3 more): pick one" in refused.stderr, refused.stderr


def test_too_few_items_forever_ends_short_instead_of_looping():
    script = lambda req, n: tool_reply(req, {"examples": TEXTS[class_of(req)][:2]})  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, n=10).generate(CLASSES, [])
    assert result.short == {"cat": 2, "dog": 2}
    assert result.calls == 6  # two calls in a row per class added nothing new, so it stopped


def test_bad_credentials_fail_at_once_naming_the_endpoint_not_the_key():
    with FakeLLMServer(lambda req, n: error_reply(401, "invalid api key")) as server:
        config = resolve_llm(base_url=server.base_url, api_key="sk-top-secret", max_retries=3, env={})
        with pytest.raises(LLMError) as info:
            LLMGenerator(config, None, examples_per_class=3).generate(CLASSES, [])
    assert server.base_url in str(info.value) and "authentication failed" in str(info.value)
    assert "sk-top-secret" not in str(info.value)
    assert len(server.requests) <= 2  # no retries: each class tried once at most
    assert server.headers[0]["authorization"] == "Bearer sk-top-secret"


def test_cli_auth_error_is_one_line_without_the_key(tmp_path):
    with FakeLLMServer(lambda req, n: error_reply(401)) as server:
        result = CliRunner().invoke(
            app,
            ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--save", str(tmp_path / "m.model")],
            env={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-top-secret"},
        )
    assert result.exit_code == 2
    assert "authentication failed at" in result.stderr and "sk-top-secret" not in result.output + result.stderr
    assert not (tmp_path / "m.model").exists()


def test_retrain_from_cache_makes_no_calls(tmp_path):
    cache = GenerationCache(tmp_path / "cache")
    with FakeLLMServer(lambda req, n: examples_for(req)) as server:
        first = generator(server, cache=cache).generate(CLASSES, [])
        assert first.calls == 2
        second = generator(server, cache=cache).generate(CLASSES, [])
        assert second.calls == 0 and second.cached == 2
        assert [e.text for e in second.examples] == [e.text for e in first.examples]
        third = generator(server, cache=None).generate(CLASSES, [])  # --no-cache
        assert third.calls == 2
        changed = generator(server, cache=cache).generate({**CLASSES, "dog": "Dogs bark loudly."}, [])
        assert changed.calls == 1  # only the class whose prompt changed


@pytest.mark.parametrize(
    "entry",
    [{"examples": ["a cat that meows"]}, {"examples": ["x"], "model": {"a": 1}, "created_at": 5}, {"examples": [3]}],
    ids=["no model", "model not text", "no texts"],
)
def test_a_mangled_cache_entry_is_a_miss(tmp_path, entry):
    """A cache file that is JSON but not an entry this version wrote: asked again, never a crash (a missing
    "model" was a KeyError out of the generator)."""
    cache = GenerationCache(tmp_path / "cache")
    with FakeLLMServer(lambda req, n: examples_for(req)) as server:
        first = generator(server, cache=cache).generate(CLASSES, [])
        for path in (tmp_path / "cache").rglob("*.json"):
            path.write_text(json.dumps(entry), encoding="utf-8")
        again = generator(server, cache=cache).generate(CLASSES, [])
    assert again.calls == 2 and again.cached == 0 and not again.failed
    assert [e.text for e in again.examples] == [e.text for e in first.examples]


def test_prompt_carries_description_user_examples_and_other_classes():
    with FakeLLMServer(lambda req, n: examples_for(req)) as server:
        generator(server).generate(CLASSES | {"bird": None}, [Source_user("dog", "my beagle loves walks")])
    prompts = {class_of(r): r["messages"][-1]["content"] for r in server.requests}
    assert "Dogs bark and fetch sticks." in prompts["dog"] and "my beagle loves walks" in prompts["dog"]
    assert "cat" in prompts["dog"].split("other classes:", 1)[1] and "bird" in prompts["dog"]
    assert server.requests[0]["tools"][0]["function"]["name"] == "SyntheticExamples"  # instructor TOOLS mode


def Source_user(label, text):
    from llmclf import Example

    return Example(text, label, Source.USER)


def test_clean_up_drops_copies_duplicates_and_junk():
    from llmclf import MiniLMEmbedder

    junk = {
        "examples": [
            "Cats meow and purr.",  # a copy of the description
            "my kitten naps in the sun",
            "My kitten naps in the sun!",  # exact duplicate after normalising
            "my kitten naps in the sun.",
            "my little kitten naps in the sun",  # near duplicate by embedding
            ".1",
            "x" * 201,  # too long
            "the tabby chased a mouse",
        ]
    }
    script = lambda req, n: tool_reply(req, junk) if class_of(req) == "cat" else examples_for(req)  # noqa: E731
    with FakeLLMServer(script) as server:
        result = generator(server, n=8, embedder=MiniLMEmbedder()).generate(CLASSES, [])
    cats = [e.text for e in result.examples if e.label == "cat"]
    assert cats == ["my kitten naps in the sun", "the tabby chased a mouse"]
    assert result.short["cat"] == 2


def test_generation_embeds_off_the_callers_event_loop():
    """The near-duplicate filter embeds what the LLM wrote. From ``agenerate`` in a caller's web app, that must not
    hold its event loop: every embedding here waits for a tick of another coroutine, which a held loop never gives."""
    import asyncio

    from llmclf import MiniLMEmbedder

    tick = threading.Event()

    class WaitsForTheLoop(MiniLMEmbedder):
        calls = 0

        def embed(self, texts):
            WaitsForTheLoop.calls += 1
            tick.clear()
            assert tick.wait(timeout=10), "the event loop was held while embedding"
            return super().embed(texts)

    async def run(gen):
        done = False

        async def ticker():
            while not done:
                tick.set()
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        try:
            return await gen.agenerate(CLASSES, [])
        finally:
            done = True
            await ticking

    with FakeLLMServer(examples_for) as server:
        result = asyncio.run(run(generator(server, n=3, embedder=WaitsForTheLoop())))
    assert sorted(e.text for e in result.examples if e.label == "cat") == sorted(TEXTS["cat"][:3])
    assert WaitsForTheLoop.calls >= 3  # the known texts, then each class's answer


def test_concurrency_is_bounded():
    in_flight, peak, lock = [0], [0], threading.Lock()

    def script(req, n):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        import time

        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return tool_reply(req, {"examples": [f"text {n} {i} about {class_of(req)}" for i in range(2)]})

    classes = {f"class{i}": f"Class number {i}." for i in range(6)}
    with FakeLLMServer(script) as server:
        result = generator(server, n=2, concurrency=2).generate(classes, [])
    assert result.failed == {} and len(result.examples) == 12
    assert peak[0] == 2


def test_cli_refuses_when_the_llm_made_nothing_for_any_class(tmp_path, pets_bundle):
    """An LLM that answered 500 to every call left a bundle without synthetic data, exit 0: a failing LLM is an
    error, one line naming it, and nothing is saved; an old bundle at --save is kept as it was."""
    saved = tmp_path / "m.model"
    saved.write_bytes(old := pets_bundle.read_bytes())
    env = {"LLMCLF_CACHE_DIR": str(tmp_path / "cache")}
    args = ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--llm-retries", "0", "-n", "3"]
    with FakeLLMServer(lambda req, n: error_reply(500)) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        result = CliRunner().invoke(app, [*args, "--save", str(saved)], env=env)
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "gave no synthetic data for any class" in line and "HTTP 500" in line and line.endswith("--no-llm")
    assert "Traceback" not in result.output and saved.read_bytes() == old


def test_cli_trains_with_partial_failure_and_strict_refuses(tmp_path):
    script = lambda req, n: error_reply(500) if class_of(req) == "dog" else examples_for(req)  # noqa: E731
    env = {"OPENAI_BASE_URL": "", "LLMCLF_CACHE_DIR": str(tmp_path / "cache")}
    args = [
        "train",
        "--class",
        "cat: Cats meow and purr.",
        "--class",
        "dog: Dogs bark and fetch sticks.",
        "--llm-retries",
        "0",
        "-n",
        "3",
    ]
    with FakeLLMServer(script) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        ok = CliRunner().invoke(app, [*args, "--save", str(tmp_path / "a.model")], env=env)
        strict = CliRunner().invoke(app, [*args, "--strict", "--save", str(tmp_path / "b.model")], env=env)
    assert ok.exit_code == 0, ok.output
    assert "class 'dog' got no synthetic data" in ok.stderr and "HTTP 500" in ok.stderr
    clf = Classifier.load(tmp_path / "a.model")
    synthetic = [e for e in clf.examples if e.source is Source.SYNTHETIC]
    assert {e.label for e in synthetic} == {"cat"} and len(synthetic) == 3
    assert synthetic[0].meta["model"] == "fake-model" and synthetic[0].meta["created_at"]
    assert list(clf.classes_) == ["cat", "dog"]  # the failed class still trains from its description
    assert strict.exit_code == 2 and "nothing saved (--strict)" in strict.stderr
    assert not (tmp_path / "b.model").exists()
    manifest = json.loads(CliRunner().invoke(app, ["info", "--json", str(tmp_path / "a.model")]).stdout)
    assert manifest["example_counts"]["cat"]["synthetic"] == 3


def test_raw_newlines_inside_json_strings_are_repaired_not_reasked():
    # llama.cpp's grammar lets raw control characters into JSON strings; JSON forbids them
    with FakeLLMServer(
        lambda req, n: tool_reply(req, '{"examples": ["my kitten\nnaps", "she purrs\tloudly"]}')
    ) as server:
        result = generator(server, n=2).generate({"cat": CLASSES["cat"]}, [])
    assert sorted(e.text for e in result.examples) == ["my kitten\nnaps", "she purrs\tloudly"]
    assert result.calls == 1  # no re-ask was needed


def test_llm_timeout_is_a_total_deadline_even_for_a_server_that_drips(tmp_path):
    import socket
    import threading
    import time as _time

    from llmclf.store import Store

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip(conn):
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                _time.sleep(0.2)

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    db = str(tmp_path / "db.sqlite")
    Store(db).add_tags("contact", [("1", "phone", ""), ("2", "email", "")])
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "LLMCLF_LLM_MODEL": "m"}
    args = ["tag", "--set", "contact", "--db", db, "--llm-timeout", "1", "--llm-retries", "1", "--max-retries", "0"]
    started = _time.monotonic()
    try:
        result = CliRunner().invoke(app, [*args, "my phone"], env=env)
    finally:
        stop.set()
        listener.close()
    elapsed = _time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert "timed out" in json.loads(result.stdout)["error"]
    assert elapsed < 30  # it ends: two attempts of a 1 s deadline (it was 44 s before)


def test_credentials_in_the_llm_url_never_reach_any_output(tmp_path):
    from llmclf.store import Store

    db = str(tmp_path / "db.sqlite")
    Store(db).add_tags("contact", [("1", "phone", ""), ("2", "email", "")])
    with FakeLLMServer(lambda req, n: error_reply(500)) as server:
        url = server.base_url.replace("http://", "http://admin:hunter2@") + "?api-key=s3cret"
        tagged = CliRunner().invoke(
            app, ["tag", "--set", "contact", "--db", db, "--llm-base-url", url, "--llm-retries", "0", "my phone"]
        )
        trained = CliRunner().invoke(
            app,
            ["train", "--class", "a: alpha things", "--class", "b: beta things", "--llm-base-url", url,
             "--llm-retries", "0", "--save", str(tmp_path / "m.model")],
        )  # fmt: skip
    for result in (tagged, trained):
        assert "hunter2" not in result.output and "s3cret" not in result.output, result.output
    assert "HTTP 500" in json.loads(tagged.stdout)["error"] and "***@" in json.loads(tagged.stdout)["error"]
    assert "***@" in trained.stderr


def test_a_fifo_or_a_folder_in_place_of_a_cache_entry_is_a_miss_not_a_wait(tmp_path):
    """Reading a FIFO blocks until something writes to it: `llmclf train` with an LLM hung on one."""
    cache = GenerationCache(tmp_path / "cache")
    fifo, folder = (GenerationCache.key(model="m", messages=[name]) for name in ("fifo", "folder"))
    cache._path(fifo).parent.mkdir(parents=True)
    os.mkfifo(cache._path(fifo))
    cache._path(folder).mkdir(parents=True)
    assert without_waiting_on(cache._path(fifo), lambda: cache.get(fifo)) is None
    assert cache.get(folder) is None
    cache.put(fifo, {"examples": ["a cat that meows"]})  # a new entry takes the FIFO's place
    assert cache.get(fifo) == {"examples": ["a cat that meows"]}


def test_the_generation_cache_keeps_a_bounded_number_of_entries_used_last(tmp_path):
    """Every reply ever cached stayed on disk."""
    cache = GenerationCache(tmp_path / "cache", max_entries=10)
    keys = [GenerationCache.key(model="m", messages=[f"class {i}"]) for i in range(30)]
    cache.put(keys[0], {"examples": ["kept: used each time"]})
    for key in keys[1:]:
        cache.put(key, {"examples": [key]})
        assert cache.get(keys[0]) == {"examples": ["kept: used each time"]}
    assert len(list((tmp_path / "cache").rglob("*.json"))) <= 10
    assert cache.get(keys[-1]) == {"examples": [keys[-1]]}  # the newest stayed
    assert cache.get(keys[1]) is None  # the oldest unused went
