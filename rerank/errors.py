"""The one exception tree of rerank.

::

    RerankError                 anything rerank raises on purpose
    ├── InputError              a candidate file or row is malformed (names file, line, field)
    ├── OutputError             an output cannot be written, e.g. the disk is full (names it)
    ├── ConfigError             an option, judge spec or strategy name is not usable
    │   ├── CacheError          the verdict cache file cannot be used (names the file)
    │   └── SkillError          a skill package is invalid (every problem: file and field)
    ├── SandboxError            the code sandbox itself failed (rerank.sandbox.runner)
    │   └── SandboxUnavailable  this machine cannot bound untrusted code: nothing is run
    └── JudgeError              a judge could not produce a verdict at all
        └── EndpointError       no LLM endpoint answered (names each one tried and why)
            └── RequestRejectedError  an endpoint refused the request itself (4xx)

The CLI turns every ``RerankError`` into a one-line message and a non-zero exit code. A
judge's ``JudgeError`` fails only its item (``--resume`` retries it); any other exception
that escapes is a bug in rerank, and the CLI says so (``docs/formats.md``, exit codes).
"""

from __future__ import annotations

import errno

__all__ = [
    "CacheError",
    "ConfigError",
    "EndpointError",
    "InputError",
    "JudgeError",
    "OutputError",
    "RequestRejectedError",
    "RerankError",
]


class RerankError(Exception):
    """Base of every error rerank raises on purpose."""


class InputError(RerankError):
    """A malformed input row: the message names the file, the line and the field."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file if line is None else f"{file}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {message}")


class OutputError(RerankError):
    """An output (a file, stdout, a temporary index) could not be written.

    ``target`` names it (``-`` is stdout), ``reason`` says why in a user's words ("the disk
    is full"; then ``disk_full`` is true), and ``hint`` what to do about it, which the
    caller that knows the run adds.
    """

    def __init__(
        self, target: str, reason: str, *, disk_full: bool = False, hint: str = ""
    ) -> None:
        self.target = target
        self.reason = reason
        self.disk_full = disk_full
        self.hint = hint
        name = "stdout" if target == "-" else target
        super().__init__(f"cannot write {name}: {reason}" + (f"; {hint}" if hint else ""))

    @classmethod
    def from_os_error(cls, target: str, exc: OSError) -> OutputError:
        """The error for an ``OSError`` met while writing ``target``."""
        full = {
            errno.ENOSPC: "the disk is full (no space left on device)",
            errno.EDQUOT: "the disk is full (the disk quota is exceeded)",
        }
        if exc.errno in full:
            return cls(target, full[exc.errno], disk_full=True)
        return cls(target, exc.strerror or str(exc))


class ConfigError(RerankError):
    """An option, a judge spec or a strategy name that cannot be used."""


class JudgeError(RerankError):
    """A judge failed outright (as opposed to returning an invalid verdict)."""


class CacheError(ConfigError):
    """The verdict cache file is unreadable: the message names it and suggests --no-cache."""


class EndpointError(JudgeError):
    """No OpenAI-compatible endpoint answered: the message names each one tried and why."""


class RequestRejectedError(EndpointError):
    """An endpoint rejected the request itself (a 4xx other than 429), so retrying is futile."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)
