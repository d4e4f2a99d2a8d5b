"""rerank report: metrics by hand on small JETTS files, label-use statement, plot, CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli.report import report
from rerank.errors import ConfigError, InputError
from rerank.judges.evidence import EvidenceJudge
from rerank.report import ReportConfig, arun_report, run_report
from rerank.report.run import find_sources

#: Three math items, four candidates each (labels 1 = correct):
#: A: [0, 1, 1, 0], the two correct ones agree (5), so the majority picks a correct one;
#: B: [1, 0, 0, 0], two wrong ones agree (10), so the majority picks a wrong one;
#: C: [0, 0, 0, 0], nothing correct.
#: first = 1/3, Random@N = (1/2 + 1/4 + 0) / 3 = 1/4, Oracle@N = 2/3, majority = 1/3.
ITEMS = [
    ("What is 2+3?", ["#### 4", "2+3=5 #### 5", "#### 5", "#### 6"], [0, 1, 1, 0]),
    ("What is 3*4?", ["3*4=12 #### 12", "#### 10", "#### 10", "#### 11"], [1, 0, 0, 0]),
    ("What is 1-1?", ["#### 1", "#### 2", "#### 3", "#### 1"], [0, 0, 0, 0]),
]
FIRST, RANDOM, ORACLE, MAJORITY = 1 / 3, 1 / 4, 2 / 3, 1 / 3
#: pass@2 by hand: A 1 - C(2,2)/C(4,2) = 5/6, B 1 - C(3,2)/C(4,2) = 1/2, C 0.
PASS_AT_2 = (5 / 6 + 1 / 2 + 0) / 3
GAP = ORACLE - RANDOM
DEFAULT = ("sequential", "knockout", "round-robin")


@pytest.fixture
def data_dir(tmp_path: Path, write_jsonl, jetts_row) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [
        jetts_row(prompt, texts, scores, kind="math", reference=f"ref {i}")
        for i, (prompt, texts, scores) in enumerate(ITEMS)
    ]
    write_jsonl(folder / "toy_gen-a_v1.jsonl", rows)
    return folder


def _run(data_dir: Path, out: Path, *judges: str, **options) -> dict:
    config = ReportConfig(judges=judges, bootstrap=200, **options)
    return run_report([data_dir], config, out=out)


def _selector(group: dict, strategy: str, judge: str) -> dict:
    return next(s for s in group["selectors"] if (s["strategy"], s["judge"]) == (strategy, judge))


def test_file_name_gives_dataset_and_generator(data_dir: Path, tmp_path: Path) -> None:
    """The dataset is the name up to the first underscore, the generator the rest."""
    (source,) = find_sources([data_dir])
    assert (source.dataset, source.generator) == ("toy", "gen-a_v1")
    gz = tmp_path / "gsm8k_gpt3-4solutions_dev400.jsonl.gz"
    gz.write_bytes(b"")
    (source,) = find_sources([gz])
    assert (source.dataset, source.generator) == ("gsm8k", "gpt3-4solutions_dev400")


def test_baselines_and_majority_by_hand(data_dir: Path, tmp_path: Path) -> None:
    """first, Random@N (pass@1), pass@k, Oracle@N and the evidence-signature majority match
    the hand values."""
    metrics = _run(data_dir, tmp_path / "out", "simulated:1.0")
    (group,) = metrics["groups"]
    assert group["items"] == 3 and group["candidates"] == 4
    baselines = dict(group["baselines"])
    assert baselines.pop("pass_at_k") == pytest.approx({"1": RANDOM, "2": PASS_AT_2, "4": ORACLE})
    assert baselines == pytest.approx(
        {"first": FIRST, "random_at_n": RANDOM, "oracle_at_n": ORACLE}
    )
    assert group["majority"]["accuracy"] == pytest.approx(MAJORITY)
    assert group["majority"]["gap_closed"] == pytest.approx((MAJORITY - RANDOM) / GAP)
    assert group["task_kinds"] == {"math": 3}


def test_perfect_judge_reaches_oracle(data_dir: Path, tmp_path: Path) -> None:
    """With simulated:1.0 every strategy selects at Oracle@N and closes the whole gap."""
    metrics = _run(data_dir, tmp_path / "out", "simulated:1.0")
    (group,) = metrics["groups"]
    for strategy in DEFAULT:
        entry = _selector(group, strategy, "simulated:1.0")
        assert entry["accuracy"] == pytest.approx(ORACLE)
        assert entry["gap_closed"] == pytest.approx(1.0)
        assert entry["labels_used"] is True
        # A perfect judge picks the best of every subset: Oracle@k, which for 0/1 labels
        # and every subset (C(4, k) <= 20) is pass@k exactly.
        assert entry["at_k_from"] == "subsamples"
        at_k = {k: v["accuracy"] for k, v in entry["at_k"].items()}
        assert at_k == pytest.approx({"1": RANDOM, "2": PASS_AT_2, "4": ORACLE})
    oracle = {k: v["accuracy"] for k, v in group["curves"]["Oracle@k"].items()}
    assert oracle == pytest.approx({"1": RANDOM, "2": PASS_AT_2, "4": ORACLE})


def test_always_wrong_judge_and_costs(data_dir: Path, tmp_path: Path) -> None:
    """simulated:0.0 picks a worst candidate (accuracy 0); costs and rates are counted."""
    metrics = _run(data_dir, tmp_path / "out", "simulated:1.0", "simulated:0.0")
    (group,) = metrics["groups"]
    for strategy in DEFAULT:
        entry = _selector(group, strategy, "simulated:0.0")
        assert entry["accuracy"] == 0.0
        assert entry["gap_closed"] == pytest.approx(-RANDOM / GAP)
    comparisons = {"sequential": 3.0, "knockout": 3.0, "round-robin": 6.0}
    for strategy, count in comparisons.items():
        costs = _selector(group, strategy, "simulated:1.0")["costs"]
        assert (costs["comparisons"], costs["judge_calls"], costs["tokens"]) == (count, 0, 0)
    rates = _selector(group, "round-robin", "simulated:1.0")["rates"]
    # Equal labels tie: A has 2 equal pairs, B 3, C 6, of 18 pairs.
    assert rates["tie"] == pytest.approx(11 / 18)
    assert rates["invalid"] == 0.0 and rates["swap_disagreement"] is None
    pair = next(
        p
        for p in group["paired"]
        if (p["a"], p["b"]) == ("sequential/simulated:1.0", "sequential/simulated:0.0")
    )
    assert pair["mean_diff"] == pytest.approx(2 / 3)


def test_evidence_judge_by_hand_and_computed_once(
    data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """Evidence picks the largest answer cluster, computed once per item for all strategies."""
    computed = []
    original = EvidenceJudge._compute

    def counting(self, item):
        computed.append(item.prompt)
        return original(self, item)

    monkeypatch.setattr(EvidenceJudge, "_compute", counting)
    metrics = _run(data_dir, tmp_path / "out", "evidence")
    (group,) = metrics["groups"]
    assert sorted(computed) == sorted(prompt for prompt, _, _ in ITEMS)
    for strategy in DEFAULT:
        entry = _selector(group, strategy, "evidence")
        assert entry["accuracy"] == pytest.approx(MAJORITY)
        assert entry["labels_used"] is False
    assert metrics["label_use"] == {
        "judges_reading_labels": [],
        "judges_blind_to_labels": ["evidence"],
        "exposed_resources": [],
        "visible_resources": [],
    }


def test_the_vote_reads_the_evidence_judge_it_is_given(data_dir: Path, tmp_path: Path) -> None:
    """Without an evidence judge among those compared, the majority vote reads the one
    given (the CLI's, running code in --exec-env), not a new one."""

    class Given(EvidenceJudge):
        assessed: list[str] = []

        async def assess(self, item):
            self.assessed.append(item.prompt)
            return await super().assess(item)

    config = ReportConfig(judges=("simulated:0.8",), strategies=("vote",), bootstrap=10)
    metrics = asyncio.run(arun_report([data_dir], config, evidence=Given()))
    assert sorted(set(Given.assessed)) == sorted(prompt for prompt, _, _ in ITEMS)
    assert _selector(metrics["groups"][0], "vote", None)["accuracy"] == pytest.approx(MAJORITY)


def test_summary_tables_and_label_statement(data_dir: Path, tmp_path: Path) -> None:
    """summary.md holds the tables and says which judge read labels and what was exposed."""
    out = tmp_path / "out"
    _run(data_dir, out, "simulated:1.0", "evidence", expose=("reference",))
    text = (out / "summary.md").read_text()
    assert "Judges that read labels (simulated, not a real judge): simulated:1.0." in text
    assert "Judges that saw no labels: evidence" in text
    assert "Hidden fields exposed to judges (--expose): reference." in text
    assert "| dataset | generator | items | N | first | pass@1 (Random@N) | majority |" in text
    assert "| toy | gen-a_v1 | 3 | 4 | 0.333 | 0.250 | 0.333 |" in text
    assert "| Oracle@N (pass@N) |  | 0.667 |  | 1.000 |" in text
    assert "| curve | judge | k=1 | k=2 | k=4 |" in text
    assert "| pass@k |  | 0.250 | 0.444 | 0.667 |" in text
    assert "![accuracy against k, and cost against accuracy](figures/toy_gen-a_v1.png)" in text
    assert "Paired differences" in text
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 3 * 2 and all(r["exposed"] == ["reference"] for r in rows)


def test_plots_are_pngs(data_dir: Path, tmp_path: Path) -> None:
    """accuracy_vs_k.png and the group's figure are PNGs that matplotlib reads."""
    import matplotlib.image

    out = tmp_path / "out"
    _run(data_dir, out, "simulated:1.0")
    for path in (out / "accuracy_vs_k.png", out / "figures" / "toy_gen-a_v1.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = matplotlib.image.imread(path).shape[:2]
        assert width > height > 100


def test_config_errors() -> None:
    """An unknown strategy or judge, or an empty input folder, is an error that says so."""
    with pytest.raises(ConfigError, match="unknown strategy 'best'"):
        ReportConfig(strategies=("best",))
    with pytest.raises(InputError, match="no such file"):
        find_sources(["/nonexistent/x.jsonl"])


def test_cli_writes_the_report(data_dir: Path, tmp_path: Path) -> None:
    """The command exits 0 and writes the four files; two --judge and --strategy repeat."""
    out = tmp_path / "cli"
    args = [str(data_dir), "--out", str(out), "--judge", "simulated:1.0", "--judge", "evidence"]
    args += ["-s", "knockout", "-s", "vote", "--bootstrap", "50", "--limit", "2"]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy_vs_k.png",
        "figures",
        "metrics.json",
        "plots.json",
        "rows.jsonl",
        "summary.md",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    (group,) = metrics["groups"]
    assert group["items"] == 2
    names = [(s["strategy"], s["judge"]) for s in group["selectors"]]
    assert names == [("knockout", "simulated:1.0"), ("knockout", "evidence"), ("vote", None)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/data"], "no such file or directory"),
        (["{data}", "-s", "best"], "'best' is not one of"),
        (["{data}", "--judge", "oracle"], "unknown judge 'oracle'"),
        (["{empty}"], "no candidate files here"),
    ],
)
def test_cli_errors(data_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    """Bad inputs exit non-zero with a one-line message and no traceback."""
    (tmp_path / "empty").mkdir()
    args = [a.format(data=data_dir, empty=tmp_path / "empty") for a in args]
    result = CliRunner().invoke(report, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_gap_interval_of_a_perfect_selector(data_dir: Path, tmp_path: Path) -> None:
    """A selector at Oracle@N closes the whole gap in every resample: interval [1, 1]."""
    metrics = _run(data_dir, tmp_path / "out", "simulated:1.0")
    entry = _selector(metrics["groups"][0], "knockout", "simulated:1.0")
    assert entry["gap_ci"] == pytest.approx([1.0, 1.0])
    assert metrics["groups"][0]["majority"]["ci"][0] <= MAJORITY


def test_bootstrap_gap_interval_without_a_gap_is_none() -> None:
    """Where Oracle@N equals Random@N the gap closed is undefined, and so is its interval."""
    from rerank.report.baselines import bootstrap_gap_interval

    assert bootstrap_gap_interval([1.0, 0.0], [1.0, 0.0], [1.0, 0.0]) is None
    lo, hi = bootstrap_gap_interval([1.0, 1.0], [0.5, 0.5], [1.0, 1.0], resamples=20)
    assert (lo, hi) == (1.0, 1.0)


def test_unlabelled_candidates_are_an_input_error(tmp_path: Path, write_jsonl, jetts_row) -> None:
    """A report cannot score an item without a label on every candidate."""
    row = jetts_row("What is 2+3?", ["#### 5", "#### 6"], [1, 0])
    del row["responses"][1]["metadata"]["score"]
    path = write_jsonl(tmp_path / "toy_gen.jsonl", [row])
    with pytest.raises(InputError, match="needs a label"):
        run_report([path], ReportConfig(judges=("simulated:1.0",)))


def test_cli_progress_bar_goes_to_stderr(data_dir: Path, tmp_path: Path) -> None:
    """--progress draws on stderr and leaves stdout empty."""
    args = [str(data_dir), "--out", str(tmp_path / "out"), "-j", "simulated:1.0", "--progress"]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "toy_gen-a_v1.jsonl" in result.stderr


def test_cli_rejects_bad_checkpoints(data_dir: Path, tmp_path: Path) -> None:
    """--checkpoints takes comma-separated candidate counts, as select does."""
    args = [str(data_dir), "--out", str(tmp_path / "out"), "--checkpoints", "1,zero"]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 2
    assert "expected comma-separated integers" in result.output
