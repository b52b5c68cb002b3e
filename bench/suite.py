"""Accuracy, macro-F1, ECE and classify rate on the six shared datasets, head beside head and beside TF-IDF+LR.

    python bench/suite.py              # all datasets (about 40 minutes on 2 cores)
    python bench/suite.py --quick      # a small slice: smoke test, figures not meaningful
    python bench/suite.py --datasets trec sst2 --seeds 1
    python bench/suite.py --rates      # only the classify-rate table (run it on a quiet machine)

Per dataset, on the same test sample (up to 2,000 rows, a fixed shuffle):
  zero-shot from the descriptions in bench/descriptions/;
  k-shot (8 per class; 10 for banking77) and 64-shot, with descriptions, for 3 seeds of the train
  sample (mean, and the lowest and highest seed); all train (up to 20,000 rows), one run.
Heads, each a row:
  "frozen MiniLM + LR": the head before the hybrid (``tfidf_weight=0``);
  "hybrid (default)": what ``llmclf train`` does with default settings;
  "hybrid, float MiniLM (before int8)": the same head on the float MiniLM graph (``--embedder minilm-float``), the
    default before real int8; in --rates its ratio column is its rate over today's default's;
  "hybrid + 1,000 unlabelled": self-training on 1,000 other train texts with their labels dropped
    (``--unlabeled``; never test texts);
  "hybrid, calibrated": ``--calibrate``;
  "fast embedder, hybrid": ``--embedder fast``;
  "TF-IDF+LR": word 1-2-grams, sublinear tf, LogisticRegression(C=10), the baseline to beat;
  with --finetune (needs the finetune extra; minutes per row), also "fine-tuned, hybrid"
  (``--finetune``), "fine-tuned, calibrated" (with ``--calibrate``) and "fine-tuned + 1,000
  unlabelled" (with ``--unlabeled``); their "fit s" includes the
  fine-tune and embedding with the tuned encoder, which no cache can share. The three share one
  fine-tune per sample, as the fine-tune sees only labelled rows (and description sentences).
Embeddings are computed once per text and shared by all settings, so "fit s" is the head fit
(self-training and calibration included), not embedding. "texts/s" is a separate timing: the
row's classifier predicting 400 test texts with a fresh, uncached embedder (embedding included),
on the first seed; rows of one dataset are timed back to back, so compare them within a dataset.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import DATA, k_per_class, load_split, machine, print_table, shuffled  # noqa: E402

from llmclf import Classifier  # noqa: E402
from llmclf.embedding import get_embedder  # noqa: E402
from llmclf.errors import InputError  # noqa: E402
from llmclf.evaluation import evaluate_proba  # noqa: E402
from llmclf.tuned_encoder import TunedMiniLM  # noqa: E402

DATASETS = ["banking77", "ag_news", "trec", "sst2", "emotion", "snips"]
MAX_TEST = 2000
MAX_TRAIN = 20_000
POOL = 1000
RATE_TEXTS = 400
HEADS: list[str] | None = None  # --heads: run only these
FINETUNE = False  # --finetune: add the fine-tuned heads
SHOTS: list[str] | None = None  # --shots: run only these settings (zero, small, 64, all)


class CachedEmbedder:
    """Any Embedder, remembering every vector it made (the Protocol makes this a wrapper)."""

    def __init__(self, inner) -> None:
        self.inner, self.id, self.dim, self.normalized = inner, inner.id, inner.dim, inner.normalized
        self.vectors: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            start = time.perf_counter()
            for t, v in zip(missing, self.inner.embed(missing), strict=True):
                self.vectors[t] = v
            self.seconds += time.perf_counter() - start
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def train_classifier(emb, labels, descriptions, rows, unlabeled=None, **params) -> tuple[Classifier, float]:
    clf = Classifier(emb, **params)
    for label in labels:
        clf.add_class(label, descriptions.get(label) if descriptions else None)
    by_label: dict[str, list[str]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r["text"])
    for label, texts in by_label.items():
        clf.add_data_to_class(label, texts)
    start = time.perf_counter()
    clf.prompt_train(unlabeled=unlabeled)
    return clf, time.perf_counter() - start


def fast_is_built() -> bool:
    try:
        get_embedder("fast").embed(["probe"])
    except InputError as exc:
        print(f"fast embedder rows left out: {exc}", file=sys.stderr)
        return False
    return True


def classify_rate(clf: Classifier, embedder_id: str, texts: list[str]) -> float:
    """Texts per second through predict_proba with a fresh embedder (embedding included), after a warm-up."""
    tuned = clf.embedder_.arrays if isinstance(clf.embedder_, TunedMiniLM) else None
    clf.embedder = TunedMiniLM(tuned, loss=clf.embedder_.loss) if tuned is not None else get_embedder(embedder_id)
    clf.predict_proba(texts[:8])
    start = time.perf_counter()
    clf.predict_proba(texts)
    return len(texts) / (time.perf_counter() - start)


class TfidfLR:
    """The baseline, with the classifier's predict_proba/class_names so it is scored the same way."""

    def __init__(self, rows) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        X = self.vec.fit_transform([r["text"] for r in rows])
        self.model = LogisticRegression(C=10.0, max_iter=2000).fit(X, [r["label"] for r in rows])
        self.class_names = list(self.model.classes_)

    def predict_proba(self, texts):
        return self.model.predict_proba(self.vec.transform(texts))


