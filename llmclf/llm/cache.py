"""An on-disk cache of LLM generations, so an unchanged retrain makes no calls.

Keyed by the sha256 of the model, the messages and the generation parameters.
Entries are small JSON files written atomically; a corrupt entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_writer
from ..paths import user_cache_dir

__all__ = ["GenerationCache"]

CACHE_VERSION = 1


class GenerationCache:
    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else user_cache_dir() / "generations"

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                entry = json.load(fh)
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        try:
            with atomic_writer(self._path(key)) as fh:
                fh.write(json.dumps(entry, ensure_ascii=False).encode("utf-8"))
        except OSError:  # a cache that cannot be written only costs a future call
            pass
