"""Exceptions raised by llmclf.

Every error a user can cause or meet is one of these, so the CLI and the
service can turn it into a one-line message without a traceback::

    LlmclfError
     ├── InputError    malformed class spec, unreadable file, empty text, unknown class
     ├── BundleError   a .model file that is missing, corrupt, unsafe or from a newer llmclf
     ├── StoreError    the SQLite database failed (full disk, locked, corrupt, read-only)
     └── LLMError      an LLM endpoint that refused our credentials or failed after retries

Data that could be read only in part (rows skipped, the rest used) raises no
error: it warns with :class:`DataWarning`, which the CLI prints as one line.
An LLM endpoint that needed another way of asking warns with :class:`LLMWarning`.
"""

import os
import re
import sys
import warnings

__all__ = [
    "BundleError",
    "DataWarning",
    "InputError",
    "LLMError",
    "LLMWarning",
    "LlmclfError",
    "StoreError",
    "missing_module",
    "redact",
    "warn_data",
]

_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s@'\"]*@)?(?P<rest>[^\s?#'\"]*)(?P<query>\?[^\s#'\"]*)?"
)


def redact(text: str) -> str:
    """``text`` with the userinfo and query string of every URL in it replaced by ``***``.

    Credentials ride in URLs (``http://admin:pw@host``, ``?key=...``); every message
    llmclf prints or returns goes through this first.
    """
    return _URL.sub(
        lambda m: m["scheme"] + ("***@" if m["user"] else "") + m["rest"] + ("?***" if m["query"] else ""), text
    )


def missing_module(exc: ImportError) -> str:
    """What an ImportError says is missing: the module's name, or, for a library that would not load (a shared
    object, say, where ``name`` is None), its message."""
    return exc.name or f"a module that would not import ({exc})"


class LlmclfError(Exception):
    """Base class: the message is one line meant for the user."""


class InputError(LlmclfError, ValueError):
    """The caller gave something llmclf cannot use."""


class BundleError(LlmclfError):
    """A model bundle could not be written or safely read."""


class BundleUnreadable(BundleError):
    """A bundle file could not be opened (permission, no file descriptor free): what it holds may be sound."""


class StoreError(LlmclfError):
    """A database operation failed; the message names the database and SQLite's cause."""


class LLMError(LlmclfError):
    """An LLM call failed for good (after retries, or at once for bad credentials).

    ``public`` is the same failure without the endpoint's address, for callers
    of the HTTP service, who must not learn where the server's LLM lives.
    """

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(redact(message))
        self.public = public or "the LLM call failed"


class DataWarning(UserWarning):
    """Some of the data could not be used and was skipped, or is not used yet; the message says which and where."""


def warn_data(message: str) -> None:
    """Warn with :class:`DataWarning`, naming the first line outside llmclf (the caller's). Python's default filter
    shows a warning once for each line it names: naming one of llmclf's own showed it once a process."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DataWarning, stacklevel=level)


class LLMWarning(UserWarning):
    """The LLM endpoint refused one way of asking for structured output, and llmclf asks another way from then on."""
