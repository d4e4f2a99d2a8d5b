"""rerank report --selections: scoring `rerank select` output files against their labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.report import ReportConfig, run_report

#: Three math items, four candidates each (labels 1 = correct). Random@N = 1/4,
#: Oracle@N = 2/3; the evidence judge picks the largest answer cluster: right on t0 only.
ITEMS = [
    ("What is 2+3?", ["#### 4", "2+3=5 #### 5", "#### 5", "#### 6"], [0, 1, 1, 0]),
    ("What is 3*4?", ["3*4=12 #### 12", "#### 10", "#### 10", "#### 11"], [1, 0, 0, 0]),
    ("What is 1-1?", ["#### 1", "#### 2", "#### 3", "#### 1"], [0, 0, 0, 0]),
]
LABELS = {f"t{i}": scores for i, (_, _, scores) in enumerate(ITEMS)}
RANDOM, ORACLE = 1 / 4, 2 / 3


@pytest.fixture
def data(tmp_path: Path, write_jsonl, jetts_row) -> Path:
    rows = [
        jetts_row(prompt, texts, scores, kind="math", task_id=f"t{i}", reference=f"#### {i}")
        for i, (prompt, texts, scores) in enumerate(ITEMS)
    ]
    return write_jsonl(tmp_path / "toy_gen.jsonl", rows)


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def _select(data: Path, out: Path, *args: str) -> Path:
    result = _invoke("select", data, "--out", out, "--no-progress", *args)
    assert result.exit_code == 0, result.output
    return out


def _report(out: Path, *args: str) -> dict:
    result = _invoke("report", "--out", out, "--bootstrap", "50", *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "metrics.json").read_text())


def _entry(group: dict, strategy: str, judge: str | None) -> dict:
    return next(s for s in group["selectors"] if (s["strategy"], s["judge"]) == (strategy, judge))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_accuracy_costs_and_at_k_from_select_output_by_hand(data: Path, tmp_path: Path) -> None:
    """Each selection file is a column: its accuracy is the mean label of the chosen ones."""
    seq = _select(data, tmp_path / "seq.jsonl", "-s", "sequential", "-j", "simulated:1.0")
    ko = _select(data, tmp_path / "ko.jsonl", "-s", "knockout", "-j", "evidence")
    rr = _select(data, tmp_path / "rr.jsonl", "-s", "round-robin", "-j", "simulated:0.0")
    args = ["--selections", seq, "--selections", ko, "--selections", rr, "--labels", data]
    metrics = _report(tmp_path / "report", *args)
    (group,) = metrics["groups"]
    assert (group["items"], group["candidates"], group["dataset"]) == (3, 4, "toy")
    assert group["baselines"]["random_at_n"] == pytest.approx(RANDOM)
    assert [(s["strategy"], s["judge"]) for s in group["selectors"]] == [
        ("sequential", "simulated:1.0"),
        ("knockout", "evidence"),
        ("round-robin", "simulated:0.0"),
    ]
    for path, judge, expected in ((seq, "simulated:1.0", ORACLE), (ko, "evidence", 1 / 3)):
        rows = _rows(path)
        by_hand = sum(LABELS[r["id"]][r["selected"]] for r in rows) / 3
        entry = _entry(group, rows[0]["strategy"], judge)
        assert entry["accuracy"] == pytest.approx(by_hand) == pytest.approx(expected)
    assert _entry(group, "round-robin", "simulated:0.0")["accuracy"] == 0.0
    costs = _entry(group, "round-robin", "simulated:0.0")["costs"]
    assert (costs["comparisons"], costs["judge_calls"], costs["tokens"]) == (6.0, 0.0, 0.0)
    seconds = sum(r["elapsed"] for r in _rows(rr)) / 3
    assert costs["seconds"] == pytest.approx(seconds)
    sequential = _entry(group, "sequential", "simulated:1.0")
    at_k = {k: v["accuracy"] for k, v in sequential["at_k"].items()}
    rows = _rows(seq)
    assert sequential["at_k_from"] == "checkpoints"
    assert at_k["1"] == pytest.approx(sum(LABELS[r["id"]][r["checkpoints"]["1"]] for r in rows) / 3)
    assert list(at_k) == ["1", "2", "4"] and at_k["4"] == pytest.approx(ORACLE)
    knockout = _entry(group, "knockout", "evidence")
    assert knockout["at_k_from"] == "N" and list(knockout["at_k"]) == ["4"]
    assert metrics["config"]["selections"] == [str(seq), str(ko), str(rr)]


def test_same_numbers_as_running_the_strategies(data: Path, tmp_path: Path) -> None:
    """Reading a selection file gives what a report running that strategy gives."""
    seq = _select(data, tmp_path / "seq.jsonl", "-s", "sequential", "-j", "simulated:0.5")
    read = _report(tmp_path / "read", "--selections", seq, "--labels", data)
    config = ReportConfig(strategies=("sequential",), judges=("simulated:0.5",), bootstrap=50)
    ran = run_report([data], config)
    for a, b in zip(read["groups"], ran["groups"], strict=True):
        (x,), (y,) = a["selectors"], b["selectors"]
        for key in ("accuracy", "ci", "gap_closed", "gap_ci", "rates"):
            assert x[key] == y[key], key
        # At k < N the rows hold only the checkpoints; the report runs it on subsets.
        assert (x["at_k_from"], y["at_k_from"]) == ("checkpoints", "subsamples")
        assert x["at_k"]["4"] == y["at_k"]["4"]
        assert a["majority"] == b["majority"] and a["baselines"] == b["baselines"]
        assert a["curves"] == b["curves"]  # the same subsets, the same evidence


def test_rows_are_matched_by_id_not_by_order(data: Path, tmp_path: Path) -> None:
    """Rows in reverse order still meet their own item's labels."""
    rows = _rows(_select(data, tmp_path / "seq.jsonl", "-j", "evidence"))
    chosen = {"t0": 1, "t1": 0, "t2": 0}  # by id: 1 + 1 + 0; by position it would be 1/3
    flipped = tmp_path / "flipped.jsonl"
    flipped.write_text(
        "".join(json.dumps({**r, "selected": chosen[r["id"]]}) + "\n" for r in rows[::-1])
    )
    (group,) = _report(tmp_path / "r", "--selections", flipped, "--labels", data)["groups"]
    assert group["selectors"][0]["accuracy"] == pytest.approx(2 / 3)


