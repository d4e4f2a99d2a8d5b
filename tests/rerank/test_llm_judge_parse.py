"""The LLM judge's pure parts: reading replies, binding evidence, building the item message."""

from __future__ import annotations

import asyncio

import pytest

from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.judges.evidence import Standing
from rerank.judges.llm.parse import (
    Decision,
    Rejected,
    last_json_object,
    parse_arguments,
    read_contract,
    read_text_reply,
    unknown_evidence,
)
from rerank.judges.llm.prompt import Shown, gated_resources, user_message
from rerank.judges.llm.tools import ToolBox, ToolContext
from rerank.skills import SkillRegistry

SKILLS = SkillRegistry.from_dirs()
PAIRWISE = SKILLS.get("math").contract["pairwise"]
POINTWISE = SKILLS.get("math").contract["pointwise"]
VALID = '{"winner": "B", "confidence": 0.7, "evidence": ["answer"], "reason": "right"}'


def test_arguments_must_be_one_json_object():
    """Tool arguments: a JSON object (empty text counts as {}); anything else says why."""
    assert parse_arguments('{"id": "rubric"}') == {"id": "rubric"}
    assert parse_arguments("") == {}
    assert "not valid JSON" in parse_arguments('{"id": ').reason
    assert parse_arguments("[1]").reason == "the arguments must be a JSON object, not list"


def test_the_contract_reads_winners_in_any_case_but_coerces_no_types():
    """'b' is B; a confidence written as text is a type error, not a number."""
    decision = read_contract({**_valid(), "winner": "b"}, PAIRWISE, "pairwise", raw="x")
    assert isinstance(decision, Decision) and decision.winner == "b"
    rejected = read_contract({**_valid(), "confidence": "0.7"}, PAIRWISE, "pairwise", raw="x")
    assert isinstance(rejected, Rejected) and "expected number, got str" in rejected.reason


def test_a_pointwise_reply_gives_a_score_and_no_winner():
    """The pointwise contract yields the score as a float."""
    value = {"score": 8, "evidence": [], "reason": "good"}
    decision = read_contract(value, POINTWISE, "pointwise", raw="")
    assert (decision.winner, decision.score) == (None, 8.0)


def _valid() -> dict:
    return {"winner": "B", "confidence": 0.7, "evidence": ["answer"], "reason": "right"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1} then {"b": {"c": 2}}', {"b": {"c": 2}}),
        ('```json\n{"winner": "A"}\n```\nThat is all.', {"winner": "A"}),
        ('{"a": 1} and a broken {"b": ', {"a": 1}),
        ("no braces here", None),
    ],
)
def test_the_last_json_object_is_the_one_ending_last(text, expected):
    """The outermost object that ends last wins; broken tails are skipped."""
    assert last_json_object(text) == expected


@pytest.mark.parametrize(
    ("text", "winner"),
    [
        ("Verdict: A", "a"),
        ("**Verdict:** B", "b"),
        ("Final verdict = tie", "tie"),
        ("Winner: candidate B\n", "b"),
        ("Verdict: A\nthen again\nVerdict: B", "b"),
    ],
)
def test_verdict_lines_are_read_from_the_end(text, winner):
    """With lines allowed, the last 'Verdict: X' line decides."""
    assert read_text_reply(text, PAIRWISE, "pairwise", lines=True).winner == winner


def test_a_json_verdict_beats_a_verdict_line_and_must_satisfy_the_contract():
    """A valid JSON verdict wins; a broken one is a rejection unless a line rescues it."""
    assert read_text_reply(f"Verdict: A\n{VALID}", PAIRWISE, "pairwise", lines=True).winner == "b"
    broken = read_text_reply('{"winner": "A"}', PAIRWISE, "pairwise", lines=True)
    assert isinstance(broken, Rejected) and "missing 'confidence'" in broken.reason
    assert (
        read_text_reply('{"winner": "A"}\nVerdict: B', PAIRWISE, "pairwise", lines=True).winner
        == "b"
    )


