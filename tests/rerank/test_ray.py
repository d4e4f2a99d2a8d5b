"""rerank on a real Ray cluster on loopback: equal results, resume, faults, one endpoint cap.

One local cluster (2 CPUs, the ``cluster`` fixture of conftest) serves the module. Its
node address is 127.0.0.2: Ray rewrites 127.0.0.1 to the host's outward address, and any
loopback address keeps every byte on this machine. The LLM judge's endpoint is rerank's
scripted OpenAI server, in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")

from rerank.batch import select_many  # noqa: E402
from rerank.errors import ConfigError  # noqa: E402
from rerank.judges import create_judge  # noqa: E402
from rerank.ray import NodeSandboxError, run_select_on_ray, select_dataset  # noqa: E402
from rerank.run import RunOptions, run_select  # noqa: E402
from rerank.selector import StrategyConfig  # noqa: E402
from rerank.testing import Message, OpenAIServer, ToolCall  # noqa: E402

NODE_IP = "127.0.0.2"  # the cluster fixture's node
ROOT = Path(__file__).resolve().parents[2]
VERDICT = json.dumps({"winner": "A", "confidence": 0.7, "evidence": [], "reason": "clearer"})
LATENCY = 0.1  # seconds per scripted LLM reply
ENDPOINT_CAP = 2  # requests in flight on the endpoint, for the whole cluster


class _SlowServer(OpenAIServer):
    """Answers every chat request "A" after LATENCY seconds."""

    def __init__(self) -> None:
        super().__init__(default=self._reply)

    def _reply(self, body: dict) -> Message:
        time.sleep(LATENCY)  # one thread per request: replies overlap
        return Message(tool_calls=[ToolCall("final_answer", VERDICT)])


@pytest.fixture(scope="module")
def endpoint():
    with _SlowServer() as server:
        yield server


def _open_ended(path: Path, n: int) -> Path:
    """``n`` open-ended items of 4 candidates: no verifier applies, every pair asks the LLM."""
    rows = [
        {
            "id": f"q{k}",
            "prompt": f"Describe colour {k}.",
            "candidates": [f"{w} {k}" for w in "abcd"],
        }
        for k in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _llm_options(endpoint: OpenAIServer) -> dict:
    return {"base_url": endpoint.base_url, "cache": False, "concurrency": ENDPOINT_CAP}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stable(value):
    """``value`` without what measures time (``elapsed``, cost ``seconds``)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in ("elapsed", "seconds")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _single(tmp_path: Path, name: str, **kwargs) -> tuple[list[dict], list[dict]]:
    """Output and trace rows of a single-process run."""
    out, trace = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.trace.jsonl"
    asyncio.run(run_select(RunOptions(out=str(out), trace=str(trace), **kwargs), say=print))
    return _stable(_read(out)), _stable(_read(trace))


def _on_ray(tmp_path: Path, name: str, *, messages: list | None = None, **kwargs):
    """Output rows, trace rows and summary of a run on the module's cluster."""
    judge_options = kwargs.pop("judge_options", None)
    workers = kwargs.pop("workers", None)
    observe = kwargs.pop("observe", None)
    out, trace = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.trace.jsonl"
    summary = run_select_on_ray(
        RunOptions(out=str(out), trace=str(trace), **kwargs),
        judge_options=judge_options,
        workers=workers,
        say=(messages if messages is not None else []).append,
        observe=observe,
    )
    return _stable(_read(out)), _stable(_read(trace)), summary


@pytest.fixture(scope="module")
def llm_reference(tmp_path_factory, endpoint):
    """24 open-ended items and their rows from a single-process LLM judge run."""
    tmp = tmp_path_factory.mktemp("llm")
    path = _open_ended(tmp / "open.jsonl", 24)
    out, trace = tmp / "single.jsonl", tmp / "single.trace.jsonl"

    async def run() -> None:
        judge = create_judge("llm", **_llm_options(endpoint))  # its clients live on this loop
        options = RunOptions(
            paths=[str(path)],
            out=str(out),
            trace=str(trace),
            judge=judge,
            concurrency=2,
            task_kind="general",
        )
        try:
            await run_select(options, say=print)
        finally:
            await judge.aclose()

    asyncio.run(run())
    return path, (_stable(_read(out)), _stable(_read(trace)))


