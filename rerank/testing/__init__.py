"""Helpers for testing code that talks to LLM servers (like ``click.testing``).

:mod:`rerank.testing.openai_server` runs a real, scripted OpenAI-compatible server on
loopback. It lives in the package, not in a conftest, so that any test module can import it.
"""

from rerank.testing.openai_server import (
    Delay,
    ErrorReply,
    Message,
    OpenAIServer,
    RawReply,
    RecordedRequest,
    Reply,
    ToolCall,
    openai_server_fixture,
    refusing_endpoint,
)

__all__ = [
    "Delay",
    "ErrorReply",
    "Message",
    "OpenAIServer",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "openai_server_fixture",
    "refusing_endpoint",
]
