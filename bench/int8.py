"""Real int8 MiniLM against the float graph: speed side by side, closeness, and the CLI's start-up.

    python bench/int8.py            # about 3 minutes on 2 cores
    python bench/int8.py --quick    # fewer texts and runs: a smoke test

Embedding in process (the default's batches of 32, sorted by length), on the shared
test texts of banking77 (short) and ag_news (about 40 words), each form timed in
turn, best of N. "int8, this CPU's form" is what ``MiniLMInt8Embedder`` runs here
(int8 weights with VNNI, else uint8); the uint8 form is also timed, as a CPU without
VNNI runs it. Then ``llmclf classify`` of one text from a fresh process, with a
bundle of each kind, alternating: the int8 one builds its graph at start-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import load_split, machine, print_table, shuffled

from llmclf import Classifier, MiniLMEmbedder, MiniLMInt8Embedder
from llmclf.embedding import _load_minilm, _minilm_files, _onnx_session
from llmclf.int8_graph import cpu_has_vnni, integer_graph


def uint8_form() -> MiniLMEmbedder:
    import onnxruntime as ort

    embedder = MiniLMEmbedder()
    embedder._tokenizer = _load_minilm(embedder.max_length, None)[1]
    embedder._session = _onnx_session(ort, integer_graph(_minilm_files()[0], signed=False), None)
    return embedder


def embedding_rows(n_texts: int, runs: int) -> list[list[str]]:
    forms = {
        "float (minilm-float)": MiniLMEmbedder(),
        f"int8, this CPU's form ({'int8' if cpu_has_vnni() else 'uint8'} weights)": MiniLMInt8Embedder(),
        "int8, uint8 weights (no VNNI)": uint8_form(),
    }
    rows = []
    for name in ("banking77", "ag_news"):
        texts = [r["text"] for r in shuffled(load_split(name, "test"))[:n_texts]]
        best = {form: float("inf") for form in forms}
        vectors = {}
        for embedder in forms.values():
            embedder.embed(texts[:16])
        for _ in range(runs):
            for form, embedder in forms.items():
                start = time.perf_counter()
                vectors[form] = embedder.embed(texts)
                best[form] = min(best[form], time.perf_counter() - start)
        base = vectors["float (minilm-float)"]
        for form, embedder in forms.items():
            cosine = (vectors[form] * base).sum(axis=1)
            alone = np.stack([embedder.embed([t])[0] for t in texts[:50]])
            rows.append(
                [
                    name,
                    form,
                    f"{len(texts) / best[form]:,.0f}",
                    f"{best['float (minilm-float)'] / best[form]:.2f}x",
                    f"{cosine.min():.4f} / {cosine.mean():.4f}",
                    f"{np.abs(alone - vectors[form][:50]).max():.1e}",
                ]
            )
    return rows


def start_up_rows(runs: int) -> list[list[str]]:
    texts, labels = ["woof woof", "the dog barks", "meow", "the cat purrs"], ["dog", "dog", "cat", "cat"]
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {
            "float (minilm-float)": Classifier(embedder="minilm-float").fit(texts, labels).save(Path(tmp) / "f.model"),
            "int8 (default)": Classifier().fit(texts, labels).save(Path(tmp) / "i.model"),
        }
        walls: dict[str, list[float]] = {name: [] for name in bundles}
        for _ in range(runs):
            for name, bundle in bundles.items():
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "llmclf", "classify", "--load", str(bundle), "--no-log", "woof"],
                    check=True,
                    capture_output=True,
                )
                walls[name].append(time.perf_counter() - start)
    return [[name, f"{min(w):.2f} s", f"{np.median(w):.2f} s"] for name, w in walls.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; VNNI: {cpu_has_vnni()}; load average before: {os.getloadavg()[0]:.2f}")
    print_table(
        "Embedding in process",
        ["data", "form", "texts/s", "rate / float", "cosine to float, min / mean", "alone vs batch, max abs"],
        embedding_rows(200 if args.quick else 1000, 2 if args.quick else 5),
    )
    print_table(
        "Start-up",
        ["`llmclf classify` of one text, fresh process", "min", "median"],
        start_up_rows(3 if args.quick else 10),
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