def test_both_orders_columns_are_told_apart(data: Path, tmp_path: Path) -> None:
    """With --both-orders every match is asked twice; the two knockout columns are named
    by the option that differs."""
    one = _select(data, tmp_path / "one.jsonl", "-s", "knockout", "-j", "simulated:1.0")
    two = _select(data, tmp_path / "two.jsonl", "-j", "simulated:1.0", "--both-orders")
    args = ["--selections", one, "--selections", two, "--labels", data]
    (group,) = _report(tmp_path / "r", *args)["groups"]
    single = _entry(group, "knockout[both_orders=false]", "simulated:1.0")
    double = _entry(group, "knockout[both_orders=true]", "simulated:1.0")
    assert single["costs"]["comparisons"] == double["costs"]["comparisons"] == 3.0
    assert sum(r["both_orders_matches"] for r in _rows(two)) == 9
    assert single["rates"]["swap_disagreement"] is None
    assert double["rates"]["swap_disagreement"] == 0.0  # a perfect judge never flips
    assert double["strategy_options"] == {"both_orders": True}


def test_label_use_and_resources_come_from_the_rows(data: Path, tmp_path: Path) -> None:
    """The report says which judge read labels and which hidden fields the rows exposed."""
    sim = _select(data, tmp_path / "sim.jsonl", "-j", "simulated:1.0")
    ev = _select(data, tmp_path / "ev.jsonl", "-j", "evidence", "--expose", "reference")
    out = tmp_path / "r"
    metrics = _report(out, "--selections", sim, "--selections", ev, "--labels", data)
    use = metrics["label_use"]
    assert use["judges_reading_labels"] == ["simulated:1.0"]
    assert use["judges_blind_to_labels"] == ["evidence"]
    assert use["exposed_resources"] == ["reference"]
    assert _entry(metrics["groups"][0], "knockout", "evidence")["exposed"] == ["reference"]
    text = (out / "summary.md").read_text()
    assert "Hidden fields exposed to judges (--expose): reference." in text
    assert f"Selections read from `rerank select` output: {sim}, {ev}" in text


