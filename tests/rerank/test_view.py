"""rerank view: reading and joining a run's rows, the page's data, and the command."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from click.testing import CliRunner

from rerank.errors import InputError
from rerank.run import RunOptions, run_select
from rerank.selector import StrategyConfig
from rerank.view import build_view, render_page
from rerank.view.command import view

HOSTILE = '</script><script>window.__pwned=1</script><!--<script>--><b id="injected">x</b>&amp;'


def selection(item_id, *, n, selected, file=None, **extra) -> dict:
    """An output row as rerank select writes it (the fields the view reads)."""
    row = {
        "id": item_id,
        "file": file,
        "selected": selected,
        "text": "chosen",
        "n": n,
        "strategy": "knockout",
        "judge": "evidence",
        "comparisons": n - 1,
        "judge_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "ties": 0,
        "invalid": 0,
        "flagged_verdicts": 0,
        "elapsed": 0.5,
    }
    return {**row, **extra}


def match(a, b, winner, *, evidence=(), flags=(), reason="because") -> dict:
    outcome = "a" if winner == a else "b" if winner == b else "tie"
    verdict = {"winner": outcome, "reason": reason, "evidence": list(evidence), "judge": "llm"}
    if flags:
        verdict["flags"] = list(flags)
    return {"a": a, "b": b, "outcome": outcome, "winner": winner, "round": 1, "verdicts": [verdict]}


def trace(item_id, matches, *, file=None, evidence=None) -> dict:
    row = {"id": item_id, "file": file, "strategy": "knockout", "order": None, "matches": matches}
    if evidence is not None:
        row["explanation"] = {"task_kind": "code", "evidence": evidence}
    return row


@pytest.fixture
def run(tmp_path, write_jsonl):
    """A small labelled run: a right pick, a wrong pick with a flagged verdict, a pick with
    no correct candidate, and a hostile candidate; input, selections and trace."""
    inp = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "right", "prompt": "2+2?", "candidates": ["4", "5"], "scores": [1, 0]},
            {
                "id": "wrong",
                "prompt": "def f(): ...",
                "candidates": ["a", "b", "c"],
                "scores": [0, 1, 0],
                "task": {"kind": "code"},
            },
            {"id": "none", "prompt": "p", "candidates": ["x", "y"], "scores": [0, 0]},
            {"id": "evil", "prompt": HOSTILE, "candidates": [HOSTILE, "ok"], "scores": [1, 1]},
            {"id": "unread", "prompt": "p", "candidates": ["only"], "scores": [1]},
        ],
    )
    f = str(inp)
    sel = write_jsonl(
        tmp_path / "sel.jsonl",
        [
            selection("right", n=2, selected=0, file=f, task_kind="math"),
            selection("wrong", n=3, selected=2, file=f, ties=1, flagged_verdicts=0),
            selection("none", n=2, selected=1, file=f),
            selection("evil", n=2, selected=0, file=f),
        ],
    )
    checks = [{"id": "test:1", "status": "fail", "hard": True, "detail": "f(1) == 2, got 3"}]
    evidence = [{"verifier": "code", "checks": checks, "signature": "s1", "notes": []}] * 3
    tr = write_jsonl(
        tmp_path / "trace.jsonl",
        [
            trace("right", [match(0, 1, 0)], file=f),
            trace(
                "wrong",
                [match(0, 2, 2, evidence=["test:1"], flags=["cites unknown evidence: x"])],
                file=f,
                evidence=evidence,
            ),
            trace("orphan", [], file=f),
        ],
    )
    return {"input": inp, "selections": sel, "trace": tr, "dir": tmp_path}


def by_id(view_data, key="index"):
    return {entry["id"]: entry for entry in getattr(view_data, key)}


def test_picks_are_judged_against_the_labels(run):
    """right: the pick has the best label; wrong: a better one was there; none: none correct."""
    data = build_view(run["selections"], trace=run["trace"], inputs=[run["input"]])
    picks = {e["id"]: e["pick"] for e in data.index}
    assert picks == {"right": "right", "wrong": "wrong", "none": "none", "evil": "right"}
    assert data.meta["labels"] is True


def test_rows_are_joined_by_file_and_id(run):
    """Each item gets its own input texts, labels and trace row; selection order is kept."""
    data = build_view(run["selections"], trace=run["trace"], inputs=[run["input"]])
    assert [e["id"] for e in data.index] == ["right", "wrong", "none", "evil"]
    detail = by_id(data, "details")["wrong"]
    assert detail["candidates"] == ["a", "b", "c"]
    assert detail["labels"] == [0, 1, 0]
    assert detail["trace"]["matches"][0]["verdicts"][0]["evidence"] == ["test:1"]
    assert detail["source"].endswith("in.jsonl:2")
    assert by_id(data, "details")["none"]["trace"] is None


def test_index_counts_flags_ties_and_kinds(run):
    """Flagged verdicts are counted from the trace even where the row says 0; the kind comes
    from the row, else the trace, else the input, else 'unknown'."""
    index = by_id(build_view(run["selections"], trace=run["trace"], inputs=[run["input"]]))
    assert index["wrong"]["flagged"] == 1 and index["wrong"]["ties"] == 1
    assert index["right"]["flagged"] == 0
    assert {k: e["kind"] for k, e in index.items()} == {
        "right": "math",
        "wrong": "code",
        "none": "unknown",
        "evil": "unknown",
    }


def test_notes_name_orphan_and_missing_trace_rows(run):
    """A trace row without a selection row, and items without a trace row, are noted."""
    notes = build_view(run["selections"], trace=run["trace"], inputs=[run["input"]]).meta["notes"]
    assert any("1 trace rows" in n and "no selection row" in n for n in notes)
    assert any(n.startswith("2 items have no trace row") for n in notes)


def test_rows_of_a_file_not_among_several_inputs_are_noted(run, tmp_path, write_jsonl):
    """With several inputs, a row naming none of them gets no texts, and a note says so."""
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "q", "prompt": "p", "candidates": ["1"]}])
    sel = write_jsonl(
        tmp_path / "s.jsonl",
        [
            selection("right", n=2, selected=0, file=str(run["input"])),
            selection("q", n=1, selected=0, file=str(second)),
            selection("z", n=1, selected=0, file="elsewhere.jsonl"),
        ],
    )
    data = build_view(sel, inputs=[run["input"], second])
    assert [d.get("prompt") for d in data.details] == ["2+2?", "p", None]
    assert data.meta["notes"] == ["1 items name a file that is not among the inputs"]


def test_input_defaults_to_the_files_the_selections_name(run, tmp_path, write_jsonl):
    """Without inputs the named candidate file is read; a missing one is a note, not an error."""
    data = build_view(run["selections"])
    assert by_id(data, "details")["right"]["prompt"] == "2+2?"
    moved = write_jsonl(tmp_path / "moved.jsonl", [selection("q", n=1, selected=0, file="gone")])
    data = build_view(moved)
    assert "prompt" not in data.details[0]
    assert any("gone" in n and "--input" in n for n in data.meta["notes"])
    assert build_view(run["selections"], inputs=()).details[0].get("prompt") is None


def test_a_single_input_matches_by_id_when_the_path_differs(run, tmp_path, write_jsonl):
    """A run that read a copy of the file under another name still finds its rows."""
    sel = write_jsonl(tmp_path / "s.jsonl", [selection("right", n=2, selected=1, file="x.jsonl")])
    data = build_view(sel, inputs=[run["input"]])
    assert data.details[0]["candidates"] == ["4", "5"] and data.index[0]["pick"] == "wrong"


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ({"id": "q", "n": 2}, ":1: field 'selected': missing"),
        ({"id": "q", "n": 2, "selected": 2}, ":1: field 'selected': candidate 2 out of range"),
        ({"id": "q", "n": 0, "selected": 0}, ":1: field 'n': expected an integer of at least 1"),
        ({"n": 2, "selected": 0}, ":1: field 'id': missing"),
        ({"id": [1], "n": 2, "selected": 0}, ":1: field 'id': expected a string or an integer"),
        (
            {"id": "q", "n": 2, "selected": 0, "elapsed": "1s"},
            ":1: field 'elapsed': expected a number",
        ),
        ({"id": "q", "matches": []}, ":1: field 'selected': missing (this looks like a trace row"),
    ],
)
def test_a_bad_selection_row_names_file_line_and_field(tmp_path, write_jsonl, row, where):
    """Every malformed selection row is one error naming the file, the line and the field."""
    path = write_jsonl(tmp_path / "s.jsonl", [row])
    with pytest.raises(InputError) as caught:
        build_view(path, inputs=())
    assert str(caught.value).startswith(str(path) + where)


@pytest.mark.parametrize(
    ("matches", "where"),
    [
        ([{"a": 0, "b": 5, "verdicts": []}], "field 'matches[0].b': expected a candidate index"),
        ([{"a": 0, "b": 1, "verdicts": [3]}], "field 'matches[0].verdicts[0]': expected an object"),
        (
            [{"a": 0, "b": 1, "verdicts": [{"winner": "a", "evidence": "t"}]}],
            "field 'matches[0].verdicts[0].evidence': expected a list of strings",
        ),
        ("all", "field 'matches': expected a list"),
    ],
)
def test_a_bad_trace_row_names_file_line_and_field(tmp_path, write_jsonl, matches, where):
    """A trace row with a wrong field is reported at its line, indexes checked against n."""
    sel = write_jsonl(tmp_path / "s.jsonl", [selection("q", n=2, selected=0)])
    tr = write_jsonl(
        tmp_path / "t.jsonl", [{"id": "other", "matches": []}, {"id": "q", "matches": matches}]
    )
    with pytest.raises(InputError) as caught:
        build_view(sel, trace=tr, inputs=())
    assert str(caught.value).startswith(f"{tr}:2: {where}")


def test_swapped_files_are_named_as_such(run):
    """Passing the trace as selections (or the reverse) says which file was expected."""
    with pytest.raises(InputError, match="looks like a trace row"):
        build_view(run["trace"])
    with pytest.raises(InputError, match="looks like an output row"):
        build_view(run["selections"], trace=run["selections"])


def test_invalid_json_and_missing_files_are_input_errors(tmp_path, write_jsonl):
    """Invalid JSON names its line; a missing file names the file."""
    path = write_jsonl(
        tmp_path / "s.jsonl", [selection("q", n=1, selected=0), {}], raw_lines={1: b"{oops"}
    )
    with pytest.raises(InputError, match=re.escape(f"{path}:2: invalid JSON")):
        build_view(path, inputs=())
    with pytest.raises(InputError, match="no such file"):
        build_view(tmp_path / "absent.jsonl")
    with pytest.raises(InputError, match="no selection rows"):
        build_view(write_jsonl(tmp_path / "empty.jsonl", []), inputs=())


def test_an_input_of_another_run_is_refused(run, tmp_path, write_jsonl):
    """An input whose candidate count differs, or that holds none of the ids, is an error."""
    other = write_jsonl(tmp_path / "o.jsonl", [{"id": "right", "prompt": "p", "candidates": ["1"]}])
    with pytest.raises(InputError) as caught:
        build_view(run["selections"], inputs=[other])
    assert str(caught.value).startswith(f"{other}:1: field 'candidates': 1 candidates, but line 1")
    unrelated = write_jsonl(
        tmp_path / "u.jsonl", [{"id": "zzz", "prompt": "p", "candidates": ["1"]}]
    )
    with pytest.raises(InputError, match="none of the 4 selected ids is in this file"):
        build_view(run["selections"], inputs=[unrelated])


def json_blocks(page: str) -> dict[str, object]:
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S)
    return {name: json.loads(text) for name, text in found}


def test_the_page_keeps_hostile_text_as_data(run):
    """A candidate holding </script>, <!-- or markup cannot end its block or add elements:
    every '<' of the data is escaped, and the blocks parse back to the exact text."""
    data = build_view(run["selections"], trace=run["trace"], inputs=[run["input"]])
    page = render_page(data, title=HOSTILE)
    assert "window.__pwned" in page  # the text is there...
    assert "<script>window.__pwned" not in page and 'id="injected"' not in page  # ...as data
    assert page.count("<script") == page.count("</script>") == len(data.details) + 3
    blocks = json_blocks(page)
    evil = blocks["item-3"]
    assert evil["prompt"] == HOSTILE and evil["candidates"][0] == HOSTILE
    assert blocks["meta"]["title"] == HOSTILE
    assert "<title>&lt;/script&gt;" in page


def test_the_page_loads_nothing_from_outside(run):
    """No URL is referenced, and the policy forbids any script or style but the page's own."""
    page = render_page(build_view(run["selections"], inputs=()), title="t")
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    assert "http://" not in page and "https://" not in page
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "unsafe" not in policy


