"""The sandbox's memory cap: derived from the host's memory and the pool's size, bounding
the whole run with a cgroup where the machine allows it (else each process by RLIMIT_AS),
and described, mechanism included, for the caller's trace.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from contextlib import contextmanager
from dataclasses import replace

import pytest

import rerank.sandbox.runner as sandbox
from rerank.sandbox import isolation as sandbox_isolation
from rerank.sandbox.isolation import (
    CGROUP_ENV,
    available_memory_mb,
    candidates,
    detect_memory_limit,
    run_cgroup,
)
from rerank.sandbox.runner import (
    MEMORY_CEILING_MB,
    MEMORY_FLOOR_MB,
    Isolation,
    Limits,
    SandboxPool,
    default_memory_mb,
    describe_limits,
    run_python,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

SMALL = Limits(cpu_seconds=10, wall_seconds=30, memory_mb=128, processes=16)
# Touches every page (b"x" * n writes them), so RSS grows, not only the address space.
HOG = "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))\n"


def cgroup_note(iso: Isolation) -> str:
    return next((n for n in iso.notes if "cgroup" in n), "no reason noted")


# The default cap


@pytest.mark.parametrize(
    ("workers", "available_mb", "expected"),
    [
        (1, 64 << 10, MEMORY_CEILING_MB),  # a big host: the fixed ceiling
        (8, 8192, 512),  # half of 8 GiB over 8 workers
        (2, 3000, 750),
        (64, 2048, MEMORY_FLOOR_MB),  # a tiny share: the floor, or nothing could start
        (0, 1000, 500),  # no workers counts as one
    ],
)
def test_default_cap_is_a_share_of_available_memory_per_worker(workers, available_mb, expected):
    """default_memory_mb = min(ceiling, available x share / workers), at least the floor."""
    assert default_memory_mb(workers, available_mb=available_mb) == expected


def test_available_memory_is_at_most_what_the_machine_has():
    """available_memory_mb() is positive and never above MemTotal (MemAvailable itself
    moves between two reads, so it would make a flaky bound)."""
    with open("/proc/meminfo") as handle:
        meminfo = dict(line.split(":", 1) for line in handle)
    assert 0 < available_memory_mb() <= int(meminfo["MemTotal"].split()[0]) >> 10


def test_pool_derives_its_cap_from_its_worker_count(monkeypatch):
    """An unset memory_mb becomes the pool's per-worker share when the pool is made."""
    monkeypatch.setattr(sandbox, "available_memory_mb", lambda: 4096)
    with SandboxPool(workers=8) as eight, SandboxPool(workers=1) as one:
        assert eight.limits.memory_mb == 256
        assert one.limits.memory_mb == MEMORY_CEILING_MB


def test_explicit_memory_mb_wins(monkeypatch):
    """Limits(memory_mb=...) given explicitly is used as is, whatever the host has."""
    monkeypatch.setattr(sandbox, "available_memory_mb", lambda: 100)
    with SandboxPool(workers=8, limits=Limits(memory_mb=300)) as pool:
        assert pool.limits.memory_mb == 300


def test_run_python_applies_a_single_run_share(iso, monkeypatch):
    """run_python alone derives one run's share, and that is the RLIMIT_AS it sets."""
    monkeypatch.setattr(sandbox, "available_memory_mb", lambda: 600)
    source = "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0])\n"
    result = run_python(source, isolation=iso)
    assert result.limits["memory_mb"] == 300
    assert int(result.stdout) == 300 << 20


# Enforcement


def test_allocating_past_the_cap_fails_and_spares_us(iso):
    """A program touching more than its cap gets MemoryError or is killed; our RSS stays."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_python(HOG, limits=SMALL, isolation=iso)
    assert result.status in ("error", "killed")
    assert result.status == "killed" or "MemoryError" in result.stderr
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 << 10  # KiB
    assert result.limits["memory_limit"] == iso.memory_limit
    assert run_python("print('still here')", isolation=iso).stdout == "still here\n"


FORKING_HOGS = """
import os, select
held, release = os.pipe(), os.pipe()
for _ in range(4):
    if os.fork() == 0:
        os.close(release[1])
        block = b"x" * (96 << 20)  # under RLIMIT_AS alone, each child may hold this
        os.write(held[1], b"1")
        os.read(release[0], 1)  # hold it until the parent lets go
        os._exit(0)
