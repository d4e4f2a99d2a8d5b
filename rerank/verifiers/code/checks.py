"""Visible tests split into what the candidate's process computes and what rerank decides.

A test such as ``assert add(2, 2) == 4`` is not run in the candidate's process, where the
candidate could patch the comparison, return an ``int`` whose ``__eq__`` always agrees, or
rewrite the harness. It is split (:func:`plan_test`):

- the *roots*, the smallest parts that touch the candidate (``add(2, 2)``), are evaluated
  in the candidate's sandboxed process by :mod:`~rerank.verifiers.code.worker`, which
  sends their values back as plain data;
- the *rest* (``__v0__ == 4``) is decided outside it, over the decoded values: here in
  rerank when it is a plain comparison with a literal or a truth test, otherwise by
  :mod:`~rerank.verifiers.code.checker` in a sandboxed process with no candidate in it.

So the only way to pass a check is for the candidate's code to produce the expected value
for that input. A name is the candidate's (and so part of a root) unless it is a builtin
or a standard-library module that neither the program nor the test's own statements
rebind. A root whose value is not plain data (a generator, an object of the program's own
class) is widened to the smallest enclosing expression that gives plain data, never past
a comparison: ``list(gen(3)) == [0, 1, 2]`` evaluates ``list(gen(3))`` in the worker.
"""

from __future__ import annotations

import ast
import builtins
import copy
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from rerank.evidence import Status
from rerank.text import clip
from rerank.verifiers import pyast
from rerank.verifiers.code.runner import OpResult, StepResult
from rerank.verifiers.code.values import Digest, Opaque, equal, same_output, short, text_matches

__all__ = [
    "CheckRequest",
    "Claim",
    "TestPlan",
    "Verdict",
    "candidate_names",
    "compare_want",
    "plan_test",
    "resolve",
]

#: A test's (or one claim's) status and a line on what happened.
Verdict = tuple[Status, str]

_BUILTINS = frozenset(dir(builtins))
_STDLIB = frozenset(sys.stdlib_module_names)
_WIDEN_STOP = (ast.Compare, ast.BoolOp)
_OPAQUE_ROOTS = (
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.NamedExpr,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
)

Path = tuple[tuple[str, int | None], ...]


_DIGITS_LOCK = threading.Lock()


def _unparse(node: ast.AST) -> str:
    """``ast.unparse``, also for a test that holds an integer past Python's int->str limit
    (4300 digits), which ``ast.unparse`` otherwise refuses with ValueError."""
    try:
        return ast.unparse(node)
    except ValueError:
        with _DIGITS_LOCK:
            limit = sys.get_int_max_str_digits()
            sys.set_int_max_str_digits(0)
            try:
                return ast.unparse(node)
            finally:
                sys.set_int_max_str_digits(limit)


def placeholder(k: int) -> str:
    return f"__v{k}__"


@dataclass(frozen=True)
class Claim:
    """One thing a test asserts: ``expr`` is true (an assert), or its value is ``want``."""

    expr: ast.expr
    roots: tuple[tuple[Path, ...], ...]  # per root: its path, then wider ones
    ops: tuple[int, ...]  # the step's operation that evaluated each root
    want: str | None = None  # an example's expected output, as written


@dataclass(frozen=True)
class TestPlan:
    """How one visible test runs: the worker's operations, and the claims to decide."""

    ops: tuple[dict[str, Any], ...]
    claims: tuple[Claim, ...] = ()
    printed_want: str | None = None  # an example that is a statement: compare its output


@dataclass
class CheckRequest:
    """The rest of a claim, for the checker: an expression over placeholder values."""

    expr: str
    values: dict[str, Any]
    modules: list[str] = field(default_factory=list)


