"""llmclf: a few sentences about your classes in, a fast and honest text classifier out."""

from ._version import __version__
from .classifier import Classifier, Prediction, TrainReport
from .embedding import Embedder, MiniLMEmbedder, get_embedder
from .errors import BundleError, InputError, LlmclfError, LLMError
from .examples import Example, Source
from .generation import ExampleGenerator, GenerationResult

# The LLM layer pulls in pydantic, openai and instructor: import it on first
# use so that `llmclf classify` starts fast.
_LAZY = {
    "GenerationCache": "llmclf.llm.cache",
    "LLMConfig": "llmclf.llm.config",
    "LLMGenerator": "llmclf.llm.generate",
    "resolve_llm": "llmclf.llm.config",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'llmclf' has no attribute {name!r}")


__all__ = [
    "BundleError",
    "Classifier",
    "Embedder",
    "Example",
    "ExampleGenerator",
    "GenerationCache",
    "GenerationResult",
    "InputError",
    "LLMConfig",
    "LLMError",
    "LLMGenerator",
    "LlmclfError",
    "MiniLMEmbedder",
    "Prediction",
    "Source",
    "TrainReport",
    "__version__",
    "get_embedder",
    "resolve_llm",
]
