"""The TF-IDF weight check (llmclf/tfidf_check.py) against the plain "auto" weight, on development rows.

Rows held out of each *train* split (1,000, or a third of a small set; shuffle seed 1), k-shot samples from the rest,
`fit(texts, labels)` with no descriptions as `llmclf train --data` runs; never a test split. Besides the six shared
sets, three tasks made from their train splits whose classes are told apart by surface words:

- ag_source: ag_news texts by the agency named in them, "(AFP)", "(Reuters)" or "(AP)";
- trec_wh: trec's class joined with the question's first word (DESC_how, NUM_when, ...);
- snips_first: snips' intent joined with the request's first word (PlayMusic_play, ...).

    python bench/tfidf_check.py [--sets ag_source,trec_wh,...] [--shots 8,64] [--seeds 0,1,2] [--lbfgs-folds]

"before" is the same code with the check left out. ``--lbfgs-folds`` adds the check with its folds fitted by lbfgs,
as the final head is, beside the check's own (newton-cg for its folds, head.solver_for): the same decisions, and
the time each takes.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import time

import numpy as np
from _util import k_per_class, load_split, shuffled

import llmclf.classifier
from llmclf import Classifier, tfidf_check

CHECK = llmclf.classifier.check_tfidf_weight
SHARED = ["trec", "sst2", "emotion", "ag_news", "snips", "banking77"]
AGENCY = re.compile(r"\((AFP|Reuters|AP)\)")


def ag_source() -> list[dict]:
    rows = []
    for r in load_split("ag_news", "train"):
        if m := AGENCY.search(r["text"]):
            rows.append({"text": r["text"], "label": m.group(1)})
    return rows


def first_word(dataset: str) -> list[dict]:
    return [
        {"text": r["text"], "label": f"{r['label']}_{r['text'].split()[0].lower()}"}
        for r in load_split(dataset, "train")
    ]


TASKS = {"ag_source": ag_source, "trec_wh": lambda: first_word("trec"), "snips_first": lambda: first_word("snips")}


def split(name: str) -> tuple[list[dict], list[dict]]:
    rows = TASKS[name]() if name in TASKS else load_split(name, "train")
    counts = collections.Counter(r["label"] for r in rows)
    rows = [r for r in rows if counts[r["label"]] >= 40]  # first-word classes of a handful of rows are left out
    rows = shuffled(rows, 1)
    held = min(1000, len(rows) // 3)
    return rows[held:], rows[:held]


def tfidf_lr(texts: list[str], labels: list[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    return make_pipeline(vec, LogisticRegression(C=10.0, max_iter=3000)).fit(texts, labels)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join([*TASKS, *SHARED]))
    ap.add_argument("--shots", default="8,64")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--lbfgs-folds", action="store_true")
    args = ap.parse_args()
    solver_for = tfidf_check.solver_for
    variants = {"before": (solver_for, lambda *args: None), "with": (solver_for, CHECK)}
    if args.lbfgs_folds:
        variants["lbfgs folds"] = (lambda rows: "lbfgs", CHECK)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    extra = " / lbfgs folds" if args.lbfgs_folds else ""
    print(
        "| data set | k | classes | TF-IDF+LR | before (auto) | with the check | raised (seeds) "
        f"| fit s before / with{extra} |" + (" with lbfgs folds | raised |" if extra else "")
    )
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if extra else ""))
    for name in args.sets.split(","):
        pool, dev = split(name)
        texts, truth = [r["text"] for r in dev], np.array([r["label"] for r in dev])
        for k in (int(s) for s in args.shots.split(",")):
            k = 10 if name == "banking77" and k == 8 else k
            acc, secs, raised = collections.defaultdict(list), collections.defaultdict(float), collections.Counter()
            for seed in seeds:
                rows = k_per_class(pool, k, seed)
                X, y = [r["text"] for r in rows], [r["label"] for r in rows]
                acc["tfidf"].append(np.mean(tfidf_lr(X, y).predict(texts) == truth))
                Classifier(tfidf_weight=0).fit(X, y)  # embeds the rows once, so both timings below find them cached
                for variant, (solver, check) in variants.items():
                    llmclf.classifier.check_tfidf_weight = check
                    tfidf_check.solver_for = solver
                    start = time.perf_counter()
                    clf = Classifier().fit(X, y)
                    secs[variant] += time.perf_counter() - start
                    acc[variant].append(clf.score(texts, list(truth)))
                    found = clf.manifest()["training"].get("tfidf_check")
                    raised[variant] += bool(found and found["weight"] > found["auto"])
                tfidf_check.solver_for = solver_for
            n = len(seeds)
            times = " / ".join(f"{secs[v] / n:.1f}" for v in variants)
            lbfgs = f" {np.mean(acc['lbfgs folds']):.3f} | {raised['lbfgs folds']} of {n} |" if extra else ""
            print(
                f"| {name} | {k} | {len(set(y))} | {np.mean(acc['tfidf']):.3f} | {np.mean(acc['before']):.3f} "
                f"| {np.mean(acc['with']):.3f} | {raised['with']} of {n} | {times} |{lbfgs}",
                flush=True,
            )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
