"""Accuracy against k: pass@k against enumeration, subsets, bands, figures' data, the one
majority, metrics.json's provenance, and the report's field options on other tables."""

from __future__ import annotations

import asyncio
import json
import re
from itertools import combinations
from math import comb
from pathlib import Path

import pytest
from click.testing import CliRunner

import rerank
from rerank.cli.report import report
from rerank.errors import InputError
from rerank.items import Item
from rerank.judges.evidence import EvidenceJudge
from rerank.report import ReportConfig, run_report, run_selection_report
from rerank.report.run import baseline_record, find_sources
from rerank.report.subsample import SubsetEvidence, pass_at_k, sub_item, subsets
from rerank.selector import StrategyConfig, select_item


def _enumerated(labels: list[float], k: int) -> float:
    """The best label of every k-subset, averaged: the definition pass@k estimates."""
    picks = [max(labels[i] for i in subset) for subset in combinations(range(len(labels)), k)]
    return sum(picks) / len(picks)


@pytest.mark.parametrize(
    "labels",
    [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0, 1], [1] * 5, [0, 0, 1, 0, 0, 1, 0, 1]],
)
def test_pass_at_k_is_the_unbiased_estimator_and_the_enumeration(labels):
    """pass@k equals Chen et al.'s 1 - C(n-c, k)/C(n, k) and the mean best of all k-subsets."""
    n, c = len(labels), sum(labels)
    for k in range(1, n + 1):
        chen = 1 - comb(n - c, k) / comb(n, k)
        assert pass_at_k(labels, k) == pytest.approx(chen) == pytest.approx(_enumerated(labels, k))


def test_pass_at_k_of_graded_labels_is_the_expected_best():
    """With graded labels (ties included) it is the expected best label of k drawn."""
    labels = [0.2, 0.9, 0.5, 0.5, 0.0, 0.7]
    for k in range(1, 7):
        assert pass_at_k(labels, k) == pytest.approx(_enumerated(labels, k))
    assert pass_at_k(labels, 1) == pytest.approx(sum(labels) / 6)
    assert pass_at_k(labels, 99) == 0.9


def test_pass_at_k_does_not_overflow_on_large_n():
    """No binomial coefficient becomes a float: n = 2000 works."""
    labels = [1] * 10 + [0] * 1990
    assert pass_at_k(labels, 1000) == pytest.approx(1 - comb(1990, 1000) / comb(2000, 1000))


def test_subsets_are_all_of_them_or_seeded_draws():
    """Every subset when there are few enough; else the count asked, seeded, each of k."""
    assert subsets(5, 2, 10, seed=1) == list(combinations(range(5), 2))
    drawn = subsets(10, 4, 7, seed=3)
    assert len(drawn) == 7 and all(len(set(s)) == 4 and list(s) == sorted(s) for s in drawn)
    assert drawn == subsets(10, 4, 7, seed=3) != subsets(10, 4, 7, seed=4)


def _math_item() -> Item:
    texts = ["#### 5", "2+3=5 #### 5", "#### 6", "#### 6", "#### 6"]
    return Item.from_texts("What is 2+3?", texts, id="m", kind="math", scores=[1, 1, 0, 0, 0])


def test_subset_evidence_recounts_consensus_without_running_verifiers(monkeypatch):
    """On a subset the clusters are counted among its candidates; no verifier runs again."""
    computed = []
    original = EvidenceJudge._compute
    monkeypatch.setattr(
        EvidenceJudge, "_compute", lambda self, item: computed.append(1) or original(self, item)
    )

    async def run():
        evidence = EvidenceJudge()
        try:
            item = _math_item()
            kind, parent = await evidence.assess(item.public())
            assert [s.consensus for s in parent] == [2, 2, 3, 3, 3]
            subset = (0, 1, 2)
            sub = sub_item(item, subset, "m@3#0")
            assert sub.labels.scores == (1, 1, 0) and sub.n == 3
            judge = SubsetEvidence(kind, parent).use(subset)
            _, stand = await judge.assess(sub.public())
            assert [s.consensus for s in stand] == [2, 2, 1]
            verdict = await judge.compare(sub.public(), 0, 2)  # 5 now outnumbers 6
            vote = await select_item(sub, StrategyConfig("vote"), None, evidence=judge)
            return verdict.winner, sub.labels.scores[vote.selection.winner]
        finally:
            await evidence.aclose()

    assert asyncio.run(run()) == ("a", 1)
    assert len(computed) == 1