def test_non_finite_numbers_still_make_valid_json(tmp_path, write_jsonl):
    """NaN or infinite scores (which Python's json reads) become strings, not invalid JSON."""
    path = tmp_path / "s.jsonl"
    path.write_text(
        json.dumps(selection("q", n=2, selected=0, scores=[float("nan"), float("inf")])) + "\n"
    )
    page = render_page(build_view(path, inputs=()), title="t")
    assert json_blocks(page)["item-0"]["selection"]["scores"] == ["nan", "inf"]


def test_a_real_run_reads_back_whole(tmp_path, examples_file):
    """What rerank select writes (knockout, evidence judge, trace) is read without loss: every
    item has its trace and input, and every check a verdict cites is in its evidence."""
    out, tr = tmp_path / "out.jsonl", tmp_path / "trace.jsonl"
    options = RunOptions(paths=[str(examples_file)], out=str(out), trace=str(tr), judge="evidence")
    options.config = StrategyConfig(name="knockout")
    asyncio.run(run_select(options, say=lambda m: None))
    data = build_view(out, trace=tr)
    assert data.meta["notes"] == [] and data.meta["labels"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["id"] for e in data.index] == [r["id"] for r in rows]
    cited = 0
    for detail, row in zip(data.details, rows, strict=True):
        assert detail["candidates"][row["selected"]] == row["text"]
        evidence = detail["trace"]["explanation"]["evidence"]
        for m in detail["trace"]["matches"]:
            for v in m["verdicts"]:
                for check in v.get("evidence", []):
                    ids = {
                        c["id"]
                        for e in (evidence[m["a"]], evidence[m["b"]])
                        if e
                        for c in e["checks"]
                    }
                    assert check in ids
                    cited += 1
    assert cited > 0


