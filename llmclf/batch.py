"""The engine-agnostic batch core: texts in, columns out, and a bad row never fails the batch.

Spark, Ray Data, the Parquet CLI and plain Python all call :func:`predict_batch`.
It returns numpy columns, row for row with the input:

* ``prediction``: the top label, or None below ``threshold`` or for a bad row;
* ``confidence``: the top probability (NaN for a bad row);
* ``top_k_labels`` / ``top_k_probs``: the ``top_k`` most likely labels and their
  probabilities, highest first (None / NaN for a bad row);
* ``error``: None, or why the row was skipped (null, NaN, not a string, empty,
  not UTF-8);
* ``probabilities`` (only with ``probabilities=True``): every class's probability,
  columns in ``clf.class_names`` order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .blank import is_blank
from .inputs import check_probability, check_top, texts_of

__all__ = ["predict_batch", "probability_maps", "row_error", "to_arrow", "top_k_structs"]


def row_error(text: Any) -> str | None:
    """Why ``text`` cannot be classified, or None if it can."""
    if text is None or type(text).__name__ in ("NAType", "NaTType"):  # None, pandas.NA (Arrow-backed frames)
        return "text is null"
    if isinstance(text, float) and math.isnan(text):
        return "text is NaN"
    if not isinstance(text, str):
        return f"text is not a string ({type(text).__name__})"
    if is_blank(text):
        return "text is empty"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text is not UTF-8"
    return None


def predict_batch(
    clf, texts: Iterable[Any], top_k: int = 5, threshold: float | None = None, probabilities: bool = False
) -> dict[str, np.ndarray]:
    check_top(top_k, "top_k")
    check_probability(threshold, "threshold")
    texts = texts_of(texts)  # one string is one text, not one text per character
    n, names = len(texts), clf.class_names
    k = min(top_k or len(names), len(names))
    errors = np.array([row_error(t) for t in texts], dtype=object)
    good = np.flatnonzero(np.equal(errors, None))
    proba = np.zeros((len(good), len(names)), dtype=np.float32)
    if len(good):
        proba = clf.predict_proba([texts[i] for i in good]).astype(np.float32)
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    labels = np.array(names, dtype=object)[order]
    top_probs = np.take_along_axis(proba, order, axis=1)

    out_labels = np.full((n, k), None, dtype=object)
    out_probs = np.full((n, k), np.nan, dtype=np.float32)
    out_labels[good], out_probs[good] = labels, top_probs
    confidence = np.full(n, np.nan, dtype=np.float64)
    confidence[good] = top_probs[:, 0]
    prediction = np.full(n, None, dtype=object)
    sure = top_probs[:, 0] >= threshold if threshold is not None else np.ones(len(good), dtype=bool)
    prediction[good[sure]] = labels[sure, 0]
    columns = {
        "prediction": prediction,
        "confidence": confidence,
        "top_k_labels": out_labels,
        "top_k_probs": out_probs,
        "error": errors,
    }
    if probabilities:
        full = np.full((n, len(names)), np.nan, dtype=np.float32)
        full[good] = proba
        columns["probabilities"] = full
    return columns


def top_k_structs(columns: dict[str, np.ndarray]) -> list[list[dict[str, Any]] | None]:
    """``top_k`` as a list of ``{"label", "p"}`` per row (None for a bad row): Spark's and Arrow's struct shape."""
    out: list[list[dict[str, Any]] | None] = []
    for labels, probs, error in zip(columns["top_k_labels"], columns["top_k_probs"], columns["error"], strict=True):
        out.append(
            None if error is not None else [{"label": lab, "p": float(p)} for lab, p in zip(labels, probs, strict=True)]
        )
    return out


def probability_maps(columns: dict[str, np.ndarray], class_names: list[str]) -> list[dict[str, float] | None]:
    """``probabilities`` as a ``{class: p}`` map per row (None for a bad row): Spark's and Arrow's map shape."""
    return [
        None if error is not None else dict(zip(class_names, map(float, row), strict=True))
        for row, error in zip(columns["probabilities"], columns["error"], strict=True)
    ]


def to_arrow(columns: dict[str, np.ndarray], model_id: str, class_names: list[str] | None = None):
    """The columns as a pyarrow Table in the documented output schema (see llmclf.integrations.spark)."""
    import pyarrow as pa

    arrays = {
        "prediction": pa.array(columns["prediction"].tolist(), type=pa.string()),
        "confidence": pa.array(
            [None if math.isnan(c) else c for c in columns["confidence"].tolist()], type=pa.float64()
        ),
        "top_k": pa.array(
            top_k_structs(columns), type=pa.list_(pa.struct([("label", pa.string()), ("p", pa.float32())]))
        ),
        "model_id": pa.array([model_id] * len(columns["error"]), type=pa.string()),
        "error": pa.array(columns["error"].tolist(), type=pa.string()),
    }
    if "probabilities" in columns and class_names is not None:
        maps = probability_maps(columns, class_names)
        arrays["probabilities"] = pa.array(maps, type=pa.map_(pa.string(), pa.float32()))
    return pa.table(arrays)
