"""Cells that hold lists and objects: JSON, or the Python literals pandas writes into CSV.

A CSV cell is text, so a column meant to hold a list or an object (candidates, scores, a
task) holds it as JSON (``["a", "b"]``) or, in a CSV written by pandas' ``to_csv``, as the
Python literal ``str()`` prints (``['a', "it's"]``, ``{'x': None}``). :func:`parse_json`
reads the first, :func:`parse_python_literal` the second, and :func:`parse_container` a cell
that may hold either.

A Python literal is rewritten token by token into JSON and read by ``json.loads``, so it
meets exactly the caps a JSON cell meets (nesting depth, integer digits) at the cost a JSON
cell has, linear in its length. Calling ``ast.literal_eval`` on the whole cell would first
build a syntax tree of ~500 bytes per character of a list of small items (a 2 MB cell, 1 GB
of memory). ``ast.literal_eval`` still decodes each string literal with escapes, one token
at a time, whose tree is a single node.

Errors are :class:`CellError`, a ``ValueError`` whose message says why in a line.
"""

from __future__ import annotations

import ast
import json
import re
import string
import sys
import warnings
from typing import Any

__all__ = ["CellError", "parse_container", "parse_json", "parse_python_literal"]


class CellError(ValueError):
    """A cell that cannot be read. ``position`` is the offset where reading failed, or
    ``None`` when a cap was met (too deep, an integer too long)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


def parse_json(text: str) -> Any:
    """``json.loads``, with every way it can fail as a :class:`CellError` saying why in a
    line: invalid JSON, nesting too deep to parse, an integer too long to convert.

    Examples
    --------
    >>> parse_json('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_json("[1,")
    Traceback (most recent call last):
    rerank.cells.CellError: invalid JSON: Expecting value (column 4)
    """
    return _loads(text, "JSON", positions=True)


def _loads(text: str, what: str, *, positions: bool) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if not positions:  # a rewritten literal: its offsets are not the cell's
            raise CellError(f"invalid {what}: {exc.msg}") from None
        raise CellError(f"invalid {what}: {exc.msg} (column {exc.colno})", exc.pos) from None
    except RecursionError:
        raise CellError(f"invalid {what}: nested too deeply to read") from None
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) for integer ..."
        if "digits" in str(exc):
            raise CellError(_too_many_digits(what)) from None
        raise CellError(f"invalid {what}: {exc}") from None


def _too_many_digits(what: str) -> str:
    limit = sys.get_int_max_str_digits()
    return (
        f"invalid {what}: an integer of more than {limit} digits (Python's limit on "
        "converting them; the environment variable PYTHONINTMAXSTRDIGITS raises it)"
    )


def parse_container(text: str) -> Any:
    """A cell meant to hold a list or an object: JSON, else a Python literal.

    When neither reads, the error is that of the reader that got further into the text, so
    a broken literal is not reported as broken JSON (on a tie, the literal reader's, unless
    both ran into the end of the text: then JSON's).

    Examples
    --------
    >>> parse_container('["a", "b"]'), parse_container("['a', \\"it's\\"]")
    (['a', 'b'], ['a', "it's"])
    """
    try:
        return parse_json(text)
    except CellError as json_error:
        if json_error.position is None:
            raise  # a cap: the literal would meet the same one
        try:
            return parse_python_literal(text)
        except CellError as literal_error:
            if _further(literal_error.position, json_error.position, len(text.rstrip())):
                raise literal_error from None
            raise json_error from None


def _further(literal: int | None, json: int, end: int) -> bool:
    """Whether the literal reader's error says more than JSON's: it got further, or as far
    but not to the end (JSON's "Expecting value" says less there than "unexpected 'np'")."""
    return literal is None or literal > json or (literal == json and literal < end)


# --- Python literals ------------------------------------------------------------------------

# One token at a position. Strings are single-line, as repr() writes them (a backslash may
# escape anything, a newline included); the prefix letters are checked after matching.
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\f\r\n]+)
  | (?P<open>[\[{])
  | (?P<close>[\]}])
  | (?P<comma>,)
  | (?P<colon>:)
  | (?P<string>[a-zA-Z]{0,2}(?:'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"))
  | (?P<number>[-+]?(?:0[xXoObB][0-9a-fA-F_]+
                    |(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?)[jJ]?)
  | (?P<name>[-+]?[^\W\d]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
# pandas prints a missing or infinite float in a list as nan or inf: JSON's NaN, Infinity.
_NAMES = {
    "True": "true",
    "False": "false",
    "None": "null",
    "nan": "NaN",
    "inf": "Infinity",
    "-inf": "-Infinity",
    "+inf": "Infinity",
}
_CLOSER = {"[": "]", "{": "}"}
_PIECES = 1024  # a piece per token costs ~60 bytes: join them into chunks this often
_WHAT = "a list, dict, string, number, True, False or None"
_NO_COMMA = (
    "no comma between two items: a numpy array, as pandas writes one? "
    "(convert array cells to lists with .tolist() before to_csv)"
)


def parse_python_literal(text: str) -> Any:
    """The value of a Python literal made of lists, dicts (string keys), strings, numbers,
    ``True``, ``False``, ``None`` (and ``nan``, ``inf``), as ``str()`` of a list or a dict
    prints it; a :class:`CellError` saying why for anything else (a call, a tuple, bytes).

    Examples
    --------
    >>> parse_python_literal("[{'text': 'caf\\\\xe9', 'score': 1.0}, None, True]")
    [{'text': 'café', 'score': 1.0}, None, True]
    >>> parse_python_literal("['a' 'b']")
    Traceback (most recent call last):
    rerank.cells.CellError: invalid Python literal: no comma between two items: ...
    """
    chunks: list[str] = []  # the JSON the literal rewrites to, joined a few pieces at a time
    parts: list[str] = []  # its latest pieces, one per token
    stack: list[str] = []  # the open brackets, innermost last
    expect = "value"  # value | item_or_close | key_or_close | colon | after
    pos, end = 0, len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _error(text, pos, f"unexpected {text[pos]!r}; a cell holds {_WHAT}")
        kind, token, start, pos = match.lastgroup, match.group(), pos, match.end()
        if kind == "space":
            continue
        if kind == "close":
            if not stack or token != _CLOSER[stack[-1]] or expect in ("value", "colon"):
                raise _error(text, start, f"unexpected {token!r}")
            if parts and parts[-1] == ",":
                parts.pop()  # a trailing comma, which Python allows and JSON does not
            stack.pop()
            parts.append(token)
            expect = "after"
        elif kind == "comma":
            if expect != "after" or not stack:
                raise _error(text, start, "unexpected ','")
            parts.append(token)
            expect = "item_or_close" if stack[-1] == "[" else "key_or_close"
        elif kind == "colon":
            if expect != "colon":
                raise _error(text, start, "unexpected ':'")
            parts.append(token)
            expect = "value"
        else:  # a value: open, string, number or name
            if expect == "after":
                raise _error(text, start, _NO_COMMA if stack else "text after the value")
            if expect == "colon":
                raise _error(text, start, "expected ':' after a dict key")
            if expect == "key_or_close" and kind != "string":
                raise _error(text, start, f"a dict key must be a string, not {token!r}")
            if kind == "open":
                stack.append(token)
                parts.append(token)
                expect = "item_or_close" if token == "[" else "key_or_close"
                continue
            parts.append(_scalar(kind, token, text, start))
            expect = "colon" if expect == "key_or_close" else "after"
            if len(parts) >= _PIECES:  # after a value, so a trailing comma is still a piece
                chunks.append("".join(parts))
                parts.clear()
    if stack:
        raise _error(text, end, f"cut short: a {stack[-1]!r} is never closed")
    if expect != "after":
        raise _error(text, end, "no value")
    chunks.append("".join(parts))
    return _loads("".join(chunks), "Python literal", positions=False)


def _scalar(kind: str | None, token: str, text: str, start: int) -> str:
    """The JSON for one string, number or name token."""
    if kind == "name":
        if token not in _NAMES:
            raise _error(text, start, f"unexpected {token!r}; a cell holds {_WHAT}")
        return _NAMES[token]
    if kind == "number":
        if _JSON_NUMBER.fullmatch(token.removeprefix("+")):
            return token.removeprefix("+")
        if token[-1] in "jJ":
            raise _error(text, start, f"a complex number, {token!r}")
        value = _literal_token(token, text, start)
        try:
            return json.dumps(value)
        except ValueError:  # str() of an int past the digit limit (a long hex literal)
            raise CellError(_too_many_digits("Python literal")) from None
    prefix = token[: len(token) - len(token.lstrip(string.ascii_letters))]
    if prefix.lower() not in ("", "r", "u"):
        lower = prefix.lower()
        what = "bytes" if "b" in lower else "an f-string" if "f" in lower else "unexpected"
        raise _error(text, start, f"{what} {token[:20]!r}; a cell holds {_WHAT}")
    # Without a backslash, what is between the quotes is the string, whatever the prefix.
    plain = "\\" not in token
    value = token[len(prefix) + 1 : -1] if plain else _literal_token(token, text, start)
    return json.dumps(value, ensure_ascii=False)


def _literal_token(token: str, text: str, start: int) -> Any:
    """One string or number token, decoded by ``ast.literal_eval``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence": kept as written
            return ast.literal_eval(token)
    except (SyntaxError, ValueError) as exc:
        if "digits" in str(exc):
            raise CellError(_too_many_digits("Python literal")) from None
        raise _error(text, start, f"cannot read {token[:40]!r}") from None


def _error(text: str, position: int, why: str) -> CellError:
    column = position - text.rfind("\n", 0, position)
    return CellError(f"invalid Python literal: {why} (column {column})", position)
