"""rerank view in a real headless browser: the page renders, filters and sorts its index,
shows an item's choice and evidence, keeps hostile text inert, and logs no error.

Needs Debian's chromium and the playwright package (``bash scripts/ci-browser`` installs
both); Playwright drives that chromium, it never downloads a browser. One browser serves
the whole module; each test opens the page afresh in it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.view.command import view

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (bash scripts/ci-browser)"
)

CHROMIUM = os.environ.get("RERANK_CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None
)
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (bash scripts/ci-browser)", allow_module_level=True
    )

HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
HOSTILE += '<b id="injected">bold</b>'
LONG = "\n".join([f"    x{i} = {i}  # line {i}" for i in range(60)] + ["LAST_LINE_MARKER = 1"])
LONG = "def long():\n" + LONG


def verdict(winner, *, evidence=(), flags=(), reason="a reason", calls=1) -> dict:
    cost = {"calls": calls, "prompt_tokens": 90, "completion_tokens": 10, "seconds": 0.5}
    found = {"winner": winner, "reason": reason, "judge": "llm:code", "cost": cost}
    if evidence:
        found["evidence"] = list(evidence)
    if flags:
        found["flags"] = list(flags)
    return found


def match(a, b, winner, r=1, **kwargs) -> dict:
    outcome = "invalid" if winner == "invalid" else "tie" if winner is None else None
    outcome = outcome or ("a" if winner == a else "b")
    picked = winner if isinstance(winner, int) else None
    return {
        "a": a,
        "b": b,
        "outcome": outcome,
        "winner": picked,
        "round": r,
        "verdicts": [verdict(outcome, **kwargs)],
    }


def code_evidence(statuses: list[str]) -> dict:
    checks = [{"id": "test:1", "status": s, "hard": True, "detail": f"f(1) {s}"} for s in statuses]
    return {
        "task_kind": "code",
        "evidence": [
            {"verifier": "code", "checks": [c], "signature": f"sig-{c['status']}", "notes": []}
            for c in checks
        ],
    }


# id, kind, strategy, candidates, labels, selected, cost and counts, matches, order, evidence
ITEMS = [
    (
        "k-wrong",
        "code",
        "knockout",
        ["def f(x): return 0", "def f(x): return x + 1", "print(1)", "def f(x): return x"],
        [0, 1, 0, 0],
        3,
        {"judge_calls": 3, "elapsed": 2.0, "prompt_tokens": 270, "completion_tokens": 30},
        [
            match(0, 1, 1, evidence=["test:1"]),
            match(2, 3, 3),
            match(1, 3, 3, r=2, evidence=["test:1"]),
        ],
        [0, 1, 2, 3],
        code_evidence(["fail", "pass", "error", "pass"]),
    ),
    (
        "s-right",
        "math",
        "sequential",
        ["7", "8", "12"],
        [0, 0, 1],
        2,
        {"judge_calls": 1, "elapsed": 0.5, "prompt_tokens": 90, "completion_tokens": 10, "ties": 1},
        [match(0, 1, None), match(0, 2, 2, r=2)],
        [0, 1, 2],
        None,
    ),
    (
        "r-flag",
        "instruction",
        "round-robin",
        ["all lower case", "ALL UPPER", "lower again"],
        [1, 0, 1],
        0,
        {"judge_calls": 9, "elapsed": 5.0, "prompt_tokens": 810, "completion_tokens": 90},
        [
            match(0, 1, 0, flags=["cites unknown evidence: rubric:9"], evidence=["rubric:9"]),
            match(0, 2, None),
            match(1, 2, 2),
        ],
        None,
        None,
    ),
    (
        "evil",
        "general",
        "knockout",
        [HOSTILE, "plain"],
        [0, 0],  # no candidate is right: not a wrong pick, as no better one was there
        0,
        {},
        [match(0, 1, 0)],
        [0, 1],
        None,
    ),
    (
        "long",
        "code",
        "knockout",
        [LONG, "def long(): pass"],
        [1, 0],
        1,
        {"invalid": 1},
        [match(0, 1, "invalid")],
        [0, 1],
        None,
    ),
]
IDS = [item[0] for item in ITEMS]


def write_run(folder: Path) -> tuple[Path, Path, Path]:
    inputs, selections, traces = [], [], []
    inp = folder / "in.jsonl"
    for item_id, kind, strategy, texts, labels, chosen, counts, matches, order, expl in ITEMS:
        prompt = HOSTILE if item_id == "evil" else f"prompt of {item_id}"
        task = {"kind": kind}
        inputs.append(
            {"id": item_id, "prompt": prompt, "candidates": texts, "scores": labels, "task": task}
        )
        row = {"id": item_id, "file": str(inp), "selected": chosen, "text": texts[chosen]}
        row |= {"n": len(texts), "strategy": strategy, "judge": "llm", "task_kind": kind}
        row |= {"comparisons": len(matches), "judge_calls": 0, "elapsed": 0.1, "ties": 0}
        row |= {"invalid": 0, "prompt_tokens": 0, "completion_tokens": 0, **counts}
        selections.append(row)
        tr = {"id": item_id, "file": str(inp), "strategy": strategy, "order": order}
        tr["matches"] = matches
        if expl is not None:
            tr["explanation"] = expl
        traces.append(tr)
    paths = []
    for name, rows in (("in", inputs), ("sel", selections), ("trace", traces)):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def make_page(folder: Path, args: list[str]) -> str:
    out = folder / "run.html"
    result = CliRunner().invoke(view, [*args, "-o", str(out), "--title", HOSTILE])
    assert result.exit_code == 0, result.output
    return out.as_uri()


@pytest.fixture(scope="module")
def browser():
    args = ["--disable-gpu", "--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # chromium refuses to run as root with its sandbox
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("view")
    inp, sel, tr = write_run(folder)
    return make_page(folder, [str(sel), "--trace", str(tr), "--input", str(inp)])


@pytest.fixture
def page(browser, url):
    """The page, freshly opened; the test fails if the page logged an error or warning."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(5000)  # a broken page fails in seconds, not in minutes
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else 0)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.goto(url)
    tab.wait_for_selector("#rows tr")
    yield tab
    context.close()
    assert problems == []


