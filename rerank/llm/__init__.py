"""Talking to LLMs: the backend interface, the endpoint pool over OpenAI-compatible
servers, and the verdict cache.

See docs/llm.md for how endpoints, failover, retries, deadlines, concurrency caps, the
thinking flag, the API key, masked URLs and the cache behave.
"""

from typing import TYPE_CHECKING, Any

from rerank.llm.backend import ChatBackend
from rerank.llm.cache import NullCache, VerdictCache, default_cache_path, verdict_key
from rerank.llm.endpoints import EndpointStatus, parse_base_urls, resolve_api_key
from rerank.llm.redact import redact_url, redact_urls

if TYPE_CHECKING:
    from rerank.llm.client import ChatResult, EndpointPool, ToolCall, Usage

__all__ = [
    "ChatBackend",
    "ChatResult",
    "EndpointPool",
    "EndpointStatus",
    "NullCache",
    "ToolCall",
    "Usage",
    "VerdictCache",
    "default_cache_path",
    "parse_base_urls",
    "redact_url",
    "redact_urls",
    "resolve_api_key",
    "verdict_key",
]

_CLIENT_NAMES = ("ChatResult", "EndpointPool", "ToolCall", "Usage")


def __getattr__(name: str) -> Any:
    """The client's names, imported on first use: the client pulls in openai (~0.6 s), and
    a judge spec is masked with :func:`redact_urls` by runs that never ask an LLM."""
    if name in _CLIENT_NAMES:
        from rerank.llm import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
