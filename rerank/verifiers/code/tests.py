"""The tests and inputs an item makes visible to a code verifier, and nothing else.

A candidate may be judged only on what a person reading the item could check:

- the examples in the prompt: doctest lines (``>>> f(x)`` with the expected output on
  the next lines, as in HumanEval and BigCodeBench docstrings), example lines such as
  ``f(x) == y`` / ``f(x) ➞ y`` / ``f(x) => y`` (HumanEval's other style), and ``assert``
  lines (MBPP prompts);
- the tests a user supplies in ``item.task.resources["tests"]``.

Hidden benchmark tests live in the labels, which this module never reads. Prompt
examples get the ids ``example:<k>`` and user tests ``test:<k>`` (1-based, in order), so a
verdict can cite which kind of evidence it used.

Behaviour probes (:func:`probes`) are the calls whose outputs cluster candidates: every
call of the entry point in the prompt's examples with literal arguments, plus
``resources["inputs"]``, plus (on request) mutations of those inputs
(:mod:`~rerank.verifiers.code.probes`).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import Any, cast

from rerank.verifiers import pyast
from rerank.verifiers.code.extract import is_stub, prompt_code
from rerank.verifiers.code.probes import mutated_inputs, value_key

__all__ = [
    "Probe",
    "VisibleTest",
    "call_key",
    "entry_point_of",
    "probes",
    "prompt_examples",
    "user_tests",
    "visible_tests",
]

#: At most this many prompt examples become tests (a prompt is not a test suite).
MAX_EXAMPLES = 40
_ARROWS = ("==>", "=>", "➞", "→", "->", "==", "returns", "should return", "=")
_ASSERT = re.compile(r"^\s*assert\b")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class VisibleTest:
    """One visible test.

    With ``want`` (an example): ``source`` is evaluated after the ``setup`` statements
    and its value (or what it prints) is compared with ``want``, the expected output as
    written. Without ``want`` (an assert or a user test): ``source`` is run and passes when
    it raises nothing.
    """

    id: str
    source: str
    want: str | None = None
    setup: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    """One behaviour input: a call written as source, or the arguments for the entry point.

    ``mutated``: made by mutating the visible inputs, not written by anyone; a program
    may legitimately reject it (a precondition the prompt states), so how it fails does
    not tell programs apart, only whether it returns and what.
    """

    source: str | None = None
    args: tuple[Any, ...] | None = None
    mutated: bool = False


def entry_point_of(prompt: str, resources: dict[str, Any] | None = None) -> str | None:
    """The function a code task asks for: the visible resource, else read from the prompt.

    Parameters
    ----------
    prompt : the item's prompt.
    resources : the item's visible resources; an ``entry_point`` there wins.

    Returns
    -------
    str or None : from the prompt, the last function left for the response to write (a
        signature with only a docstring), else the last function defined, else the
        function the prompt's ``assert`` lines call; ``None`` when there is none.
    """
    given = (resources or {}).get("entry_point")
    if isinstance(given, str) and given.isidentifier():
        return given
    tree = prompt_code(prompt)
    if tree is not None:
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        stubs = [f for f in functions if is_stub(f)]
        if stubs or functions:
            return (stubs or functions)[-1].name
    for source in _assert_sources(prompt):
        for node in ast.walk(pyast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id not in _BUILTINS
            ):
                return node.func.id
    return None


def visible_tests(
    prompt: str, resources: dict[str, Any] | None = None, entry_point: str | None = None
) -> list[VisibleTest]:
    """All visible tests: the prompt's examples, then the user's tests.

    Parameters
    ----------
    prompt : the item's prompt, whose examples become ``example:<k>``.
    resources : the item's visible resources, whose ``tests`` become ``test:<k>``.
    entry_point : the function the examples call (default: :func:`entry_point_of`).
    """
    entry_point = entry_point or entry_point_of(prompt, resources)
    return prompt_examples(prompt, entry_point) + user_tests(resources)


def user_tests(resources: dict[str, Any] | None) -> list[VisibleTest]:
    """``resources["tests"]``: a list of code strings (usually asserts), or one string."""
    tests = (resources or {}).get("tests") or []
    if isinstance(tests, str):
        tests = [tests]
    return [
        VisibleTest(id=f"test:{k}", source=str(t))
        for k, t in enumerate(tests, start=1)
        if str(t).strip()
    ]


def prompt_examples(prompt: str, entry_point: str | None = None) -> list[VisibleTest]:
    """The prompt's examples as tests (doctests, example lines, asserts), deduplicated."""
    found: list[tuple[tuple[str, ...], str, str | None]] = []
    found += _doctests(prompt)
    if entry_point:
        found += [((), src, want) for src, want in _example_lines(prompt, entry_point)]
    found += [((), src, None) for src in _assert_sources(prompt)]
    tests: list[VisibleTest] = []
    seen: set[tuple[tuple[str, ...], str, str | None]] = set()
    for setup, source, want in found:
        key = (setup, source, want)
        if key in seen:
            continue
        seen.add(key)
        tests.append(
            VisibleTest(id=f"example:{len(tests) + 1}", source=source, want=want, setup=setup)
        )
        if len(tests) == MAX_EXAMPLES:
            break
    return tests


