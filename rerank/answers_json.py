r"""Answer fields of the JSON objects models write, read tolerantly.

Asked for ``{"reasoning": ..., "answer": ...}``, models write it bare or in a
```` ```json ```` fence, nest it, name the key ``final_answer`` or ``Final Answer``, leave
raw newlines in strings, and write LaTeX without escaping it: ``"\frac{1}{2}"``, which
strict JSON reads as a form feed and ``rac{1}{2}``. :func:`answer_fields` finds the last
object that has an answer-like key and gives its answer fields as the model meant them:

1. strict JSON (raw newlines allowed), unless the object holds LaTeX that strict JSON
   would read as control characters (``\frac``, ``\theta``, ``\neq``);
2. else a repaired parse: backslashes that begin no JSON escape (``\sqrt``, ``\(``),
   or begin a LaTeX command (``\frac``), are doubled, and trailing commas dropped;
3. else (unescaped quotes inside strings, Python dicts) a regular expression on the key.

What the answer *is* (a box inside the value, a whole solution under ``solution``) is
:mod:`rerank.answers`' business; this module only reads JSON.

Examples
--------
>>> answer_fields('Here it is: {"reasoning": "...", "answer": "\\frac{1}{2}"}')
[('answer', '\\frac{1}{2}')]
>>> answer_fields('```json\n{"result": {"final_answer": ""}}\n```')
[('final_answer', None)]
>>> answer_fields("no object here")
[]
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["PLACEHOLDERS", "answer_fields"]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n?(.*?)(?:```|\Z)", re.DOTALL)
# Normalised keys (lowercase, letters only) that hold an answer, best first.
_ANSWER_KEYS = ("finalanswer", "answer", "final", "result", "finalresult", "solution", "ans")
_INNER_KEYS = ("value", "expression", "latex")  # inside an answer that is itself an object
#: Values that state no answer (``"None"``, ``"N/A"``), lowercased.
PLACEHOLDERS = frozenset({"", "none", "null", "n/a", "na", "unknown", "...", "tbd", "nan"})
_OBJECT_START = re.compile(r"\{\s*[\"']")
_MAX_OBJECTS = 50  # objects tried per response: a bound on the work hostile text can cause
_MAX_JSON_CHARS = 200_000
_KEY_VALUE = re.compile(
    r"[\"'](?P<key>final[ _]?answer|answer|final|result|final[ _]?result|solution|ans)[\"']"
    r"\s*:\s*(?:\"(?P<dq>(?:[^\"\\]|\\.)*)\"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<bare>[^,}\]\n]+))",
    re.IGNORECASE,
)
# A backslash and what follows it inside a JSON string: an escape, a LaTeX command, a char.
_BACKSLASH = re.compile(r"\\(u[0-9a-fA-F]{4}|[a-zA-Z]+|.)", re.DOTALL)
# LaTeX commands that begin with a JSON escape letter n (``\neq`` is no newline + "eq");
# after b, f, r, t any letters mean LaTeX (``\frac``, ``\theta``, ``\right``, ``\beta``).
_N_COMMANDS = (
    "ne", "neq", "neg", "nu", "nabla", "not", "notin", "ni", "nmid", "newline", "ngeq",
    "nleq", "nless", "ngtr", "nsubseteq", "nparallel", "natural", "nearrow", "nwarrow",
)  # fmt: skip
_N_SET = frozenset(_N_COMMANDS)
# LaTeX that a strict parse would read as control characters (an odd run of backslashes).
_LATEX_AS_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*\\(?:[bfrt][a-zA-Z]|(?:" + "|".join(_N_COMMANDS) + r")(?![a-zA-Z]))"
)


def answer_fields(text: str) -> list[tuple[str, str | None]]:
    """The answer-like fields of the last JSON object (bare, or fenced as ``json`` or
    untagged) that has one: ``(key as written, value as text)``, best key first, nearer
    the top first; the value is None when it states nothing (``""``, ``"None"``, ``null``).
    Fences of other languages are code and not read. An empty list: no such object."""
    view = _FENCE.sub(_json_fence_contents, text)[-_MAX_JSON_CHARS:]
    for obj in reversed(_objects(view)):
        if fields := _fields_of(obj):
            return fields
    return []


def _json_fence_contents(match: re.Match[str]) -> str:
    language, body = match.group(1).lower(), match.group(2)
    return f"\n{body}\n" if language in ("json", "") or body.lstrip().startswith("{") else "\n"


def _objects(text: str) -> list[str]:
    """The outermost ``{"...`` objects of ``text`` in order; an unclosed one runs to the end."""
    found: list[str] = []
    position = 0
    while len(found) < _MAX_OBJECTS and (start := _OBJECT_START.search(text, position)):
        end = _object_end(text, start.start())
        found.append(text[start.start() : end])
        position = end
    return found


def _object_end(text: str, start: int) -> int:
    """Just past the brace that closes the object at ``start`` (strings skipped), or the end."""
    depth = 0
    in_string = False
    i = start
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _fields_of(obj: str) -> list[tuple[str, str | None]]:
    # Strict JSON first, unless it would read LaTeX as control characters; then repaired.
    parses = (_repaired,) if _LATEX_AS_ESCAPE.search(obj) else (_strict, _repaired)
    for parse in parses:
        if (value := parse(obj)) is not None:
            return _fields_in_value(value)
    return _fields_by_key(obj)


def _strict(obj: str) -> Any:
    try:
        return json.loads(obj, strict=False)  # strict=False: raw newlines inside strings
    except ValueError:
        return None


def _repaired(obj: str) -> Any:
    repaired = _BACKSLASH.sub(_escape_latex, obj)
    repaired = re.sub(r",\s*([}\]])", r"\1", repaired)  # trailing commas
    return _strict(repaired)


def _escape_latex(match: re.Match[str]) -> str:
    """A JSON escape as it is; a LaTeX backslash (``\\frac``, ``\\(``, ``\\{``) doubled."""
    tail = match.group(1)
    if tail == "'":
        return tail
    if tail in ('"', "\\", "/") or (len(tail) == 5 and tail[0] == "u"):
        return match.group(0)
    if tail[0] in "bfnrt" and (len(tail) == 1 or (tail[0] == "n" and tail not in _N_SET)):
        return match.group(0)  # \n, \t...; \nThe is a newline and "The"
    return "\\" + match.group(0)


def _fields_in_value(value: Any) -> list[tuple[str, str | None]]:
    """The answer-like fields of a parsed object, searched breadth first, best key first."""
    fields: list[tuple[str, str | None]] = []
    level = [value]
    for _ in range(8):  # nesting levels searched
        for node in level:
            if isinstance(node, dict):
                keys = _answer_keys(node)
                for name in (n for n in _ANSWER_KEYS if n in keys):
                    value, written = node[keys[name]], _written(node[keys[name]])
                    if written is not None or not isinstance(value, dict):
                        fields.append((str(keys[name]), written))  # a dict is searched below
        children = [c for n in level for c in (n.values() if isinstance(n, dict) else n)]
        level = [c for c in children if isinstance(c, dict | list)]
        if not level:
            break
    return fields


def _answer_keys(node: dict) -> dict[str, Any]:
    """Normalised key (lowercase, letters only: ``Final Answer`` -> ``finalanswer``) -> key."""
    return {re.sub(r"[^a-z]", "", str(k).lower()): k for k in node}


def _written(value: Any) -> str | None:
    """An answer value as text: a string, a number, a list of them, or an object's value."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return None if value.strip().lower() in PLACEHOLDERS else value.strip()
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # {"answer": {"value": 3}}; nested answer keys are searched
        keys = _answer_keys(value)
        for name in _INNER_KEYS:
            if name in keys:
                return _written(value[keys[name]])
    return None


def _fields_by_key(obj: str) -> list[tuple[str, str | None]]:
    """The best and last answer-like ``"key": value`` of an object no JSON parser reads."""
    best: tuple[int, re.Match[str]] | None = None
    for match in _KEY_VALUE.finditer(obj):
        rank = _ANSWER_KEYS.index(re.sub(r"[^a-z]", "", match.group("key").lower()))
        if best is None or rank <= best[0]:
            best = (rank, match)
    if best is None:
        return []
    match = best[1]
    if (quoted := match.group("dq")) is None and (quoted := match.group("sq")) is not None:
        quoted = quoted.replace('"', '\\"')  # a single-quoted string may hold bare "
    raw = match.group("bare") if quoted is None else _decoded(quoted)
    return [(match.group("key"), _written(raw))]


def _decoded(quoted: str) -> str:
    """The contents of a JSON string as the model meant them (LaTeX backslashes kept)."""
    decoded = _strict('"' + _BACKSLASH.sub(_escape_latex, quoted) + '"')
    return decoded if isinstance(decoded, str) else quoted
