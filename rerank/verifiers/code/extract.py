"""Finding the program in a response: fences, bare code, prose around code, continuations.

LLM responses wrap code in many ways: one fenced block, several (a helper, the function,
a usage example), bare code, code between paragraphs of prose, or (HumanEval style) only
the body of the function the prompt started. :func:`extract_program` turns a response into
a :class:`Program`, or says why it found none.

The sanitizer (:func:`sanitize`) follows evalplus's ``evalplus.sanitize`` (Apache-2.0):
the longest span of lines that parses, then only imports, classes, functions and
assignments, and with an entry point only those it reaches. evalplus parses with
tree-sitter, but only after its own ``ast.parse`` check has passed, so the standard
``ast`` module sees the same code and we need neither tree-sitter nor evalplus (whose
PyPI package pulls in transformers, anthropic and google-generativeai). Three deliberate
differences, each of which evalplus gets wrong on real responses: decorated functions are
kept (evalplus drops ``@lru_cache`` functions), a function without ``return`` is kept
unless it is a stub, and when a name is defined twice the last non-stub definition wins,
as it would when Python runs the file.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from rerank.verifiers import pyast

__all__ = [
    "Program",
    "defines",
    "extract_program",
    "fenced_blocks",
    "is_stub",
    "longest_parsable",
    "parses",
    "prompt_code",
    "prompt_context",
    "sanitize",
]

_FENCE_OPEN = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*$", re.M)
_PYTHON_LANGS = frozenset({"", "python", "py", "python3", "py3", "ipython", "pycon", "sage"})
_CODE_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@|[A-Za-z_]\w*\s*=)")
_DEFINITION_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)")
#: Beyond this many lines the longest-parse search only tries plausible starting lines.
_MAX_SCAN_LINES = 400


@dataclass(frozen=True)
class Program:
    """The code found in a response.

    ``code`` is the program as the response gives it; ``sanitized`` the same program with
    top-level noise (prints, usage examples, input() calls) removed, or ``None`` when that
    changes nothing. ``method`` says how it was found (for the ``extract`` check's detail).
    """

    code: str
    method: str
    sanitized: str | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Block:
    lang: str
    code: str


def parses(code: str) -> bool:
    """Whether ``code`` is syntactically valid Python (for this interpreter)."""
    return _parse(code) is not None


def _parse(code: str) -> ast.Module | None:
    try:
        return pyast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a markdown text as ``(language, code)``, in order.

    A fence left open at the end (a truncated generation) runs to the end of the text.
    Indented fences (inside list items) are dedented.
    """
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        opening = _FENCE_OPEN.search(text, pos)
        if opening is None:
            break
        marker = opening.group(1)
        start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.M)
        end_match = closing.search(text, start)
        end = end_match.start() if end_match else len(text)
        blocks.append((opening.group(2).lower(), textwrap.dedent(text[start:end]).strip("\n")))
        if end_match is None:
            break
        pos = end_match.end()
    return blocks


