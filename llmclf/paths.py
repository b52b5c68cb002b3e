"""Where llmclf keeps things: platform conventions, with env overrides.

Read at call time, never at import, so tests and users can point them elsewhere.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from .errors import InputError

__all__ = ["env_switch", "mtime_ns", "read_kept", "url_in_path", "user_cache_dir", "user_data_dir"]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$", re.S)
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def env_switch(name: str, default: bool) -> bool:
    """A yes/no environment variable: 1/true/yes/on or 0/false/no/off, in any case; unset or empty, ``default``.
    Anything else is an InputError that names it (``LLMCLF_VECTOR_CACHE=false`` kept the cache on: only 0 was off)."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _OFF or raw in _ON:
        return raw in _ON
    raise InputError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {os.environ[name]!r}")


def user_data_dir() -> Path:
    """``$LLMCLF_HOME``, else the platform's user data dir (e.g. ~/.local/share/llmclf)."""
    override = os.environ.get("LLMCLF_HOME")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("llmclf", appauthor=False))


def user_cache_dir() -> Path:
    """``$LLMCLF_CACHE_DIR``, else the platform's user cache dir (e.g. ~/.cache/llmclf)."""
    override = os.environ.get("LLMCLF_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("llmclf", appauthor=False))


def url_in_path(path: str | os.PathLike[str]) -> str | None:
    """The URL a local path was meant to be, else None: ``s3://b/x.model`` given where a file goes (a Path makes it
    ``s3:/b/x.model``) was written to a new folder named ``s3:`` here, as if it had gone to the bucket. A first
    folder with a colon in its name that exists (``./odd:/x``) is a folder, not a URL."""
    match = _URL.match(os.fspath(path))
    if match is None or Path(f"{match[1]}:").is_dir():
        return None
    return f"{match[1]}://{match[2]}"


def mtime_ns(path: Path) -> int:
    """When ``path`` was last modified (or marked used), in ns; 0 if it is gone (another process removed it):
    the order in which the caches here let their files go."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def read_kept(path: Path, size: int | None = None) -> bytes | None:
    """The bytes of a file llmclf keeps for itself (a cache entry), or None where there is no plain file to read
    (of ``size`` bytes, when given). It is opened without waiting, so a FIFO put in its place is passed over: reading
    one blocked until something wrote to it, and a cache read is never worth a wait."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (size is not None and st.st_size != size):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)
