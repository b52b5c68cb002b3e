"""Run ids, feedback rules, the dataset, retraining, few-shot, and the service's /feedback."""

import asyncio
import json
import time
import uuid

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from llmclf import Classifier, InputError, Source
from llmclf.cli import app
from llmclf.feedback import FewShot, RunLog, model_target, set_target, uuid7
from llmclf.service import create_app
from llmclf.store import Store

from .conftest import REPO, dataset, shuffled_sample
from .fakellm import FakeLLMServer, tool_reply
from .served import serving

runner = CliRunner()


def test_uuid7_is_version_7_and_sorts_by_time():
    """Within one millisecond the ids sorted at random, so the runs of one batch came back shuffled."""
    ids = [uuid7() for _ in range(10_000)]  # many to a millisecond, and past the 4,096 a counter holds
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(set(ids))  # distinct, and in the order made
    made = time.time_ns() // 1_000_000
    assert abs(int(ids[-1].replace("-", "")[:12], 16) - made) < 1_000  # the millisecond prefix is the clock's


@pytest.fixture()
def runs(tmp_path):
    log = RunLog(Store(tmp_path / "db.sqlite"))
    ids = log.log(
        "classify",
        "model:m1",
        "pets.model",
        ["cat", "dog"],
        [("woof", "dog", {"dog": 0.9, "cat": 0.1}), ("meow", "dog", None), ("hmm", "cat", None)],
    )
    return log, ids


def test_feedback_rules_make_the_dataset(runs):
    log, (woof, meow, hmm) = runs
    assert log.record(woof, score=1).label == "dog"  # a positive score keeps the prediction
    assert log.record(meow, score=0).label is None  # a wrong prediction with no correction adds nothing
    log.record(meow, correction="cat")
    log.record(hmm, correction="dog")
    log.record(hmm, score=1)  # a correction always wins over a score
    assert {(e.text, e.label) for e in log.dataset("model:m1")} == {("woof", "dog"), ("meow", "cat"), ("hmm", "dog")}
    assert all(e.source is Source.FEEDBACK and e.meta["run_id"] for e in log.dataset("model:m1"))
    assert log.dataset("model:other") == []


def test_feedback_twice_keeps_the_latest_and_says_so(runs):
    log, (woof, *_) = runs
    assert log.record(woof, correction="cat").replaced == []
    again = log.record(woof, correction="dog")
    assert again.replaced == ["correction"] and again.label == "dog"
    assert [(e.text, e.label) for e in log.dataset("model:m1")] == [("woof", "dog")]


def test_a_score_of_1_with_a_correction_to_another_label_is_refused(runs):
    """`feedback RUN --score 1 --correction cat` on a run that predicted dog said two things at once, and the
    correction was taken without a word."""
    log, (woof, *_) = runs
    with pytest.raises(InputError, match=f"a score of 1 says run {woof} predicted right \\('dog'\\), and the "
                       "correction says it should have been 'cat': give one of them"):  # fmt: skip
        log.record(woof, score=1, correction="cat")
    assert log.dataset("model:m1") == []  # nothing stored
    assert log.record(woof, score=1, correction="dog").label == "dog"  # the two agree


def test_a_pasted_run_id_may_carry_spaces_or_capitals(runs):
    """A run id copied with the space before it, or written in capitals (UUIDs are case-insensitive), was
    "unknown run id"."""
    log, (woof, *_) = runs
    outcome = log.record(f" {woof.upper()}\n", score=1)
    assert outcome.run_id == woof and outcome.label == "dog"
    assert [(e.text, e.label) for e in log.dataset("model:m1")] == [("woof", "dog")]
    said = CliRunner().invoke(app, ["feedback", f" {woof.upper()}", "--score", "1", "--db", str(log.store.path)])
    assert said.exit_code == 0 and said.stdout.strip() == f"stored feedback for {woof}; it adds this example: dog"


