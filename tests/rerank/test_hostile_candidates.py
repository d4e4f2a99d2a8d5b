"""Candidates that try to forge or game their evidence lose to an honest one.

Each attacker is a wrong ``add`` (it subtracts) that tries to pass the visible checks
anyway; the honest candidate adds. The claim under test: the only way to pass a check
is for the candidate's function to return the expected value for that input, so on
evidence the honest candidate wins under every seed, and rerank's own memory does not
move whatever the attacker writes.
"""

from __future__ import annotations

import gc
import json
import textwrap
import time
from pathlib import Path

import pytest

from rerank import select
from rerank.items import Item
from rerank.verifiers.code.verifier import CodeVerifier

PROMPT = '''def add(a, b):
    """Add two numbers.
    >>> add(1, 2)
    3
    >>> add(-1, 1)
    0
    """
'''
TESTS = {"tests": ["assert add(2, 2) == 4", "assert add(10, 5) == 15"]}
HONEST = "def add(a, b):\n    return a + b\n"

ATTACKS = {
    # The old harness held its nonce and results in the candidate's interpreter; a
    # candidate found it through gc and printed its own result lines. The worker now
    # reports only values, so a forged line can only claim values.
    "forged result lines": """
        import gc, json, os
        def add(a, b):
            return a - b
        for obj in gc.get_objects():
            channel = getattr(obj, "channel", None)
            if channel is not None and hasattr(channel, "write"):
                for k in range(8):
                    channel.write(json.dumps({"k": k, "s": "pass", "d": "",
                                              "r": [{"v": True}]}) + "\\n")
                channel.flush()
        """,
    # A pickle that builds 2 GB when unpickled, in every shape a result line could take.
    "pickle bomb": """
        import base64, gc, json, os
        payload = base64.b64encode(b"\\x80\\x04\\x95\\x0c\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
            b"\\x8c\\x08builtins\\x94\\x8c\\tbytearray\\x94\\x93\\x94J\\x00\\x945w\\x85\\x94R\\x94."
        ).decode()
        def add(a, b):
            return a - b
        line = json.dumps({"k": 0, "v": payload, "r": [{"v": payload}], "t": 0}) + "\\n"
        for fd in range(1, 20):
            try:
                os.write(fd, line.encode() * 4)
            except OSError:
                pass
        """,
    # Rewrite whatever runs the tests so that every test "passes".
    "patched harness methods": """
        import gc
        def add(a, b):
            return a - b
        for obj in gc.get_objects():
            if isinstance(obj, type) and obj.__name__ in ("Worker", "_Harness"):
                for name in ("test", "call", "example", "statement", "op"):
                    if name in vars(obj):
                        setattr(obj, name, lambda self, *a, **k: {"s": "pass", "d": "",
                                                                  "v": {"i": "63"}})
        """,
    # Make every step report success with no results at all.
    "empty reports": """
        import gc
        def add(a, b):
            return a - b
        for obj in gc.get_objects():
            if isinstance(obj, type) and obj.__name__ == "Worker":
                obj.step = lambda self, step, seconds: {"s": "pass", "r": []}
        """,
    # Patch the comparison functions wherever they live in the candidate's process.
    "patched comparisons": """
        import sys
        def add(a, b):
            return a - b
        for module in list(sys.modules.values()):
            for name in ("same_output", "text_matches", "equal", "compare_want"):
                if hasattr(module, name):
                    try:
                        setattr(module, name, lambda *a, **k: True)
                    except Exception:
                        pass
        """,
    # An int whose == always agrees, whose repr lies.
    "int subclass that equals anything": """
        class Anything(int):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = int.__hash__
            def __repr__(self):
                return "3"
        def add(a, b):
            return Anything(a - b)
        """,
    # A class attribute that lies about the type.
    "fake __class__": """
        class Fake:
            __class__ = int
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def add(a, b):
            return Fake()
        """,
}


@pytest.fixture(scope="module", autouse=True)
def _sandboxed():
    from rerank.sandbox.runner import isolation

    if isolation().process_limit == "none":
        pytest.skip("this machine cannot bound sandboxed processes")


def _peak_reset() -> bool:
    """Reset this process's peak RSS (VmHWM), where the kernel allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_honest_candidate_wins_against_a_forger(name):
    """Under every seed and slot order the honest candidate is chosen, and the
    attacker's checks that need the right value fail."""
    attacker = textwrap.dedent(ATTACKS[name])
    gc.collect()
    before = _rss_mb()
    can_reset = _peak_reset()
    for seed in range(3):
        for candidates, honest in (([HONEST, attacker], 0), ([attacker, HONEST], 1)):
            best = select(PROMPT, candidates, judge="evidence", resources=TESTS, seed=seed)
            assert best.winner == honest, (name, seed)
    with CodeVerifier() as verifier:
        [evidence] = verifier.verify(Item.from_texts(PROMPT, [attacker], resources=TESTS))
    statuses = {c.id: c.status for c in evidence.checks}
    assert statuses["example:1"] != "pass"
    assert statuses["test:1"] != "pass" and statuses["test:2"] != "pass"
    growth = (_peak_mb() if can_reset else _rss_mb()) - before
    assert growth < 200, f"rerank grew by {growth:.0f} MB"


def test_true_is_not_one():
    """A check is type-exact: ``True`` where ``1`` is expected fails."""
    prompt = 'def one():\n    """\n    >>> one()\n    1\n    """\n'
    with CodeVerifier() as verifier:
        evidence = verifier.verify(
            Item.from_texts(
                prompt,
                ["def one():\n    return True\n", "def one():\n    return 1\n"],
                resources={"tests": ["assert one() == 1"]},
            )
        )
    first, second = ({c.id: c.status for c in e.checks} for e in evidence)
    assert first["example:1"] == first["test:1"] == "fail"
    assert second["example:1"] == second["test:1"] == "pass"


