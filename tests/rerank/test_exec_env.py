"""Execution environments: built by `rerank env create`, used by --exec-env/--exec-python.

One small environment (six 1.16.0, from the package index) is built once for the module;
candidates run on its interpreter must import what it has and nothing of rerank's venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank import envs
from rerank.cli import main
from rerank.envs import build
from rerank.envs.requirements import conflicts, nearest_version, parse_requirements
from rerank.items import Item
from rerank.sandbox.runner import SandboxError, SandboxPool, isolation, run_python
from rerank.verifiers.code.verifier import CodeVerifier

REQUIREMENTS = "six==1.16.0\n"
PROMPT = '''import six


def kind(x):
    """Whether x is text, as six says.
    >>> kind("a")
    'text'
    >>> kind(1)
    'other'
    """
'''
USES_SIX = (
    "import six\n\n"
    "def kind(x):\n    return 'text' if isinstance(x, six.string_types) else 'other'\n"
)


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory):
    """A venv with six, made by `rerank env create --requirements`."""
    if isolation().process_limit == "none":
        pytest.skip("this machine cannot bound sandboxed processes")
    reach = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-d",
            str(tmp_path_factory.mktemp("dl")),
            "six==1.16.0",
        ],
        capture_output=True,
        text=True,
    )
    if reach.returncode != 0:
        pytest.skip(f"pip cannot fetch six==1.16.0 from any index: {reach.stderr.strip()[-200:]}")
    root = tmp_path_factory.mktemp("envs") / "tiny"
    requirements = root.parent / "tiny.txt"
    requirements.write_text(REQUIREMENTS)
    result = CliRunner().invoke(
        main, ["env", "create", "tiny", str(root), "--requirements", str(requirements)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(root / "bin" / "python")
    return root


@pytest.fixture(scope="module")
def env_python(env_dir) -> str:
    return str(env_dir / "bin" / "python")


def test_env_create_records_what_was_installed(env_dir):
    """rerank-env.json holds each requirement as written, the version installed, and freeze."""
    record = envs.read_record(env_dir)
    assert record["status"] == "complete" and record["name"] == "tiny"
    [six] = record["packages"]
    assert (six["requested"], six["installed"], six["change"]) == ("six==1.16.0", "1.16.0", "kept")
    assert "six==1.16.0" in record["freeze"]
    assert "six==1.16.0" in (env_dir / build.FREEZE).read_text().splitlines()
    assert record["python"]["executable"] == str(env_dir / "bin" / "python")


def test_env_create_again_keeps_a_finished_env(env_dir):
    """A second create is a no-op that says so; show lists the environment."""
    runner = CliRunner()
    requirements = env_dir.parent / "tiny.txt"
    again = runner.invoke(main, ["env", "create", "tiny", str(env_dir), "-r", str(requirements)])
    assert again.exit_code == 0, again.output
    assert "already built" in again.stderr
    shown = runner.invoke(main, ["env", "show", str(env_dir)])
    assert shown.exit_code == 0 and "1 requirements, 0 changed" in shown.stdout


def test_env_create_refuses_a_directory_it_did_not_make(tmp_path):
    """A non-empty directory without a record is never taken over (nor removed by --force)."""
    (tmp_path / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["env", "create", "bigcodebench", str(tmp_path), "--force"])
    assert result.exit_code == 1
    assert "not an environment made by `rerank env create`" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_candidate_imports_the_env_and_not_rerank(env_python):
    """On --exec-python the program sees the env's site-packages, not rerank's.

    rerank's own site-packages is where its dependency click lives. (Not sys.prefix: where
    rerank is installed into the system Python, the env's standard library is under it too.)
    """
    import click  # rerank's own dependency: importable here, in rerank's interpreter

    ours = os.path.dirname(os.path.dirname(os.path.abspath(click.__file__)))
    source = (
        "import os, sys, six\nprint(six.__version__)\n"
        "try:\n    import click\nexcept ImportError:\n    print('no click')\n"
        f"print(any(os.path.abspath(p) == {ours!r} for p in sys.path))\n"
    )
    result = run_python(source, python=env_python)
    assert result.status == "ok", result.stderr
    assert result.stdout.split() == ["1.16.0", "no", "click", "False"]


def test_limits_network_and_writable_cwd_hold_on_the_env(env_python):
    """The env's runs keep every limit, no network, a writable cwd and TMPDIR, and Agg."""
    source = (
        "import os, socket, tempfile\n"
        "open('out.txt', 'w').write('x'); print(os.listdir('.') and 'wrote')\n"
        "print(tempfile.gettempdir() == os.getcwd(), os.environ['MPLBACKEND'])\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError:\n    print('no network')\n"
        "import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC)[0] < 10**6)\n"
    )
    result = run_python(source, python=env_python)
    assert result.status == "ok", result.stderr
    assert result.stdout.split() == ["wrote", "True", "Agg", "no", "network", "True"]


def test_code_verifier_runs_candidates_on_the_env(env_python):
    """A candidate that imports six passes its examples; one that imports click errors."""
    uses_click = (
        "import click\n\ndef kind(x):\n    return 'text' if isinstance(x, str) else 'other'\n"
    )
    item = Item.from_texts(PROMPT, [USES_SIX, uses_click], kind="code")
    with CodeVerifier(python=env_python, timeout=2.0) as verifier:
        six_run, click_run = verifier.verify(item)
    assert [c.status for c in six_run.checks] == ["pass", "pass", "pass"]
    assert {c.status for c in click_run.checks[1:]} == {"error"}
    assert "No module named 'click'" in click_run.checks[1].detail


