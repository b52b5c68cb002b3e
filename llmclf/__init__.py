"""llmclf: a few sentences about your classes in, a fast and honest text classifier out."""

from ._version import __version__
from .classifier import Classifier, Prediction, TrainReport
from .embedding import Embedder, MiniLMEmbedder, get_embedder
from .errors import BundleError, InputError, LlmclfError, LLMError
from .examples import Example, Source
from .generation import ExampleGenerator, GenerationResult

__all__ = [
    "BundleError",
    "Classifier",
    "Embedder",
    "Example",
    "ExampleGenerator",
    "GenerationResult",
    "InputError",
    "LLMError",
    "LlmclfError",
    "MiniLMEmbedder",
    "Prediction",
    "Source",
    "TrainReport",
    "__version__",
    "get_embedder",
]
