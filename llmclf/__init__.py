"""llmclf: a few sentences about your classes in, a fast and honest text classifier out."""

from ._version import __version__
from .classifier import Classifier, Prediction, TrainReport
from .embedding import Embedder, MiniLMEmbedder, MiniLMInt8Embedder, get_embedder
from .errors import BundleError, DataWarning, InputError, LlmclfError, LLMError
from .examples import Example, Source
from .generation import ExampleGenerator, GenerationResult

# The LLM layer pulls in pydantic, openai and instructor: import it on first
# use so that `llmclf classify` starts fast.
_LAZY = {
    "GenerationCache": "llmclf.llm.cache",
    "LLMConfig": "llmclf.llm.config",
    "LLMGenerator": "llmclf.llm.generate",
    "resolve_llm": "llmclf.llm.config",
    "EvalReport": "llmclf.evaluation",
    "evaluate": "llmclf.evaluation",
    "Store": "llmclf.store",
    "Tag": "llmclf.store",
    "Tagger": "llmclf.tagging",
    "TagResult": "llmclf.tagging",
    "tag_texts": "llmclf.embedding_tagger",
    "atag_texts": "llmclf.embedding_tagger",
    "cascade_classify": "llmclf.cascade",
    "RunLog": "llmclf.feedback",
    "FewShot": "llmclf.feedback",
    "create_app": "llmclf.service",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'llmclf' has no attribute {name!r}")


__all__ = [
    "BundleError",
    "Classifier",
    "DataWarning",
    "Embedder",
    "EvalReport",
    "Example",
    "ExampleGenerator",
    "FewShot",
    "GenerationCache",
    "GenerationResult",
    "InputError",
    "LLMConfig",
    "LLMError",
    "LLMGenerator",
    "LlmclfError",
    "MiniLMEmbedder",
    "MiniLMInt8Embedder",
    "Prediction",
    "RunLog",
    "Source",
    "Store",
    "Tag",
    "TagResult",
    "Tagger",
    "TrainReport",
    "__version__",
    "atag_texts",
    "cascade_classify",
    "create_app",
    "evaluate",
    "get_embedder",
    "resolve_llm",
    "tag_texts",
]