def shown_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        "#rows tr:not([hidden])", "rows => rows.map(r => r.dataset.id)"
    )


def open_item(page, item_id: str):
    page.click(f'#rows tr[data-id="{item_id}"]')
    page.wait_for_selector(f'#item[data-id="{item_id}"]')
    return page.locator("#item")


def test_index_lists_every_item(page):
    """Every selection row is an index row, in input order, and no item detail is rendered
    before one is opened."""
    assert shown_ids(page) == IDS
    assert page.inner_text("#count") == "5 of 5"
    assert page.locator(".cand").count() == 0


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        ("#f-wrong", ["k-wrong", "long"]),
        ("#f-ties", ["s-right"]),
        ("#f-flagged", ["r-flag"]),
        ("#f-invalid", ["long"]),
    ],
)
def test_each_filter_keeps_the_rows_it_names(page, control, expected):
    """Ticking a filter leaves exactly its items visible; unticking brings all back."""
    page.check(control)
    assert shown_ids(page) == expected
    assert page.inner_text("#count") == f"{len(expected)} of 5"
    page.uncheck(control)
    assert shown_ids(page) == IDS


def test_filters_combine_with_kind_and_search(page):
    """The task kind, the id search and the checkboxes narrow the index together."""
    page.select_option("#f-kind", "code")
    assert shown_ids(page) == ["k-wrong", "long"]
    page.check("#f-invalid")
    assert shown_ids(page) == ["long"]
    page.uncheck("#f-invalid")
    page.select_option("#f-kind", "")
    page.fill("#f-search", "EVI")
    assert shown_ids(page) == ["evil"]


def test_sorting_by_cost(page):
    """Sorting by judge calls or seconds puts the costliest first (input order on ties)."""
    page.select_option("#sort", "calls")
    assert shown_ids(page) == ["r-flag", "k-wrong", "s-right", "evil", "long"]
    page.select_option("#sort", "sec")
    assert shown_ids(page) == ["r-flag", "k-wrong", "s-right", "evil", "long"]
    page.select_option("#sort", "")
    assert shown_ids(page) == IDS


def test_detail_marks_the_choice_and_the_cited_check(page):
    """An item's detail marks the chosen candidate and shows, for a verdict citing a check,
    that check's result for both candidates."""
    item = open_item(page, "k-wrong")
    chosen = item.locator(".cand.chosen")
    assert chosen.count() == 1 and chosen.get_attribute("data-k") == "3"
    assert "return x" in chosen.inner_text() and "label 0" in chosen.inner_text()
    cited = item.locator('#match-0 .cite[data-cite="test:1"]')
    assert cited.count() == 1
    assert cited.locator("td").nth(1).inner_text().startswith("fail")  # #0, shown first
    assert cited.locator("td").nth(2).inner_text().startswith("pass")  # #1
    assert item.locator('#cand-1 .check[data-check-id="test:1"]').inner_text().startswith("pass")
    assert item.locator(".cand .t-k").count() > 0  # code is highlighted
    assert "0.50 s" in item.locator("#match-0 .cost").last.inner_text()