def test_command_writes_the_page_and_says_so(run):
    """The command writes one HTML file and reports the item count on stderr."""
    out = run["dir"] / "run.html"
    args = [str(run["selections"]), "--trace", str(run["trace"]), "--input", str(run["input"])]
    result = CliRunner().invoke(view, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 items" in result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and len(json_blocks(page)) == 6


def test_command_reports_bad_input_in_one_line(tmp_path, write_jsonl):
    """A malformed row ends the command with exit 1 and one line naming file, line, field;
    no page is written."""
    path = write_jsonl(tmp_path / "s.jsonl", [selection("q", n=1, selected=0), {"id": "r", "n": 1}])
    out = tmp_path / "run.html"
    result = CliRunner().invoke(view, [str(path), "--no-input", "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}:2: field 'selected': missing"
    assert not out.exists()


def test_command_usage_errors(run, tmp_path):
    """-o is required, and --no-input with --input is a usage error (exit 2)."""
    sel = str(run["selections"])
    assert CliRunner().invoke(view, [sel]).exit_code == 2
    both = [sel, "--no-input", "--input", str(run["input"]), "-o", str(tmp_path / "x.html")]
    result = CliRunner().invoke(view, both)
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_command_reports_an_unwritable_output(run, tmp_path):
    """A page that cannot be written is named in one line, exit 1."""
    out = tmp_path / "no-such-dir" / "run.html"
    result = CliRunner().invoke(view, [str(run["selections"]), "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write {out}: ")
