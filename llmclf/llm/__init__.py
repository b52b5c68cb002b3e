"""The LLM layer: which endpoint to use, structured calls, and synthetic training data.

Names load on first use: importing ``llmclf.llm.config`` (as ``classify`` does)
must not pull in pydantic, openai and instructor.
"""

import importlib

_NAMES = {
    "GenerationCache": "cache",
    "LLMAuthError": "client",
    "OpenAICompatibleLLM": "client",
    "StructuredLLM": "client",
    "HOW_TO_CONFIGURE": "config",
    "LLMConfig": "config",
    "resolve_llm": "config",
    "LLMGenerator": "generate",
    "SyntheticExamples": "generate",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