def candidate_names(program: str) -> frozenset[str]:
    """The names a program binds at top level, but for plain imports of stdlib modules.

    ``import math`` leaves ``math`` the standard library's (a check may use it safely in
    another process); ``def sorted(...)`` or ``math = ...`` makes the name the candidate's.
    """
    try:
        tree = pyast.parse(program)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return frozenset()
    return frozenset(_bound(tree.body))


def _bound(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                bound = alias.asname or top
                if not (bound == top and top in _STDLIB and alias.asname is None):
                    names.add(bound)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
                    names.add(sub.id)
                elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(sub.name)
    return names


class _Splitter:
    def __init__(self, theirs: frozenset[str] | set[str]) -> None:
        self.theirs = theirs

    def tainted(self, name: str) -> bool:
        if name in self.theirs:
            return True
        return name not in _BUILTINS and name not in _STDLIB

    def mentions(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and self.tainted(n.id) for n in ast.walk(node))

    def roots(self, expr: ast.expr) -> list[Path]:
        found: list[Path] = []
        self._find(expr, (), found)
        return found

    def _find(self, node: ast.AST, path: Path, found: list[Path]) -> None:
        if not self.mentions(node):
            return
        if (
            isinstance(node, (ast.Name, *_OPAQUE_ROOTS))
            or (isinstance(node, ast.Call) and self.mentions(node.func))
            or (isinstance(node, ast.Attribute | ast.Subscript) and self.mentions(node.value))
        ):
            found.append(path)
            return
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                self._find(value, (*path, (name, None)), found)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        self._find(item, (*path, (name, i)), found)


def _node(tree: ast.AST, path: Path) -> ast.AST:
    node = tree
    for name, index in path:
        node = getattr(node, name) if index is None else getattr(node, name)[index]
    return node


def _chain(expr: ast.expr, path: Path, *, top: bool) -> tuple[Path, ...]:
    """``path``, then each enclosing expression, stopping below a comparison (and below
    the whole expression unless ``top``)."""
    chain = [path]
    for cut in range(len(path) - 1, -1, -1):
        wider = path[:cut]
        node = _node(expr, wider)
        if not isinstance(node, ast.expr) or isinstance(node, _WIDEN_STOP):
            break
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            break
        if not wider and not top:
            break
        chain.append(wider)
    return tuple(chain)


def plan_test(
    source: str, want: str | None, setup: tuple[str, ...], theirs: frozenset[str]
) -> TestPlan:
    """Split one visible test into the worker's operations and the claims to decide.

    Parameters
    ----------
    source : the test's code (an ``assert``, an example call, statements).
    want : the example's expected output as written, or ``None`` for an ``assert``.
    setup : statements the test runs first (a doctest's earlier lines).
    theirs : the names the candidate's program defines: a call of one of them is a root,
        computed in the candidate's process; the rest of the expression is decided here
        or by the checker.

    Returns
    -------
    TestPlan : the worker's operations and the claims on their values.
    """
    names = set(theirs)
    ops: list[dict[str, Any]] = []
    for statement in setup:
        ops.append({"exec": statement})
        names |= _setup_names(statement)
    splitter = _Splitter(names)
    tree = _parse(source)
    if tree is None:
        return TestPlan(ops=(*ops, {"exec": source}))  # the worker reports the SyntaxError
    if want is not None:
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            claim = _claim(tree.body[0].value, splitter, ops, want=want)
            return TestPlan(ops=tuple(ops), claims=(claim,))
        return TestPlan(ops=(*ops, {"exec": source}), printed_want=want)
    claims = []
    for node in tree.body:
        if isinstance(node, ast.Assert):
            claims.append(_claim(node.test, splitter, ops, want=None))
        else:
            ops.append({"exec": _unparse(node)})
            splitter.theirs = splitter.theirs | _bound([node])
    return TestPlan(ops=tuple(ops), claims=tuple(claims))


def _setup_names(statement: str) -> set[str]:
    tree = _parse(statement)
    return _bound(tree.body) if tree is not None else set()


def _claim(expr: ast.expr, splitter: _Splitter, ops: list[dict[str, Any]], *, want: str | None):
    paths = splitter.roots(expr)
    chains = tuple(_chain(expr, path, top=want is not None) for path in paths)
    indexes = []
    for chain in chains:
        indexes.append(len(ops))
        ops.append({"eval": [_unparse(_node(expr, p)) for p in chain]})
    return Claim(expr=expr, roots=chains, ops=tuple(indexes), want=want)


def _parse(source: str) -> ast.Module | None:
    try:
        tree = pyast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return tree if isinstance(tree, ast.Module) else None


# --- deciding --------------------------------------------------------------------------------


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _residual(claim: Claim, results: list[OpResult]) -> tuple[ast.expr, dict[str, Any]]:
    """The claim's expression with each root (at the width it was evaluated) replaced by a
    placeholder, and the placeholders' values."""
    chosen: list[tuple[Path, str, Any]] = []
    for k, (chain, op) in enumerate(zip(claim.roots, claim.ops, strict=True)):
        result = results[op]
        level = min(max(result.level, 0), len(chain) - 1)
        chosen.append((chain[level], placeholder(k), result.value))
    chosen.sort(key=lambda c: len(c[0]))
    holder = ast.Expression(body=copy.deepcopy(claim.expr))
    values: dict[str, Any] = {}
    kept: list[Path] = []
    for path, name, value in chosen:
        if any(path[: len(p)] == p for p in kept):
            continue  # inside a root that was widened over it
        kept.append(path)
        values[name] = value
        full = (("body", None), *path)
        parent = _node(holder, full[:-1])
        attr, index = full[-1]
        replacement = ast.Name(id=name, ctx=ast.Load())
        if index is None:
            setattr(parent, attr, replacement)
        else:
            getattr(parent, attr)[index] = replacement
    return holder.body, values


def compare_want(value: Any, printed: str, want: str) -> bool:
    """An example's value (or what it printed) against its expected output as written."""
    if value is None and printed:
        return text_matches(printed, want)
    ok, expected = _literal_text(want)
    if ok and same_output(value, expected):
        return True
    if isinstance(value, Digest):
        return False
    texts = [value.text] if isinstance(value, Opaque) else [short(value, 1 << 20), str(value)]
    return any(text_matches(text, want) for text in texts)


def _literal_text(want: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(want)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def resolve(
    plan: TestPlan, step: StepResult, requests: list[CheckRequest]
) -> Verdict | list[tuple[Claim, int | Verdict | Any]]:
    """The test's ``(status, detail)``, or its claims each with a pending request index.

    A step that did not finish is the test's result (error, timeout, unknown). Otherwise
    each claim is decided here when it is a truth test or an ``==`` with a literal, and
    otherwise appended to ``requests`` for the checker; :func:`finish` completes those.

    Parameters
    ----------
    plan : the test's plan (:func:`plan_test`).
    step : what the candidate's process gave for the test's operations.
    requests : the item's checker requests, appended to.
    """
    if step.status == "raise":
        return "error", step.detail
    if step.status == "died":
        return "error", step.detail
    if step.status in ("timeout", "unknown"):
        return step.status, step.detail
    if len(step.ops) < len(plan.ops):  # a report with results missing: evidence of nothing
        return "error", "the candidate's process reported no result for this test"
    if plan.printed_want is not None:
        printed = step.ops[-1].out if step.ops else ""
        if text_matches(printed, plan.printed_want):
            return "pass", ""
        return "fail", f"printed {short(printed)}, expected {short(plan.printed_want)}"
    decided: list[tuple[Claim, Any]] = []
    for claim in plan.claims:
        expr, values = _residual(claim, step.ops)
        here = _decide_here(claim, expr, values, step.ops)
        if here is not None:
            decided.append((claim, here))
            continue
        modules = sorted(
            {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id in _STDLIB}
        )
        requests.append(CheckRequest(_unparse(expr), values, modules))
        decided.append((claim, len(requests) - 1))
    if all(isinstance(result, tuple) for _, result in decided):
        return _combine([result for _, result in decided])
    return decided


def _decide_here(
    claim: Claim, expr: ast.expr, values: dict[str, Any], results: list[OpResult]
) -> Verdict | None:
    source = _unparse(claim.expr)
    if isinstance(expr, ast.Name) and expr.id in values:
        value = values[expr.id]
        root = _unparse(_node(claim.expr, claim.roots[0][0])) if claim.roots else source
        if claim.want is not None:
            printed = results[claim.ops[0]].out if len(claim.ops) == 1 else ""
            if compare_want(value, printed, claim.want):
                return "pass", ""
            shown = (
                f"printed {short(printed)}"
                if value is None and printed
                else (f"returned {short(value)}")
            )
            return "fail", _expected(source, shown, claim.want)
        return _truth(value, source, root)
    if (
        isinstance(expr, ast.Compare)
        and len(expr.ops) == 1
        and isinstance(expr.ops[0], ast.Eq)
        and claim.want is None
    ):
        left, right = expr.left, expr.comparators[0]
        for mine, other in ((left, right), (right, left)):
            if isinstance(mine, ast.Name) and mine.id in values:
                ok, expected = _literal(other)
                if not ok:
                    continue
                value = values[mine.id]
                if equal(value, expected):
                    return "pass", ""
                call = clip(_root_source(claim, mine.id), 60, squash=True)
                return "fail", f"{call} returned {short(value)}, expected {short(expected)}"
    return None


def _root_source(claim: Claim, name: str) -> str:
    k = int(name[3:-2])
    return _unparse(_node(claim.expr, claim.roots[k][0]))


def _truth(value: Any, source: str, root: str) -> Verdict:
    if isinstance(value, Opaque | Digest):
        kind = value.type if isinstance(value, Opaque) else "too big"
        return (
            "error",
            f"{clip(root, 60, squash=True)} returned a {kind} value, which cannot be judged",
        )
    try:
        truth = bool(value)
    except Exception:  # pragma: no cover - plain values always have a truth value
        truth = False
    if truth:
        return "pass", ""
    call = clip(root, 60, squash=True)
    return (
        "fail",
        f"assertion failed: {clip(source, 80, squash=True)} ({call} returned {short(value)})",
    )


def _expected(source: str, shown: str, want: str) -> str:
    return f"{clip(source, 60, squash=True)} {shown}, expected {clip(want, 80, squash=True)}"


def finish(
    plan: TestPlan, pending: list[tuple[Claim, Any]], answers: list[dict[str, Any] | None]
) -> Verdict:
    """Complete a test whose claims went to the checker, from the checker's answers."""
    results: list[Verdict] = []
    for claim, result in pending:
        if isinstance(result, tuple):
            results.append(result)
            continue
        answer = answers[result] if result < len(answers) else None
        source = _unparse(claim.expr)
        if answer is None:
            results.append(("unknown", "the check could not be made (the checker failed)"))
        elif "timeout" in answer:
            results.append(("timeout", f"checking {clip(source, 80, squash=True)} timed out"))
        elif "raise" in answer:
            results.append(
                ("error", f"{clip(source, 60, squash=True)}: {answer.get('d', answer['raise'])}")
            )
        elif claim.want is not None:
            if compare_want(answer["value"], answer.get("out", ""), claim.want):
                results.append(("pass", ""))
            else:
                shown = "gave " + short(answer["value"])
                results.append(("fail", _expected(source, shown, claim.want)))
        else:
            results.append(_truth(answer["value"], source, source))
    return _combine(results)


def _combine(results: list[Verdict]) -> Verdict:
    for status in ("error", "timeout", "fail", "unknown"):
        for got, detail in results:
            if got == status:
                return got, detail
    return "pass", ""
