"""Where llmclf keeps things: platform conventions, with env overrides.

Read at call time, never at import, so tests and users can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_cache_dir", "user_data_dir"]


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
