"""The sandbox against hostile programs: each test checks what the evidence says and that
the run leaves nothing behind (our process unharmed, no stray process, a normal program
still works). Bounds in time come from the sandbox's own small limits, never from sleeps.
"""

from __future__ import annotations

import ast
import os
import pwd
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import FIRST_EXCEPTION, wait
from pathlib import Path

import pytest

import rerank
from rerank.sandbox.capture import Watched
from rerank.sandbox.isolation import candidates, detect
from rerank.sandbox.runner import (
    ENVIRONMENT,
    Isolation,
    Limits,
    SandboxError,
    SandboxPool,
    SandboxUnavailable,
    isolation,
    run_python,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

HOSTILE = Limits(cpu_seconds=1, wall_seconds=2, memory_mb=256, processes=16)


def run(source: str, iso: Isolation, limits: Limits = HOSTILE, **kwargs):
    return run_python(source, limits=limits, isolation=iso, **kwargs)


def marker() -> str:
    """A unique process name (comm holds 15 bytes) for a hostile program to take."""
    return "rr" + secrets.token_hex(6)


def processes_named(name: str) -> list[int]:
    """Host pids whose comm is ``name``, zombies included (a pid namespace hides nothing
    from the host's /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def take_name(name: str) -> str:
    return f"open('/proc/self/comm', 'w').write({name!r})\n"


def assert_runs_go_on(iso: Isolation) -> None:
    """After a hostile run: a normal program works and we can still start processes."""
    assert run("print(6 * 7)", iso).stdout == "42\n"
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0


# Normal programs


def test_stdin_and_stdout_round_trip(iso):
    """stdin reaches the program and its stdout comes back, status ok."""
    result = run("print(input()[::-1])", iso, stdin="abc")
    assert (result.status, result.returncode, result.stdout) == ("ok", 0, "cba\n")
    assert not result.truncated


def test_nonzero_exit_is_an_error(iso):
    """sys.exit(3) gives status "error" and return code 3."""
    result = run("import sys; sys.exit(3)", iso)
    assert (result.status, result.returncode) == ("error", 3)


def test_syntax_error_is_an_error_with_the_message(iso):
    """A syntax error is status "error" with Python's message on stderr."""
    result = run("def f(:\n    pass\n", iso)
    assert result.status == "error"
    assert "SyntaxError" in result.stderr and "main.py" in result.stderr


def test_traceback_shows_only_the_program(iso):
    """An uncaught exception's traceback names main.py and none of the sandbox's frames."""
    result = run("def f():\n    return 1 / 0\nf()\n", iso)
    assert result.status == "error"
    assert "ZeroDivisionError" in result.stderr and "main.py" in result.stderr
    assert "boot.py" not in result.stderr and "rerank" not in result.stderr


def test_killed_by_a_signal_is_killed(iso):
    """A program dying of a signal is "killed" with the negative signal as return code."""
    result = run("import os; os.abort()", iso)
    assert (result.status, result.returncode) == ("killed", -signal.SIGABRT)


def test_files_are_in_the_working_directory(iso):
    """``files`` sit next to main.py: importable as modules and readable by relative path."""
    files = {"helper.py": "X = 5\n", "data/in.txt": "hello"}
    result = run("import helper\nprint(helper.X, open('data/in.txt').read())", iso, files=files)
    assert result.stdout == "5 hello\n"


@pytest.mark.parametrize("name", ["../escape.py", "/tmp/escape.py", "main.py", ""])
def test_files_must_stay_inside_the_working_directory(iso, name):
    """File names that leave the work dir, or replace main.py, are refused."""
    with pytest.raises(ValueError):
        run("pass", iso, files={name: "x"})


def test_working_directory_is_removed(iso, tmp_path, monkeypatch):
    """The temporary working directory is gone after the run."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run("open('out.txt', 'w').write('x')", iso).status == "ok"
    assert list(tmp_path.iterdir()) == []


def test_file_size_is_limited(iso):
    """Writing past file_size_mb fails inside the program."""
    limits = Limits(file_size_mb=1, wall_seconds=10)
    result = run("open('big', 'wb').write(b'x' * (2 << 20))", iso, limits)
    assert result.status == "error" and "File too large" in result.stderr


# Hostile programs


def test_infinite_loop_is_stopped(iso):
    """A busy loop ends as "killed" (CPU limit) or "timeout" (wall clock)."""
    result = run("while True:\n    pass\n", iso)
    assert result.status in ("killed", "timeout")
    assert_runs_go_on(iso)


def test_sleeper_times_out(iso):
    """A program that sleeps past the wall clock is "timeout", with no return code."""
    result = run("import time\ntime.sleep(60)\n", iso)
    assert (result.status, result.returncode) == ("timeout", None)
    assert_runs_go_on(iso)


def test_a_silent_program_is_stopped_at_its_idle_limit(iso):
    """With idle_seconds, a program whose stdout goes quiet is stopped long before its
    wall clock, and the result says why; startup_seconds covers the silence before the
    first output."""
    source = "import sys, time\ntime.sleep(0.5)\nprint('step', flush=True)\ntime.sleep(60)\n"
    limits = Limits(cpu_seconds=60, wall_seconds=60)
    result = run_python(source, limits=limits, isolation=iso, idle_seconds=1.0, startup_seconds=3.0)
    assert (result.status, result.idle, result.stdout) == ("timeout", True, "step\n")
    assert result.seconds < 20
    talker = "import time\nfor _ in range(6):\n    print('.', flush=True)\n    time.sleep(0.3)\n"
    result = run_python(talker, limits=limits, isolation=iso, idle_seconds=1.0)
    assert (result.status, result.idle) == ("ok", False)


def test_the_caller_can_halt_a_run_from_its_output(iso):
    """on_stdout sees output as it arrives; returning True stops the run there."""
    source = "import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.1)\n"
    seen = []

    def enough(chunk: bytes) -> bool:
        seen.append(chunk)
        return b"3\n" in b"".join(seen)

    limits = Limits(cpu_seconds=60, wall_seconds=60)
    result = run_python(source, limits=limits, isolation=iso, on_stdout=enough)
    assert (result.status, result.halted, result.returncode) == ("halted", True, None)
    assert "3\n" in result.stdout and "20\n" not in result.stdout


def test_memory_bomb_fails_inside_the_program(iso):
    """Allocating past memory_mb fails in the program (MemoryError) and not in ours."""
    limits = Limits(cpu_seconds=10, wall_seconds=30, memory_mb=128)  # page faults are slow
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run("chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 22))\n", iso, limits)
    assert (result.status, result.returncode) == ("error", 1) and "MemoryError" in result.stderr
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 << 10  # KiB
    assert_runs_go_on(iso)


def test_fork_bomb_is_bounded_and_cleaned_up(iso):
    """A fork bomb hits the process limit, and none of its processes survive the run."""
    if iso.process_limit == "none":  # run_python refuses anyway; never risk it
        pytest.skip("nothing bounds processes here")
    name = marker()
    bomb = take_name(name) + (
        "import os, time\n"
        "forks = 0\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "    except OSError:\n"
        "        break\n"
        "    forks += 1\n"
        "print(forks, flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = run(bomb, iso)
    assert result.status in ("timeout", "killed")
    assert 0 < int(result.stdout.split()[0]) < HOSTILE.processes
    assert processes_named(name) == []
    assert_runs_go_on(iso)


def test_writing_outside_the_working_directory_fails(iso, tmp_path):
    """Writes to our files and to /tmp fail, and change nothing outside."""
    if iso.process_limit == "rlimit":
        pytest.skip("rlimit tier: the program runs as our uid on our filesystem")
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    new = tmp_path / "new.txt"
    in_tmp = f"/tmp/rerank-escape-{secrets.token_hex(4)}"
    targets = [str(victim), str(new)] + ([in_tmp] if iso.filesystem_isolated else [])
    program = (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('failed', path, exc)\n"
    )
    try:
        result = run(program, iso)
        assert result.status == "ok" and "wrote" not in result.stdout
        assert result.stdout.count("failed") == len(targets)
        assert victim.read_text() == "original"
        assert not new.exists() and not os.path.exists(in_tmp)
    finally:
        if os.path.exists(in_tmp):
            os.unlink(in_tmp)
    assert_runs_go_on(iso)


def test_our_environment_is_unreadable(iso, monkeypatch):
    """A secret in our environment appears neither in os.environ nor via /proc/<pid>/environ."""
    if iso.process_limit == "rlimit":
        pytest.skip("rlimit tier: same uid, so /proc/<pid>/environ is readable (documented)")
    secret = "s3cret-" + secrets.token_hex(8)
    monkeypatch.setenv("RERANK_SANDBOX_TEST_SECRET", secret)
    program = (
        "import os\n"
        "print(dict(os.environ))\n"
        f"for pid in {{os.getppid(), {os.getpid()}}} | set(p for p in os.listdir('/proc')"
        " if p.isdigit()):\n"
        "    try:\n"
        "        print(pid, open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as exc:\n"
        "        print(pid, exc)\n"
    )
    result = run(program, iso)
    assert result.status == "ok" and "LANG" in result.stdout
    assert secret not in result.stdout + result.stderr
    assert_runs_go_on(iso)


def test_environment_is_the_fixed_one(iso, monkeypatch):
    """The program's environment is ENVIRONMENT plus TMPDIR, whatever ours holds."""
    monkeypatch.setenv("PYTHONPATH", "/nowhere")
    result = run("import os\nprint(sorted(os.environ))", iso)
    assert result.stdout.strip() == str(sorted([*ENVIRONMENT, "TMPDIR"]))


def test_socket_to_a_local_server_fails(iso):
    """Connecting to a server we listen on at 127.0.0.1 fails, and it sees no connection."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        program = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print('failed', exc)\n"
        )
        result = run(program, iso)
        assert result.status == "ok" and result.stdout.startswith("failed")
        with pytest.raises(BlockingIOError):
            server.accept()  # a completed connection would be waiting here
    assert_runs_go_on(iso)


def test_killing_the_parent_leaves_us_alive(iso):
    """Signals aimed at the parent, our process, our group or everyone reach none of us."""
    if iso.process_limit == "rlimit":
        pytest.skip("rlimit tier: same uid, so the program may signal us (documented)")
    program = (
        "import os, signal\n"
        f"for what, call in [('ppid', lambda: os.kill(os.getppid(), signal.SIGKILL)),"
        f" ('us', lambda: os.kill({os.getpid()}, signal.SIGKILL)),"
        f" ('our group', lambda: os.killpg({os.getpgrp()}, signal.SIGKILL)),"
        " ('everyone', lambda: os.kill(-1, signal.SIGKILL))]:\n"
        "    try:\n"
        "        call()\n"
        "    except OSError as exc:\n"
        "        print(what, exc)\n"
        "print('done')\n"
    )
    result = run(program, iso)
    assert result.status == "ok" and result.stdout.endswith("done\n")
    assert_runs_go_on(iso)  # and we are still here to say so


@pytest.mark.parametrize("ending", ["exit", "timeout"])
def test_escaped_grandchild_is_killed(iso, ending):
    """A grandchild that left the process group with setsid() does not outlive the run."""
    name = marker()
    program = (
        "import os, time\n"
        "ready_r, ready_w = os.pipe()\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n" + "    " + take_name(name) + "    os.write(ready_w, b'x')\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "os.read(ready_r, 1)\n"
        "print('escaped', flush=True)\n" + ("time.sleep(60)\n" if ending == "timeout" else "")
    )
    result = run(program, iso)
    assert result.stdout == "escaped\n"
    assert result.status == ("ok" if ending == "exit" else "timeout")
    assert processes_named(name) == []
    assert_runs_go_on(iso)


def test_output_flood_is_capped(iso):
    """Endless output on both streams is cut at output_bytes and costs us no memory."""
    limits = Limits(cpu_seconds=2, wall_seconds=2, output_bytes=1 << 16)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    program = (
        "import sys\nwhile True:\n    print('x' * 65535)\n    print('y' * 65535, file=sys.stderr)"
    )
    result = run(program, iso, limits)
    assert result.status in ("timeout", "killed") and result.truncated
    assert len(result.stdout) == len(result.stderr) == 1 << 16
    assert set(result.stdout) <= {"x", "\n"}
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 << 10  # KiB
    assert_runs_go_on(iso)


def test_large_output_does_not_block_the_program(iso):
    """A program printing far more than the cap still runs to completion (we keep reading)."""
    limits = Limits(wall_seconds=20, output_bytes=1 << 10)
    program = "import sys\nfor _ in range(512):\n    sys.stdout.write('z' * 65536)\n"
    result = run(program, iso, limits)
    assert (result.status, result.truncated, len(result.stdout)) == ("ok", True, 1 << 10)


def test_home_and_root_are_hidden(iso):
    """With filesystem isolation, our home shows only the interpreter's own directories."""
    if not iso.filesystem_isolated:
        pytest.skip("no mount namespace here")
    home = pwd.getpwuid(os.geteuid()).pw_dir
    if not os.path.isdir(home):
        pytest.skip(f"our home {home} does not exist")
    result = run(f"import os\nprint(sorted(os.listdir({home!r})))", iso)
    shown = set(ast.literal_eval(result.stdout))
    prefixes = [os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)]
    allowed = {p[len(home) + 1 :].split("/")[0] for p in prefixes if p.startswith(home + "/")}
    assert result.status == "ok" and shown <= allowed


