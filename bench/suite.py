"""Accuracy, macro-F1 and ECE on the six shared datasets, beside simple baselines.

    python bench/suite.py              # all datasets, test samples of up to 2,000 rows
    python bench/suite.py --quick      # a small slice: smoke test, figures not meaningful

Settings per dataset (train rows drawn with seed 0, test rows a fixed shuffle):
  zero-shot from label names only; zero-shot with the descriptions in
  bench/descriptions/; k = 8 and 64 per class with and without descriptions;
  all train (up to 20,000 rows); calibrated variants; and two baselines on the
  same split: TF-IDF (1-2-grams) + LogisticRegression, and cosine similarity
  between each text and its label name with the same embedder.
Embeddings are computed once per text and shared by all settings, so the
"fit s" column is the head (and calibration) fit, not embedding.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import DATA, k_per_class, load_split, machine, print_table, shuffled  # noqa: E402

from llmclf import Classifier, MiniLMEmbedder  # noqa: E402
from llmclf.descriptions import humanize_label  # noqa: E402
from llmclf.evaluation import evaluate_proba  # noqa: E402
from llmclf.head import softmax  # noqa: E402

DATASETS = ["banking77", "ag_news", "trec", "sst2", "emotion", "snips"]
MAX_TEST = 2000
MAX_TRAIN = 20_000


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


def run_classifier(emb, labels, descriptions, train_rows, test, calibrate=False):
    clf = Classifier(emb, calibrate=calibrate)
    for label in labels:
        clf.add_class(label, descriptions.get(label) if descriptions else None)
    by_label: dict[str, list[str]] = {}
    for r in train_rows:
        by_label.setdefault(r["label"], []).append(r["text"])
    for label, texts in by_label.items():
        clf.add_data_to_class(label, texts)
    start = time.perf_counter()
    clf.prompt_train()
    fit = time.perf_counter() - start
    proba = clf.predict_proba([r["text"] for r in test])
    return evaluate_proba(proba, clf.class_names, [r["label"] for r in test]), fit


def tfidf_baseline(labels, train_rows, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    X = vec.fit_transform([r["text"] for r in train_rows])
    model = LogisticRegression(C=10.0, max_iter=2000).fit(X, [r["label"] for r in train_rows])
    fit = time.perf_counter() - start
    proba = model.predict_proba(vec.transform([r["text"] for r in test]))
    return evaluate_proba(proba, list(model.classes_), [r["label"] for r in test]), fit


def label_similarity_baseline(emb, labels, test):
    names = emb.embed([humanize_label(label) for label in labels])
    cos = emb.embed([r["text"] for r in test]) @ names.T
    # cosine is not a probability; a softmax at temperature 0.05 only gives ECE a number to chew on
    return evaluate_proba(softmax(cos / 0.05), labels, [r["label"] for r in test]), 0.0


def bench_dataset(name: str, quick: bool) -> list[list[object]]:
    labels = (DATA / name / "labels.txt").read_text(encoding="utf-8").split()
    descriptions = {k: v for k, v in yaml.safe_load((HERE / "descriptions" / f"{name}.yaml").read_text()).items()}
    train = load_split(name, "train")
    test = shuffled(load_split(name, "test"))[: 200 if quick else MAX_TEST]
    emb = CachedEmbedder(MiniLMEmbedder())
    all_train = shuffled(train)[: 500 if quick else MAX_TRAIN]
    settings = [
        ("zero-shot, label names", lambda: run_classifier(emb, labels, None, [], test)),
        ("zero-shot, descriptions", lambda: run_classifier(emb, labels, descriptions, [], test)),
    ]
    for k in (8,) if quick else (8, 64):
        rows = k_per_class(train, k)
        settings += [
            (f"{k}-shot", lambda rows=rows: run_classifier(emb, labels, None, rows, test)),
            (f"{k}-shot + descriptions", lambda rows=rows: run_classifier(emb, labels, descriptions, rows, test)),
            (
                f"{k}-shot + descriptions, calibrated",
                lambda rows=rows: run_classifier(emb, labels, descriptions, rows, test, True),
            ),
            (f"baseline TF-IDF+LR, {k}-shot", lambda rows=rows: tfidf_baseline(labels, rows, test)),
        ]
    settings += [
        (f"all train ({len(all_train):,})", lambda: run_classifier(emb, labels, None, all_train, test)),
        ("all train, calibrated", lambda: run_classifier(emb, labels, None, all_train, test, True)),
        ("baseline TF-IDF+LR, all train", lambda: tfidf_baseline(labels, all_train, test)),
        ("baseline label-name cosine", lambda: label_similarity_baseline(emb, labels, test)),
    ]
    out = []
    for setting, fn in settings:
        report, fit = fn()
        out.append(
            [name, setting, f"{report.accuracy:.3f}", f"{report.macro_f1:.3f}", f"{report.ece:.3f}", f"{fit:.1f}"]
        )
        print(" | ".join(map(str, out[-1])), file=sys.stderr, flush=True)
    out.append([name, f"(embedding {len(emb.vectors):,} unique texts)", "", "", "", f"{emb.seconds:.1f}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two datasets, small slices")
    parser.add_argument("--datasets", nargs="+", default=None, choices=DATASETS)
    args = parser.parse_args()
    datasets = args.datasets or (["trec", "sst2"] if args.quick else DATASETS)
    rows = []
    for name in datasets:
        rows += bench_dataset(name, args.quick)
    print(f"machine: {machine()}")
    print_table(
        f"accuracy by dataset and setting (test sample <= {200 if args.quick else MAX_TEST} rows)",
        ["dataset", "setting", "accuracy", "macro-F1", "ECE", "fit s"],
        rows,
    )


if __name__ == "__main__":
    main()