def test_unknown_run_and_foreign_label_are_refused(runs):
    log, (woof, *_) = runs
    with pytest.raises(InputError, match="unknown run id 'nope'"):
        log.record("nope", score=1)
    with pytest.raises(InputError, match="'bird' is not one of this run's labels: cat, dog"):
        log.record(woof, correction="bird")
    # a run id cut short (as a narrow table once showed it) and a blank correction say what is wrong
    with pytest.raises(InputError, match=r"unknown run id '.{8}' \(a run id has 36 characters: `llmclf logs list`\)"):
        log.record(woof[:8], score=1)
    with pytest.raises(InputError, match="the correction is empty: give one of this run's labels: cat, dog"):
        log.record(woof, correction=" \u200b ")


def test_a_multi_label_tag_run_takes_every_tag_that_applies_as_its_correction(tmp_path):
    """A --multi tag run could be corrected with one tag only: "phone,email" was refused as an unknown label, and
    the text's other tag was lost from the dataset."""
    db = tmp_path / "db.sqlite"
    log = RunLog(Store(db))
    multi, single = log.log(
        "tag", set_target("contact"), "contact", ["phone", "email", "fax"], [("ring or mail me", ["phone"], None),
        ("mail me", "email", None)],
    )  # fmt: skip
    outcome = log.record(multi, correction=["phone", " email", "phone"])
    assert outcome.label == ["phone", "email"]  # trimmed, each once, in order
    assert [(e.text, e.label) for e in log.dataset(set_target("contact"))] == [
        ("ring or mail me", "phone"),
        ("ring or mail me", "email"),
    ]
    assert {r["run_id"]: r["correction"] for r in log.recent(10)} == {multi: ["phone", "email"], single: None}
    with pytest.raises(InputError, match="chose one label, so it takes one correction, not 2"):
        log.record(single, correction=["phone", "email"])
    with pytest.raises(InputError, match="'bird' is not one of this run's labels"):
        log.record(multi, correction=["phone", "bird"])
    with pytest.raises(InputError, match="a correction is a label or a list of labels"):
        log.record(multi, correction=[])
    assert log.record(single, correction=["phone"]).label == "phone"  # a list of one is one label

    runner = CliRunner()
    cli = runner.invoke(app, ["feedback", multi, "--correction", "fax", "--correction", "email", "--db", str(db)])
    assert cli.exit_code == 0 and "it adds these examples: fax, email" in cli.stdout, cli.output
    listed = runner.invoke(app, ["logs", "list", "--db", str(db), "--json"])
    by_id = {json.loads(line)["run_id"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert by_id[multi]["correction"] == ["fax", "email"] and by_id[single]["correction"] == "phone"
    with serving(create_app(db=db)) as url:
        reply = httpx.post(f"{url}/feedback", json={"run_id": multi, "correction": ["email", "phone"]})
        refused = httpx.post(f"{url}/feedback", json={"run_id": single, "correction": ["email", "phone"]})
    assert reply.status_code == 200 and reply.json()["label"] == ["email", "phone"], reply.text
    assert refused.status_code == 422 and "takes one correction" in refused.json()["error"]


def test_a_multi_label_error_record_takes_a_list_of_corrections_and_no_score_of_1(tmp_path):
    """A --multi run whose text got an error record (no tags) was logged like a single-label one, so it took one
    correction only; a score of 1 on any error record said it added "(none: a score of 0 ...)"."""
    from llmclf.tagging import TagResult

    log = RunLog(Store(tmp_path / "db.sqlite"))
    failed = [TagResult("ring or mail me", error="the LLM failed"), TagResult("mail me", error="the LLM failed")]
    log.log_tags("contact", ["phone", "email"], failed[:1], multi=True)
    log.log_tags("contact", ["phone", "email"], failed[1:], multi=False)
    multi, single = (r.run_id for r in failed)
    assert log.record(multi, correction=["phone", "email"]).label == ["phone", "email"]
    with pytest.raises(InputError, match="chose one label, so it takes one correction, not 2"):
        log.record(single, correction=["phone", "email"])
    for run_id in (multi, single):
        with pytest.raises(InputError, match=f"^run {run_id} has no prediction to call right .*: give a correction$"):
            log.record(run_id, score=1)
    assert log.record(single, score=0).label is None
    (abstained,) = log.log("classify", "model:m", "pets", ["cat", "dog"], [("hmm", None, {"cat": 0.5, "dog": 0.5})])
    with pytest.raises(InputError, match=r"\(an error record, or one below the threshold\): give a correction$"):
        log.record(abstained, score=1)  # below --threshold: said "(none: a score of 0 without a correction)"
    assert log.record(abstained, correction="cat").label == "cat"


def test_a_correction_matches_a_label_however_its_accents_are_encoded(tmp_path):
    """A run whose labels were stored decomposed ("cafe" + U+0301: an older bundle, a tag set) refused the same
    label typed composed, once corrections were put in composed form."""
    import unicodedata

    composed, decomposed = "café", unicodedata.normalize("NFD", "café")
    log = RunLog(Store(tmp_path / "d.db"))
    (old,) = log.log("classify", "model:m", "m", [decomposed, "bar"], [("a latte", "bar", None)])
    assert log.record(old, correction=composed).label == decomposed  # kept in the run's own spelling
    (new,) = log.log("classify", "model:n", "n", [composed, "bar"], [("a latte", "bar", None)])
    assert log.record(new, correction=decomposed).label == composed


def test_retrain_with_nothing_new_leaves_the_bundle_as_it_was(pets_bundle, tmp_path):
    """retrain with no new or withdrawn feedback refitted, rewrote the bundle and added a history entry each time
    (an hourly cron job added 24 no-op entries a day and touched the file)."""
    import shutil

    model, db = tmp_path / "pets.model", ["--db", str(tmp_path / "db.sqlite")]
    shutil.copy(pets_bundle, model)
    runner = CliRunner()
    before = model.read_bytes()
    idle = runner.invoke(app, ["retrain", "--load", str(model), *db])
    assert idle.exit_code == 0 and "is up to date: no new or withdrawn feedback (0 feedback example(s))" in idle.stdout
    assert model.read_bytes() == before
    run_id = json.loads(runner.invoke(app, ["classify", "--load", str(model), *db, "woof"]).stdout)["run_id"]
    assert runner.invoke(app, ["feedback", run_id, "--correction", "cat", *db]).exit_code == 0
    assert "1 new" in runner.invoke(app, ["retrain", "--load", str(model), *db]).stdout
    after = model.read_bytes()
    again = runner.invoke(app, ["retrain", "--load", str(model), *db, "--json"])
    assert json.loads(again.stdout)["unchanged"] is True and model.read_bytes() == after
    assert len(Classifier.load(model).history) == 2  # the training and the one retrain that changed something
    kept = runner.invoke(app, ["retrain", "--load", str(model), *db, "--keep-vectors"])  # a change of its own
    assert "retrained" in kept.stdout and Classifier.load(model).keep_vectors


def test_a_tag_run_takes_its_correction_by_tag_id_as_tag_and_the_service_answer_with_ids(tmp_path):
    """`tag` and /tag answer {"id": "2", "name": "email"}, but `feedback RUN --correction 2` was refused: runs
    store tag names."""
    db = tmp_path / "db.sqlite"
    runner = CliRunner()
    for tag_id, name in (("1", "phone"), ("2", "email"), ("3", "4")):  # a tag named "4" stays itself
        added = runner.invoke(app, ["tags", "add", "contact", "--id", tag_id, "--name", name, "--db", str(db)])
        assert added.exit_code == 0, added.output
    tagged = runner.invoke(app, ["tag", "--set", "contact", "--offline", "--db", str(db), "write to me", "ring me"])
    first, second = (json.loads(line)["run_id"] for line in tagged.stdout.splitlines())
    cli = runner.invoke(app, ["feedback", first, "--correction", "2", "--db", str(db)])
    assert cli.exit_code == 0 and "it adds this example: email" in cli.stdout, cli.output
    with serving(create_app(db=db)) as url:
        reply = httpx.post(f"{url}/feedback", json={"run_id": second, "correction": "1"})
        named = httpx.post(f"{url}/feedback", json={"run_id": second, "correction": "4"})
        unknown = httpx.post(f"{url}/feedback", json={"run_id": second, "correction": "9"})
    assert reply.status_code == 200 and reply.json()["label"] == "phone", reply.text
    assert named.status_code == 200 and named.json()["label"] == "4", named.text  # a name wins over an id
    assert unknown.status_code == 422 and "'9' is not one of this run's labels" in unknown.json()["error"]
    log = RunLog(Store(db))
    examples = sorted((e.text, e.label) for e in log.dataset(set_target("contact")))  # one transaction: any order
    assert examples == [("ring me", "4"), ("write to me", "email")]
    pets_run = log.log("classify", "model:x", "pets", ["cat", "dog"], [("woof", "dog", None)])[0]
    with pytest.raises(InputError, match="'2' is not one of this run's labels"):
        log.record(pets_run, correction="2")  # a classify run has no tag ids


def test_classify_feedback_examples_retrain_through_the_cli(pets_bundle, tmp_path):
    db = ["--db", str(tmp_path / "db.sqlite")]
    model = tmp_path / "pets.model"
    model.write_bytes(pets_bundle.read_bytes())
    out = runner.invoke(app, ["classify", "--load", str(model), *db, "my hamster squeaks", "woof"])
    assert out.exit_code == 0, out.output
    first, second = [json.loads(line) for line in out.stdout.splitlines()]

    fb = runner.invoke(app, ["feedback", first["run_id"], "--correction", "cat", *db])
    assert fb.exit_code == 0, fb.output
    again = runner.invoke(app, ["feedback", first["run_id"], "--correction", "cat", *db])
    assert "already had feedback; replaced the earlier correction" in again.stderr
    assert runner.invoke(app, ["feedback", second["run_id"], "--score", "1", *db]).exit_code == 0
    bad = runner.invoke(app, ["feedback", second["run_id"], "--correction", "bird", *db])
    assert bad.exit_code == 2 and "not one of this run's labels" in bad.stderr
    unknown = runner.invoke(app, ["feedback", "0190-nope", "--score", "1", *db])
    assert unknown.exit_code == 2 and "unknown run id" in unknown.stderr

    exported = runner.invoke(app, ["examples", "export", "--model", str(model), *db])
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert {(r["text"], r["label"], r["source"]) for r in rows} == {
        ("my hamster squeaks", "cat", "feedback"),
        ("woof", "dog", "feedback"),
    }
    listed = runner.invoke(app, ["examples", "list", "--model", str(model), *db])
    assert "2 feedback example(s)" in listed.stdout

    retrained = tmp_path / "pets2.model"
    result = runner.invoke(app, ["retrain", str(model), "--save", str(retrained), *db])
    assert result.exit_code == 0, result.output
    clf = Classifier.load(retrained)
    feedback = {(e.text, e.label) for e in clf.examples if e.source is Source.FEEDBACK}
    assert feedback == {("my hamster squeaks", "cat"), ("woof", "dog")}
    assert clf.history[-1]["action"] == "retrain" and clf.history[-1]["added"] == 2
    assert clf.model_id == Classifier.load(model).model_id  # feedback keeps following the model
    assert any(e.text == "i like milk" for e in clf.examples)  # nothing the user gave is lost

    nolog = runner.invoke(app, ["classify", "--load", str(model), "--no-log", *db, "woof"])
    assert "run_id" not in json.loads(nolog.stdout)


def test_damaged_run_rows_cost_only_themselves(pets_bundle, tmp_path):
    """Rows no llmclf wrote (edited by hand, another tool, a damaged file): each command that reads runs
    keeps going without them and says so, or names the run; before, every one of them ended in
    "internal error: JSONDecodeError"."""
    import sqlite3

    path = tmp_path / "db.sqlite"
    db = ["--db", str(path)]
    texts = ["my hamster squeaks", "woof", "meow", "tweet"]
    out = runner.invoke(app, ["classify", "--load", str(pets_bundle), *db, *texts])
    ids = [json.loads(line)["run_id"] for line in out.stdout.splitlines()]
    for run_id in ids[:3]:
        assert runner.invoke(app, ["feedback", run_id, "--score", "1", *db]).exit_code == 0
    assert runner.invoke(app, ["feedback", ids[3], "--correction", "cat", *db]).exit_code == 0
    damage = sqlite3.connect(path)
    damage.execute("UPDATE runs SET prediction = 'dog{' WHERE run_id = ?", (ids[0],))  # not JSON
    damage.execute("UPDATE runs SET text = x'00ff' WHERE run_id = ?", (ids[1],))  # not text
    damage.execute("UPDATE runs SET prediction = '{\"a\": 1}' WHERE run_id = ?", (ids[2],))  # not a label
    damage.execute("UPDATE runs SET prediction = 'x[' WHERE run_id = ?", (ids[3],))  # its correction still counts
    damage.execute("UPDATE label_sets SET labels = 'nope'")
    damage.commit()
    damage.close()

    listed = runner.invoke(app, ["logs", "list", *db])
    assert listed.exit_code == 0 and all(run_id in listed.stdout for run_id in ids), listed.output
    exported = runner.invoke(app, ["examples", "export", "--model", str(pets_bundle), *db])
    assert exported.exit_code == 0, exported.output
    assert [(r["text"], r["label"]) for r in map(json.loads, exported.stdout.splitlines())] == [("tweet", "cat")]
    assert "3 malformed run(s) with feedback skipped" in exported.stderr
    model = tmp_path / "pets.model"
    retrained = runner.invoke(app, ["retrain", str(pets_bundle), "--save", str(model), *db])
    assert retrained.exit_code == 0, retrained.output
    refused = runner.invoke(app, ["feedback", ids[0], "--score", "0", *db])
    assert refused.exit_code == 2 and f"run {ids[0]} is malformed" in refused.stderr
    assert "Traceback" not in refused.output + refused.stderr


def test_retraining_on_corrections_improves_banking77(tmp_path):
    descriptions = yaml.safe_load((REPO / "bench" / "descriptions" / "banking77.yaml").read_text())
    clf = Classifier().prompt_train(descriptions)
    stream = shuffled_sample(dataset("banking77", "train"), 400, seed=1)
    test = shuffled_sample(dataset("banking77", "test"), 500)

    def accuracy(c):
        return sum(p == r["label"] for p, r in zip(c.predict([r["text"] for r in test]), test, strict=True)) / len(test)

    before = accuracy(clf)

    log = RunLog(Store(tmp_path / "db.sqlite"))
    predictions = clf.classify([r["text"] for r in stream])
    ids = log.log(
        "classify",
        model_target(clf.model_id),
        "b.model",
        clf.class_names,
        [(p.text, p.label, None) for p in predictions],
    )
    for run_id, p, row in zip(ids, predictions, stream, strict=True):
        if p.label != row["label"]:
            log.record(run_id, correction=row["label"])
    clf.retrain_with_feedback(log.dataset(model_target(clf.model_id)))
    after = accuracy(clf)
    print(f"banking77 accuracy before {before:.3f}, after retraining on corrections {after:.3f}")
    assert after > before


def test_few_shot_picks_the_most_similar_feedback_examples(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    log = RunLog(store)
    texts = ["my card has not arrived", "how do I reset my PIN", "the ATM kept my card", "change my address"]
    ids = log.log(
        "tag", set_target("bank"), "bank", ["card", "pin", "atm", "profile"], [(t, None, None) for t in texts]
    )
    for run_id, label in zip(ids, ["card", "pin", "atm", "profile"], strict=True):
        log.record(run_id, correction=label)
    from llmclf import MiniLMEmbedder

    shots = FewShot(store, set_target("bank"), MiniLMEmbedder(), k=2)
    assert shots("where is my new card? it never came")[0] == ("my card has not arrived", "card")
    assert len(shots("anything")) == 2
    assert store.read("SELECT COUNT(*) FROM example_vectors")[0][0] == 4  # vectors stored once
    assert FewShot(store, set_target("empty"), MiniLMEmbedder()).vectors is None  # no examples: prompt unchanged
    store.write("UPDATE example_vectors SET vector = x'0000803f' WHERE text = 'the ATM kept my card'")  # 1 float
    again = FewShot(store, set_target("bank"), MiniLMEmbedder(), k=2)  # a damaged vector is embedded again
    assert again("the cash machine swallowed my card")[0] == ("the ATM kept my card", "atm")
    assert len(store.read("SELECT vector FROM example_vectors WHERE text = 'the ATM kept my card'")[0][0]) == 4 * 384
    for k in (-1, 2.5, "2"):  # k=-1 gave no examples without a word; "2" failed comparing a str with 0
        with pytest.raises(InputError, match=f"k must be a whole number, 0 or more, not {k!r}"):
            FewShot(store, set_target("bank"), MiniLMEmbedder(), k=k)


def test_tag_prompt_carries_similar_examples_only_when_there_are_some(tmp_path):
    db = str(tmp_path / "db.sqlite")
    store = Store(db)
    store.add_tags("contact", [("1", "phone", "Phone number"), ("2", "email", "Email address")])
    prompts = []

    def script(req, n):
        prompts.append(json.dumps(req["messages"]))
        return tool_reply(req, {"tag": "1: phone"})

    with FakeLLMServer(script) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        first = runner.invoke(app, ["tag", "--set", "contact", "--db", db, "call me at 555"], env=env)
        run_id = json.loads(first.stdout)["run_id"]
        assert runner.invoke(app, ["feedback", run_id, "--score", "1", "--db", db]).exit_code == 0
        runner.invoke(app, ["tag", "--set", "contact", "--db", db, "ring me on 555 0000"], env=env)
    assert "Labelled examples" not in prompts[0]
    assert "Labelled examples" in prompts[1] and "'call me at 555' -> 1: phone" in prompts[1]


def test_service_feedback_and_200_concurrent_posts_are_all_stored(pets_bundle, tmp_path):
    db = tmp_path / "db.sqlite"
    app_ = create_app({"pets": pets_bundle}, db=db)
    with serving(app_) as url:
        r = httpx.post(f"{url}/classify", json={"texts": [f"woof {i}" for i in range(200)]}, timeout=60)
        ids = [x["run_id"] for x in r.json()["results"]]
        assert len(set(ids)) == 200
        ok = httpx.post(f"{url}/feedback", json={"run_id": ids[0], "correction": "cat"})
        assert ok.status_code == 200 and ok.json() == {"run_id": ids[0], "stored": True, "replaced": [], "label": "cat"}
        again = httpx.post(f"{url}/feedback", json={"run_id": ids[0], "correction": "dog"}).json()
        assert again["replaced"] == ["correction"]
        assert httpx.post(f"{url}/feedback", json={"run_id": "nope", "score": 1}).status_code == 404
        assert httpx.post(f"{url}/feedback", json={"run_id": ids[1], "correction": "bird"}).status_code == 422

        async def flood():
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(
                    *(client.post("/feedback", json={"run_id": run_id, "score": 1}) for run_id in ids)
                )

        replies = asyncio.run(flood())
    assert [r.status_code for r in replies] == [200] * 200
    assert Store(db).read("SELECT COUNT(*) FROM feedback")[0][0] == 200
