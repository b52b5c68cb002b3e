"""Exceptions raised by llmclf.

Every error a user can cause or meet is one of these, so the CLI and the
service can turn it into a one-line message without a traceback::

    LlmclfError
     ├── InputError    malformed class spec, unreadable file, empty text, unknown class
     ├── BundleError   a .model file that is missing, corrupt, unsafe or from a newer llmclf
     └── LLMError      an LLM endpoint that refused our credentials or failed after retries
"""

__all__ = ["BundleError", "InputError", "LLMError", "LlmclfError"]


class LlmclfError(Exception):
    """Base class: the message is one line meant for the user."""


class InputError(LlmclfError, ValueError):
    """The caller gave something llmclf cannot use."""


class BundleError(LlmclfError):
    """A model bundle could not be written or safely read."""


class LLMError(LlmclfError):
    """An LLM call failed for good (after retries, or at once for bad credentials)."""
