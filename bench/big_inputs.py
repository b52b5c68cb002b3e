"""Big inputs: the hybrid head's memory on long texts, and the service's cost per request with much feedback.

    python bench/big_inputs.py                 # both parts
    python bench/big_inputs.py --part head --docs 25000
    python bench/big_inputs.py --part feedback --examples 20000 100000
    python bench/big_inputs.py --part writes --examples 100000
    python bench/big_inputs.py --part rebuild --examples 2000 20000

``head``: N texts of about 1,900 characters (8 ag_news train texts of one label joined), fitted as ``llmclf train
--data`` fits them, but with a stand-in embedder (random unit vectors per text) so that the head alone is measured,
beside scikit-learn's TF-IDF (the same two blocks) + LogisticRegression on the same texts; each in its own process,
peak RSS from the kernel.
``feedback``: a tag set with N feedback examples; what a ``/tag`` request with an LLM and few-shot cost before
(read the dataset, hash it, read every vector) and with :class:`llmclf.feedback_cache.FeedbackCache`, unchanged and
after one new feedback.
``writes``: how long logging one run waits while another thread reads a set's N feedback examples over and over,
with reads on the writer's connection and lock (as before session 20; emulated) and on a read connection of their
own (today), side by side in one run.
``rebuild``: a stored set of 20 tags with N feedback examples, served offline under a real uvicorn; then eight rounds
of one /feedback and one /tag, each /tag's status and seconds: waiting for a head with the new feedback (before
session 20; emulated by lending no previous head) and answering from the previous head (today), in one run; then a
restart (the heads in memory dropped) and one more feedback, and the seconds until /tag answers; and what the cache
dir holds at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import load_split, machine, print_table

HEAD = r"""
import json, resource, sys, time, zlib
import numpy as np
rows = [json.loads(line) for line in open(sys.argv[2])]
texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
t = time.perf_counter()
if sys.argv[1] == "llmclf":
    from llmclf import Classifier

    class StandIn:
        id, dim, normalized = "stand-in-384", 384, True

        def embed(self, batch):
            v = np.stack([np.random.default_rng(zlib.crc32(x.encode())).standard_normal(384) for x in batch])
            return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    Classifier(StandIn()).fit(texts, labels)
else:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    blocks = [TfidfVectorizer(analyzer=a, ngram_range=r, sublinear_tf=True) for a, r in (("word", (1, 2)), ("char_wb", (2, 5)))]
    X = hstack([b.fit_transform(texts) for b in blocks], format="csr")
    LogisticRegression(C=10, max_iter=1000).fit(X, labels)