# The pool


def test_pool_returns_results_in_input_order(iso):
    """run_many returns one result per job, in input order, whatever the job's shape."""
    jobs = [
        ("print(input())", "a"),
        "print('b')",
        ("print(open('c.txt').read())", None, {"c.txt": "c"}),
    ] + [(f"print({i})", None) for i in range(5)]
    with SandboxPool(workers=3, limits=HOSTILE, isolation=iso) as pool:
        results = pool.run_many(jobs)
    assert [r.stdout for r in results] == ["a\n", "b\n", "c\n"] + [f"{i}\n" for i in range(5)]


def test_pool_runs_jobs_at_the_same_time(iso):
    """With N workers, N jobs are alive at once (each waits for a signal only we send)."""
    names = [marker() for _ in range(3)]
    program = (
        "import signal, sys\n"
        "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0))\n{take}"
        "print({i})\n"
        "signal.pause()\n"
    )
    with SandboxPool(workers=3, limits=Limits(wall_seconds=30), isolation=iso) as pool:
        futures = [pool.submit(program.format(take=take_name(n), i=i)) for i, n in enumerate(names)]
        alive: dict[str, list[int]] = {}
        while len(alive) < len(names):
            done, _ = wait(futures, timeout=0.02, return_when=FIRST_EXCEPTION)
            assert not done, [f.result() for f in done]  # no job may end before all started
            alive = {n: pids for n in names if (pids := processes_named(n))}
        for pids in alive.values():
            os.kill(pids[0], signal.SIGUSR1)
        results = [f.result() for f in futures]
    assert [(r.status, r.stdout) for r in results] == [("ok", f"{i}\n") for i in range(3)]


