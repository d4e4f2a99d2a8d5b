"""verl's custom reward from rerank's verifiers: ``compute_score(data_source, solution_str,
ground_truth, extra_info=None)``, and its batched form for verl's batch reward manager.

The task kind comes from ``extra_info["kind"]`` when given, else from what the row
carries: IFEval ids (``instruction_id_list``) mean instruction following, tests mean code,
and otherwise a ``data_source`` naming a math set (or a scalar ``ground_truth``) means
math. Then:

- **math**: the solution's final answer against ``ground_truth`` (a bare answer or a
  whole solution, ``#### 72``, ``\\boxed{..}``) by math-verify equivalence
  (:class:`~rerank.verifiers.math.verifier.MathVerifier`); no final answer scores 0;
- **code**: the solution run in the sandbox (:class:`~rerank.verifiers.code.verifier.CodeVerifier`)
  against tests from ``ground_truth`` or ``extra_info["tests"]``: a string or list of
  ``assert`` statements (a ``def check(candidate)`` block with its call works too), or a
  dict (or JSON text of one) with ``tests`` / ``test_list`` and an optional
  ``entry_point``; scores 1 when the program was found and passes every test
  (``partial_credit=True``: the share passed);
- **instruction**: IFEval's strict checkers for ``extra_info``'s ``instruction_id_list``
  and ``kwargs``; 1 when every instruction is followed (``partial_credit``: the share).

``extra_info["prompt"]`` (or ``question`` / ``problem``), when present, is the prompt the
verifiers see (code prompts' examples also run as tests; IFEval checkers that repeat the
prompt need it). The result is a float, or with ``details=True`` a dict whose values are
all numbers (verl gathers every key into ``reward_extra_info`` and averages them):
``score``, ``acc`` (fully correct), ``passed`` and ``checks``. A row that cannot be scored
at all (code without tests, an unknown kind) raises ``ValueError``: a reward of 0 for it
would train on a broken dataset in silence. Pass options through verl's
``custom_reward_function.reward_kwargs``.
"""

from __future__ import annotations

import atexit
import json
import threading
from collections.abc import Sequence
from typing import Any

from rerank.evidence import Evidence
from rerank.items import TASK_KINDS, Item

__all__ = ["compute_score", "compute_score_batch", "plain_data", "task_of"]

MATH_SOURCES = ("gsm8k", "math", "aime", "amc", "numina", "olympiad", "deepscaler", "dapo")
_PROMPT_KEYS = ("prompt", "question", "problem")
_TEST_KEYS = ("tests", "test_list", "test")
_lock = threading.Lock()
_verifiers: dict[Any, Any] = {}


def plain_data(value: Any) -> Any:
    """Parquet-read values (numpy arrays and scalars) as plain Python data."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    return value


def _decoded(value: Any) -> Any:
    """JSON text of a list or an object, decoded; anything else as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _tests_of(ground_truth: Any, extra: dict[str, Any]) -> tuple[list[str], str | None] | None:
    """The code tests and entry point a row carries, or ``None`` when it carries none."""
    for source in (extra, _decoded(ground_truth)):
        if isinstance(source, dict):
            tests = next((source[k] for k in _TEST_KEYS if source.get(k)), None)
            if tests is not None:
                tests = [tests] if isinstance(tests, str) else [str(t) for t in tests]
                return tests, source.get("entry_point") or extra.get("entry_point")
    truth = _decoded(ground_truth)
    if isinstance(truth, list) and truth and all(isinstance(t, str) for t in truth):
        return list(truth), extra.get("entry_point")
    if isinstance(truth, str) and ("assert " in truth or "def check(" in truth):
        return [truth], extra.get("entry_point")
    return None


