"""`rerank report --ray` on a real Ray cluster on loopback: the metrics of one process, a
killed worker, a node that cannot sandbox code.

One local cluster (2 CPUs, the ``cluster`` fixture of conftest) serves the module. The
LLM judge's endpoint is rerank's scripted OpenAI server, in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")

from rerank.cli import main  # noqa: E402
from rerank.errors import ConfigError  # noqa: E402
from rerank.ray import NodeSandboxError, run_report_on_ray  # noqa: E402
from rerank.ray.judging import JudgeRecipe  # noqa: E402
from rerank.ray.report import ReportWorker  # noqa: E402
from rerank.readers import read_items  # noqa: E402
from rerank.report import ReportConfig, run_report  # noqa: E402
from rerank.testing import Message, ToolCall, openai_server_fixture  # noqa: E402

server = openai_server_fixture("server")

#: Small enough to keep the module quick: two strategies and vote, a label-reading judge.
CONFIG = ReportConfig(
    strategies=("knockout", "round-robin", "vote"),
    judges=("evidence", "simulated:0.8"),
    bootstrap=200,
    subsamples=5,
    seed=2,
)


def _stable(value):
    """``value`` without what measures time (``seconds``, ``elapsed``)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if "seconds" not in k and k != "elapsed"}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _scored(report: dict) -> dict:
    """What a report measured: config, label use and every group's metrics, untimed."""
    return _stable({k: report[k] for k in ("config", "label_use", "groups")})


def _rows(out: Path) -> list[dict]:
    return [_stable(json.loads(line)) for line in (out / "rows.jsonl").read_text().splitlines()]


def _single(inputs: list[str], config: ReportConfig, out: Path) -> dict:
    return run_report(inputs, config, out=out)


def test_examples_report_equals_single_process(cluster, tmp_path, examples_file):
    """Every group metric, the label use and every row equal the single-process report's;
    metrics.json says the run had 2 workers, progress counted every item once."""
    expected = _single([str(examples_file)], CONFIG, tmp_path / "single")
    messages: list[str] = []
    progress: list[tuple[int, int]] = []
    report = run_report_on_ray(
        [str(examples_file)],
        CONFIG,
        out=tmp_path / "ray",
        progress=lambda source, done, total: progress.append((done, total)),
        say=messages.append,
    )
    assert _scored(report) == _scored(expected)
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "single")
    assert report["run"]["ray"]["workers"] == 2 and report["run"]["ray"]["nodes"] == 1
    assert "ray" not in expected["run"]
    assert json.loads((tmp_path / "ray" / "metrics.json").read_text())["run"] == report["run"]
    summary = (tmp_path / "ray" / "summary.md").read_text()
    assert "on a Ray cluster: 2 workers on 1 node(s)" in summary
    assert "Ray cluster" not in (tmp_path / "single" / "summary.md").read_text()
    assert messages == [m for m in messages if m.startswith("ray: 2 workers on 1 node(s)")]
    assert progress == [(k, 13) for k in range(1, 14)]
    assert report["label_use"]["judges_reading_labels"] == ["simulated:0.8"]


def test_shared_code_file_report_equals_single_process(cluster, tmp_path, shared_data):
    """HumanEval+ code candidates, run in each worker's sandbox, score as in one process."""
    path = str(shared_data / "candidates" / "humaneval_evalplus-6models.jsonl.gz")
    config = ReportConfig(limit=6, bootstrap=200, subsamples=5)  # default strategies, judge
    expected = _single([path], config, tmp_path / "single")
    report = run_report_on_ray([path], config, out=tmp_path / "ray", say=lambda m: None)
    assert _scored(report) == _scored(expected)
    assert report["groups"][0]["task_kinds"] == {"code": 6}
    assert report["run"]["ray"]["sandbox"][0] in ("namespaces", "setuid")


