"""rerank on a cluster of two Ray nodes started as a user would: `ray start --head` and a
worker node joining it with `ray start --address`, both on loopback (127.0.0.2, 127.0.0.3).

Both nodes run `ray start --block`, so ending the two processes this test started ends
their Ray processes; token authentication is off for them (the nodes only listen on
loopback), since a joining node cannot read the token the head writes as it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")

from rerank.run import RunOptions, run_select  # noqa: E402

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"

DRIVER = """
import sys
from rerank.ray import run_select_on_ray
from rerank.run import RunOptions

address, path, out, trace = sys.argv[1:5]
options = RunOptions(paths=[path], out=out, trace=trace, judge="evidence")
print(run_select_on_ray(options, address=address, workers=2).line(), file=sys.stderr)
"""


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def two_nodes(tmp_path):
    """A head node and a worker node of 1 CPU each; the head's address and the env to use."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    temp = tempfile.mkdtemp(prefix="rt")  # short: Ray's socket paths live under it
    port = _free_port(HEAD_IP)
    common = ["--num-cpus=1", "--disable-usage-stats", "--block", f"--temp-dir={temp}"]
    log = open(tmp_path / "nodes.log", "w")  # noqa: SIM115 (closed below)
    head = subprocess.Popen(
        [ray_cli, "start", "--head", f"--node-ip-address={HEAD_IP}", f"--port={port}"]
        + ["--include-dashboard=false", *common],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    nodes = [head]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection((HEAD_IP, port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None and time.monotonic() < deadline, "the head did not start"
                time.sleep(0.2)
        address = f"{HEAD_IP}:{port}"
        worker = subprocess.Popen(
            [ray_cli, "start", f"--address={address}", f"--node-ip-address={WORKER_IP}", *common],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        nodes.append(worker)
        yield address, env
    finally:
        for node in reversed(nodes):
            _stop(node)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _stable(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "elapsed"} for row in rows]


def test_two_nodes_select_as_one_process(two_nodes, tmp_path, examples_file):
    """Workers on two nodes (a joined cluster) write the rows a single process writes."""
    address, env = two_nodes
    single, single_trace = tmp_path / "single.jsonl", tmp_path / "single.trace.jsonl"
    asyncio.run(
        run_select(
            RunOptions(
                paths=[str(examples_file)],
                out=str(single),
                trace=str(single_trace),
                judge="evidence",
            ),
            say=print,
        )
    )
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    out, trace = tmp_path / "ray.jsonl", tmp_path / "ray.trace.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), address, str(examples_file), str(out), str(trace)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ray: 2 workers on 2 node(s)" in done.stderr
    assert "selected 13 items" in done.stderr
    assert _stable(out) == _stable(single)
    assert _stable(trace) == _stable(single_trace)