def task_of(
    data_source: Any, ground_truth: Any, extra_info: dict[str, Any] | None, kind: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The task kind, prompt and visible resources of one verl row.

    Parameters
    ----------
    data_source, ground_truth, extra_info : the row's fields, as for :func:`compute_score`.
    kind : forces the task kind.

    Returns
    -------
    tuple of (str, str, dict) : the kind, the prompt (``""`` when the row has none), and
        the resources the verifier may see (``reference``, ``tests``, IFEval's ids).

    Examples
    --------
    >>> task_of("openai/gsm8k", "72", None)
    ('math', '', {'reference': '72'})
    >>> task_of("humaneval", None, {"tests": ["assert f(1) == 2"], "entry_point": "f"})[::2]
    ('code', {'tests': ['assert f(1) == 2'], 'entry_point': 'f'})
    """
    extra = plain_data(extra_info) if isinstance(extra_info, dict) else {}
    ground_truth = plain_data(ground_truth)
    prompt = next((extra[k] for k in _PROMPT_KEYS if isinstance(extra.get(k), str)), "")
    kind = kind or extra.get("kind")
    if kind is not None and kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r} (choose from {', '.join(TASK_KINDS)})")
    ids = extra.get("instruction_id_list")
    truth = _decoded(ground_truth)
    if not ids and isinstance(truth, dict):
        ids, extra = truth.get("instruction_id_list"), {**extra, **truth}
    if kind in (None, "instruction") and ids:
        kwargs = [
            {k: v for k, v in (d or {}).items() if v is not None} for d in extra.get("kwargs") or []
        ]
        return "instruction", prompt, {"instruction_id_list": list(ids), "kwargs": kwargs}
    if kind == "instruction":
        raise ValueError(f"instruction row of {data_source!r} carries no instruction_id_list")
    tests = _tests_of(ground_truth, extra)
    if kind in (None, "code") and tests is not None:
        resources: dict[str, Any] = {"tests": tests[0]}
        if tests[1]:
            resources["entry_point"] = tests[1]
        return "code", prompt, resources
    if kind == "code":
        raise ValueError(
            f"code row of {data_source!r} carries no tests (ground_truth or extra_info['tests'])"
        )
    mathy = any(name in str(data_source).lower() for name in MATH_SOURCES)
    if kind == "math" or mathy or isinstance(ground_truth, str | int | float):
        if ground_truth is None or isinstance(ground_truth, bool):
            raise ValueError(f"math row of {data_source!r} has no ground_truth answer")
        return "math", prompt, {"reference": str(ground_truth)}
    raise ValueError(
        f"cannot tell the task kind of a {data_source!r} row: give extra_info['kind'] "
        "(math, code, instruction) or a ground_truth rerank can check"
    )


def _verifier(kind: str, options: dict[str, Any]) -> Any:
    """One verifier per kind (and code limits) per process, closed at exit."""
    key = (kind, options.get("timeout"), options.get("total_timeout"))
    with _lock:
        verifier = _verifiers.get(key)
        if verifier is None:
            if kind == "math":
                from rerank.verifiers.math.verifier import MathVerifier

                verifier = MathVerifier(steps=False)
            elif kind == "code":
                from rerank.verifiers.code.verifier import CodeVerifier

                limits = {k: options[k] for k in ("timeout", "total_timeout") if options.get(k)}
                verifier = CodeVerifier(**limits)
                atexit.register(verifier.close)
            else:
                from rerank.verifiers.instructions.verifier import InstructionVerifier

                verifier = InstructionVerifier()
            _verifiers[key] = verifier
    return verifier


def _result(kind: str, evidence: Evidence, partial_credit: bool) -> dict[str, float | int]:
    """Score and details of one solution from its evidence: the reference check (math),
    the tests (code: none pass when no program was found), the hard checks (IFEval)."""
    if kind == "math":
        checks = [c for c in evidence.checks if c.id == "reference"]
    elif kind == "code":
        checks = [c for c in evidence.checks if c.id.startswith("test:")]
    else:
        checks = [c for c in evidence.checks if c.hard]
    found = kind != "code" or any(c.id == "extract" and c.passed for c in evidence.checks)
    passed = sum(c.passed for c in checks) if found else 0
    acc = float(bool(checks) and passed == len(checks))
    score = passed / len(checks) if partial_credit and checks else acc
    return {"score": float(score), "acc": acc, "passed": passed, "checks": len(checks)}


def _score_groups(
    rows: Sequence[tuple[str, str, dict[str, Any], str]], options: dict[str, Any]
) -> list[dict[str, float | int]]:
    """Score rows, one verifier call per group of rows with the same task (a GRPO group's
    solutions run together: code candidates in parallel, math answers in one
    math-verify call)."""
    groups: dict[str, list[int]] = {}
    for i, (kind, prompt, resources, _) in enumerate(rows):
        key = json.dumps([kind, prompt, resources], sort_keys=True, default=repr)
        groups.setdefault(key, []).append(i)
    partial = bool(options.get("partial_credit", False))
    results: list[dict[str, float | int]] = [{}] * len(rows)
    for members in groups.values():
        kind, prompt, resources, _ = rows[members[0]]
        item = Item.from_texts(
            prompt, [rows[i][3] for i in members], kind=kind, resources=resources
        )
        for i, evidence in zip(members, _verifier(kind, options).verify(item), strict=True):
            results[i] = _result(kind, evidence, partial)
    return results


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    *,
    details: bool = False,
    kind: str | None = None,
    partial_credit: bool = False,
    timeout: float | None = None,
    total_timeout: float | None = None,
) -> float | dict[str, float | int]:
    """verl's custom reward for one solution (see the module docstring).

    Parameters
    ----------
    data_source : the row's dataset name (a math set's name means math).
    solution_str : the policy's response.
    ground_truth : the reference answer (math), the tests (code), or a dict carrying
        either or IFEval's ids.
    extra_info : the row's extra fields: ``kind``, ``prompt``, ``tests``,
        ``entry_point``, ``instruction_id_list``, ``kwargs``.
    details : return a dict of numbers (``score``, ``acc``, ``passed``, ``checks``)
        instead of the score alone.
    kind : forces the task kind (``math``, ``code``, ``instruction``).
    partial_credit : score code and instructions by the share of checks passed, not
        all-or-nothing.
    timeout, total_timeout : the code sandbox's per-test and per-solution limits in
        seconds (defaults: the code verifier's).

    Returns
    -------
    float or dict : the score in [0, 1], or the dict with ``details``.

    Raises
    ------
    ValueError : for a row that cannot be scored at all (code without tests, an
        instruction row without ids, an unknown kind).

    Examples
    --------
    >>> compute_score("openai/gsm8k", "3 + 4 = 7 apples. #### 7", "7")
    1.0
    >>> compute_score("openai/gsm8k", "I think 8.", "7", details=True)
    {'score': 0.0, 'acc': 0.0, 'passed': 0, 'checks': 1}
    """
    batch = compute_score_batch(
        [data_source],
        [solution_str],
        [ground_truth],
        [extra_info],
        details=details,
        kind=kind,
        partial_credit=partial_credit,
        timeout=timeout,
        total_timeout=total_timeout,
    )
    return batch[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[dict[str, Any] | None] | None = None,
    *,
    details: bool = False,
    kind: str | None = None,
    **options: Any,
) -> list[float | dict[str, float | int]]:
    """:func:`compute_score` for verl's batch reward manager, which calls
    ``compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=,
    **reward_kwargs)``; one result per solution, in order."""
    n = len(solution_strs)
    extras = list(extra_infos) if extra_infos is not None else [None] * n
    if not len(data_sources) == len(ground_truths) == len(extras) == n:
        raise ValueError(
            "data_sources, solution_strs, ground_truths and extra_infos differ in length"
        )
    rows = []
    for source, solution, truth, extra in zip(
        data_sources, solution_strs, ground_truths, extras, strict=True
    ):
        task_kind, prompt, resources = task_of(source, truth, extra, kind)
        rows.append((task_kind, prompt, resources, str(solution)))
    results = _score_groups(rows, options)
    return [r if details else r["score"] for r in results]