print(json.dumps({"s": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def long_texts(n: int, path: Path) -> int:
    by: dict[str, list[str]] = {}
    for r in load_split("ag_news", "train"):
        by.setdefault(r["label"], []).append(r["text"])
    rng, chars = random.Random(0), 0
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            label = rng.choice(sorted(by))
            text = " ".join(rng.choice(by[label]) for _ in range(8))
            chars += len(text)
            fh.write(json.dumps({"text": text, "label": label}) + "\n")
    return chars


def head_part(docs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.jsonl"
        chars = long_texts(docs, path)
        rows = []
        for who in ("llmclf", "sklearn"):
            out = subprocess.run(
                [sys.executable, "-c", HEAD, who, str(path)], capture_output=True, text=True, check=True
            )
            got = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append([who, f"{got['s']:.0f}", f"{got['peak_mb']:,.0f}"])
        title = f"{docs:,} texts of {chars / docs:,.0f} characters on average ({chars / 1e6:.0f} MB); load {load()}"
        print_table(title, ["fit", "s", "peak RSS MB"], rows)


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def feedback_row(n: int, embedder, tmp: str) -> list[str]:
    from llmclf.embedding_tagger import examples_digest
    from llmclf.feedback import RunLog, few_shot_for, set_target
    from llmclf.feedback_cache import FeedbackCache
    from llmclf.store import Store

    store, target = Store(Path(tmp) / "db.sqlite"), set_target("s")
    runs = RunLog(store)
    texts = [f"text {i}: my phone bill number {i % 97} is wrong" for i in range(n)]
    ids = runs.log("tag", target, "s", ["phone", "bill"], [(t, ("bill", "phone")[i % 2], None) for i, t in enumerate(texts)])  # fmt: skip
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO feedback (run_id, score, updated_at) VALUES (?, 1, '2026-12-07T00:00:00.000+00:00')",
            [(r,) for r in ids],
        )
    few_shot_for(store, target, embedder, 5)  # every vector embedded and stored once, as a first request does

    def before() -> None:  # what each request did: read the dataset, hash it, read every vector back
        examples = runs.dataset(target)
        examples_digest(examples)
        few_shot_for(store, target, embedder, 5, examples)

    cache = FeedbackCache(runs)

    def cached() -> None:
        cache.dataset(target)
        cache.few_shot(target, embedder, 5)

    was, first = timed(before), timed(cached)
    unchanged = min(timed(cached) for _ in range(3))
    (new,) = runs.log("tag", target, "s", ["phone", "bill"], [("a new text about my bill", "bill", None)])
    runs.record(new, score=1)
    return [f"{n:,}", f"{was:.3f}", f"{first:.3f}", f"{unchanged:.4f}", f"{timed(cached):.3f}"]


def feedback_part(sizes: list[int]) -> None:
    os.environ.setdefault("LLMCLF_VECTOR_CACHE", "0")
    from llmclf.embedding import get_embedder

    embedder = get_embedder()
    embedder.embed(["warm up"])
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(feedback_row(n, embedder, tmp))
    header = [
        "feedback examples",
        "before (every request)",
        "cache: first",
        "cache: unchanged",
        "after one new feedback",
    ]
    print_table(f"Seconds per /tag request with an LLM and few-shot; load {load()}", header, rows)


def write_latency(store, n: int) -> list[float]:
    """Seconds to log one run, ``n`` times, 20 ms apart."""
    from llmclf.feedback import RunLog, set_target

    runs, out = RunLog(store), []
    for i in range(n):
        t = time.perf_counter()
        runs.log("classify", set_target("m"), "m", ["a", "b"], [(f"query {i}", "a", None)])
        out.append(time.perf_counter() - t)
        time.sleep(0.02)
    return out


def read_until(stop, runs, target: str) -> None:
    while not stop.is_set():
        runs.dataset(target)


def writes_part(sizes: list[int]) -> None:
    import statistics
    import threading

    from llmclf.feedback import RunLog, set_target
    from llmclf.store import Store

    class SharedConnection(Store):  # reads as they were: on the writer's connection, under its lock
        def read(self, sql, params=()):
            with self._lock, self._errors():
                return self._db.execute(sql, tuple(params)).fetchall()

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store, target = Store(Path(tmp) / "db.sqlite"), set_target("s")
            runs = RunLog(store)
            texts = [f"text {i}: my phone bill number {i % 97} is wrong" for i in range(n)]
            ids = runs.log("tag", target, "s", ["phone", "bill"], [(t, "bill", None) for t in texts])
            runs.store.write_many(
                "INSERT INTO feedback (run_id, score, updated_at) VALUES (?, 1, '2026-12-07T00:00:00.000+00:00')",
                [(r,) for r in ids],
            )
            store.close()
            for name, kind in (("shared connection (before)", SharedConnection), ("own connection (now)", Store)):
                store = kind(Path(tmp) / "db.sqlite")
                quiet = write_latency(store, 40)
                stop = threading.Event()
                reader = threading.Thread(target=read_until, args=(stop, RunLog(store), target))
                reader.start()
                busy = write_latency(store, 40)
                stop.set()
                reader.join()
                store.close()
                ms = lambda xs: f"{statistics.median(xs) * 1000:.1f} / {max(xs) * 1000:.1f}"  # noqa: E731
                rows.append([f"{n:,}", name, ms(quiet), ms(busy)])
    header = ["feedback examples", "reads", "log one run alone: median / max ms", "beside reads: median / max ms"]
    print_table(f"Logging a run while another thread reads the feedback dataset; load {load()}", header, rows)


def rebuild_part(sizes: list[int], tags: int = 20) -> None:
    import statistics

    import httpx

    import llmclf.embedding_tagger as embedding_tagger
    from llmclf.feedback import RunLog, set_target
    from llmclf.service import create_app
    from llmclf.store import Store

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.served import finish_head_builds, serving

    def answered(url: str, body: dict) -> tuple[httpx.Response, float]:
        """The first answer that is not 503 (a head still being built), and the seconds until it came."""
        t = time.perf_counter()
        while (answer := httpx.post(f"{url}/tag", json=body, timeout=300)).status_code == 503:
            pass
        return answer, time.perf_counter() - t

    lend, stored = embedding_tagger.EmbeddingTagger.previous, embedding_tagger.EmbeddingTagger.stored
    rows = []
    for n in sizes:
        for name, now in (("waits for the new head (before)", False), ("previous head (now)", True)):
            embedding_tagger.EmbeddingTagger.previous = lend if now else (lambda self: None)
            embedding_tagger.EmbeddingTagger.stored = stored if now else (lambda self: None)
            embedding_tagger._CACHE.clear()  # each row builds its first head itself
            embedding_tagger._NEWEST.clear()
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["LLMCLF_CACHE_DIR"] = f"{tmp}/cache"
                store = Store(Path(tmp) / "db.sqlite")
                names = [f"topic{i}" for i in range(tags)]
                store.add_tags("s", [(str(i), t, f"texts about subject {i}, such as item {i}") for i, t in enumerate(names)])  # fmt: skip
                records = [(f"text {i} about subject {i % tags}, word {i % 31}", names[i % tags], None) for i in range(n)]  # fmt: skip
                ids = RunLog(store).log("tag", set_target("s"), "s", names, records)
                store.write_many(
                    "INSERT INTO feedback (run_id, score, updated_at) VALUES (?, 1, '2026-12-07T00:00:00.000+00:00')",
                    [(r,) for r in ids],
                )
                with serving(create_app({}, db=Path(tmp) / "db.sqlite")) as url:
                    body = {"texts": ["about subject 3"], "tag_set": "s"}
                    answer, first = answered(url, body)
                    seconds, codes = [], []
                    for i in range(8):
                        run_id = answer.json()["predictions"][0]["run_id"]
                        httpx.post(f"{url}/feedback", json={"run_id": run_id, "correction": names[i]}, timeout=60)
                        t = time.perf_counter()
                        answer = httpx.post(f"{url}/tag", json={**body, "texts": [f"subject {i}"]}, timeout=300)
                        seconds.append(time.perf_counter() - t)
                        codes.append(answer.status_code)
                        if answer.status_code != 200:
                            answer = httpx.post(f"{url}/tag", json=body, timeout=300)
                    finish_head_builds()
                    # a restart: the heads in memory are gone, those in the cache dir stay; then one more feedback
                    embedding_tagger._CACHE.clear()
                    embedding_tagger._NEWEST.clear()
                    run_id = answer.json()["predictions"][0]["run_id"]
                    httpx.post(f"{url}/feedback", json={"run_id": run_id, "correction": names[9]}, timeout=60)
                    _, restarted = answered(url, body)
                    finish_head_builds()
                heads = list(Path(tmp, "cache", "tag-heads").glob("*.model"))
                size = f"{len(heads)} / {sum(h.stat().st_size for h in heads) / 1e6:.1f} MB"
            rows.append([f"{n:,}", name, f"{first:.1f}", f"{statistics.median(seconds):.2f} / {max(seconds):.2f}",
                         f"{codes.count(503)} of 8", f"{restarted:.2f}", size])  # fmt: skip
    embedding_tagger.EmbeddingTagger.previous, embedding_tagger.EmbeddingTagger.stored = lend, stored
    header = ["feedback examples", "/tag after a feedback", "first head: s", "median / max s", "503",
              "after a restart: s", "heads saved: files / size"]  # fmt: skip
    print_table(f"/tag after each new feedback, {tags} tags, offline; load {load()}", header, rows)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["head", "feedback", "writes", "rebuild", "all"], default="all")
    parser.add_argument("--docs", type=int, default=25000)
    parser.add_argument("--examples", type=int, nargs="+", default=[20000, 100000])
    args = parser.parse_args()
    print(machine())
    if args.part in ("feedback", "all"):
        feedback_part(args.examples)
    if args.part in ("writes", "all"):
        writes_part(args.examples)
    if args.part in ("rebuild", "all"):
        rebuild_part(args.examples)
    if args.part in ("head", "all"):
        head_part(args.docs)


if __name__ == "__main__":
    main()
