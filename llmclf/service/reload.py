"""Serving a bundle's newest version: `llmclf retrain` (or `train --save` over it) while `llmclf serve` runs.

The service loaded each bundle once, so after a retrain it answered with the old head until someone restarted it.
Now each bundle's file is looked at every few seconds; when it has changed (saves replace the file atomically, so a
new file is a whole one), the new bundle is loaded in a worker thread while the old one goes on answering, and then
takes its place. A file that cannot be loaded (a half-copied one, a stranger's) is logged once and the old model
kept; it is tried again once the file changes, and every ``retry_failed`` seconds meanwhile: a load can fail for
the moment only (a service out of file descriptors failed on a good file and never tried it again).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool

from ..classifier import Classifier

__all__ = ["RELOAD_EVERY", "BundleWatcher"]

log = logging.getLogger("llmclf.service")
RELOAD_EVERY = 2.0  # seconds between looks at each bundle file: a stat each, nothing read unless it changed
RETRY_FAILED = 30.0  # seconds before a file that failed to load is tried again, though it has not changed

Signature = tuple[int, int, int]


def _signature(path: str | os.PathLike[str]) -> Signature | None:
    """What changes when a file is replaced or rewritten; None while it is missing (mid-replace, or removed) and
    for a URL (an fsspec bundle is loaded once)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def ready(path: str | os.PathLike[str], threads: int | None = None) -> Classifier:
    """The bundle at ``path``, its embedding model loaded too: not by the first request, which waited for it
    (1-2 s), and at the open-files limit found no descriptor for the model's files (500)."""
    clf = Classifier.load(path, threads=threads)
    clf.predict_proba(["warm up"])
    return clf


class BundleWatcher:
    """Loads each bundle of ``paths`` into :attr:`loaded`, and loads it again when its file changes."""

    def __init__(
        self,
        paths: Mapping[str, str | os.PathLike[str]],
        threads: int | None = None,
        retry_failed: float = RETRY_FAILED,
    ) -> None:
        self.paths, self.threads, self.retry_failed = dict(paths), threads, retry_failed
        self.loaded: dict[str, Classifier] = {}
        self._seen: dict[str, Signature | None] = {}
        self._failed: dict[str, tuple[Signature, float, str]] = {}  # the file, when it failed, and what it said
        for name, path in self.paths.items():
            self._seen[name] = _signature(path)  # before the load: a save while it loads is seen at the next look
            self.loaded[name] = ready(path, threads)

    async def run(self, every: float = RELOAD_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            await self.check()

    async def check(self) -> None:
        for name, path in self.paths.items():
            now = _signature(path)
            failed, failed_at, said = self._failed.get(name, (None, 0.0, ""))
            if (
                now is None
                or now == self._seen[name]
                or (now == failed and time.monotonic() - failed_at < self.retry_failed)
            ):
                continue
            try:  # the old model answers meanwhile
                fresh = await run_in_threadpool(ready, path, self.threads)
            except Exception as exc:  # whatever the file holds, the service goes on
                self._failed[name] = (now, time.monotonic(), str(exc))
                if (now, str(exc)) != (failed, said):  # said once, not at every try
                    log.error(
                        "model %s: %s changed but cannot be loaded (%s); still serving the one before", name, path, exc
                    )
                continue
            self._seen[name] = now
            self._failed.pop(name, None)
            old, self.loaded[name] = self.loaded.get(name), fresh
            log.info(
                "model %s: reloaded %s (model id %s, was %s)",
                name,
                path,
                fresh.model_id,
                old.model_id if old is not None else None,
            )
