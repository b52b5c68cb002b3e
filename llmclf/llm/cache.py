"""An on-disk cache of LLM generations, so an unchanged retrain makes no calls.

Keyed by the sha256 of the model, the messages and the generation parameters.
Entries are small JSON files written atomically; a corrupt entry is a miss.
At most :data:`MAX_ENTRIES` are kept: past that, a write removes those used
longest ago (a hit marks its file used), where they once piled up without end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_writer
from ..paths import mtime_ns, read_kept, user_cache_dir

__all__ = ["GenerationCache"]

CACHE_VERSION = 1
MAX_ENTRIES = 20_000  # some 40-80 MB of replies; past it a write keeps the nine tenths used last


class GenerationCache:
    def __init__(self, folder: str | os.PathLike[str] | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self.folder = Path(folder) if folder is not None else user_cache_dir() / "generations"
        self.max_entries = max_entries

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        raw = read_kept(path)  # None where there is no plain file to read (a FIFO there blocked a read)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: among the last to go
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        try:
            with atomic_writer(self._path(key), follow=False) as fh:
                fh.write(json.dumps(entry, ensure_ascii=False).encode("utf-8"))
        except OSError:  # a cache that cannot be written only costs a future call
            return
        self._prune()

    def _prune(self) -> None:
        try:
            entries = list(self.folder.glob("??/*.json"))
        except OSError:
            return
        if len(entries) <= self.max_entries:
            return
        entries.sort(key=mtime_ns)
        for path in entries[: len(entries) - self.max_entries * 9 // 10]:
            with contextlib.suppress(OSError):
                path.unlink()