# Detection and refusal


def test_refuses_when_processes_cannot_be_bounded():
    """With no way to bound processes, run_python raises instead of running the code."""
    nothing = Isolation("none", "none", False, False, False, ["test"])
    with pytest.raises(SandboxUnavailable):
        run_python("print('should not run')", isolation=nothing)


def test_detection_takes_the_first_tier_that_works_and_notes_the_others():
    """detect() tries tiers strongest first and records why the stronger ones failed."""
    tried = []

    def probe(candidate):
        tried.append(candidate.method)
        return "no namespaces" if candidate.method == "namespaces" else None

    chosen = detect(probe, is_root=True)
    assert tried == ["namespaces", "setuid"]
    assert chosen.method == "setuid" and chosen.process_limit == "setuid-nobody"
    assert any("no namespaces" in note for note in chosen.notes)
    assert not chosen.network_isolated and any("Python-level" in n for n in chosen.notes)


def test_detection_ends_in_none_when_nothing_works():
    """When every probe fails the tier is "none", and the notes say run_python refuses."""
    chosen = detect(lambda candidate: "nope", is_root=True)
    assert (chosen.method, chosen.process_limit) == ("none", "none")
    assert any("refuses" in note for note in chosen.notes)


@pytest.mark.parametrize("is_root", [True, False])
def test_every_tier_bounds_processes(is_root):
    """No candidate tier leaves processes unbounded; root never relies on RLIMIT_NPROC alone."""
    tiers = candidates(is_root)
    assert all(t.process_limit != "none" for t in tiers)
    assert not is_root or all(t.process_limit == "setuid-nobody" for t in tiers)