def _doctests(prompt: str) -> list[tuple[tuple[str, ...], str, str | None]]:
    """``>>>`` examples: those with output are tests; the others set up the later ones.

    Read from the docstrings of the prompt's code (so a closing quote is not taken for
    output), or from the whole prompt when it holds no parsable code. A ``>>> f(x) == y``
    without output (HumanEval writes some examples so) is an assertion.
    """
    tree = prompt_code(prompt)
    texts = (
        [prompt]
        if tree is None
        else [
            ast.get_docstring(node, clean=True) or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
    )
    found: list[tuple[tuple[str, ...], str, str | None]] = []
    setup: list[str] = []
    for text in texts:
        for source, want in _doctest_examples(text):
            tree = _parse(source)
            if tree is None:
                continue
            if want:
                found.append((tuple(setup), source, want))
            elif (
                len(tree.body) == 1
                and isinstance(tree.body[0], ast.Expr)
                and isinstance(tree.body[0].value, ast.Compare)
            ):
                found.append((tuple(setup), f"assert {source}", None))
            else:
                setup.append(source)
    return found


def _doctest_examples(text: str) -> list[tuple[str, str]]:
    """``(source, want)`` pairs of a docstring, as doctest reads them but forgiving.

    doctest refuses a whole docstring over one badly indented line (HumanEval/51 has one);
    here each ``>>>`` line starts an example, ``...`` lines continue it, and the lines up to
    the next blank line or ``>>>`` are its output.
    """
    examples: list[tuple[str, str]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        source = [stripped[3:].removeprefix(" ")]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].removeprefix(" "))
            i += 1
        want = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            want.append(lines[i].strip())
            i += 1
        text_want = "\n".join(w for w in want if w not in ('"""', "'''"))
        examples.append(("\n".join(source).strip(), text_want))
    return examples


def _example_lines(prompt: str, entry_point: str) -> list[tuple[str, str]]:
    """Lines like ``f(1, 2) == 3``, ``f(1, 2) ➞ 3`` or ``f(1, 2) => 3`` in the prompt.

    Only when the left side is a call of the entry point with literal arguments and the
    right side a literal: the prose of a prompt ("f(5 apples) -> 19 - 5 - 6 = 8",
    "is_happy(a) => False") is not a test.
    """
    found = []
    for raw in prompt.split("\n"):
        line = raw.strip()
        if not line.startswith(entry_point + "("):
            continue
        call_end = _call_end(line)
        if call_end is None:
            continue
        call, rest = line[:call_end], line[call_end:].strip()
        node = cast(ast.Call, pyast.parse(call, mode="eval").body)  # as _call_end found it
        if not all(_is_literal(ast.unparse(a)) for a in node.args):
            continue  # "is_happy(a) => False": prose, not a call anyone could run
        for arrow in _ARROWS:
            if rest.startswith(arrow):
                want = re.sub(r"\s+#.*$", "", rest[len(arrow) :]).strip().rstrip(".,;")
                if want and _is_literal(want):
                    found.append((call, want))
                break
    return found


def _call_end(line: str) -> int | None:
    """The end of the leading call in ``line`` (the shortest prefix that is a call)."""
    for match in re.finditer(r"\)", line):
        node = _parse(line[: match.end()], mode="eval")
        if node is not None and isinstance(node.body, ast.Call):
            return match.end()
    return None


