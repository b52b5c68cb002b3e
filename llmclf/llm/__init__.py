"""The LLM layer: which endpoint to use, structured calls, and synthetic training data."""

from .cache import GenerationCache
from .client import LLMAuthError, OpenAICompatibleLLM, StructuredLLM
from .config import HOW_TO_CONFIGURE, LLMConfig, resolve_llm
from .generate import LLMGenerator, SyntheticExamples

__all__ = [
    "HOW_TO_CONFIGURE",
    "GenerationCache",
    "LLMAuthError",
    "LLMConfig",
    "LLMGenerator",
    "OpenAICompatibleLLM",
    "StructuredLLM",
    "SyntheticExamples",
    "resolve_llm",
]
