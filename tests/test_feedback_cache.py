"""The feedback dataset held between requests: read again only when its feedback changed, by any process."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import numpy as np

from llmclf import MiniLMEmbedder
from llmclf.embedding_tagger import examples_digest
from llmclf.feedback import RunLog, set_target
from llmclf.feedback_cache import FeedbackCache
from llmclf.service import create_app
from llmclf.store import Store

from .served import finish_head_builds, serving

BANK = ["card", "pin", "atm"]


def logged(runs: RunLog, name: str, texts: list[str]) -> list[str]:
    return runs.log("tag", set_target(name), name, BANK, [(t, "card", None) for t in texts])


def test_every_change_to_a_targets_feedback_bumps_its_version_and_no_other(tmp_path):
    runs = RunLog(Store(tmp_path / "db.sqlite"))
    bank, other = set_target("bank"), set_target("other")
    a, b = logged(runs, "bank", ["my card is late", "reset my pin"])
    (c,) = logged(runs, "other", ["the atm ate it"])
    assert runs.dataset_version(bank) == 0  # runs alone are no feedback
    runs.record(a, score=1)
    assert runs.dataset_version(bank) == 1 and runs.dataset_version(other) == 0
    runs.record(a, correction="pin")  # an update of the same row
    runs.record(b, correction="pin")
    assert runs.dataset_version(bank) == 3
    runs.record(c, score=1)
    assert (runs.dataset_version(bank), runs.dataset_version(other)) == (3, 1)
    elsewhere = RunLog(Store(tmp_path / "db.sqlite"))  # another connection, as another process has
    elsewhere.record(b, correction="atm")
    assert runs.dataset_version(bank) == 4
    runs.prune(datetime.now(timezone.utc) + timedelta(days=1), keep_feedback=False)  # deletes count too
    assert runs.dataset_version(bank) == 6 and runs.dataset(bank) == []


def test_the_cache_reads_a_dataset_again_only_after_its_feedback_changed(tmp_path):
    runs = RunLog(Store(tmp_path / "db.sqlite"))
    reads: list[str] = []
    real = runs.dataset
    runs.dataset = lambda target: reads.append(target) or real(target)  # type: ignore[method-assign]
    cache = FeedbackCache(runs)
    bank = set_target("bank")
    a, b = logged(runs, "bank", ["my card is late", "reset my pin"])
    assert cache.dataset(bank).examples == () and len(reads) == 1
    runs.record(a, score=1)
    first = cache.dataset(bank)
    assert [(e.text, e.label) for e in first.examples] == [("my card is late", "card")] and len(reads) == 2
    assert cache.dataset(bank) is first and len(reads) == 2  # unchanged: no read
    RunLog(Store(tmp_path / "db.sqlite")).record(b, correction="pin")  # feedback from another connection
    second = cache.dataset(bank)
    assert len(reads) == 3 and [e.label for e in second.examples] == ["card", "pin"]
    assert second.digest == examples_digest(real(bank)) != first.digest


def test_a_few_shot_lookup_looks_up_only_the_texts_its_last_version_lacked(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    runs = RunLog(store)
    asked: list[int] = []
    real_read = store.read

    def counting_read(sql, params=()):
        if "FROM example_vectors" in sql:
            asked.append(len(params) - 1)  # the texts looked up (the first parameter is the embedder)
        return real_read(sql, params)

    store.read = counting_read  # type: ignore[method-assign]
    cache, bank, embedder = FeedbackCache(runs), set_target("bank"), MiniLMEmbedder()
    texts = ["my card has not arrived", "how do I reset my PIN", "the ATM kept my card"]
    ids = logged(runs, "bank", texts)
    for run_id, label in zip(ids[:2], ["card", "pin"], strict=True):
        runs.record(run_id, correction=label)
    shots = cache.few_shot(bank, embedder, 1)
    assert sum(asked) == 2 and cache.few_shot(bank, embedder, 1) is shots and sum(asked) == 2
    runs.record(ids[2], correction="atm")
    newer = cache.few_shot(bank, embedder, 1)
    assert sum(asked) == 3  # the one new text; the two before came from the earlier lookup
    assert cache.few_shot(bank, embedder, 1, cache.dataset(bank)) is newer  # the dataset given: the same lookup
    assert newer("the cash machine swallowed my card") == [("the ATM kept my card", "atm")]
    fresh = MiniLMEmbedder().embed(texts)  # the vectors served again are the texts' own
    assert np.allclose(newer.vectors, fresh, atol=1e-5)
    assert cache.few_shot(set_target("none"), embedder, 1) is None  # no examples: no lookup


def test_the_service_reads_a_tag_sets_feedback_once_until_feedback_changes_it(pets_bundle, tmp_path, monkeypatch):
    """/tag read the set's whole feedback dataset on every request (100,000 examples: a second, half of it holding
    the database connection that logging and /feedback wait for)."""
    monkeypatch.setenv("LLMCLF_CACHE_DIR", str(tmp_path / "cache"))
    reads: list[str] = []
    real = RunLog.dataset
    monkeypatch.setattr(RunLog, "dataset", lambda self, target: reads.append(target) or real(self, target))
    db = tmp_path / "db.sqlite"
    Store(db).add_tags("contact", [("1", "phone", "Phone number"), ("2", "email", "Email address")])
    text = "reach me at the front desk"
    with serving(create_app({"pets": pets_bundle}, db=db)) as url:

        def tag() -> dict:
            response = httpx.post(f"{url}/tag", json={"texts": [text], "set": "contact"}, timeout=120)
            assert response.status_code == 200, response.text
            return response.json()["predictions"][0]

        first = tag()
        for _ in range(3):
            tag()
        assert len(reads) == 1
        wrong = "email" if first["name"] == "phone" else "phone"
        feedback = {"run_id": first["run_id"], "correction": wrong}
        assert httpx.post(f"{url}/feedback", json=feedback, timeout=30).status_code == 200
        assert tag()["name"] == first["name"]  # the previous head answers while one with the correction is built
        assert len(reads) == 2
        finish_head_builds()
        assert tag()["name"] == wrong  # the correction is in the head built since
        assert len(reads) == 2  # read once, for both


def test_the_cache_holds_few_targets_and_few_examples_but_always_the_newest(tmp_path):
    runs = RunLog(Store(tmp_path / "db.sqlite"))
    for name in ("a", "b", "c"):
        for run_id in logged(runs, name, [f"{name} one", f"{name} two"]):
            runs.record(run_id, score=1)
    reads: list[str] = []
    real = runs.dataset
    runs.dataset = lambda target: reads.append(target) or real(target)  # type: ignore[method-assign]
    a, b, c = (set_target(n) for n in "abc")
    cache = FeedbackCache(runs, size=2, max_examples=3)
    cache.dataset(a)
    cache.dataset(b)  # 4 examples held: a goes
    cache.dataset(b)
    cache.dataset(a)  # read again; now b goes
    assert reads == [a, b, a]
    assert len(FeedbackCache(runs, max_examples=1).dataset(c).examples) == 2  # one target over the bound stays
    few = FeedbackCache(runs, size=2)
    for target in (a, b, c, a):  # three targets in two places: a was dropped, and is read again
        few.dataset(target)
    assert reads[3:] == [c, a, b, c, a]