def _assert_sources(prompt: str) -> list[str]:
    """``assert`` statements in the prompt (one line, or a few joined until they parse)."""
    lines = prompt.split("\n")
    found = []
    for i, line in enumerate(lines):
        if not _ASSERT.match(line):
            continue
        for j in range(i + 1, min(i + 6, len(lines) + 1)):
            source = "\n".join(x.strip() for x in lines[i:j])
            if _parse(source) is not None:
                found.append(source)
                break
    return found


def call_key(test: VisibleTest) -> str | None:
    """The call a test makes, as a probe would write it, when its result can stand for
    that probe's: an example without setup, or ``assert CALL == expected``."""
    if test.setup:
        return None
    tree = _parse(test.source)
    if tree is None or len(tree.body) != 1:
        return None
    node = tree.body[0]
    if test.want is not None and isinstance(node, ast.Expr):
        return ast.unparse(node.value)
    if (
        test.want is None
        and isinstance(node, ast.Assert)
        and isinstance(node.test, ast.Compare)
        and len(node.test.ops) == 1
        and isinstance(node.test.ops[0], ast.Eq)
    ):
        return ast.unparse(node.test.left)
    return None


def _parse(source: str, mode: str = "exec") -> Any:
    try:
        return pyast.parse(source, mode=mode)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _is_literal(source: str) -> bool:
    try:
        ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def probes(
    tests: list[VisibleTest],
    resources: dict[str, Any] | None,
    entry_point: str | None,
    *,
    mutations: int = 0,
) -> list[Probe]:
    """The inputs all candidates run on for behaviour clustering, deduplicated, in order.

    Parameters
    ----------
    tests : the visible tests; their calls of ``entry_point`` with literal arguments
        come first.
    resources : the item's visible resources; then come its ``inputs``, each a list or
        tuple of arguments, a string of argument source (``"[1, 2], 3"``), or a whole
        call (``"f([1, 2], 3)"``); anything else is one argument.
    entry_point : the function called (no entry point: no probes).
    mutations : then up to this many new inputs mutated from the positional arguments of
        those (:func:`~rerank.verifiers.code.probes.mutated_inputs`), seeded by the
        entry point and the inputs themselves, so the same item gets the same probes in
        every run.
    """
    if not entry_point:
        return []
    found: list[Probe] = []
    seen: set[str] = set()

    def add(probe: Probe) -> None:
        key = probe.source if probe.source is not None else repr(probe.args)
        if key not in seen:
            seen.add(key)
            found.append(probe)

    for test in tests:
        tree = _parse(test.source)
        for node in ast.walk(tree) if tree is not None else ():
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == entry_point
                and all(_is_literal(ast.unparse(a)) for a in node.args)
                and all(k.arg and _is_literal(ast.unparse(k.value)) for k in node.keywords)
            ):
                add(Probe(source=ast.unparse(node)))
    for value in (resources or {}).get("inputs") or []:
        if isinstance(value, str):
            call = _parse(value.strip(), mode="eval")
            is_call = (
                call is not None
                and isinstance(call.body, ast.Call)
                and isinstance(call.body.func, ast.Name)
                and call.body.func.id == entry_point
            )
            source = value.strip() if is_call else f"{entry_point}({value})"
            if _parse(source, mode="eval") is not None:
                add(Probe(source=source))
        elif isinstance(value, list | tuple):
            add(Probe(args=tuple(value)))
        else:
            add(Probe(args=(value,)))
    if mutations > 0:
        found += _mutated(found, entry_point, mutations)
    return found


def _mutated(found: list[Probe], entry_point: str, count: int) -> list[Probe]:
    examples = [args for args in (_arguments(p, entry_point) for p in found) if args]
    seed = entry_point + "|" + "|".join(value_key(args) for args in examples)
    return [Probe(args=args, mutated=True) for args in mutated_inputs(examples, count, seed)]


def _arguments(probe: Probe, entry_point: str) -> tuple[Any, ...] | None:
    """A probe's positional arguments as values, when it has no keywords."""
    if probe.args is not None:
        return probe.args
    call = _parse(probe.source or "", mode="eval")
    if call is None or not isinstance(call.body, ast.Call) or call.body.keywords:
        return None
    node = call.body
    if not isinstance(node.func, ast.Name) or node.func.id != entry_point:
        return None
    try:
        return tuple(ast.literal_eval(a) for a in node.args)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None  # a starred argument, or a non-literal one from resources["inputs"]
