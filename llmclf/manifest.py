"""The shape of a bundle's ``manifest.json``, as a strict pydantic model with bounded sizes.

A manifest from a stranger either validates here or becomes one BundleError:
no AttributeError, OverflowError or MemoryError further down. Types are strict
(``true`` is not a version, ``"ab"`` is not a list of classes); numbers must be
finite; every collection has a ceiling. Unknown keys are ignored, so an older
llmclf reads a newer manifest of the same format version.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from .inputs import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, label_name

__all__ = ["MAX_CLASSES", "MAX_DIM", "Manifest"]

MAX_CLASSES = 100_000
MAX_DIM = 8192
MAX_HISTORY = 100_000
MAX_TFIDF_TERMS = 4_000_000

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
Short = Annotated[str, StringConstraints(max_length=200)]
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Member(_Strict):
    sha256: Digest
    size: int = Field(ge=0, le=2**40)


class EmbedderInfo(_Strict):
    id: Name
    dim: int = Field(ge=1, le=MAX_DIM)
    normalized: bool = True
    weights_sha256: Digest | None = None
    tuned_sha256: Digest | None = None  # a fine-tuned MiniLM: the digest of encoder.npz's arrays


class TfidfBlockInfo(_Strict):
    analyzer: Literal["word", "char_wb"]
    ngram_range: list[int] = Field(min_length=2, max_length=2)
    n_terms: int = Field(ge=0, le=MAX_TFIDF_TERMS)


class TfidfInfo(_Strict):
    """The hybrid head's sparse half; its terms and idf are the ``tfidf.json`` member."""

    weight: float = Field(gt=0, le=100)
    blocks: list[TfidfBlockInfo] = Field(min_length=1, max_length=4)
    unicode: Literal["NFC"] | None = None  # the normal form texts are put in first; absent in older bundles

    @field_validator("weight")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("blocks")
    @classmethod
    def _known(cls, value: list[TfidfBlockInfo]) -> list[TfidfBlockInfo]:
        from .tfidf import BLOCKS

        if [(b.analyzer, tuple(b.ngram_range)) for b in value] != list(BLOCKS):
            raise ValueError(f"TF-IDF blocks must be {[(a, list(r)) for a, r in BLOCKS]}")
        return value

    @property
    def n_features(self) -> int:
        return sum(b.n_terms for b in self.blocks)


class SelfTraining(_Strict):
    rounds: int = Field(ge=0, le=100)
    pool: int = Field(ge=0)
    pseudo_labeled: int = Field(ge=0)


class Finetune(_Strict):
    pairs: int = Field(ge=0)
    texts: int = Field(ge=0)
    seconds: float = Field(ge=0, allow_inf_nan=False)
    loss: Short = "pairs"  # or "in-batch" (see llmclf.finetune); bundles before it had pairs


class TfidfCheck(_Strict):
    """What the TF-IDF weight check found (:mod:`llmclf.tfidf_check`): the weight used is ``weight``."""

    folds: int = Field(ge=2, le=100)
    held_out: int = Field(ge=0)
    sampled: bool = False
    only_tfidf_right: int = Field(ge=0)
    only_embedding_right: int = Field(ge=0)
    auto: float = Field(ge=0, le=100, allow_inf_nan=False)
    weight: float = Field(ge=0, le=100, allow_inf_nan=False)
    hybrid_right_auto: int | None = Field(None, ge=0)  # the second stage's counts: absent where it did not run
    hybrid_right_raised: int | None = Field(None, ge=0)


class Training(_Strict):
    head: Short = "logistic_regression"
    C: float = Field(10.0, gt=0)
    class_weight: Short | dict[Name, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = "balanced"
    n_examples: int = Field(0, ge=0)
    temperature: float = Field(1.0, gt=0)
    calibration: dict[str, Any] | None = None
    vectors: Literal["float16"] | None = None
    tfidf_weight: Literal["auto"] | Annotated[float, Field(ge=0, le=100)] = 0.0  # the parameter; 0: pre-hybrid bundles
    tfidf: TfidfInfo | None = None  # what the head uses: None when training was description-only
    tfidf_check: TfidfCheck | None = None  # absent where the check did not run, and in older bundles
    self_training: SelfTraining | None = None
    finetune: Finetune | None = None

    @field_validator("C", "temperature", "tfidf_weight")
    @classmethod
    def _finite(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Manifest(_Strict):
    format: Literal["llmclf-bundle"]
    format_version: int = Field(ge=1)
    classes: list[Name] = Field(min_length=1, max_length=MAX_CLASSES)
    embedder: EmbedderInfo
    members: dict[Short, Member] = Field(max_length=16)
    training: Training = Training()
    descriptions: dict[Name, Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)] | None] = Field(
        default_factory=dict, max_length=MAX_CLASSES
    )
    example_counts: dict[Name, dict[Short, int]] = Field(default_factory=dict, max_length=MAX_CLASSES)
    model_id: Short | None = None
    history: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_HISTORY)
    llmclf_version: Short | None = None
    created_at: Short | None = None
    # fit's labels when they were numbers or booleans, in column order: predict gives them back as such after a load
    labels: list[bool | int | float] | None = Field(None, max_length=MAX_CLASSES)

    @field_validator("classes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("class names must be unique")
        return value

    @model_validator(mode="after")
    def _labels_name_the_classes(self) -> Manifest:
        if self.labels is None:
            return self
        if len({type(label) for label in self.labels}) != 1:
            raise ValueError("labels must be all numbers of one kind, or all booleans")
        if any(isinstance(label, float) and not math.isfinite(label) for label in self.labels):
            raise ValueError("labels must be finite numbers")
        if [label_name(label) for label in self.labels] != self.classes:
            raise ValueError("labels must be the classes, in their order")
        return self
