"""``ast.parse`` behind a lock: CPython 3.11 can fail when threads parse at once.

Two threads in ``ast.parse`` at the same time can raise ``SystemError: AST constructor
recursion depth mismatch`` (python/cpython#106905, fixed in later releases). The evidence
judge runs verifiers on threads, so every parse in the verifiers goes through :func:`parse`.
Parsing a candidate takes well under a millisecond; the lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import threading
from typing import Any, Literal, overload

__all__ = ["parse"]

_LOCK = threading.Lock()


@overload
def parse(source: str, mode: Literal["exec"] = "exec", **options: Any) -> ast.Module: ...
@overload
def parse(source: str, mode: Literal["eval"], **options: Any) -> ast.Expression: ...
@overload
def parse(source: str, mode: str, **options: Any) -> ast.AST: ...


def parse(source: str, mode: str = "exec", **options: Any) -> ast.AST:
    """:func:`ast.parse`, one thread at a time."""
    with _LOCK:
        return ast.parse(source, mode=mode, **options)
