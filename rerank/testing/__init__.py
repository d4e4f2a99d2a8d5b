"""Helpers for testing code that talks to LLM servers (like ``click.testing``).

:mod:`rerank.testing.openai_server` runs a real, scripted OpenAI-compatible server on
loopback; :mod:`rerank.testing.policies` answers judge requests on it by a policy (an oracle
of set accuracy, always-A, random: ``rerank serve-scripted``);
:mod:`rerank.testing.backend` answers the same scripted messages in this process,
for tests that need no socket. They live in the package, not in a conftest, so that any
test module can import them.
"""

from rerank.testing.backend import ScriptedBackend
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
from rerank.testing.policies import POLICIES, Policy, parse_policy

__all__ = [
    "Delay",
    "ErrorReply",
    "Message",
    "OpenAIServer",
    "POLICIES",
    "Policy",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "ScriptedBackend",
    "ToolCall",
    "openai_server_fixture",
    "parse_policy",
    "refusing_endpoint",
]
