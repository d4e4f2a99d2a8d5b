"""Field paths: where a value lives in a row, as ``--prompt-field`` and its kin name it.

A path is steps joined by dots. A step into an object is a key (``query.content``); a step
into a list is an index, counted from 0, or from the end when negative
(``messages.0.content``, ``messages.-1.content``). A string met on the way that holds a
list or an object (a CSV cell, a double-encoded JSON field) is read as one first
(:func:`rerank.cells.parse_container`), so ``messages.-1.content`` reaches into a CSV
column of chat messages.

A key that is absent, or a ``null`` on the way, is an absent field (``KeyError``), which
the reader reports as ``missing`` or, for an optional field, takes as not given. A path
that does not fit the row (an index out of range, a key into a list, a step into a number)
is a :class:`FieldPathError` saying why in a line.
"""

from __future__ import annotations

import re
from typing import Any

from rerank.cells import CellError, parse_container

__all__ = ["FieldPathError", "get_path"]

_INDEX = re.compile(r"-?\d{1,18}")


class FieldPathError(ValueError):
    """A field path that does not fit a row; the message says which step and why."""


def get_path(row: Any, path: str) -> Any:
    """The value at ``path`` in ``row``.

    Raises ``KeyError(path)`` when a key is absent (or a step meets ``null``), and
    :class:`FieldPathError` when the path does not fit the row.

    Examples
    --------
    >>> row = {"messages": [{"content": "hi"}, {"content": "bye"}]}
    >>> get_path(row, "messages.-1.content")
    'bye'
    >>> get_path(row, "messages.2.content")
    Traceback (most recent call last):
    rerank.fieldpaths.FieldPathError: index 2 is out of range: 'messages' has 2 items
    """
    value = row
    steps = path.split(".")
    for depth, step in enumerate(steps):
        here = ".".join(steps[:depth])  # the path to ``value``
        if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
            try:
                value = parse_container(value)
            except CellError as exc:
                raise FieldPathError(f"{here!r} is text that does not read: {exc}") from None
        if value is None:
            raise KeyError(path)
        if isinstance(value, dict):
            if step not in value:
                raise KeyError(path)
            value = value[step]
        elif isinstance(value, list):
            if not _INDEX.fullmatch(step):
                raise FieldPathError(
                    f"{here!r} is a list: index it with a number ({here}.0 for the first "
                    f"item, {here}.-1 for the last), not {step!r}"
                )
            index = int(step)
            if not -len(value) <= index < len(value):
                items = f"{len(value)} item" + ("" if len(value) == 1 else "s")
                raise FieldPathError(f"index {index} is out of range: {here!r} has {items}")
            value = value[index]
        else:
            kind = type(value).__name__
            article = "an" if kind[0] in "aeiou" else "a"
            raise FieldPathError(f"{here!r} is {article} {kind}, not an object or a list")
    return value