def test_the_majority_is_the_vote_strategy_on_every_item():
    """The majority baseline picks what `-s vote` picks, also where no verifier applies
    (general items vote with their stated final answers)."""
    texts = ["I say 7.", "#### 3", "#### 3", "#### 4"]
    general = [
        Item.from_texts("Say a number.", texts, id=str(i), scores=[0, 1, 1, 0]) for i in range(6)
    ]

    async def run():
        evidence = EvidenceJudge()
        try:
            for item in [_math_item(), *general]:
                record = await baseline_record(item, evidence, seed=5)
                vote = StrategyConfig("vote", seed=5)
                chosen = await select_item(item, vote, None, evidence=evidence)
                assert record.majority == chosen.selection.winner
                if item.id != "m":
                    assert record.majority in (1, 2)  # the "3"s, not an abstainer
        finally:
            await evidence.aclose()

    asyncio.run(run())


def _general_rows(copies: int) -> list[dict]:
    """Items no verifier applies to (cheap), labels varied: a fifth of them all wrong."""
    patterns = [[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    return [
        {
            "id": f"q{i}",
            "prompt": f"Write line {i}.",
            "candidates": [f"line {i} take {j}" for j in range(4)],
            "scores": patterns[i % 5],
            "task": {"kind": "general"},
        }
        for i in range(copies * 5)
    ]


def _report_on(rows: list[dict], folder: Path, write_jsonl, **options) -> dict:
    path = write_jsonl(folder / "toy_gen.jsonl", rows)
    config = ReportConfig(judges=("simulated:0.7",), bootstrap=300, **options)
    return run_report([path], config, out=folder / "out")


def test_bands_contain_the_estimate_and_shrink_with_more_items(tmp_path, write_jsonl):
    """Every curve's 95% band holds its accuracy, and ten times the items narrow it."""
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small = _report_on(_general_rows(2), tmp_path / "small", write_jsonl)["groups"][0]
    large = _report_on(_general_rows(20), tmp_path / "large", write_jsonl)["groups"][0]

    def curves(group):
        yield from group["curves"].items()
        for s in group["selectors"]:
            yield f"{s['strategy']}/{s['judge']}", s["at_k"]

    narrower = 0
    for (name, a), (_, b) in zip(curves(small), curves(large), strict=True):
        assert list(a) == list(b) == ["1", "2", "4"], name
        for k in a:
            for point in (a[k], b[k]):
                low, high = point["ci"]
                assert low <= point["accuracy"] <= high, (name, k)
            width = a[k]["ci"][1] - a[k]["ci"][0]
            if width > 0:
                assert b[k]["ci"][1] - b[k]["ci"][0] < width, (name, k)
                narrower += 1
    assert narrower >= 10


def test_plots_json_holds_the_plotted_series(tmp_path, write_jsonl):
    """plots.json names one figure per group with pass@k, Oracle@k, majority@k and every
    selector against k, and one cost point per selector."""
    (tmp_path / "r").mkdir()
    metrics = _report_on(_general_rows(2), tmp_path / "r", write_jsonl, strategies=("knockout",))
    plots = json.loads((tmp_path / "r" / "out" / "plots.json").read_text())
    (figure,) = plots["groups"]
    assert figure["figure"] == "figures/toy_gen.png"
    assert (tmp_path / "r" / "out" / figure["figure"]).is_file()
    panel = figure["accuracy_vs_k"]
    names = [s["name"] for s in panel["series"]]
    assert names == ["pass@k", "Oracle@k", "majority@k", "knockout/simulated:0.7"]
    assert panel["k"] == [1, 2, 4] and all(s["k"] == [1, 2, 4] for s in panel["series"])
    group = metrics["groups"][0]
    knockout = panel["series"][3]
    assert knockout["accuracy"][-1] == group["selectors"][0]["accuracy"]
    assert panel["series"][0]["accuracy"] == list(group["baselines"]["pass_at_k"].values())
    assert figure["cost"]["axis"] == "seconds"  # no model calls
    assert [p["name"] for p in figure["cost"]["points"]] == ["knockout/simulated:0.7"]
    assert figure["missing"] == []


def test_selection_figures_say_what_is_missing(tmp_path, write_jsonl):
    """From selection rows: baselines against k, sequential from its checkpoints, and a
    knockout only at N, each said."""
    path = write_jsonl(tmp_path / "toy_gen.jsonl", _general_rows(2))
    outs = {}
    for strategy in ("sequential", "knockout"):
        outs[strategy] = tmp_path / f"{strategy}.jsonl"
        args = ["select", str(path), "-s", strategy, "-j", "simulated:0.7", "-o"]
        result = CliRunner().invoke(rerank.cli.main, [*args, str(outs[strategy])])
        assert result.exit_code == 0, result.output
    run_selection_report(list(outs.values()), [path], out=tmp_path / "out")
    (figure,) = json.loads((tmp_path / "out" / "plots.json").read_text())["groups"]
    by_name = {s["name"]: s for s in figure["accuracy_vs_k"]["series"]}
    assert by_name["Oracle@k"]["k"] == by_name["majority@k"]["k"] == [1, 2, 4]
    assert by_name["sequential/simulated:0.7"]["k"] == [1, 2, 4]
    assert by_name["knockout/simulated:0.7"]["k"] == [4]
    assert figure["missing"] == [
        "sequential/simulated:0.7: from its checkpoints (the first k of its seeded order)",
        "knockout/simulated:0.7: only at k=N (no record of it on fewer candidates)",
    ]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "- knockout/simulated:0.7: only at k=N" in summary


def test_metrics_json_says_what_made_it(tmp_path, write_jsonl):
    """metrics.json records the rerank version, the checkout's commit, the time and the
    machine."""
    (tmp_path / "r").mkdir()
    run = _report_on(_general_rows(1), tmp_path / "r", write_jsonl)["run"]
    assert run["rerank_version"] == rerank.__version__
    if (Path(rerank.__file__).parents[1] / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", run["git"]["commit"])
        assert isinstance(run["git"]["dirty"], bool)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", run["started"])
    assert run["started"] <= run["finished"] and run["seconds"] >= 0
    machine = run["machine"]
    assert machine["cpus"] >= machine["cpus_usable"] >= 1
    assert re.fullmatch(r"3\.\d+\.\d+.*", machine["python"])
    written = json.loads((tmp_path / "r" / "out" / "metrics.json").read_text())
    assert written["run"] == run
    assert f"rerank {rerank.__version__}" in (tmp_path / "r" / "out" / "summary.md").read_text()


# --- the report's fields on other tables ----------------------------------------------------


def _table_rows() -> list[dict]:
    return [
        {
            "uid": f"t{i}",
            "prompt": f"Write line {i}.",
            "candidates": [f"a{i}", f"b{i}", f"c{i}"],
            "correct": [float(i % 2), 1.0, 0.0],
            "task": {"kind": "general"},
        }
        for i in range(4)
    ]


def _cli_report(*args: str) -> tuple[int, str, dict | None]:
    result = CliRunner().invoke(report, [*args, "-j", "simulated:1.0", "--bootstrap", "20"])
    out = next((args[i + 1] for i, a in enumerate(args) if a == "--out"), None)
    path = Path(out) / "metrics.json" if out else None
    metrics = json.loads(path.read_text()) if path and path.is_file() else None
    return result.exit_code, result.output, metrics


def test_scores_field_on_a_parquet_file(tmp_path):
    """--scores-field names the labels column of a parquet table."""
    import pandas as pd

    rows = _table_rows()
    path = tmp_path / "toy_parquet.parquet"
    pd.DataFrame(rows).to_parquet(path)
    code, output, metrics = _cli_report(
        str(path), "--scores-field", "correct", "--out", str(tmp_path / "o")
    )
    assert code == 0, output
    (group,) = metrics["groups"]
    assert (group["dataset"], group["items"], group["candidates"]) == ("toy", 4, 3)
    assert group["baselines"]["first"] == pytest.approx(0.5)
    assert metrics["config"]["fields"]["scores"] == "correct"
    code, output, _ = _cli_report(str(path), "--out", str(tmp_path / "p"))
    assert code != 0 and "needs a label" in output  # the default column is not there


def test_field_options_on_a_pandas_csv(tmp_path):
    """A CSV written by pandas (lists as Python literals) with scores, tests and inputs in
    columns of their own: the tests and inputs reach the judges as visible resources."""
    import pandas as pd

    rows = _table_rows()
    for row in rows:
        row["checks"] = ["assert f(1) == 1"]
        row["probe_inputs"] = ["1", "2"]
    path = tmp_path / "toy_csv.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    args = [str(path), "--scores-field", "correct", "--tests-field", "checks"]
    args += ["--inputs-field", "probe_inputs", "--out", str(tmp_path / "o")]
    code, output, metrics = _cli_report(*args)
    assert code == 0, output
    assert metrics["label_use"]["visible_resources"] == ["inputs", "tests"]
    assert metrics["groups"][0]["baselines"]["oracle_at_n"] == 1.0


def test_field_options_on_a_jetts_file_are_refused(tmp_path, write_jsonl, jetts_row):
    """A JETTS file's fields are fixed: --scores-field on one is an error that says so."""
    path = write_jsonl(tmp_path / "toy_gen.jsonl", [jetts_row("q", ["a", "b"], [1, 0])])
    code, output, _ = _cli_report(str(path), "--scores-field", "x", "--out", str(tmp_path / "o"))
    assert code == 1 and "a JETTS file" in output and "Traceback" not in output


def test_a_save_to_disk_folder_is_one_source(tmp_path):
    """A datasets save_to_disk folder (and folder::split) is one source, not a folder of
    files; the report reads it."""
    import datasets

    rows = _table_rows()
    for row in rows:
        row["scores"] = row.pop("correct")
    folder = tmp_path / "toy_saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    splits = tmp_path / "toy_splits"
    datasets.DatasetDict(
        {"dev": datasets.Dataset.from_list(rows[:2]), "test": datasets.Dataset.from_list(rows)}
    ).save_to_disk(str(splits))
    found = find_sources([folder, f"{splits}::test"])
    assert [(s.dataset, s.generator) for s in found] == [("toy", "saved"), ("toy", "splits::test")]
    code, output, metrics = _cli_report(str(folder), f"{splits}::dev", "--out", str(tmp_path / "o"))
    assert code == 0, output
    assert [g["items"] for g in metrics["groups"]] == [4, 2]
    with pytest.raises(InputError, match="no candidate files here"):
        find_sources([tmp_path])  # a folder of folders


def test_vote_and_majority_are_one_column(tmp_path, write_jsonl):
    """-s vote gives the majority's accuracy, interval and curve against k."""
    (tmp_path / "r").mkdir()
    rows = _general_rows(2)
    for row in rows:  # stated answers to vote with: the correct candidates agree
        row["candidates"] = [f"#### {7 if s else j}" for j, s in enumerate(row["scores"])]
    group = _report_on(rows, tmp_path / "r", write_jsonl, strategies=("vote",))["groups"][0]
    (vote,) = group["selectors"]
    assert (
        vote["accuracy"] == group["majority"]["accuracy"] and vote["ci"] == group["majority"]["ci"]
    )
    assert vote["at_k"] == group["curves"]["majority@k"]
    assert group["majority"]["accuracy"] >= 0.4  # the items where the correct ones agree
