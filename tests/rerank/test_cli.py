"""The rerank command line, through click's CliRunner."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from rerank.cli import main


def _rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def runner():
    return CliRunner()


def test_select_on_the_shipped_example_with_defaults(runner, examples_file):
    """The README's first command: evidence judge, knockout, a row per item, a summary line."""
    result = runner.invoke(main, ["select", str(examples_file), "--verbose"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    n_items = sum(1 for line in examples_file.read_text().splitlines() if line.strip())
    assert len(rows) == n_items >= 12
    for row in rows:
        assert 0 <= row["selected"] < row["n"]
        assert row["strategy"] == "knockout" and row["judge"] == "evidence"
        assert row["labels_used"] is False
        assert row["task_kind"] in ("math", "code", "instruction", "general")
    line, *details = result.stderr.splitlines()
    assert line.startswith(f"selected {n_items} items in ")
    assert (
        f"accuracy {sum(_labels(examples_file, rows)) / n_items:.3f} ({n_items} labelled)" in line
    )
    assert "comparisons, 0 judge calls, " in line and len(line) < 120
    assert "  judge: evidence" in details
    assert any(d.startswith("  invalid: 0 of ") for d in details)


def _labels(path, rows: list[dict]) -> list[float]:
    """The label of each row's chosen candidate, read from the input by hand."""
    items = {str(r.get("id")): r for r in map(json.loads, path.read_text().splitlines())}
    return [items[row["id"]]["scores"][row["selected"]] for row in rows]


def test_the_summary_is_one_short_line_without_verbose(runner, examples_file):
    """Without --verbose: one line; no tokens, A-rate or judge lines."""
    result = runner.invoke(main, ["select", str(examples_file), "-s", "vote"])
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("selected ") and "accuracy " in line and len(line) < 120
    verbose = runner.invoke(main, ["select", str(examples_file), "-s", "vote", "-v"])
    assert any("candidates had no answer (or code that ran) to vote with" in x
               for x in verbose.stderr.splitlines()[1:])  # fmt: skip


def test_simulated_judge_says_labels_were_used(runner, examples_file):
    """--judge simulated:0.8 marks every row and the summary as having read the labels."""
    result = runner.invoke(
        main, ["select", str(examples_file), "--strategy", "knockout", "--judge", "simulated:0.8"]
    )
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert all(r["labels_used"] and r["judge"] == "simulated:0.8" for r in rows)
    assert "READ THE LABELS" in result.stderr


def test_every_strategy_writes_out_and_trace(runner, examples_file, tmp_path):
    """Each strategy writes one row per item to --out and the matches to --trace."""
    for strategy in ["sequential", "knockout", "round-robin", "pointwise", "vote"]:
        out, trace = tmp_path / f"{strategy}.jsonl", tmp_path / f"{strategy}.trace.jsonl"
        args = [
            "select",
            str(examples_file),
            "-s",
            strategy,
            "-o",
            str(out),
            "--trace",
            str(trace),
            "--limit",
            "5",
        ]
        if strategy != "vote":
            args += ["--judge", "simulated:1.0"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        rows, traces = _rows(out.read_text()), _rows(trace.read_text())
        assert len(rows) == len(traces) == 5
        if strategy in ("sequential", "knockout", "round-robin"):
            assert all(
                len(t["matches"]) == r["comparisons"] for t, r in zip(traces, rows, strict=True)
            )


def test_bad_input_is_one_line_without_traceback(runner, tmp_path):
    """A malformed row exits non-zero with file, line and field, and no traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "candidates": ["a"]}\n{"prompt": "p", "candidates": [1]}\n')
    result = runner.invoke(main, ["select", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2: field 'candidates[0]': expected a string, got int" in result.output
    assert "Traceback" not in result.output


def test_skip_invalid_goes_on(runner, tmp_path):
    """--skip-invalid reports the bad row on stderr and selects the good ones."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "candidates": []}\n{"prompt": "q", "candidates": ["a"]}\n')
    result = runner.invoke(main, ["select", str(path), "--skip-invalid"])
    assert result.exit_code == 0
    assert len(_rows(result.stdout)) == 1
    assert "empty candidate list" in result.stderr and "1 invalid rows skipped" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "vote", "--judge", "simulated:1"], "uses no judge"),
        (["-s", "knockout", "--judge", "nonsense"], "unknown judge 'nonsense'"),
        (["-s", "swiss"], "Invalid value for '--strategy'"),
        (["--resume"], "--resume needs --out"),
        (["--checkpoints", "1,x"], "comma-separated integers"),
    ],
)
def test_usage_errors_are_clear(runner, examples_file, args, message):
    """Option mistakes are reported in one line that says what is wrong."""
    result = runner.invoke(main, ["select", str(examples_file), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_column_options_select_from_other_shapes(runner, tmp_path):
    """--prompt-field/--candidates-field read rows of another shape."""
    path = tmp_path / "cols.jsonl"
    path.write_text(json.dumps({"q": "2+2?", "outs": ["#### 4", "#### 5", "4 #### 4"]}) + "\n")
    result = runner.invoke(
        main, ["select", str(path), "--prompt-field", "q", "--candidates-field", "outs"]
    )
    assert result.exit_code == 0, result.output
    assert _rows(result.stdout)[0]["selected"] in (0, 2)  # the two candidates answering 4


def test_progress_bar_only_when_asked_or_on_a_terminal(runner, examples_file):
    """Piped stderr gets no bar by default; --progress draws one on stderr."""
    quiet = runner.invoke(main, ["select", str(examples_file)])
    loud = runner.invoke(main, ["select", str(examples_file), "--progress"])
    assert "item/s" not in quiet.stderr and "it/s" not in quiet.stderr
    assert "13/13" in loud.stderr
    picks = [[(r["id"], r["selected"]) for r in _rows(x.stdout)] for x in (quiet, loud)]
    assert picks[0] == picks[1] and len(picks[0]) == 13


def _options(command) -> dict[str, tuple]:
    """Each option of ``command`` by name: what it parses, not how its help reads."""
    return {
        p.name: (tuple(p.opts), p.type.name, p.default, p.multiple, p.is_flag, p.callback)
        for p in command.params
        if isinstance(p, click.Option)
    }


def test_select_and_report_share_their_common_options():
    """An option both commands take (run, strategy, exec and LLM options) parses alike in
    both: one definition, in rerank.cli.options."""
    from rerank.cli.options import LLM_OPTIONS
    from rerank.cli.report import report
    from rerank.cli.select import select_command

    select_options, report_options = _options(select_command), _options(report)
    shared = set(select_options) & set(report_options)
    assert {"seed", "limit", "checkpoints", "expose", "concurrency", "progress"} <= shared
    assert {"both_orders", "aggregate", "exec_env", "exec_python", *LLM_OPTIONS} <= shared
    for name in shared - {"strategy", "judge", "out"}:  # these differ on purpose
        assert select_options[name] == report_options[name], name


def test_the_version_is_the_installed_distribution_s():
    """`rerank --version` says pyproject's version, read from the installed metadata."""
    import tomllib
    from pathlib import Path

    import rerank

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert rerank.__version__ == version
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"rerank, version {version}"


def test_select_help_says_vote_counts_evidence_signatures(runner):
    """The --strategy help describes vote as it works: a vote over evidence signatures."""
    result = runner.invoke(main, ["select", "--help"], terminal_width=1000)
    assert result.exit_code == 0
    assert "majority vote over evidence signatures" in result.output
    assert "normalised final answers" not in result.output


def test_third_party_log_lines_stay_off_the_terminal(runner, examples_file, monkeypatch):
    """A library's ERROR (IFEval's "Unable to detect language") is not printed; a rerank
    warning is; RERANK_LOG=warning shows other libraries' too."""
    import logging

    import rerank.cli.select as select_module
    from rerank.cli import logs

    original = select_module.select_item

    async def noisy(*args, **kwargs):
        logging.error("Unable to detect language for text x")  # the root logger, as IFEval
        logging.getLogger("somelib").error("somelib is noisy")
        logging.getLogger("rerank.test").warning("a rerank warning")
        return await original(*args, **kwargs)

    monkeypatch.setattr(select_module, "select_item", noisy)
    root = logging.getLogger()

    def without_ours():  # each run installs the handler afresh (and the test removes it)
        kept = [h for h in root.handlers if not isinstance(h, logs._Terminal)]
        monkeypatch.setattr(root, "handlers", kept)

    without_ours()
    args = ["select", str(examples_file), "--limit", "2", "-s", "vote"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Unable to detect language" not in result.stderr and "noisy" not in result.stderr
    assert result.stderr.count("WARNING rerank.test: a rerank warning") == 2
    without_ours()
    monkeypatch.setenv("RERANK_LOG", "warning")
    result = runner.invoke(main, args)
    assert result.stderr.count("ERROR somelib: somelib is noisy") == 2
