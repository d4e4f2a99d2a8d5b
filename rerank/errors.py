"""The one exception tree of rerank.

::

    RerankError                 anything rerank raises on purpose
    ├── InputError              a candidate file or row is malformed (names file, line, field)
    ├── OutputError             an output cannot be written, e.g. the disk is full (names it)
    ├── ConfigError             an option, judge spec or strategy name is not usable
    │   ├── CacheError          the verdict cache file cannot be used (names the file)
    │   ├── ModelUnavailable    a local judge model is not installed or fails its digest
    │   └── SkillError          a skill package is invalid (every problem: file and field)
    ├── EnvError                a candidates' Python environment cannot be built or used
    ├── SandboxError            the code sandbox itself failed (rerank.sandbox)
    │   └── SandboxUnavailable  this machine cannot bound untrusted code: nothing is run
    └── JudgeError              a judge could not produce a verdict at all
        ├── EndpointError       no LLM endpoint answered (names each one tried and why)
        │   └── RequestRejectedError  an endpoint refused the request itself (4xx)
        └── MalformedResponse   an endpoint's 200 answer is no chat completion (the pool
                                counts it as that endpoint's failure and moves on)

The CLI turns every ``RerankError`` into a one-line message and a non-zero exit code. A
judge's ``JudgeError`` fails only its item (``--resume`` retries it); any other exception
that escapes is a bug in rerank, and the CLI says so (``docs/formats.md``, exit codes).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "CacheError",
    "ConfigError",
    "EndpointError",
    "EnvError",
    "InputError",
    "JudgeError",
    "MalformedResponse",
    "ModelUnavailable",
    "OutputError",
    "RequestRejectedError",
    "RerankError",
    "SandboxError",
    "SandboxUnavailable",
    "SkillError",
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


class MalformedResponse(JudgeError):
    """A 200 answer that is not a usable chat completion (raised while reading it).

    The endpoint pool classifies it as a failure of that endpoint and tries another, so it
    reaches a caller only inside an :class:`EndpointError`'s message.
    """


class ModelUnavailable(ConfigError):
    """A local judge model's files are not installed, or lack the expected SHA-256."""


class SkillError(ConfigError):
    """A skill package (or several) failed validation; ``problems`` lists every problem.

    Each problem (a :class:`rerank.skills.problems.SkillProblem`) names its skill, file and
    field, and prints as one line.
    """

    def __init__(self, problems: Sequence[_Problem]) -> None:
        self.problems = tuple(problems)
        skills = ", ".join(sorted({p.skill for p in self.problems}))
        count = len(self.problems)
        head = f"invalid skill {skills}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "".join(f"\n  {p}" for p in self.problems))


class _Problem(Protocol):
    @property
    def skill(self) -> str: ...


class EnvError(RerankError):
    """An environment could not be built or used (names the directory and what failed)."""


class SandboxError(RerankError):
    """The sandbox itself failed (not the program in it): setup, or the supervisor died."""


class SandboxUnavailable(SandboxError):
    """This machine cannot bound a sandboxed program's processes, so nothing is run."""