@pytest.mark.parametrize(
    ("strategy", "judge"),
    [("knockout", "evidence"), ("round-robin", "simulated:0.8"), ("vote", None)],
)
def test_examples_equal_single_process(cluster, tmp_path, examples_file, strategy, judge):
    """Every output and trace row of examples/candidates.jsonl equals the single-process run."""
    options = {"paths": [str(examples_file)], "config": StrategyConfig(name=strategy, seed=3)}
    expected = _single(tmp_path, "single", judge=judge, **options)
    messages: list[str] = []
    seen: list[tuple[str, int]] = []
    rows, traces, summary = _on_ray(
        tmp_path,
        "ray",
        judge=judge,
        messages=messages,
        observe=lambda item, got: seen.append((item.id, got.row["selected"])),
        **options,
    )
    assert (rows, traces) == expected
    assert summary.selected == 13 and summary.judge_spec == (judge and rows[0]["judge"])
    assert "ray: 2 workers on 1 node(s)" in messages[0]
    assert sorted(seen) == sorted((r["id"], r["selected"]) for r in rows)  # each item once


def test_shared_dev_file_equal_single_process(cluster, tmp_path, shared_data):
    """HumanEval+ code candidates, run in each worker's sandbox, select as in one process."""
    options = {
        "paths": [str(shared_data / "candidates" / "humaneval_evalplus-6models.jsonl.gz")],
        "limit": 12,
        "judge": "evidence",
    }
    expected = _single(tmp_path, "single", **options)
    messages: list[str] = []
    rows, traces, _ = _on_ray(tmp_path, "ray", messages=messages, **options)
    assert (rows, traces) == expected
    assert [r["task_kind"] for r in rows] == ["code"] * 12
    assert "sandbox: namespaces" in messages[0] or "sandbox: setuid" in messages[0]