def _final(winner: str = "A") -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": [], "reason": "better"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def test_cli_report_on_ray_with_an_llm_judge(cluster, tmp_path, examples_file, server):
    """`rerank report --ray` builds the LLM judge on each worker from the CLI's recipe and
    writes the metrics a run without --ray writes."""
    server.default = _final()
    runs = {}
    for name, extra in (("plain", []), ("ray", ["--ray"])):
        out = tmp_path / name
        args = [str(examples_file), "-s", "knockout", "-j", "evidence", "-j", "llm"]
        args += ["--base-url", server.base_url, "--no-cache", "--bootstrap", "100"]
        result = CliRunner().invoke(main, ["report", *args, "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((out / "metrics.json").read_text())
    assert _scored(runs["ray"]) == _scored(runs["plain"])
    assert runs["ray"]["config"]["judges"] == ["evidence", "llm"]
    llm = next(s for s in runs["ray"]["groups"][0]["selectors"] if s["judge"] == "llm")
    assert llm["costs"]["judge_calls"] > 0
    assert runs["ray"]["run"]["ray"]["workers"] == 2


def test_cli_refuses_ray_with_selections(tmp_path):
    """--ray runs strategies; with --selections there is nothing to run: a usage error."""
    args = ["report", "--selections", "x.jsonl", "--labels", "y.jsonl", "-o", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--ray"])
    assert result.exit_code == 2 and "--ray" in result.output


def test_options_for_a_judge_not_compared_are_refused(tmp_path, examples_file):
    """judge_options naming a judge the report does not compare fail before any cluster."""
    with pytest.raises(ConfigError, match="'llm', which the report does not compare"):
        run_report_on_ray([str(examples_file)], CONFIG, judge_options={"llm": {}})


def _report_worker_pids() -> list[int]:
    """This test's ReportWorker actor processes (descendants of this process)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes()
        except OSError:  # gone
            continue
        if title.startswith(b"ray::ReportWorker") and _descends_from_me(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def _descends_from_me(pid: int) -> bool:
    for _ in range(6):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid == os.getpid():
            return True
        if pid <= 1:
            return False
    return False


def test_killed_worker_report_completes_with_every_item_once(cluster, tmp_path, examples_file):
    """A worker process killed mid-run is restarted and its items sent again: the report
    has every item once and the metrics of one process."""
    config = ReportConfig(
        strategies=("knockout",), judges=("evidence",), bootstrap=200, concurrency=2
    )
    expected = _single([str(examples_file)], config, tmp_path / "single")
    killed: list[int] = []

    def kill_one(source, done, total) -> None:
        if done == 2 and not killed:
            pids = _report_worker_pids()
            assert len(pids) == 2, pids  # this run's workers
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    report = run_report_on_ray(
        [str(examples_file)], config, out=tmp_path / "ray", progress=kill_one, say=lambda m: None
    )
    assert killed
    assert _scored(report) == _scored(expected)
    ids = [row["id"] for row in _rows(tmp_path / "ray")]
    assert len(ids) == len(set(ids)) == 13


def _worker(config: ReportConfig = CONFIG) -> ReportWorker:
    recipes = [JudgeRecipe.resolve(spec, config.strategy("knockout")) for spec in config.judges]
    return ReportWorker(config, recipes, exec_python=None)


def test_worker_records_pickle_and_equal_one_process(examples_file, iso):
    """A worker's record of an item (as Ray ships it) equals the single-process runner's."""
    from rerank.report.run import ReportRunner

    item = next(iter(read_items(str(examples_file))))
    worker, runner = _worker(), ReportRunner(CONFIG, None)

    async def both():
        try:
            return await worker.record(item), await runner.record(item)
        finally:
            await worker.close()
            await runner.aclose()

    got, expected = asyncio.run(both())
    shipped = pickle.loads(pickle.dumps(got))
    shipped.evidence_seconds = expected.evidence_seconds = 0.0
    assert _stable(shipped.rows) == _stable(expected.rows)
    assert (shipped.labels, shipped.majority, shipped.at_k) == (
        expected.labels,
        expected.majority,
        expected.at_k,
    )


def test_worker_on_a_node_without_sandbox_fails_closed(monkeypatch, examples_file):
    """A node that cannot sandbox code: the worker's ready() and every record raise
    NodeSandboxError naming it; nothing is recorded."""
    import rerank.sandbox.runner as runner
    from rerank.sandbox.isolation import Isolation

    monkeypatch.setattr(
        runner, "_detected", Isolation("none", "none", False, False, False, notes=["test"])
    )
    worker = _worker()
    with pytest.raises(NodeSandboxError, match="cannot sandbox code candidates"):
        asyncio.run(worker.ready())
    with pytest.raises(NodeSandboxError):
        asyncio.run(worker.record(next(iter(read_items(str(examples_file))))))
    asyncio.run(worker.close())


def test_worker_that_loses_its_sandbox_mid_run_fails_closed(tmp_path, iso):
    """A sandbox lost after the start stops the code item with NodeSandboxError, never a
    record without execution evidence."""
    from rerank.sandbox.runner import SandboxUnavailable

    row = {
        "id": "c1",
        "prompt": "def f(x):\n    '''Return x + 1.'''\n",
        "candidates": ["def f(x):\n    return x + 1", "def f(x):\n    return x"],
        "scores": [1, 0],
        "task": {"kind": "code", "entry_point": "f", "tests": ["assert f(1) == 2"]},
    }
    path = tmp_path / "code.jsonl"
    path.write_text(json.dumps(row) + "\n")
    worker = _worker()

    def refuse(*args, **kwargs):
        raise SandboxUnavailable("refusing to run untrusted code: test")

    worker.evidence.verifiers["code"].inner.pool.submit = refuse
    item = next(iter(read_items(str(path))))
    with pytest.raises(NodeSandboxError, match="cannot sandbox code candidates"):
        asyncio.run(worker.record(item))
    asyncio.run(worker.close())
