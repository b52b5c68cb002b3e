"""Training examples and where they came from.

Provenance is kept per example so that a bundle can be retrained, audited,
and so that nothing a user gave is lost when synthetic data is regenerated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Example", "Source", "valid_weight"]

WEIGHT = "weight"  # the meta key of an example's weight in the head's fit (``fit(..., sample_weight=...)``)


def valid_weight(value: Any) -> bool:
    """A sample weight: a finite number, 0 or more."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


class Source(str, Enum):
    DESCRIPTION = "description"  # derived from a class description or the label name
    USER = "user"  # given by the user (--train, --data, add_data_to_class, fit)
    SYNTHETIC = "synthetic"  # written by an LLM
    FEEDBACK = "feedback"  # a user's correction or confirmation of a prediction
    PSEUDO = "pseudo"  # an unlabelled text labelled by the classifier itself (self-training)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: Source = Source.USER
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def weight(self) -> float:
        """This example's weight in the head's fit: ``meta["weight"]`` where ``fit`` got a sample weight, else 1."""
        return float(self.meta.get(WEIGHT, 1.0))

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"text": self.text, "label": self.label, "source": self.source.value}
        if self.meta:
            record["meta"] = self.meta
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Example:
        return cls(
            text=str(record["text"]),
            label=str(record["label"]),
            source=Source(record.get("source", Source.USER.value)),
            meta=dict(record.get("meta") or {}),
        )
