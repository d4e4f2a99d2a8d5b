"""Tests for the math verifier: equivalence in worker processes, steps, reference, signatures."""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest

import rerank.verifiers.math.arithmetic
import rerank.verifiers.math.steps
import rerank.verifiers.math.verifier
from rerank.items import Item, Labels
from rerank.verifiers.math import equivalence as math_equivalence
from rerank.verifiers.math.arithmetic import Interval, Unreadable, evaluate
from rerank.verifiers.math.equivalence import EquivalencePool
from rerank.verifiers.math.steps import step_checks
from rerank.verifiers.math.verifier import MathVerifier, reference_answer

ROOT = Path(__file__).resolve().parents[2]
TOWER = "9^{9^{9^9}}"  # math-verify would compute this forever


@pytest.fixture(scope="module")
def pool() -> Iterator[EquivalencePool]:
    """One worker shared by the module's tests, stopped (and checked gone) at the end."""
    pool = EquivalencePool(workers=1)
    yield pool
    pids = pool.pids()
    pool.close()
    _assert_gone(pids)


@pytest.fixture(scope="module")
def verifier(pool: EquivalencePool) -> MathVerifier:
    return MathVerifier(pool)


def _assert_gone(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _checks(evidence, prefix: str) -> list:
    return [c for c in evidence.checks if c.id.startswith(prefix)]


# --- equivalence through the worker ---------------------------------------------------


def test_equivalent_answers_share_a_class(pool: EquivalencePool) -> None:
    r"""\frac{1}{2} ~ 0.5 and 2\sqrt{2} ~ \sqrt{8}; 3 and 4 differ from everything."""
    result = pool.equivalence([r"\frac{1}{2}", "0.5", r"2\sqrt{2}", r"\sqrt{8}", "3", "4"])
    assert result.classes == (0, 0, 2, 2, 4, 5)
    assert result.error is None and not result.timed_out


def test_reference_matches_are_per_answer(pool: EquivalencePool) -> None:
    """Each answer is matched to the reference on its own: equal, or not."""
    result = pool.equivalence([r"\sqrt{8}", "2.83", "x = 2\\sqrt{2}"], r"2\sqrt{2}")
    assert result.reference == (True, False, True)


def test_concurrent_calls_from_threads_get_their_own_results() -> None:
    """Calls from many threads at once (as judges make them) each get their own answer."""
    calls = [([str(k), f"{k}.0", str(k + 1)], str(k)) for k in range(12)]
    with EquivalencePool(workers=2) as pool, ThreadPoolExecutor(8) as threads:
        results = list(threads.map(lambda call: pool.equivalence(*call), calls))
    assert {r.classes for r in results} == {(0, 0, 2)}
    assert {r.reference for r in results} == {(True, True, False)}


def test_results_are_cached_by_content(pool: EquivalencePool) -> None:
    """The same answers and reference give the very same result object, computed once."""
    first = pool.equivalence(["7", "7.0", r"\frac{14}{2}"], "7")
    assert pool.equivalence(["7", "7.0", r"\frac{14}{2}"], "7") is first
    assert first.classes == (0, 0, 0)


def test_a_pathological_answer_times_out_and_the_worker_is_replaced() -> None:
    """A step over its deadline kills the worker; the other answers keep their result."""
    with EquivalencePool(workers=1, timeout=0.5) as pool:
        pool.equivalence(["1", "2"])
        before = pool.pids()
        result = pool.equivalence(["1", TOWER, "1.0"], "1")
        assert result.timed_out == {1}
        assert result.classes == (0, 1, 0)
        assert result.reference == (True, None, True)
        assert pool.equivalence(["5", r"\frac{10}{2}"]).classes == (0, 0)
        assert pool.pids() != before
    _assert_gone(before)


def test_an_exhausted_budget_leaves_everything_unknown() -> None:
    """When the call's budget runs out, every answer is its own class and timed out."""
    with EquivalencePool(workers=1, timeout=0.5, budget=0.5) as pool:
        result = pool.equivalence(["1", TOWER], "1")
    assert result.classes == (0, 1)
    assert result.timed_out == {0, 1}
    assert result.reference == (None, None)


def test_an_orphaned_worker_ends_when_its_cpu_allowance_runs_out() -> None:
    """A worker left computing with nobody to kill it stops at its request's CPU allowance."""
    worker = subprocess.Popen(
        [sys.executable, "-P", str(math_equivalence._WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "ready" in worker.stdout.readline()
        request = {"answers": ["1", TOWER], "reference": None, "cpu_seconds": 1}
        worker.stdin.write(json.dumps(request) + "\n")
        worker.stdin.flush()
        assert worker.wait(timeout=120) == -signal.SIGXCPU  # long before the tower is done
    finally:
        worker.kill()
        worker.wait()


def test_workers_start_lazily_and_stop_on_close() -> None:
    """No worker before the first call; none left after close; the pool then restarts."""
    pool = EquivalencePool(workers=1)
    assert pool.pids() == []
    pool.equivalence(["1", "2"])
    pids = pool.pids()
    assert len(pids) == 1
    pool.close()
    assert pool.pids() == []
    _assert_gone(pids)
    assert pool.equivalence(["3", "3.0"]).classes == (0, 0)
    pool.close()


def test_importing_the_verifier_starts_no_process() -> None:
    """Importing rerank.verifiers.math.verifier creates no pool and spawns no child process."""
    code = (
        "import os, rerank.verifiers.math.verifier as m\n"
        "from rerank.verifiers.math import equivalence as e\n"
        "tasks = os.listdir('/proc/self/task')\n"
        "kids = [open(f'/proc/self/task/{t}/children').read().split() for t in tasks]\n"
        "print(e._default is None, sum(map(len, kids)))\n"
    )
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        pytest.skip("no /proc/<pid>/task/<tid>/children on this system")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "0"]


def test_without_math_verify_the_pool_says_why(tmp_path: Path, monkeypatch) -> None:
    """A worker that cannot import math-verify gives an error result, not an exception."""
    fake = tmp_path / "worker.py"
    fake.write_text('print(\'{"error": "cannot import math_verify: test"}\', flush=True)\n')
    monkeypatch.setattr(math_equivalence, "_WORKER", fake)
    with EquivalencePool(workers=1) as pool:
        result = pool.equivalence(["1", "1.0"], "1")
        assert result.error == "cannot import math_verify: test"
        assert result.classes == (0, 1)
        item = Item.from_texts(
            "How many?",
            ["A: 18", "A: 26", r"A: \sqrt{8}", r"A: 2\sqrt{2}"],
            kind="math",
            resources={"reference": "18"},
        )
        evidence = MathVerifier(pool, steps=False).verify(item)
    assert [_checks(e, "reference")[0].status for e in evidence] == [
        "pass",
        "fail",
        "unknown",
        "unknown",
    ]
    assert evidence[2].signature != evidence[3].signature  # normalised forms, never merged
    assert any("unavailable" in note for note in evidence[2].notes)


# --- the safe evaluator ---------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["__import__('os')", "_0.real", "_0(_1)", "_0 < _1", "_0 ** _1 ** _1", "_0 / _2"]
)
def test_evaluator_refuses_anything_but_bounded_arithmetic(source: str) -> None:
    """Names, calls, attributes, comparisons, huge powers and division by zero are refused."""
    values = [Interval.of(9), Interval.of(9), Interval.of(0)]
    with pytest.raises(Unreadable):
        evaluate((source, values))


def test_evaluator_carries_rounded_inputs_as_intervals() -> None:
    """A rounded input (0.33 +- 0.01) gives an interval around the value as written."""
    rounded = Interval(Fraction("0.32"), Fraction("0.34"), Fraction("0.33"))
    value = evaluate(("_0 * _1", [rounded, Interval.of(300)]))
    assert (value.low, value.point, value.high) == pytest.approx((96, 99, 102))


# --- step checks ----------------------------------------------------------------------


def test_a_wrong_step_fails_softly_with_the_right_value() -> None:
    """`16 - 3 = 14` is a soft step failure whose detail gives the right value."""
    (check,) = step_checks("She has 16 - 3 = 14 eggs left.")
    assert (check.id, check.status, check.hard) == ("step:1", "fail", False)
    assert check.detail == "16 - 3 = 14 is wrong (13)"


@pytest.mark.parametrize(
    "text",
    [
        "16 - 3 = <<16-3=13>>13 eggs",
        "3 * $2 = $6",
        "12/4 = 3",
        "2 + 3 + 4 = 9",
        "(16 - 3) * 2 = 26",
        "16 eggs - 3 eggs = 13 eggs",
        "1,000 + 500 = 1,500",
        "2 + 3 = 5 + 4 = 9",
        r"$2 \cdot 3 = 6$ and $\frac{12}{4} = 3$ and $2^{10} = 1024$",
        "3 x 4 = 12",
    ],
)
def test_correct_steps_pass(text: str) -> None:
    """Calculator notes, currency, division, chains, units and LaTeX operators all pass."""
    checks = step_checks(text)
    assert checks and all(c.status == "pass" and not c.hard for c in checks)


@pytest.mark.parametrize(
    "text",
    [
        "10/3 = 3.33",
        "10/3 = 3.3",
        "10/3 = 3 full boxes",
        "7/2 = 4 trips",
        "0.33 * 300 = 100",
        "11/18*162=99.00000000000001",
        "20% of 50 = 10",
        "50 * 20% = 10",
        "50 + 20% = 60",
        "1.5 million * 2 = 3,000,000",
        "She left at 3:30 and 5:00 - 3:30 = 1:30 later",
        "On 2023-01-05 = day 5",
        "It takes 3-4 hours",
        "Step 2 = 5 apples",
        "2x + 3 = 11",
        "a_1 + 2 = 5",
        r"\sqrt{16} + 1 = 5",
        "1 hour + 30 minutes = 90 minutes",
        "15 pages x 1/3 = 5 pages",
        "4 students drank 1.5 quarts = 4 * 1.5 = 6 quarts",
        "(7/2)x=105",
    ],
)
def test_no_false_alarm(text: str) -> None:
    """Rounding, percentages, scales, times, dates, ranges, labels, algebra, units: no fail."""
    assert [c for c in step_checks(text) if c.status == "fail"] == []


def test_each_step_is_checked_once() -> None:
    """A calculator note and the prose around it state one step, checked once."""
    assert len(step_checks("She makes 13 * 2 = $<<13*2=26>>26 a day.")) == 1


def test_unreadable_or_huge_statements_are_left_unchecked() -> None:
    """Code, huge powers and deep nesting give no check (and no crash)."""
    deep = "(" * 300 + "1 + 1" + ")" * 300 + " = 2"
    text = f"9**9**9 = 5\n__import__('os') = 1\n{deep}\n```\nx = 2 + 2 = 5\n```"
    assert step_checks(text) == []


# --- the verifier ---------------------------------------------------------------------

GSM8K_REFERENCE = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18"


def test_reference_check_passes_and_fails_by_final_answer(verifier: MathVerifier) -> None:
    """With a visible reference solution, equal answers pass, others fail, none is unknown."""
    item = Item.from_texts(
        "Janet's ducks lay 16 eggs...",
        ["9 * 2 = $18\nA: 18", "13 * 2 = $26\nA: 26", "I cannot tell."],
        kind="math",
        resources={"reference": GSM8K_REFERENCE},
    )
    checks = [_checks(e, "reference")[0] for e in verifier.verify(item)]
    assert [c.status for c in checks] == ["pass", "fail", "unknown"]
    assert all(c.hard for c in checks)


def test_reference_equivalence_goes_beyond_string_equality(verifier: MathVerifier) -> None:
    r"""A bare LaTeX reference 2\sqrt{2} matches \sqrt{8} (math-verify), not 2.83."""
    item = Item.from_texts(
        "Simplify sqrt(8).",
        [r"So $\boxed{\sqrt{8}}$.", r"So $\boxed{2.83}$."],
        kind="math",
        resources={"reference": r"2\sqrt{2}"},
    )
    statuses = [_checks(e, "reference")[0].status for e in verifier.verify(item)]
    assert statuses == ["pass", "fail"]


def test_reference_timeout_is_unknown_and_answers_keep_their_own_signature() -> None:
    """A pathological answer's reference check is unknown, and its signature its own form."""
    with EquivalencePool(workers=1, timeout=0.5) as pool:
        item = Item.from_texts(
            "What is 1?",
            ["A: 1", rf"The answer is $\boxed{{{TOWER}}}$"],
            kind="math",
            resources={"reference": "1"},
        )
        good, bad = MathVerifier(pool, steps=False).verify(item)
    assert _checks(good, "reference")[0].status == "pass"
    assert _checks(bad, "reference")[0].status == "unknown"
    assert "timed out" in _checks(bad, "reference")[0].detail
    assert bad.signature == TOWER and good.signature == "1"


def test_no_reference_check_unless_the_reference_is_visible(verifier: MathVerifier) -> None:
    """Without resources["reference"] there is no reference check at all."""
    item = Item.from_texts("What is 2 + 2?", ["A: 4"], kind="math")
    assert _checks(verifier.verify(item)[0], "reference") == []


def test_signatures_are_equal_exactly_for_equivalent_answers(verifier: MathVerifier) -> None:
    """Equivalent answers share a signature, different ones do not, no answer has none."""
    item = Item.from_texts(
        "Simplify sqrt(8).",
        [r"A: 2\sqrt{2}", r"$\boxed{\sqrt{8}}$", "A: 3", "A: 3.0", "No idea, sorry."],
        kind="math",
    )
    signatures = [e.signature for e in verifier.verify(item)]
    assert signatures[0] == signatures[1] == r"2\sqrt{2}"
    assert signatures[2] == signatures[3] == "3"
    assert signatures[0] != signatures[2]
    assert signatures[4] is None


def test_answer_check_is_soft_and_says_what_was_found(verifier: MathVerifier) -> None:
    """A stated answer passes the soft `answer` check with the answer; none fails it, saying
    no final answer was found."""
    item = Item.from_texts("What is 2 + 2?", ["2 + 2 = 4\nA: 4", "No idea."], kind="math")
    stated, missing = (_checks(e, "answer")[0] for e in verifier.verify(item))
    assert (stated.status, stated.hard, stated.detail) == ("pass", False, "4")
    assert (missing.status, missing.hard, missing.detail) == (
        "fail",
        False,
        "no final answer found",
    )


def test_every_candidate_notes_where_its_answer_came_from(verifier: MathVerifier) -> None:
    """A note `answer_source: ...` names the extraction method, weak or none included."""
    texts = ['```json\n{"reasoning": "r", "answer": "\\frac{1}{2}"}\n```', "so 7", "Hmm."]
    item = Item.from_texts("Half of 1?", texts, kind="math")
    sources = [[n for n in e.notes if n.startswith("answer_source")] for e in verifier.verify(item)]
    assert sources == [
        ["answer_source: json:answer"],
        ["answer_source: last-number (weak)"],
        ["answer_source: none (no final answer found)"],
    ]


def test_json_latex_answers_cluster_by_equivalence(verifier: MathVerifier) -> None:
    r"""JSON answers with unescaped LaTeX (\frac{1}{2}) share a signature with 0.5."""
    texts = ['{"answer": "\\frac{1}{2}"}', '{"answer": "\\dfrac12"}', "A: 0.5", "A: 2"]
    item = Item.from_texts("Half of 1?", texts, kind="math")
    signatures = [e.signature for e in verifier.verify(item)]
    assert signatures[0] == signatures[1] == signatures[2] != signatures[3]


def test_weak_answers_are_unknown_and_cluster_only_with_stated_ones(
    verifier: MathVerifier,
) -> None:
    """A last number is an `unknown` answer check; it gets a signature only when a stated
    answer shares its class, so weak answers never make a consensus on their own."""
    texts = ["The answer is 12.", "so about 12", "so about 9", "so about 9"]
    evidence = verifier.verify(Item.from_texts("What is 3 * 4?", texts, kind="math"))
    assert [_checks(e, "answer")[0].status for e in evidence] == ["pass", "unknown"] + [
        "unknown"
    ] * 2
    assert [e.signature for e in evidence] == ["12", "12", None, None]


def test_a_weak_answer_checks_the_reference_softly(verifier: MathVerifier) -> None:
    """Against a visible reference a weak answer's match is soft (a hint), a stated one hard."""
    texts = ["The answer is 12.", "so about 9", "so about 12"]
    item = Item.from_texts("3 * 4?", texts, kind="math", resources={"reference": "12"})
    checks = [_checks(e, "reference")[0] for e in verifier.verify(item)]
    assert [(c.status, c.hard) for c in checks] == [
        ("pass", True),
        ("fail", False),
        ("pass", False),
    ]


def test_one_evidence_per_candidate_in_order_with_steps(verifier: MathVerifier) -> None:
    """verify returns one math Evidence per candidate, in order, step checks included."""
    item = Item.from_texts("Eggs?", ["16 - 3 = 14\nA: 14", "16 - 3 = 13\nA: 13"], kind="math")
    evidence = verifier.verify(item)
    assert [e.verifier for e in evidence] == ["math", "math"]
    assert [_checks(e, "step:")[0].status for e in evidence] == ["fail", "pass"]


def test_labels_are_never_read(verifier: MathVerifier) -> None:
    """Labels (scores, a gold reference) change nothing: only visible resources count."""
    public = Item.from_texts("What is 6 * 3?", ["6 * 3 = 18\nA: 18", "A: 17"], kind="math")
    labelled = Item(
        id=public.id,
        prompt=public.prompt,
        candidates=public.candidates,
        task=public.task,
        labels=Labels(scores=(0.0, 1.0), gold={"reference": "17"}),
    )
    assert verifier.verify(labelled) == verifier.verify(public)
    assert all(_checks(e, "reference") == [] for e in verifier.verify(labelled))


def test_applies_to_math_items_declared_or_detected(verifier: MathVerifier) -> None:
    """Declared math applies, declared code does not; undeclared numeric Q&A is detected."""
    answers = ["3 + 4 = 7\nA: 7", "A: 8"]
    assert verifier.applies(Item.from_texts("Add 3 and 4.", answers, kind="math"))
    assert not verifier.applies(Item.from_texts("Add 3 and 4.", answers, kind="code"))
    assert verifier.applies(Item.from_texts("What is 3 + 4?", answers))
    assert not verifier.applies(Item.from_texts("Write a poem.", ["Roses.", "Violets."]))


def test_reference_answer_reads_solutions_and_bare_answers() -> None:
    """A solution gives its marked answer, a short bare reference itself, a number its text."""
    assert reference_answer(GSM8K_REFERENCE) == "18"
    assert (
        reference_answer(r"\left( 3, \frac{\pi}{2} \right)") == r"\left( 3, \frac{\pi}{2} \right)"
    )
    assert reference_answer(2.5) == "2.5"
    assert reference_answer(None) is None


def test_the_example_in_the_docs_prints_what_it_claims() -> None:
    """docs/math.md's example runs and prints the lines its trailing comments show."""
    (block,) = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "math.md").read_text(), re.S)
    claims = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "docs/math.md", "exec"), {"__name__": "docs"})
    finally:
        math_equivalence.default_pool().close()
    assert claims and out.getvalue().splitlines() == claims