def tfidf_classifier(rows) -> tuple[TfidfLR, float]:
    start = time.perf_counter()
    model = TfidfLR(rows)
    return model, time.perf_counter() - start


def score(model, test) -> tuple[float, float, float]:
    report = evaluate_proba(
        model.predict_proba([r["text"] for r in test]), model.class_names, [r["label"] for r in test]
    )
    return report.accuracy, report.macro_f1, report.ece


def bench_dataset(name: str, quick: bool, seeds: int) -> list[list[object]]:
    labels = (DATA / name / "labels.txt").read_text(encoding="utf-8").split()
    descriptions = yaml.safe_load((HERE / "descriptions" / f"{name}.yaml").read_text())
    train = load_split(name, "train")
    test = shuffled(load_split(name, "test"))[: 200 if quick else MAX_TEST]
    rate_texts = [r["text"] for r in test[:RATE_TEXTS]]
    minilm = CachedEmbedder(get_embedder("minilm"))
    minilm_float = CachedEmbedder(get_embedder("minilm-float"))  # the default before real int8
    fast = CachedEmbedder(get_embedder("fast")) if fast_is_built() else None
    small = 10 if name == "banking77" else 8
    shots = (small,) if quick else (small, 64)

    def heads(rows, pool, desc) -> list[tuple[str, Callable[[], tuple[object, float]], str | None]]:
        out = [
            ("frozen MiniLM + LR", lambda: train_classifier(minilm, labels, desc, rows, tfidf_weight=0), "minilm"),
            ("hybrid (default)", lambda: train_classifier(minilm, labels, desc, rows), "minilm"),
            (
                "hybrid, float MiniLM (before int8)",
                lambda: train_classifier(minilm_float, labels, desc, rows),
                "minilm-float",
            ),
        ]
        if pool:
            out.append(
                (
                    f"hybrid + {len(pool):,} unlabelled",
                    lambda: train_classifier(minilm, labels, desc, rows, pool),
                    "minilm",
                )
            )
        out += [
            ("hybrid, calibrated", lambda: train_classifier(minilm, labels, desc, rows, calibrate=True), "minilm"),
        ]
        if fast is not None:
            out.append(("fast embedder, hybrid", lambda: train_classifier(fast, labels, desc, rows), "fast"))
        if FINETUNE and rows:
            tuned: list[tuple[Classifier, float]] = []

            def fine_tuned() -> tuple[Classifier, float]:
                """One fine-tune per sample: it sees only the labelled rows, so all three rows share it."""
                if not tuned:
                    tuned.append(train_classifier(None, labels, desc, rows, finetune=True))
                return tuned[0]

            def on_tuned(unlabeled=None, **params) -> tuple[Classifier, float]:
                """What --finetune with these options fits: the head on the tuned encoder; fit s includes the tune."""
                base, seconds = fine_tuned()
                clf, fit = train_classifier(base.embedder_, labels, desc, rows, unlabeled, **params)
                return clf, seconds + fit

            out.append(("fine-tuned, hybrid", fine_tuned, "-"))
            out.append(("fine-tuned, calibrated", lambda: on_tuned(calibrate=True), "-"))
            if pool:
                out.append((f"fine-tuned + {len(pool):,} unlabelled", lambda: on_tuned(pool), "-"))
        if rows:
            out.append(("TF-IDF+LR", lambda: tfidf_classifier(rows), None))
        return out

    plans: list[tuple[str, list[tuple[list[dict], list[str]]], dict | None]] = [
        ("zero-shot, descriptions", [([], [])], descriptions)
    ]
    for k in shots:
        samples = []
        for seed in range(seeds):
            rows = k_per_class(train, k, seed=seed)
            used = {r["text"] for r in rows}
            pool = [r["text"] for r in shuffled(train, seed=100 + seed) if r["text"] not in used][
                : 100 if quick else POOL
            ]
            samples.append((rows, pool))
        plans.append((f"{k}-shot + descriptions", samples, descriptions))
    everything = shuffled(train)[: 500 if quick else MAX_TRAIN]
    plans.append((f"all train ({len(everything):,})", [(everything, [])], None))

    kinds = {"zero": "zero", str(small): "small", "64-": "64", "all": "all"}
    plans = [p for p in plans if not SHOTS or any(p[0].startswith(k) and v in SHOTS for k, v in kinds.items())]
    out = []
    for setting, samples, desc in plans:
        names = [h[0] for h in heads(*samples[0], desc)]
        results: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in names}
        rates: dict[str, float | None] = {}
        for i, (rows, pool) in enumerate(samples):
            for head, make, embedder in heads(rows, pool, desc):
                if HEADS and not any(h in head for h in HEADS):
                    continue
                if setting.startswith("zero") and head in ("hybrid, calibrated", "hybrid (default)"):
                    continue  # description-only training has no data to calibrate on, and no TF-IDF half
                model, fit = make()
                results[head].append((*score(model, test), fit))
                if i == 0:
                    rates[head] = classify_rate(model, embedder, rate_texts) if embedder else None
        for head in names:
            runs = results[head]
            if not runs:
                continue
            acc = [r[0] for r in runs]
            spread = f"{min(acc):.3f}-{max(acc):.3f}" if len(runs) > 1 else ""
            mean = np.mean(runs, axis=0)
            rate = rates.get(head)
            out.append(
                [
                    name,
                    setting,
                    head,
                    f"{mean[0]:.3f}",
                    spread,
                    f"{mean[1]:.3f}",
                    f"{mean[2]:.3f}",
                    f"{mean[3]:.1f}",
                    f"{rate:.0f}" if rate else "",
                ]
            )
            print(" | ".join(map(str, out[-1])), file=sys.stderr, flush=True)
    out.append(
        [
            name,
            "(embedding unique texts, s)",
            f"MiniLM {len(minilm.vectors):,}",
            "",
            "",
            "",
            "",
            f"{minilm.seconds:.1f}",
            "",
        ]
    )
    return out