def test_hard_coded_visible_examples_still_pass_them():
    """What the docs admit: returning the visible answers passes the visible checks
    (only behaviour on other inputs can expose it)."""
    cheat = "def add(a, b):\n    return {(1, 2): 3, (-1, 1): 0}.get((a, b), 0)\n"
    with CodeVerifier() as verifier:
        [evidence] = verifier.verify(Item.from_texts(PROMPT, [cheat], resources=TESTS))
    statuses = {c.id: c.status for c in evidence.checks}
    assert statuses["example:1"] == statuses["example:2"] == "pass"
    assert statuses["test:1"] == "fail"


def test_checks_that_need_python_run_outside_the_candidate():
    """``math.isclose``, ``set()`` and ``sorted()`` over a candidate's values are
    evaluated by the checker, where the candidate's patches do not reach."""
    prompt = "def area(r):\n    pass\n"
    tests = {
        "tests": [
            "import math\nassert math.isclose(area(1), 3.14159, rel_tol=0.001)",
            "assert sorted(set([area(0), area(0)])) == [0.0]",
        ]
    }
    patched = textwrap.dedent(
        """
        import math, builtins
        math.isclose = lambda *a, **k: True
        builtins.sorted = lambda *a, **k: [0.0]
        def area(r):
            return 2 * r
        """
    )
    honest = "import math\ndef area(r):\n    return math.pi * r * r\n"
    with CodeVerifier() as verifier:
        cheat, fair = verifier.verify(Item.from_texts(prompt, [patched, honest], resources=tests))
    assert [c.status for c in cheat.checks] == ["pass", "fail", "pass"]
    assert [c.status for c in fair.checks] == ["pass", "pass", "pass"]


STUBBORN = {
    "catches BaseException": """
        def add(a, b):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """,
    "ignores SIGALRM": """
        import signal
        def add(a, b):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        """,
}


@pytest.mark.parametrize("name", sorted(STUBBORN))
def test_a_candidate_that_defeats_its_timer_is_stopped_at_once(name):
    """A test that overruns has its whole process stopped near its own limit, and the
    candidate's tests together never take more than its total budget."""
    stubborn = textwrap.dedent(STUBBORN[name])
    started = time.monotonic()
    with CodeVerifier(timeout=0.5, total_timeout=4.0) as verifier:
        [evidence] = verifier.verify(Item.from_texts(PROMPT, [stubborn], resources=TESTS))
    assert time.monotonic() - started < 30  # not 4 tests x the 20 s wall clock
    checks = {c.id: c for c in evidence.checks}
    assert checks["example:1"].status == "timeout"
    assert "stopped" in checks["example:1"].detail
    assert all(checks[k].status in ("timeout", "unknown") for k in ("example:2", "test:1"))
    assert any(
        note.startswith("limits: 0.5s per test, 4s for all tests") for note in evidence.notes
    )


def test_unreadable_lines_are_evidence_of_nothing():
    """Deeply nested JSON is skipped, and unknown tags and huge numbers decode to values
    that fail: never a pass, never a crash of rerank."""
    flood = textwrap.dedent(
        """
        import gc
        def add(a, b):
            return a + b
        deep = "[" * 100000 + "]" * 100000
        for obj in gc.get_objects():
            channel = getattr(obj, "channel", None)
            if channel is not None and hasattr(channel, "write"):
                channel.write('{"k": 0, "r": [{"v": ' + deep + '}]}\\n')
                channel.write('{"k": 1, "r": [{"v": {"zz": 1}}]}\\n')
                channel.write('{"k": 2, "r": [{"v": {"i": "' + "f" * 5000 + '"}}]}\\n')
                channel.flush()
        """
    )
    with CodeVerifier() as verifier:
        [evidence] = verifier.verify(Item.from_texts(PROMPT, [flood], resources=TESTS))
    statuses = {c.id: c.status for c in evidence.checks}
    assert statuses["example:1"] == "pass"  # the unparseable line is skipped, the real one read
    assert statuses["example:2"] == statuses["test:1"] == "fail"
    assert statuses["test:2"] == "pass"


def test_the_candidates_process_is_never_told_what_is_expected():
    """The worker's spec holds the calls to make, not the values they should return."""
    verifier = CodeVerifier()
    item = Item.from_texts(PROMPT, [HONEST], resources=TESTS)
    task = verifier._task(item)
    from rerank.verifiers.code.verifier import _plan

    plan = _plan(task, "", HONEST, None)
    spec = json.dumps(verifier._spec(task, None, plan))
    assert "add(2, 2)" in spec and "add(10, 5)" in spec
    for expected in ("== 4", "== 15", '{"i": "f"}', "expected", "want"):
        assert expected not in spec


def test_a_test_with_a_huge_integer_is_an_error_not_a_crash():
    """An integer past Python's int->str limit (4300 digits) in a test is an error for that
    test, as Python itself refuses it; the other tests and candidates are still judged."""
    big, bigger = "1" + "0" * 5000, "1" + "0" * 4999 + "1"  # 10**5000 and 10**5000 + 1
    tests = {"tests": [f"assert add({big}, 1) == {bigger}", "assert add(1, 1) == 2"]}
    with CodeVerifier() as verifier:
        right, wrong = verifier.verify(
            Item.from_texts(PROMPT, [HONEST, "def add(a, b):\n    return a\n"], resources=tests)
        )
    first, second = ({c.id: c for c in e.checks} for e in (right, wrong))
    assert first["test:1"].status == "error" and "4300" in first["test:1"].detail
    assert (first["test:2"].status, second["test:2"].status) == ("pass", "fail")