def test_isolation_is_detected_once():
    """isolation() probes on first use only and then returns the same answer."""
    assert isolation() is isolation()


def test_setup_failure_is_an_exception_not_a_result():
    """An "error" line from the child is a SandboxError: the program never ran."""
    from rerank.sandbox.runner import _result

    watched = Watched(b"", b"", "error OSError: mount: denied\n", False, False, 0)
    with pytest.raises(SandboxError, match="mount: denied"):
        _result(watched, Isolation("namespaces", "setuid-nobody", True, True, True), 0.0)


def test_an_interpreter_in_a_private_directory_under_tmp_still_runs(iso, tmp_path):
    """A venv inside a 0700 directory under /tmp (what `mktemp -d` makes) runs sandboxed
    code: the private /tmp covers that directory, and the venv is bound back into it."""
    if iso.namespaces == "none":
        pytest.skip("no mount namespace here: /tmp is not covered")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    venv = private / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The new venv imports rerank and its dependencies from where this run does (whether
    # this run is itself in a venv or not), its own interpreter still under /tmp.
    paths = [str(Path(rerank.__file__).resolve().parents[1]), *sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p and os.path.isdir(p))}
    probe = (
        "from rerank.sandbox.runner import run_python\n"
        "r = run_python('print(6 * 7)')\n"
        "print(r.status, r.stdout.strip())\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "42"]