def rates(name: str, repeats: int = 3) -> list[list[object]]:
    """Classify rates of the four heads on the same 2,000 test texts, alternating, best of ``repeats``.

    Each model is trained at 64-shot; every timing embeds with a fresh embedder, so it is what
    ``predict_proba`` costs a user: embedding, the TF-IDF half and the head.
    """
    train = load_split(name, "train")
    texts = [r["text"] for r in shuffled(load_split(name, "test"))[:MAX_TEST]]
    rows = k_per_class(train, 64)
    plans = {
        "frozen MiniLM + LR": ("minilm", 0),
        "hybrid (default)": ("minilm", "auto"),
        "hybrid, float MiniLM (before int8)": ("minilm-float", "auto"),
    }
    if fast_is_built():
        plans |= {"fast embedder, frozen + LR": ("fast", 0), "fast embedder, hybrid": ("fast", "auto")}
    models = {
        head: (embedder, train_classifier(get_embedder(embedder), [], None, rows, tfidf_weight=weight)[0])
        for head, (embedder, weight) in plans.items()
    }
    times: dict[str, list[float]] = {head: [] for head in models}
    for _ in range(repeats):
        for head, (embedder, clf) in models.items():
            times[head].append(len(texts) / classify_rate(clf, embedder, texts))
    base = {
        "minilm": min(times["frozen MiniLM + LR"]),
        "minilm-float": min(times["hybrid (default)"]),  # the float graph's rate against today's default
        "fast": min(times.get("fast embedder, frozen + LR", [1.0])),
    }
    out = []
    for head, (embedder, clf) in models.items():
        best = min(times[head])
        terms = clf.head.sparse.n_features if clf.head.sparse else 0
        out.append([name, head, f"{terms:,}", f"{len(texts) / best:,.0f}", f"{base[embedder] / best:.3f}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two datasets, small slices, one seed")
    parser.add_argument("--datasets", nargs="+", default=None, choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3, help="train samples per k-shot setting")
    parser.add_argument("--rates", action="store_true", help="only the classify-rate table")
    parser.add_argument("--heads", nargs="+", default=None, help="only heads whose name contains one of these")
    parser.add_argument("--finetune", action="store_true", help="add the fine-tuned heads (the finetune extra)")
    parser.add_argument("--shots", nargs="+", default=None, help="only these settings: small, 64, all")
    args = parser.parse_args()
    if args.rates:
        print(f"machine: {machine()}")
        print_rates()
        return
    datasets = args.datasets or (["trec", "sst2"] if args.quick else DATASETS)
    global HEADS, FINETUNE, SHOTS
    HEADS, FINETUNE, SHOTS = args.heads, args.finetune, args.shots
    seeds = 1 if args.quick else args.seeds
    rows = []
    for name in datasets:
        rows += bench_dataset(name, args.quick, seeds)
    print(f"machine: {machine()}; load average at the end {os.getloadavg()[0]:.2f}")
    print_table(
        f"accuracy by dataset, setting and head (test sample <= {200 if args.quick else MAX_TEST} rows, "
        f"k-shot rows: mean of {seeds} seed(s), range = lowest-highest seed)",
        ["dataset", "setting", "head", "accuracy", "range", "macro-F1", "ECE", "fit s", "texts/s"],
        rows,
    )
    if not (args.quick or args.datasets or args.heads):
        print_rates()


def print_rates() -> None:
    load = os.getloadavg()[0]
    table = [row for name in ("banking77", "ag_news") for row in rates(name)]
    print_table(
        f"classify rate by head (64-shot models, 2,000 test texts, best of 3 alternating runs; "
        f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)",
        ["dataset", "head", "TF-IDF terms", "texts/s", "rate / same embedder's frozen head"],
        table,
    )


if __name__ == "__main__":
    main()