def test_knockout_draws_its_bracket(page):
    """The bracket has one box per match in its round and ends on the chosen candidate."""
    item = open_item(page, "k-wrong")
    assert item.locator(".bracket .round").count() == 3  # two rounds and the chosen one
    assert item.locator(".bracket .match").count() == 3
    assert item.locator(".bracket .round").last.inner_text().endswith("#3")


def test_sequential_draws_the_incumbent_chain(page):
    """The chain shows each challenger and who held the lead after it."""
    item = open_item(page, "s-right")
    steps = item.locator(".chain .step").all_inner_texts()
    assert steps == ["\u2192 vs #1: tie, holds \u2192", "\u2192 vs #2: takes over \u2192"]


def test_round_robin_draws_the_win_matrix(page):
    """Cells read row against column: a win, its mirror loss, a tie."""
    item = open_item(page, "r-flag")
    row0 = item.locator('.matrix tr[data-k="0"] td.cell').all_inner_texts()
    row1 = item.locator('.matrix tr[data-k="1"] td.cell').all_inner_texts()
    assert row0 == ["W", "="] and row1 == ["L", "L"]


def test_a_flagged_verdict_is_marked(page):
    """A verdict with flags is marked, says why, and its unknown citation is named as such."""
    item = open_item(page, "r-flag")
    flagged = item.locator(".verdict.flagged")
    assert flagged.count() == 1
    assert "cites unknown evidence: rubric:9" in flagged.inner_text()
    assert "not a recorded check" in flagged.locator('.cite[data-cite="rubric:9"]').inner_text()


def test_hostile_text_stays_text(page):
    """A candidate, prompt and title holding </script>, <script> and markup show as text, add
    no element and run nothing."""
    item = open_item(page, "evil")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#injected").count() == 0
    assert page.title() == HOSTILE
    assert HOSTILE in item.locator(".cand.chosen").inner_text()
    assert HOSTILE in item.inner_text()  # the prompt too


def test_long_text_is_folded_until_opened(page):
    """A long candidate shows a preview; its whole text appears when unfolded."""
    item = open_item(page, "long")
    fold = item.locator("#cand-0 details.fold")
    assert fold.count() == 1
    assert "LAST_LINE_MARKER" not in item.locator("#cand-0").inner_text()
    fold.locator("summary").click()  # the text is rendered on the toggle event, just after
    sync_api.expect(item.locator("#cand-0")).to_contain_text("LAST_LINE_MARKER = 1")


def test_links_and_keys_open_items(page, url):
    """#item/N opens item N; j and k step through the visible rows."""
    page.goto(url + "#item/2")
    page.wait_for_selector('#item[data-id="r-flag"]')
    page.keyboard.press("j")
    page.wait_for_selector('#item[data-id="evil"]')
    page.check("#f-wrong")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.wait_for_selector('#item[data-id="long"]')


def test_a_thousand_items_open_and_filter(browser, tmp_path):
    """A page of 1,000 items lists them all, filters them, and opens one on demand."""
    inp = tmp_path / "in.jsonl"
    rows, selected = [], []
    for i in range(1000):
        rows.append({"id": f"q{i}", "prompt": f"p{i}", "candidates": ["a", "b"], "scores": [1, 0]})
        selected.append({"id": f"q{i}", "file": str(inp), "n": 2, "selected": i % 3 % 2})
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sel = tmp_path / "sel.jsonl"
    sel.write_text("".join(json.dumps(r) + "\n" for r in selected))
    tab = browser.new_page()
    tab.set_default_timeout(5000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(make_page(tmp_path, [str(sel)]))
    tab.wait_for_selector("#rows tr")
    assert tab.locator("#rows tr").count() == 1000
    tab.check("#f-wrong")
    assert shown_ids(tab) == [f"q{i}" for i in range(1000) if i % 3 == 1]
    tab.click('#rows tr[data-id="q997"]')
    tab.wait_for_selector('#item[data-id="q997"] .cand.chosen')
    assert tab.locator(".cand.chosen").get_attribute("data-k") == "1"
    tab.close()
    assert errors == []
