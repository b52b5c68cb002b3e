"""The HTTP service (FastAPI): classify, tag, feedback, models, health."""

from .app import create_app, model_names

__all__ = ["create_app", "model_names"]
