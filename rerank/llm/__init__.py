"""Talking to LLMs: the endpoint pool over OpenAI-compatible servers, and the verdict cache.

See docs/llm.md for how endpoints, failover, retries, concurrency caps, the thinking flag,
the API key and the cache behave.
"""

from rerank.llm.cache import NullCache, VerdictCache, default_cache_path, verdict_key
from rerank.llm.client import ChatResult, EndpointPool, ToolCall, Usage
from rerank.llm.endpoints import EndpointStatus, parse_base_urls, resolve_api_key

__all__ = [
    "ChatResult",
    "EndpointPool",
    "EndpointStatus",
    "NullCache",
    "ToolCall",
    "Usage",
    "VerdictCache",
    "default_cache_path",
    "parse_base_urls",
    "resolve_api_key",
    "verdict_key",
]