def test_select_with_exec_env_shows_passing_checks(env_dir, tmp_path, write_jsonl):
    """`rerank select FILE --exec-env DIR`: the six candidate wins on passing checks."""
    broken = "import six\n\ndef kind(x):\n    return 'other'\n"
    candidates = write_jsonl(
        tmp_path / "c.jsonl",
        [{"id": "k", "prompt": PROMPT, "candidates": [broken, USES_SIX], "task": {"kind": "code"}}],
    )
    trace = tmp_path / "trace.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "select",
            str(candidates),
            "--exec-env",
            str(env_dir),
            "--judge",
            "evidence",
            "--trace",
            str(trace),
        ],
    )
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert row["selected"] == 1
    text = trace.read_text()
    assert '"example:1"' in text and '"pass"' in text


def test_exec_env_that_is_not_one_is_a_one_line_error(tmp_path):
    """A directory without bin/python fails in one line, naming it."""
    result = CliRunner().invoke(main, ["select", "x.jsonl", "--exec-env", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path} is not an environment" in result.stderr


def test_too_old_an_interpreter_is_refused(tmp_path):
    """An interpreter older than the sandbox's minimum is refused before anything runs."""
    fake = tmp_path / "python"
    answer = json.dumps({"version": [3, 8, 18], "prefixes": ["/usr"], "site": []})
    fake.write_text(f"#!/bin/sh\necho '{answer}'\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxError, match="Python 3.8.18: the sandbox needs 3.9"):
        SandboxPool(workers=1, python=str(fake))
    with pytest.raises(envs.EnvError, match="code candidates need 3.10"):
        envs.exec_python(python=str(fake))


def test_a_pin_without_a_wheel_moves_to_the_nearest_that_has_one(monkeypatch):
    """Probing keeps pins with a wheel, relaxes the rest, builds wheel-less projects."""
    wheels = {"numpy": ["1.20.3", "1.23.2", "1.23.5", "1.24.0"], "six": ["1.16.0"], "wordninja": []}
    monkeypatch.setattr(build, "_wheels", lambda python, name: wheels[name])
    pins = parse_requirements("numpy==1.21.2\nsix==1.16.0\nwordninja==2.0.0\n")
    numpy, six, wordninja = build._probe_all(Path("python"), pins, lambda m: None, workers=1)
    assert (numpy.change, numpy.install) == ("relaxed", "numpy>=1.23.2,<1.24")
    assert (six.change, six.install) == ("kept", "six==1.16.0")
    assert (wordninja.change, wordninja.install) == ("source", "wordninja==2.0.0")


def test_requirement_parsing_and_pip_messages():
    """Duplicates merge, contradictions name the line, pip's conflict list is read."""
    assert [p.name for p in parse_requirements("Requests==2.31.0\nrequests==2.31.0\n")] == [
        "requests"
    ]
    with pytest.raises(ValueError, match="reqs:2: 'xlrd==2.0.2' contradicts 'xlrd==2.0.1'"):
        parse_requirements("xlrd==2.0.1\nxlrd==2.0.2\n", source="reqs")
    pip_says = (
        "The conflict is caused by:\n    The user requested keras==2.11.0\n"
        "    tensorflow 2.12.0 depends on keras<2.13 and >=2.12.0\n"
    )
    assert conflicts(pip_says) == {"keras": [("tensorflow 2.12.0", "<2.13,>=2.12.0")]}
    assert nearest_version("1.21.2", ["1.23.2rc1", "1.23.2"]) == "1.23.2"
    assert nearest_version("1.0", []) is None


def test_bigcodebench_labels_run_the_suite_as_bigcodebench_does():
    """A suite passes, fails, fails to load, or runs out of time; the prompt's imports
    come first (calibrated), and /tmp is writable when the pool allows it."""
    from rerank.labels.bigcodebench import LABEL_LIMITS, Task, label_many

    if isolation().process_limit == "none":
        pytest.skip("this machine cannot bound sandboxed processes")
    test = (
        "import unittest\nclass TestCases(unittest.TestCase):\n"
        "    def test_one(self):\n        self.assertEqual(task_func(2), 4)\n"
        "    def test_tmp(self):\n        open('/tmp/t.txt', 'w').write('x')\n"
    )
    task = Task("T/0", "task_func", "import math\ndef task_func(x):\n", test)
    answers = [
        "def task_func(x):\n    return int(math.pow(x, 2))\n",  # math from the prompt
        "def task_func(x):\n    return x + 3\n",
        "def task_func(x)\n    return x\n",
        "def task_func(x):\n    while True:\n        pass\n",
    ]
    with SandboxPool(workers=2, limits=LABEL_LIMITS, writable_tmp=True) as pool:
        labels = label_many(pool, [(task, a) for a in answers], timeout=1.0)
    assert [label.status for label in labels] == ["pass", "fail", "fail", "fail"]
    assert labels[0].tests == 2 and "5 != 4" in labels[1].details["test_one"]
    assert "SyntaxError" in labels[2].details["ALL"]
    assert "Timed out" in labels[3].details["test_one"]
