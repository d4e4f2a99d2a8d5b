"""The sandbox: runs untrusted Python in an isolated child process with hard limits.

``runner`` is the parent side (:func:`run_python`, :class:`SandboxPool`), ``boot`` the child
side it imports in the new process, ``isolation`` the namespace and filesystem set-up and
``capture`` the bounded output pipes. docs/sandbox.md has the whole picture.
"""

from rerank.sandbox.runner import (
    Limits,
    RunResult,
    SandboxError,
    SandboxPool,
    SandboxUnavailable,
    check_python,
    default_memory_mb,
    describe_limits,
    run_python,
)

__all__ = [
    "Limits",
    "RunResult",
    "SandboxError",
    "SandboxPool",
    "SandboxUnavailable",
    "check_python",
    "default_memory_mb",
    "describe_limits",
    "run_python",
]