def test_dataset_equals_select_many(cluster, examples_file):
    """Ray Data rows equal select_many's: same judge, strategy and per-item seeds."""
    items = [json.loads(line) for line in examples_file.read_text().splitlines()]
    columns = {
        "id": [r["id"] for r in items],
        "prompt": [r["prompt"] for r in items],
        "candidates": [r["candidates"] for r in items],
        "kind": [r["task"]["kind"] for r in items],
        "resources": [
            json.dumps({k: v for k, v in r["task"].items() if k != "kind"}) for r in items
        ],
    }
    ds = ray.data.from_items(
        [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    )
    expected = select_many(
        columns["prompt"],
        columns["candidates"],
        ids=columns["id"],
        kind=columns["kind"],
        resources=[json.loads(r) for r in columns["resources"]],
        strategy="knockout",
        judge="evidence",
        seed=5,
    )
    picked = select_dataset(
        ds,
        strategy="knockout",
        judge="evidence",
        seed=5,
        kind_column="kind",
        resources_column="resources",
        batch_size=4,
        workers=2,
    )
    rows = sorted(picked.take_all(), key=lambda r: columns["id"].index(r["id"]))
    assert [_stable(json.loads(r["selection"])) for r in rows] == _stable(expected)
    assert [r["selected"] for r in rows] == [r["selected"] for r in expected]
    assert all("error" not in r for r in expected)


def test_dataset_simulated_judge_reads_scores(cluster):
    """A scores column reaches the simulated judge; rows name the labels as used."""
    row = {"prompt": "p", "candidates": ["x", "y", "z"], "scores": [0, 0, 1]}
    ds = ray.data.from_items([{**row, "id": f"r{k}"} for k in range(20)])
    rows = select_dataset(
        ds, judge="simulated:1.0", scores_column="scores", workers=2, batch_size=8
    ).take_all()
    assert sorted(r["id"] for r in rows) == sorted(f"r{k}" for k in range(20))
    assert {r["selected"] for r in rows} == {2}
    assert all(json.loads(r["selection"])["labels_used"] for r in rows)


def _llm_on_ray(tmp_path: Path, endpoint: OpenAIServer, path: Path, concurrency: int):
    """The open-ended items judged by the LLM judge on 2 workers."""
    return _on_ray(
        tmp_path,
        "ray",
        paths=[str(path)],
        judge="llm",
        judge_options=_llm_options(endpoint),
        concurrency=concurrency,
        workers=2,
        task_kind="general",
    )


def test_dataset_refuses_a_bad_option_before_running(cluster):
    """A misspelt option or an unknown strategy fails when the stage is added, not later."""
    with pytest.raises(ConfigError, match="judg"):
        select_dataset(ray.data.range(1), judg="evidence")
    with pytest.raises(ConfigError, match="unknown strategy"):
        select_dataset(ray.data.range(1), strategy="best-of-all")


def test_endpoint_cap_is_cluster_wide(cluster, tmp_path, endpoint, llm_reference):
    """Two workers together never have more LLM requests in flight than the endpoint's cap."""
    path, expected = llm_reference
    endpoint.max_in_flight = 0
    # each worker would ask 4 at once; its share of the endpoint is 1
    rows, traces, summary = _llm_on_ray(tmp_path, endpoint, path, concurrency=4)
    assert (rows, traces) == expected
    assert summary.judge_calls == 24 * 3
    assert endpoint.max_in_flight == ENDPOINT_CAP


def _worker_pids() -> list[int]:
    """Processes whose title Ray set to an ItemWorker actor's."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes()
        except OSError:  # not a process, or gone
            continue
        if proc.name.isdigit() and title.startswith(b"ray::ItemWorker"):
            pids.append(int(proc.name))
    return pids


def test_killed_worker_is_restarted_and_every_id_written_once(
    cluster, tmp_path, endpoint, llm_reference
):
    """A worker process killed mid-run: its items are retried, each row written once."""
    path, expected = llm_reference
    out = tmp_path / "ray.jsonl"
    killed: list[tuple[int, int]] = []  # (pid, rows written when it was killed)

    def kill_one() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = len(out.read_text().splitlines()) if out.exists() else 0
            pids = _worker_pids()
            if written >= 3 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], written))
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        rows, traces, summary = _llm_on_ray(tmp_path, endpoint, path, concurrency=2)
    finally:
        killer.join()
    assert killed and killed[0][1] < 24, "the worker was not killed mid-run"
    assert [r["id"] for r in rows] == [f"q{k}" for k in range(24)]
    assert (rows, traces) == expected
    assert summary.selected == 24 and not summary.failed


DRIVER = """
import sys
from rerank.ray import run_select_on_ray
from rerank.run import RunOptions

address, path, out, trace, base_url = sys.argv[1:6]
judge_options = {"base_url": base_url, "cache": False, "concurrency": 2}
options = RunOptions(paths=[path], out=out, trace=trace, judge="llm", concurrency=2,
                     task_kind="general", resume=True)
run_select_on_ray(options, address=address, judge_options=judge_options, workers=2)
"""


def test_killed_driver_resumes_with_every_id_once(cluster, tmp_path, endpoint, llm_reference):
    """kill -9 of the driver mid-run, then --resume: every id once, rows as in one process."""
    path, expected = llm_reference
    out, trace = tmp_path / "ray.jsonl", tmp_path / "ray.trace.jsonl"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    args = [cluster, str(path), str(out), str(trace), endpoint.base_url]
    driver = subprocess.Popen([sys.executable, str(script), *args], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and driver.poll() is None:
            if out.exists() and len(out.read_text().splitlines()) >= 4:
                break
            time.sleep(0.02)
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait()
        driver.stderr.close()
    before = len(out.read_text().splitlines())
    assert 4 <= before < 24
    messages: list[str] = []
    summary = run_select_on_ray(
        RunOptions(
            paths=[str(path)],
            out=str(out),
            trace=str(trace),
            judge="llm",
            concurrency=2,
            task_kind="general",
            resume=True,
        ),
        judge_options=_llm_options(endpoint),
        workers=2,
        say=messages.append,
    )
    rows, traces = _stable(_read(out)), _stable(_read(trace))
    assert [r["id"] for r in rows] == [f"q{k}" for k in range(24)]
    assert [t["id"] for t in traces] == [r["id"] for r in rows]
    assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, expected[0]))
    assert summary.already_done >= before and summary.selected == 24 - summary.already_done


LOST_SANDBOX = """
import json
import sys

import ray

from rerank.ray import run_select_on_ray, select_dataset
from rerank.run import RunOptions


def lose_sandbox():
    # This node's kernel grants neither namespaces nor a uid change: tier "none".
    import rerank.sandbox.runner as runner
    from rerank.sandbox.isolation import Isolation

    runner._detected = Isolation("none", "none", False, False, False, notes=["test"])


address, path, out, how = sys.argv[1:5]
hook = {"worker_process_setup_hook": lose_sandbox}
if how == "file":
    options = RunOptions(paths=[path], out=out, judge="evidence")
    run_select_on_ray(options, address=address, workers=1, runtime_env=hook)
else:
    ray.init(address=address, runtime_env=hook)
    rows = [json.loads(line) for line in open(path)]
    ds = ray.data.from_items([{"prompt": r["prompt"], "candidates": r["candidates"]} for r in rows])
    with open(out, "w") as f:
        for row in select_dataset(ds, judge="evidence", kind="code", workers=1).iter_rows():
            f.write(json.dumps(row) + "\\n")
"""


@pytest.mark.parametrize("how", ["file", "dataset"])
def test_node_without_sandbox_fails_closed(cluster, tmp_path, examples_file, how):
    """A node that cannot sandbox code selects nothing, and the error names it."""
    script = tmp_path / "driver.py"
    script.write_text(LOST_SANDBOX)
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), cluster, str(examples_file), str(out), how],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode != 0
    assert "NodeSandboxError" in done.stderr and "cannot sandbox code candidates" in done.stderr
    assert f"node {NODE_IP}" in done.stderr
    assert not out.exists() or not out.read_text().strip()


def test_item_on_a_node_that_loses_its_sandbox_fails_closed(cluster, tmp_path):
    """A sandbox lost mid-run stops the item with NodeSandboxError: no row without it."""
    rows = [
        {
            "id": "c1",
            "prompt": "def f(x):\n    '''Return x + 1.'''\n",
            "candidates": ["def f(x):\n    return x + 1", "def f(x):\n    return x"],
            "task": {"kind": "code", "entry_point": "f", "tests": ["assert f(1) == 2"]},
        }
    ]
    path = tmp_path / "code.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n")

    def lose_sandbox_later(worker):
        # What run_python raises once the node can no longer bound processes.
        from rerank.sandbox.runner import SandboxUnavailable

        def refuse(*args, **kwargs):
            raise SandboxUnavailable("refusing to run untrusted code: test")

        verifier = worker.evidence.verifiers["code"].inner
        verifier.pool.submit = refuse

    from rerank.ray.judging import JudgeRecipe
    from rerank.ray.worker import ItemWorker
    from rerank.readers import read_items

    worker = ItemWorker(JudgeRecipe("evidence"), StrategyConfig(), concurrency=1, trace=False)
    lose_sandbox_later(worker)
    item = next(iter(read_items(str(path))))
    with pytest.raises(NodeSandboxError, match="cannot sandbox code candidates"):
        asyncio.run(worker.run(item))
    with pytest.raises(NodeSandboxError):  # and every later code item of this worker
        asyncio.run(worker.run(item))
    asyncio.run(worker.close())


def test_cli_select_on_ray_writes_the_rows_of_one_process(cluster, tmp_path, examples_file):
    """`rerank select --ray` (joining this cluster) writes the rows and trace of a run
    without it, and its summary counts the same accuracy."""
    from click.testing import CliRunner

    from rerank.cli import main

    runs = {}
    for name, extra in (("plain", []), ("ray", ["--ray"])):
        out, trace = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.trace.jsonl"
        args = [str(examples_file), "--judge", "evidence", "-o", str(out), "--trace", str(trace)]
        result = CliRunner().invoke(main, ["select", *args, *extra])
        assert result.exit_code == 0, result.output
        runs[name] = (_stable(_read(out)), _stable(_read(trace)), result.stderr.splitlines()[-1])
    assert runs["ray"][:2] == runs["plain"][:2]
    assert "accuracy" in runs["ray"][2]
    assert runs["ray"][2].split("accuracy")[1] == runs["plain"][2].split("accuracy")[1]
