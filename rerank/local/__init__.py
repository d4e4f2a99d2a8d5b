"""Run a judge model inside this process: GGUF models from PyPI packages, llama.cpp's server.

See :mod:`rerank.local.models` (which models, where their files come from, the cache) and
:mod:`rerank.local.server` (the in-process OpenAI-compatible server on loopback).
"""

from rerank.local.models import (
    DEFAULT_MODEL,
    MODELS,
    LocalModel,
    ModelUnavailable,
    available,
    cache_dir,
    model_path,
)
from rerank.local.server import LocalServer

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "LocalModel",
    "LocalServer",
    "ModelUnavailable",
    "available",
    "cache_dir",
    "model_path",
]