def defines(tree: ast.Module, name: str) -> bool:
    """Whether a module implements ``name`` at top level: a def that is not a stub, a
    class, an assignment (``f = lambda x: ...``) or an import."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == name and not is_stub(node):
                return True
        elif name in _top_level_names(ast.Module(body=[node], type_ignores=[])):
            return True
    return False


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _defines_something(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for n in tree.body
    )


def longest_parsable(text: str) -> str:
    """The longest run of lines (by non-blank lines) that parses: code out of prose.

    This is evalplus's ``code_extract``; it tries every start line with the end lines in
    decreasing order and stops at the first that parses, which finds the same span while
    parsing far less (evalplus tries every pair, cubic in the length of the response).
    """
    lines = text.split("\n")
    n = len(lines)
    nonblank = [0]
    for line in lines:
        nonblank.append(nonblank[-1] + bool(line.strip()))
    starts: Sequence[int] = range(n)
    if n > _MAX_SCAN_LINES:
        starts = [i for i in range(n) if _CODE_START.match(lines[i])]
    best, best_len = (0, 0), 0
    for i in starts:
        if not lines[i].strip() or nonblank[n] - nonblank[i] <= best_len:
            continue
        for j in range(n, i, -1):
            length = nonblank[j] - nonblank[i]
            if length <= best_len:
                break
            if parses("\n".join(lines[i:j])):
                best, best_len = (i, j), length
                break
    return "\n".join(lines[best[0] : best[1]])


def is_stub(node: ast.AST) -> bool:
    """A function whose body is only a docstring, ``pass``, ``...`` or a NotImplementedError."""
    body = list(getattr(node, "body", []))
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and stmt.value.value is Ellipsis
        ):
            continue
        if isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.unparse(stmt):
            continue
        return False
    return True


def _identifiers(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def sanitize(code: str, entry_point: str | None = None) -> str:
    """Keep the imports and definitions of ``code`` (those ``entry_point`` reaches, if given).

    Top-level statements that are not imports, classes, functions or assignments (prints,
    usage examples, tests that may be wrong, ``input()`` calls) are dropped. When nothing
    is left, the longest parsable span is returned as evalplus does.
    """
    span = longest_parsable(code)
    tree = _parse(span)
    if tree is None:
        return span
    imports: list[ast.stmt] = []
    definitions: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            previous = definitions.get(node.name)
            if previous is not None and is_stub(node) and not is_stub(previous):
                continue
            definitions.pop(node.name, None)
            definitions[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if names and names[0] not in definitions:
                definitions[names[0]] = node
    keep = set(definitions)
    if entry_point and entry_point in definitions:
        keep, queue = {entry_point}, [entry_point]
        while queue:
            for name in _identifiers(definitions[queue.pop()]) & definitions.keys() - keep:
                keep.add(name)
                queue.append(name)
    lines = span.split("\n")
    kept = [n for n in tree.body if n in imports or any(n is definitions[k] for k in keep)]
    out = "\n".join(_source_of(n, lines) for n in kept).strip()
    return out or span


def _source_of(node: ast.stmt, lines: list[str]) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


# --- prompts ----------------------------------------------------------------------------


def prompt_code(prompt: str) -> ast.Module | None:
    """The code of a prompt, parsed: the whole prompt, its fenced blocks, or its code span.

    A signature without a body (instruct prompts end with ``def f(x):``) gets ``pass`` so
    that it parses.
    """
    sources = [prompt] + [code for lang, code in fenced_blocks(prompt) if lang in _PYTHON_LANGS]
    for source in sources:
        for suffix in ("", "\n    pass\n"):
            tree = _parse(source.rstrip() + suffix if suffix else source)
            if tree is not None and tree.body:
                return tree
    span = longest_parsable(prompt)
    tree = _parse(span)
    return tree if tree is not None and _defines_something(tree) else None


def prompt_context(prompt: str, entry_point: str | None, code: str) -> tuple[str, list[str]]:
    """What of the prompt a candidate's ``code`` needs: its imports and helper definitions.

    HumanEval candidates often restate only the function and rely on the prompt's
    ``from typing import List`` or on a helper the prompt defines (``poly``,
    ``encode_cyclic``); a person running the answer would run it under the prompt.

    Parameters
    ----------
    prompt : the item's prompt.
    entry_point : the function the task asks for (the candidate's own is kept).
    code : the candidate's program.

    Returns
    -------
    tuple of (str, list of str) : the prefix to run before ``code`` and the names it
        supplies; ``("", [])`` when nothing is needed.
    """
    tree = prompt_code(prompt)
    candidate = _parse(code)
    if tree is None or candidate is None:
        return "", []
    have = _top_level_names(candidate)
    lines = ast.unparse(tree).split("\n")  # normalised, so line numbers are re-derived
    tree = pyast.parse("\n".join(lines))
    parts: list[str] = []
    supplied: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
            if not set(names) <= have:
                parts.append(_source_of(node, lines))
                supplied.extend(n for n in names if n not in have)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name != entry_point
            and node.name not in have
            and not is_stub(node)
        ):
            parts.append(_source_of(node, lines))
            supplied.append(node.name)
    return ("\n".join(parts) + "\n\n" if parts else ""), supplied


def _entry_stub(prompt: str, entry_point: str | None) -> bool:
    """Whether the prompt ends with the entry point's signature, for the response to finish."""
    tree = prompt_code(prompt)
    if tree is None or entry_point is None:
        return False
    last = tree.body[-1]
    return (
        isinstance(last, ast.FunctionDef | ast.AsyncFunctionDef)
        and last.name == entry_point
        and is_stub(last)
    )


# --- responses --------------------------------------------------------------------------


def extract_program(
    text: str, *, prompt: str = "", entry_point: str | None = None
) -> Program | str:
    """The program in ``text``, or the reason there is none (a string).

    In order: python (or unlabelled) fenced blocks, joined when there are several (a
    helper in one, the function in another; a usage block is removed by the sanitizer);
    the whole response when it parses; a continuation of the prompt's function (the
    response is an indented body); the longest span that parses.

    Parameters
    ----------
    text : the candidate's response.
    prompt : the item's prompt (a continuation finishes the function it ends with).
    entry_point : the function the program must define; without one, some function or
        class will do.

    Returns
    -------
    Program or str : the program (as written, how it was found, and sanitized when that
        changes it); or why no program was found (``"no code found"``, ``"the code does
        not define f()"``).
    """
    stub = _entry_stub(prompt, entry_point)
    attempts: list[tuple[str, str]] = []
    blocks = [b for lang, b in fenced_blocks(text) if lang in _PYTHON_LANGS and b.strip()]
    if blocks:
        good = [b for b in blocks if parses(b)]
        if len(good) > 1:
            attempts.append((f"{len(good)} fenced blocks joined", "\n\n".join(good)))
        elif good:
            attempts.append(("fenced block", good[0]))
        if stub:
            attempts += [
                ("fenced body continuing the prompt", _continue(prompt, b)) for b in blocks
            ]
        attempts += [
            ("longest parsable span of a fenced block", longest_parsable(b)) for b in blocks
        ]
    else:
        attempts.append(("bare code", text.strip("\n")))
        if stub:
            attempts.append(("body continuing the prompt", _continue(prompt, text)))
        attempts.append(("longest parsable span", longest_parsable(text)))
    reason = "no code found"
    for method, code in attempts:
        tree = _parse(code) if code.strip() else None
        if tree is None:
            continue
        if entry_point is not None and not defines(tree, entry_point):
            if "continuing" not in method:  # the prompt alone is no answer
                reason = f"the code does not define {entry_point}()"
            continue
        if entry_point is None and not _defines_something(tree):
            continue
        clean = sanitize(code, entry_point)
        same = ast.dump(tree) == ast.dump(_parse(clean) or ast.Module(body=[], type_ignores=[]))
        return Program(code=code, method=method, sanitized=None if same else clean)
    return reason


def _continue(prompt: str, body: str) -> str:
    """The prompt followed by a body: indented as a body when the response forgot to."""
    body = body.strip("\n")
    first = next((line for line in body.split("\n") if line.strip()), "")
    if first and not first[0].isspace() and not _DEFINITION_START.match(first):
        body = textwrap.indent(body, "    ")
    joined = prompt.rstrip("\n") + "\n" + body + "\n"
    return joined if parses(joined) else longest_parsable(joined)