os.close(held[1])
count = 0  # children holding their block at once; a killed one never reports
while count < 4 and select.select([held[0]], [], [], 5)[0] and os.read(held[0], 1):
    count += 1
print(count, flush=True)
os.close(release[1])
for _ in range(4):
    os.wait()
"""


def test_forked_children_share_one_cgroup_cap(iso):
    """With a cgroup, children of one run share its cap: four children holding 96 MB
    each do not all fit in 256 MB (RLIMIT_AS alone would let each of them have it)."""
    if iso.memory_limit != "cgroup":
        pytest.skip(f"no per-run cgroup here, RLIMIT_AS only: {cgroup_note(iso)}")
    parent, _ = sandbox_isolation.cgroup_parent()
    assert parent is not None
    ours = f"rerank-{os.getpid()}-"
    limits = replace(SMALL, memory_mb=256)
    result = run_python(FORKING_HOGS, limits=limits, isolation=iso)
    assert result.limits["memory_limit"] == "cgroup"
    assert result.status == "killed" or int(result.stdout) < 4
    assert not [name for name in os.listdir(parent) if name.startswith(ours)]


HOLDING_HOGS = """
import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(96 << 20)  # zero-filled: every page touched
        time.sleep(1.5)  # long enough for several polls
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("held")
"""


def test_without_a_cgroup_forked_children_are_summed_and_stopped(iso):
    """Where no cgroup holds a run, the resident memory of all its processes is summed
    while it runs: four children holding 96 MB each are stopped together at 256 MB,
    which RLIMIT_AS alone (per process) would allow."""
    if iso.memory_limit == "cgroup":
        pytest.skip("runs here get a cgroup; the sum is for machines without one")
    limits = replace(SMALL, memory_mb=256, wall_seconds=60)
    result = run_python(HOLDING_HOGS, limits=limits, isolation=iso)
    assert result.status == "killed", (result.stdout, result.stderr)
    assert result.limits["memory_exceeded_mb"] > 256
    fitting = run_python(HOLDING_HOGS, limits=replace(limits, memory_mb=1024), isolation=iso)
    assert fitting.status == "ok" and fitting.stdout.strip() == "held"


# Falling back, and the plumbing that a stand-in cgroup directory can show


def stand_in(monkeypatch, tmp_path, *, procs_is_a_directory=False):
    """Make runs get ``tmp_path/run`` as their cgroup: a plain directory, so the kernel
    enforces nothing, but it shows what the sandbox writes and when."""
    path = tmp_path / "run"

    @contextmanager
    def fake_run_cgroup(parent, memory_bytes, processes):
        path.mkdir()
        (path / "memory.max").write_text(str(memory_bytes))
        if procs_is_a_directory:
            (path / "cgroup.procs").mkdir()
        else:
            (path / "cgroup.procs").write_text("")
        yield str(path), ""

    monkeypatch.setattr(sandbox, "cgroup_parent", lambda: (str(tmp_path), ""))
    monkeypatch.setattr(sandbox, "run_cgroup", fake_run_cgroup)
    return path


def test_the_program_joins_its_cgroup_before_its_code_and_keeps_no_handle(
    iso, monkeypatch, tmp_path
):
    """The program writes itself into cgroup.procs before the untrusted code runs, and
    that code inherits no descriptor through which it could move itself elsewhere."""
    path = stand_in(monkeypatch, tmp_path)
    source = "import os\nprint(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))\n"
    result = run_python(source, limits=SMALL, isolation=replace(iso, memory_limit="cgroup"))
    assert result.status == "ok", result.stderr
    assert (path / "cgroup.procs").read_text() == "0"
    assert json.loads(result.stdout) == [0, 1, 2, 3]  # 3: listdir's own
    assert result.limits["memory_limit"] == "cgroup" and "memory_fallback" not in result.limits


def test_a_cgroup_the_program_cannot_join_falls_back_to_rlimit_as(iso, monkeypatch, tmp_path):
    """If joining fails at run time the run goes on under RLIMIT_AS, which still bounds
    it, and its limits say so and why."""
    stand_in(monkeypatch, tmp_path, procs_is_a_directory=True)
    result = run_python(HOG, limits=SMALL, isolation=replace(iso, memory_limit="cgroup"))
    assert result.status == "error" and "MemoryError" in result.stderr
    assert result.limits["memory_limit"] == "rlimit-as"
    assert "Is a directory" in str(result.limits["memory_fallback"])


def test_a_cgroup_that_cannot_be_made_falls_back_to_rlimit_as(iso, monkeypatch, tmp_path):
    """If the run's cgroup cannot be created the run still happens, under RLIMIT_AS."""
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setattr(sandbox, "cgroup_parent", lambda: (str(not_a_directory), ""))
    result = run_python(HOG, limits=SMALL, isolation=replace(iso, memory_limit="cgroup"))
    assert result.status == "error" and "MemoryError" in result.stderr
    assert result.limits["memory_limit"] == "rlimit-as"
    assert "cannot create cgroup" in str(result.limits["memory_fallback"])