def test_rows_find_their_labels_file_by_name(tmp_path: Path, write_jsonl, jetts_row) -> None:
    """Two datasets with the same ids: each row is scored against its own file's labels."""
    right = [jetts_row("What is 1+1?", ["#### 2", "#### 3"], [1, 0], kind="math", task_id="q")]
    wrong = [jetts_row("What is 1+2?", ["#### 4", "#### 3"], [0, 1], kind="math", task_id="q")]
    a = write_jsonl(tmp_path / "a_gen.jsonl", right)
    b = write_jsonl(tmp_path / "b_gen.jsonl", wrong)
    sa = _select(a, tmp_path / "sa.jsonl", "-j", "evidence")
    sb = _select(b, tmp_path / "sb.jsonl", "-j", "evidence")
    both = _select(a, tmp_path / "both.jsonl", "-j", "simulated:1.0")
    _select(b, both, "-j", "simulated:1.0", "--resume")  # appends b's row
    args = ["--labels", a, "--labels", b, "--selections", sa, "--selections", sb]
    metrics = _report(tmp_path / "r", *args, "--selections", both)
    assert [g["dataset"] for g in metrics["groups"]] == ["a", "b"]
    for group in metrics["groups"]:  # one column per strategy and judge, across files
        assert [s["judge"] for s in group["selectors"]] == ["evidence", "simulated:1.0"]
        assert _entry(group, "knockout", "simulated:1.0")["accuracy"] == 1.0


def _bad(path: Path, line: int, change) -> Path:
    lines = path.read_text().splitlines()
    row = json.loads(lines[line - 1])
    changed = change(row)
    lines[line - 1] = changed if isinstance(changed, str) else json.dumps(changed)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("line", "change", "message"),
    [
        (2, lambda r: "{not json", "invalid JSON"),
        (3, lambda r: {k: v for k, v in r.items() if k != "selected"}, "field 'selected': missing"),
        (1, lambda r: {**r, "selected": 4}, "field 'selected': 4 is not a candidate index"),
        (2, lambda r: {**r, "comparisons": "3"}, "field 'comparisons': expected an integer"),
        (2, lambda r: {**r, "id": "t9"}, "field 'id': item 't9' is not in the labels file"),
        (3, lambda r: {**r, "n": 3, "selected": 0}, "field 'n': 3 candidates here, 4 in"),
        (1, lambda r: {**r, "file": "other.jsonl"}, "field 'file': the item comes from"),
        (3, lambda r: {**r, "id": "t0"}, "a second row for item 't0'"),
        (2, lambda r: [r], "expected a JSON object"),
    ],
)
def test_bad_rows_are_named_by_file_and_line(data, tmp_path, line, change, message) -> None:
    """A malformed or unmatched row stops the report with its file, line and field."""
    sel = _bad(_select(data, tmp_path / "sel.jsonl", "-j", "evidence"), line, change)
    result = _invoke("report", "--selections", sel, "--labels", data, "--out", tmp_path / "r")
    assert result.exit_code == 1, result.output
    assert f"{sel}:{line}:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_columns_must_cover_the_same_items(data: Path, tmp_path: Path) -> None:
    """A selection file missing an item the others have is named, not silently dropped."""
    full = _select(data, tmp_path / "full.jsonl", "-j", "evidence")
    short = _select(data, tmp_path / "short.jsonl", "-j", "simulated:1.0", "--limit", "2")
    args = ["--selections", full, "--selections", short, "--labels", data]
    result = _invoke("report", *args, "--out", tmp_path / "r")
    assert result.exit_code == 1
    assert f"{short}: no row for item 't2'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--selections", "{sel}", "--labels", "{data}", "-s", "vote"], "--strategy says what"),
        (["--selections", "{sel}", "--labels", "{data}", "--both-orders"], "--both-orders says"),
        (["--selections", "{sel}", "--labels", "{data}", "--model", "m"], "--model says what"),
        (["--selections", "{sel}", "{data}"], "give the candidate files as --labels"),
        (["{data}", "--labels", "{data}"], "--labels goes with --selections"),
        ([], "give candidate files (INPUTS), or --selections"),
    ],
)
def test_option_conflicts_are_usage_errors(data, tmp_path, args, message) -> None:
    """Options that say what to run do not mix with rows that say what ran."""
    sel = _select(data, tmp_path / "sel.jsonl", "-j", "evidence")
    args = [a.format(sel=sel, data=data) for a in args]
    result = _invoke("report", *args, "--out", tmp_path / "r")
    assert result.exit_code == 2 and message in result.output
