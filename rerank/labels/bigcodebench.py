"""BigCodeBench labels from the hidden unittest suites, as BigCodeBench computes them
(benchmarks only).

This is label computation for a benchmark, not evidence: the task's ``TestCases`` suite
runs in the candidate's own process, after its code, the way BigCodeBench's evaluator
(``bigcodebench.eval.untrusted_check``) runs it, so a candidate could forge its own
result. Nothing here feeds a judge; only ``benchmarks/bigcodebench.py`` and tests import
this module. The candidate still runs in the sandbox (on the execution environment's
interpreter, network off), and its result comes back as one line of plain JSON (never a
pickle).

Like BigCodeBench's ``unsafe_execute``: the solution is the task's ``code_prompt``, a
``pass`` body, then the candidate (the *calibrated* evaluation, which supplies imports a
response forgot); solution and test are executed together as module ``__test__`` (with
``sys``, ``os`` and ``environ`` in its namespace) in an empty temporary directory, with
``TZ=UTC``, stdin/stdout/stderr swallowed, ``exit``/``quit`` removed, and the whole
suite under one timer. A task passes when the suite ran with no failure and no error.

Examples
--------
>>> solution("def f():\\n", "def f():\\n    return 1\\n")
'def f():\\n\\n    pass\\ndef f():\\n    return 1\\n'
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from rerank.sandbox.runner import Limits, SandboxPool
from rerank.verifiers.code.runner import read_lines

__all__ = ["LABEL_LIMITS", "RUNNER", "TIMEOUT", "Label", "Task", "label_many", "load_tasks"]

#: BigCodeBench's time limit for a task's whole suite (``TIMEOUT_LIMIT``), in seconds.
TIMEOUT = 240.0
#: Room for the libraries BigCodeBench's tasks use (TensorFlow maps GBs of address
#: space and starts dozens of threads); BigCodeBench itself allows 30 GB.
LABEL_LIMITS = Limits(memory_mb=8192, processes=256, file_size_mb=64, open_files=1024)

#: The program run in the sandbox: spec on stdin, one JSON line on a copy of stdout.
RUNNER = r"""
import builtins, faulthandler, io, json, os, signal, sys, tempfile, time, types, unittest

class _Timeout(Exception):
    pass

class _WriteOnly(io.StringIO):
    def read(self, *args, **kwargs):
        raise OSError
    readline = readlines = read
    def readable(self, *args, **kwargs):
        return False

def _on_alarm(signum, frame):
    raise _Timeout("Timed out!")

def main():
    spec = json.loads(sys.stdin.buffer.read())
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sink = _WriteOnly()
    sys.stdin = sys.stdout = sys.stderr = sink
    os.environ.update(TZ="UTC", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
                      TF_ENABLE_ONEDNN_OPTS="0")
    time.tzset()
    os.chdir(tempfile.mkdtemp())
    faulthandler.disable()
    builtins.exit = builtins.quit = None
    module = types.ModuleType("__test__")
    module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py",
                            "__package__": None, "__doc__": None, "sys": sys, "os": os,
                            "environ": os.environ})
    record = {"status": "pass", "details": {}, "tests": 0}
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        code = compile(spec["code"] + "\n" + spec["test"], "__test__.py", "exec")
        exec(code, module.__dict__)
        sys.modules["__test__"] = module
        suite = unittest.TestLoader().loadTestsFromTestCase(module.TestCases)
        result = unittest.TestResult()
        signal.setitimer(signal.ITIMER_REAL, float(spec["timeout"]))
        try:
            suite.run(result)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        record["tests"] = result.testsRun
        for test, trace in result.failures + result.errors:
            record["details"][test.id().split(".")[-1]] = trace[-1500:]
        if record["details"]:
            record["status"] = "fail"
    except BaseException as exc:
        record.update(status="fail", details={"ALL": f"{type(exc).__name__}: {exc}"[:1500]})
    channel.write(json.dumps(record) + "\n")
    channel.flush()
    os._exit(0)

main()
"""


@dataclass(frozen=True)
class Task:
    """What labelling a task needs: its entry point, code prompt and unittest suite."""

    task_id: str
    entry_point: str
    code_prompt: str
    test: str


@dataclass
class Label:
    """One candidate's label: ``status`` is pass, fail or timeout, as BigCodeBench's."""

    status: str
    details: dict[str, str] = field(default_factory=dict)
    tests: int = 0
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return 1.0 if self.status == "pass" else 0.0


def load_tasks(path: str | Path) -> dict[str, Task]:
    """BigCodeBench's tasks by id, from its (gzipped) JSON lines release."""
    opener = gzip.open if str(path).endswith(".gz") else open
    tasks = {}
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            tasks[row["task_id"]] = Task(
                row["task_id"], row["entry_point"], row["code_prompt"], row["test"]
            )
    return tasks


def solution(code_prompt: str, response: str) -> str:
    """The calibrated solution: the code prompt with a ``pass`` body, then the response."""
    return code_prompt + "\n    pass\n" + response


def _submit(pool: SandboxPool, task: Task, response: str, timeout: float) -> Future:
    spec = {"code": solution(task.code_prompt, response), "test": task.test, "timeout": timeout}
    return pool.submit(RUNNER, stdin=json.dumps(spec), wall_seconds=timeout + 5)


def _label(result: object) -> Label:
    seconds = float(getattr(result, "seconds", 0.0))
    for record in read_lines(getattr(result, "stdout", "") or ""):
        if record.get("status") in ("pass", "fail"):
            details = {str(k): str(v) for k, v in dict(record.get("details") or {}).items()}
            tests = record.get("tests")
            return Label(record["status"], details, tests if type(tests) is int else 0, seconds)
    status = getattr(result, "status", "error")
    if status == "timeout":
        return Label("timeout", {"ALL": "the suite ran out of time"}, 0, seconds)
    tail = (getattr(result, "stderr", "") or "").strip().splitlines()[-1:]
    why = f"the process ended {status} ({getattr(result, 'returncode', None)})"
    return Label("fail", {"ALL": why + (f": {tail[0]}" if tail else "")}, 0, seconds)


def label_many(
    pool: SandboxPool, jobs: Iterable[tuple[Task, str]], *, timeout: float = TIMEOUT
) -> list[Label]:
    """Label each ``(task, response)`` through ``pool`` (in parallel), in input order.

    ``pool`` should be made with :data:`LABEL_LIMITS` (and the environment's
    ``python``) and a wall clock of at least ``timeout`` + 5 seconds; the CPU limit is the
    pool's.
    """
    futures = [_submit(pool, task, response, timeout) for task, response in jobs]
    return [_label(future.result()) for future in futures]