def test_run_cgroup_caps_a_fresh_cgroup_above_the_programs(tmp_path):
    """run_cgroup puts the cap in bytes into memory.max of a fresh cgroup under the
    parent, and the program's own cgroup below it, out of the program's reach."""
    with run_cgroup(str(tmp_path), 200 << 20, 16) as (program, failure):
        assert failure == "" and program is not None
        limited = os.path.dirname(program)
        assert os.path.dirname(limited) == str(tmp_path) and os.path.isdir(program)
        with open(f"{limited}/memory.max") as handle:
            assert handle.read() == str(200 << 20)


# Detection and description


def test_cgroup_parent_explains_a_missing_memory_controller(monkeypatch, tmp_path):
    """Where cgroup v2 has no memory controller, the reason says so (this host's case)."""
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")
    (tmp_path / "cgroup.subtree_control").write_text("\n")
    monkeypatch.setenv(CGROUP_ENV, str(tmp_path))
    sandbox_isolation.cgroup_parent.cache_clear()
    try:
        parent, reason = sandbox_isolation.cgroup_parent()
    finally:
        sandbox_isolation.cgroup_parent.cache_clear()
    assert parent is None and "no memory controller" in reason


def test_detection_uses_a_cgroup_only_when_a_probe_run_gets_one(monkeypatch):
    """detect_memory_limit picks "cgroup" only if the probe succeeds in one, drops the
    shared-memory caveat then, and otherwise notes why RLIMIT_AS is all there is."""
    tier = candidates(is_root=True)[0]
    monkeypatch.setattr(sandbox_isolation, "cgroup_parent", lambda: ("/cg", ""))
    chosen = detect_memory_limit(tier, lambda candidate: None)
    assert chosen.memory_limit == "cgroup"
    assert not any("RLIMIT_AS" in note for note in chosen.notes)
    refused = detect_memory_limit(tier, lambda candidate: "EACCES")
    assert refused.memory_limit == "rlimit-as" and any("EACCES" in n for n in refused.notes)
    monkeypatch.setattr(sandbox_isolation, "cgroup_parent", lambda: (None, "no cgroup2"))
    assert any("no cgroup2" in n for n in detect_memory_limit(tier, lambda c: None).notes)


def test_a_same_uid_tier_never_gets_a_cgroup(monkeypatch):
    """In the rlimit tier the program is us and could leave its cgroup: no cgroup claimed."""
    rlimit = candidates(is_root=False)[1]
    monkeypatch.setattr(sandbox_isolation, "cgroup_parent", lambda: ("/cg", ""))
    chosen = detect_memory_limit(rlimit, lambda candidate: None)
    assert chosen.memory_limit == "rlimit-as" and any("own uid" in n for n in chosen.notes)


@pytest.mark.parametrize("mechanism", ["cgroup", "rlimit-as"])
def test_described_limits_name_the_mechanism_and_are_plain_json(mechanism):
    """describe_limits gives memory (MB and mechanism), cpu, wall and processes as JSON."""
    iso = replace(candidates(is_root=True)[0], memory_limit=mechanism)
    limits = Limits(cpu_seconds=3, wall_seconds=7, memory_mb=200, processes=5)
    described = describe_limits(limits, iso)
    assert json.loads(json.dumps(described)) == described
    assert described["memory_limit"] == mechanism
    assert (described["memory_mb"], described["processes"]) == (200, 5)
    assert (described["cpu_seconds"], described["wall_seconds"]) == (3, 7)


def test_a_runs_limits_are_the_described_ones(iso):
    """RunResult.limits is describe_limits() of what the run got, mechanism included."""
    result = run_python("pass", limits=SMALL, isolation=iso)
    assert result.limits == describe_limits(SMALL, iso)
    assert result.limits["memory_limit"] == iso.memory_limit