@pytest.mark.parametrize(
    "module",
    [rerank.verifiers.math.verifier, rerank.verifiers.math.steps, rerank.verifiers.math.arithmetic],
)
def test_docstring_examples(module) -> None:
    """The examples in the modules' docstrings hold."""
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


# --- measured on the shared data (benchmarks/math_evidence.py; numbers in docs/math.md) ---


@pytest.fixture(scope="module")
def math_bench():
    """The benchmark script as a module: the tests assert on the numbers it reports."""
    spec = importlib.util.spec_from_file_location(
        "math_evidence", ROOT / "benchmarks" / "math_evidence.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gsm8k(math_bench, verifier: MathVerifier, shared_data_dir: Path):
    return math_bench.gsm8k_candidates(shared_data_dir / math_bench.GSM8K_CANDIDATES, verifier)


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    path = ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared benchmark data not found at {path}")
    return path


def test_gsm8k_reference_check_agrees_with_the_labels(gsm8k) -> None:
    """With the reference exposed, the reference check agrees with >= 99% of GSM8K labels."""
    assert gsm8k["responses"] == 1600
    assert gsm8k["reference agrees"] / gsm8k["responses"] >= 0.99  # measured 100%


def test_gsm8k_majority_cluster_beats_pass_at_1(gsm8k) -> None:
    """The largest answer cluster picks a correct response on >= 42% (Pass@1 22%)."""
    assert gsm8k["majority (signature)"] / gsm8k["items"] >= 0.42  # measured 44.8%
    assert gsm8k["majority (signature)"] >= gsm8k["pass@1"] + 60  # measured 179 vs 89
    assert gsm8k["majority (signature)"] <= gsm8k["oracle"]


def test_gsm8k_step_false_alarms_are_rare_and_detections_real(gsm8k) -> None:
    """A failed step on <= 1% of correct responses, and on >= 2.5% of wrong ones."""
    assert gsm8k["correct with a failed step"] <= 0.01 * gsm8k["correct"]  # measured 3/615
    assert gsm8k["wrong with a failed step"] >= 0.025 * gsm8k["wrong"]  # measured 36/985


def test_gsm8k_gold_solutions_have_almost_no_failed_step(math_bench, shared_data_dir) -> None:
    """At most 4 of the 1319 GSM8K gold solutions have a failed step (measured 2, both typos)."""
    solutions, steps, failures = math_bench.gsm8k_gold(shared_data_dir / math_bench.GSM8K_TEST)
    assert solutions == 1319 and steps > 4000
    assert len(failures) <= 4, failures


def test_math500_answers_match_their_boxed_form_and_solution(
    math_bench, verifier: MathVerifier, shared_data_dir: Path
) -> None:
    r"""\boxed{answer} and the gold solution match the answer field on >= 99% of MATH500."""
    counts, misses = math_bench.math500(shared_data_dir / math_bench.MATH500, verifier)
    assert counts["problems"] == 500
    assert counts["boxed answer matches"] >= 495, misses  # measured 500
    assert counts["solution matches"] >= 495, misses  # measured 500
    assert counts["math-verify reads the answer"] >= 495  # measured 500