@pytest.mark.parametrize("text", ["Verdict: Both are good", "The verdict is unclear.", "", None])
def test_no_winner_is_never_read_as_a_tie(text):
    """Text naming no winner is rejected with a reason, not turned into a tie."""
    read = read_text_reply(text, PAIRWISE, "pairwise", lines=True)
    assert isinstance(read, Rejected) and read.reason


def test_without_lines_only_a_json_verdict_counts():
    """In the tool loop, prose ending 'Verdict: A' is not yet a verdict."""
    assert isinstance(read_text_reply("Verdict: A", PAIRWISE, "pairwise", lines=False), Rejected)


def test_a_score_line_must_lie_on_the_scale():
    """'Score: 7' is read; 'Score: 70' on a 1-10 scale is rejected."""
    assert read_text_reply("Score: 7", POINTWISE, "pointwise", lines=True).score == 7.0
    assert (
        "off the scale" in read_text_reply("Score: 70", POINTWISE, "pointwise", lines=True).reason
    )


def test_unknown_evidence_names_each_unknown_id_once_in_order():
    """Known ids (also prefixed with the candidate) pass; the rest are listed once."""
    known = {"test:1", "rubric:correctness"}
    cited = ["`test:1`", "A:test:1", "B/rubric:correctness", "x", "y", "x"]
    assert unknown_evidence(cited, known) == ("x", "y")


ITEM = Item.from_texts(
    "What is 6*7?",
    ["#### 42", "#### 43"],
    kind="math",
    resources={"reference": "GOLD", "tests": ["t"]},
)
SHOWN = [
    Shown(
        "A", "#### 42", Standing(2, 1.0, None, 1, Evidence("math", (Check("reference", "pass"),)))
    ),
    Shown("B", "#### 43", Standing(1, None, None, 0, None)),
]


def test_the_reference_is_shown_only_when_the_skill_grants_it():
    """math grants the reference; general does not, and sees the other resources only."""
    assert "reference" in gated_resources(ITEM, SKILLS.get("math"))
    assert gated_resources(ITEM, SKILLS.get("general")) == {"tests": ["t"]}
    granted = user_message(ITEM, SKILLS.get("math"), SHOWN, "math", mode="pairwise", tools=None)
    withheld = user_message(ITEM, SKILLS.get("general"), SHOWN, "math", mode="pairwise", tools=None)
    assert "## Reference answer (granted to `reference`)\n\nGOLD" in granted
    assert "GOLD" not in withheld and "### tests" in withheld


def test_the_user_message_says_how_to_answer():
    """With tools: call final_answer; without: end the reply with the JSON verdict."""
    skill = SKILLS.get("math")
    tools = user_message(
        ITEM, skill, SHOWN, "math", mode="pairwise", tools=("run_python", "final_answer")
    )
    text = user_message(ITEM, skill, SHOWN, "math", mode="pairwise", tools=None)
    assert "Call run_python (`python`) when the procedure uses them" in tools
    assert "then call `final_answer`" in tools
    assert "End your reply with the verdict" in text and "final_answer" not in text
    assert "Candidate B: no evidence (no verifier applies)" in text


def test_view_resource_offers_only_what_the_skill_has():
    """The view tool's ids are the skill's readable resources; tools themselves are not."""
    context = ToolContext(ITEM, SKILLS.get("math"), SHOWN, "math", {})
    box = ToolBox(context, PAIRWISE)
    ids = box.parameters("view_resource")["properties"]["id"]["enum"]
    assert "examples" in ids and "reference" in ids and "python" not in ids
    assert set(box.names) == {"view_resource", "run_python", "final_answer"}


def test_viewing_the_reference_needs_it_granted_and_exposed():
    """The reference resource shows the item's reference, or says none was granted."""
    skill = SKILLS.get("math")
    with_it = ToolBox(ToolContext(ITEM, skill, SHOWN, "math", {}), PAIRWISE)
    bare = Item.from_texts("What is 6*7?", ["#### 42", "#### 43"], kind="math")
    without = ToolBox(ToolContext(bare, skill, SHOWN, "math", {}), PAIRWISE)
    assert asyncio.run(with_it.run("view_resource", {"id": "reference"})) == "GOLD"
    assert "no reference was granted" in asyncio.run(
        without.run("view_resource", {"id": "reference"})
    )
