"""What both engines share: loading a bundle once per worker process, and the output columns as a pandas frame."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from ..batch import probability_maps, top_k_structs
from ..classifier import Classifier

__all__ = ["OUTPUT_COLUMNS", "bundle_payload", "load_once", "output_frame"]

OUTPUT_COLUMNS = ("prediction", "confidence", "top_k", "model_id", "error")
_loaded: dict[tuple[str, int | None], Classifier] = {}
_lock = threading.Lock()


def bundle_payload(bundle: Any) -> bytes | str:
    """What to ship to workers: a URL stays a URL (each worker fetches it); a local path or a file becomes bytes,
    since a worker on another machine cannot see the driver's disk."""
    if isinstance(bundle, bytes | bytearray | memoryview):
        return bytes(bundle)
    if isinstance(bundle, str) and "://" in bundle and not bundle.startswith("file://"):
        return bundle
    if hasattr(bundle, "read"):
        return bundle.read()
    return Path(str(bundle).removeprefix("file://")).read_bytes()


def load_once(payload: bytes | str, threads: int | None = 1) -> Classifier:
    """The classifier for ``payload``, loaded once per process (inference-only, ``threads`` onnxruntime threads)."""
    key = (payload if isinstance(payload, str) else hashlib.sha256(payload).hexdigest(), threads)
    with _lock:
        if key not in _loaded:
            _loaded[key] = Classifier.load(payload, inference_only=True, threads=threads)
        return _loaded[key]


def output_frame(clf: Classifier, texts: list[Any], top_k: int, probabilities: bool = False):
    """The output columns for ``texts`` as a pandas DataFrame, row for row."""
    import pandas as pd

    columns = clf.predict_batch(texts, top_k=top_k, probabilities=probabilities)
    frame = pd.DataFrame(
        {
            "prediction": columns["prediction"],
            "confidence": columns["confidence"],
            "top_k": top_k_structs(columns),
            "model_id": [clf.model_id] * len(texts),
            "error": columns["error"],
        }
    )
    if probabilities:
        frame["probabilities"] = probability_maps(columns, clf.class_names)
    return frame
