"""Run untrusted Python in a sandboxed subprocess: the code verifier's only way to execute.

Each run gets a fresh interpreter (``sys.executable -I -S``, never a fork of this
process), an empty environment but for a fixed ``PATH``/``LANG`` and thread caps
(:data:`ENVIRONMENT`), a fresh working directory, rlimits set before the untrusted code
starts, a wall clock, and output capped while it is read. How much more isolation
(namespaces, a throwaway uid, a read-only filesystem, no network) depends on what the
machine allows: :func:`isolation` detects it once, by trying, and says what is missing.
Memory is capped per run at a share of the host's (:func:`default_memory_mb`), by a
cgroup of its own where the machine allows it, else per process by RLIMIT_AS; each
:class:`RunResult` says which in ``limits`` (:func:`describe_limits`).
The child side lives in ``boot.py``; docs/sandbox.md has the whole picture.

Examples
--------
>>> result = run_python("print(input()[::-1])", stdin="abc")
>>> result.status, result.stdout
('ok', 'cba\\n')
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from rerank.errors import SandboxError, SandboxUnavailable
from rerank.sandbox import boot
from rerank.sandbox.capture import Watched, watch
from rerank.sandbox.isolation import (
    Isolation,
    available_memory_mb,
    cgroup_parent,
    detect,
    detect_memory_limit,
    hidden_and_exposed,
    interpreter,
    nproc_counts_per_namespace,
    run_cgroup,
    site_dirs,
    tasks_of,
    uid_lease,
)

__all__ = [
    "ENVIRONMENT",
    "Isolation",
    "Limits",
    "RunResult",
    "SandboxError",
    "SandboxPool",
    "SandboxUnavailable",
    "check_python",
    "default_memory_mb",
    "describe_limits",
    "isolation",
    "run_python",
]

# The child imports boot.py rather than running it as a script: an import reads the
# cached bytecode (which importing it here makes sure exists) instead of compiling the
# file on every run (docs/sandbox.md, Overhead). The loader removes its directory from
# sys.path again.
BOOT_DIR = str(Path(boot.__file__).parent)
LOADER = (
    "import sys; sys.path.insert(0, sys.argv[1]); import boot; del sys.path[0];"
    " boot.supervise(sys.argv[2:])"
)
MAIN = "main.py"
# Fixed, documented, and nothing of ours: thread caps keep numpy & co. inside the
# process budget, since RLIMIT_NPROC counts threads too; matplotlib draws without a
# display; HOME is the private working directory, like TMPDIR.
ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "HOME": boot.WORKDIR,  # the run's working directory (set by the child)
}
#: The oldest interpreter the sandbox's child side (boot.py) runs on.
MIN_PYTHON = (3, 9)


@dataclass(frozen=True)
class Limits:
    """Per-run limits; each is enforced by the kernel, not by the program's goodwill."""

    cpu_seconds: float = 10.0  # RLIMIT_CPU (SIGXCPU, then SIGKILL one second later)
    wall_seconds: float = 20.0  # wall clock; on expiry every process of the run is killed
    # None: default_memory_mb() for the pool's workers (one run's share for run_python).
    # RLIMIT_AS per process, and with Isolation.memory_limit "cgroup" per run as well.
    memory_mb: int | None = None
    processes: int = 32  # RLIMIT_NPROC: processes and threads, the program included
    file_size_mb: int = 16  # RLIMIT_FSIZE; scratch space is 4x this
    open_files: int = 64  # RLIMIT_NOFILE
    output_bytes: int = 1 << 20  # kept of stdout and of stderr; the rest is read and dropped


@dataclass(frozen=True)
class RunResult:
    """How one sandboxed run ended, and what it printed (each stream cut at ``output_bytes``)."""

    # "ok" (exit 0) | "error" (non-zero exit) | "timeout" | "killed" (signal) | "halted"
    status: str
    returncode: int | None  # negative: the signal that killed it; None on timeout
    stdout: str
    stderr: str
    truncated: bool  # stdout or stderr was cut at output_bytes
    seconds: float
    idle: bool = False  # stopped because stdout was silent for ``idle_seconds``
    halted: bool = False  # stopped early because the caller's ``on_stdout`` asked for it
    # The limits this run got, as plain JSON data: see describe_limits().
    limits: dict[str, object] = field(default_factory=dict, hash=False)


# The default per-run memory cap: MEMORY_SHARE of the available memory split between the
# pool's workers, at most MEMORY_CEILING_MB, and never below MEMORY_FLOOR_MB: room for
# the interpreter's own address space and a small program's data (docs/sandbox.md).
MEMORY_CEILING_MB = 1024
MEMORY_FLOOR_MB = 64
MEMORY_SHARE = 0.5


def default_memory_mb(workers: int = 1, *, available_mb: int | None = None) -> int:
    """The memory cap of one run when ``Limits.memory_mb`` is not given.

    ``min(MEMORY_CEILING_MB, available_mb * MEMORY_SHARE / workers)``, at least
    ``MEMORY_FLOOR_MB``: ``workers`` runs at once take at most half of what was available
    (unless the floor wins on a machine too small for that). ``available_mb`` defaults
    to :func:`~rerank.sandbox.isolation.available_memory_mb` now:
    MemAvailable, or less where our own cgroup's limit leaves less.

    Examples
    --------
    >>> default_memory_mb(8, available_mb=8192)
    512
    >>> default_memory_mb(2, available_mb=64 << 10)
    1024
    """
    if available_mb is None:
        available_mb = available_memory_mb()
    share = int(available_mb * MEMORY_SHARE / max(1, workers))
    return max(MEMORY_FLOOR_MB, min(MEMORY_CEILING_MB, share))


def _with_memory(limits: Limits, workers: int) -> Limits:
    """``limits`` with memory_mb filled in from the host's memory if it is not given."""
    if limits.memory_mb is not None:
        return limits
    return replace(limits, memory_mb=default_memory_mb(workers))


def describe_limits(limits: Limits, isolation: Isolation) -> dict[str, object]:
    """The limits a run under ``isolation`` gets, as plain JSON data for a trace.

    ``memory_limit`` is the mechanism: ``"cgroup"`` (the run's processes together) or
    ``"rlimit-as"`` (each process on its own). An unset ``memory_mb`` is resolved as
    run_python resolves it. A run's own :attr:`RunResult.limits` is this, corrected to
    what that run actually got (plus ``memory_fallback``, why, if its cgroup failed).

    Examples
    --------
    >>> iso = Isolation("namespaces", "setuid-nobody", True, True, True)
    >>> describe_limits(Limits(memory_mb=512), iso)["memory_limit"]
    'rlimit-as'
    """
    limits = _with_memory(limits, workers=1)
    return {
        "memory_mb": limits.memory_mb,
        "memory_limit": isolation.memory_limit,
        "cpu_seconds": limits.cpu_seconds,
        "wall_seconds": limits.wall_seconds,
        "processes": limits.processes,
        "file_size_mb": limits.file_size_mb,
        "open_files": limits.open_files,
        "output_bytes": limits.output_bytes,
    }


_detected: Isolation | None = None
_detect_lock = threading.Lock()
_PROBE = "import json\nprint(json.dumps('probe'))"  # json is not preloaded: reads the stdlib


def isolation() -> Isolation:
    """What this machine allows, detected on first use by running a probe under each tier."""
    global _detected
    with _detect_lock:
        if _detected is None:
            tier = detect(_probe, is_root=os.geteuid() == 0)
            _detected = detect_memory_limit(tier, _probe_cgroup)
        return _detected


_detected_isolation = isolation  # run_python's keyword argument shadows the name


def _probe(candidate: Isolation) -> str | None:
    """Why ``candidate`` cannot run a program here, or None if it can."""
    try:
        result = run_python(_PROBE, limits=Limits(wall_seconds=60), isolation=candidate)
    except SandboxError as exc:
        return str(exc)
    if result.status == "ok" and "probe" in result.stdout:
        return None
    if "ModuleNotFoundError" in result.stderr:
        stdlib = os.path.dirname(os.__file__)
        return f"the standard library ({stdlib}) is not readable by an unprivileged uid"
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return f"the probe program ended {result.status}: {last}"


def _probe_cgroup(candidate: Isolation) -> str | None:
    """Why a run under ``candidate`` does not get its cgroup here, or None if it does."""
    try:
        result = run_python(_PROBE, limits=Limits(wall_seconds=60), isolation=candidate)
    except SandboxError as exc:
        return str(exc)
    if result.limits.get("memory_limit") != "cgroup":
        return str(result.limits.get("memory_fallback", "the run did not join its cgroup"))
    if result.status != "ok":
        return f"the probe program ended {result.status} in its cgroup"
    return None


def run_python(
    source: str,
    *,
    stdin: str | None = None,
    limits: Limits = Limits(),
    files: Mapping[str, str] | None = None,
    isolation: Isolation | None = None,
    idle_seconds: float | None = None,
    startup_seconds: float | None = None,
    python: str | None = None,
    on_stdout: Callable[[bytes], bool] | None = None,
    writable_tmp: bool = False,
) -> RunResult:
    """Run ``source`` as ``main.py`` in the sandbox and report how it ended.

    Parameters
    ----------
    source : the program, written to ``main.py`` in a fresh working directory.
    stdin : the program's standard input (default: none, ``/dev/null``).
    limits : the run's limits; an unset ``memory_mb`` becomes one run's share of the
        host's memory (:func:`default_memory_mb`).
    files : written next to ``main.py`` first (relative paths, e.g. a harness module).
    isolation : overrides the detected tier (tests use it to compare tiers).
    idle_seconds : stop the run (status ``timeout``, ``idle`` set) when stdout stays
        silent that long, so a program that reports after each step is stopped as soon
        as one stalls.
    startup_seconds : the silence allowed before the first output, if it differs.
    python : run on another interpreter (an execution environment's, see
        docs/environments.md): its site-packages, not ours, are on the program's
        ``sys.path``, and its bin directory is first on ``PATH``.
    on_stdout : called with each chunk of stdout as it arrives; when it returns True the
        run is stopped at once (status ``halted``): the caller has what it needed.
    writable_tmp : make the program's private ``/tmp`` (namespaces only) writable, as big
        as its scratch space, instead of read-only; either way it goes with the run.

    Returns
    -------
    RunResult : how the program ended; a program that fails in any way is a result,
        never an exception.

    Raises
    ------
    SandboxUnavailable : where processes cannot be bounded (nothing is run).
    SandboxError : if the sandbox itself fails to set up.
    """
    iso = isolation if isolation is not None else _detected_isolation()
    if iso.process_limit == "none":
        raise SandboxUnavailable(
            "refusing to run untrusted code: this machine cannot bound its processes "
            f"({'; '.join(iso.notes)}). Run as a non-root user, or allow namespaces."
        )
    limits = _with_memory(limits, workers=1)
    environment = _environment(python)
    started = time.monotonic()
    with ExitStack() as stack:
        workdir = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="rerank-sandbox-", ignore_cleanup_errors=True)
        )
        uid = stack.enter_context(uid_lease()) if iso.drops_uid else None
        cgroup, cgroup_failure = _enter_cgroup(stack, iso, limits)
        _write_files(Path(workdir), source, files or {})
        if uid is not None and iso.namespaces == "none":
            os.chown(workdir, uid, uid)  # with namespaces the program gets a tmpfs instead
        stdin_file = None
        if stdin is not None:
            stdin_file = stack.enter_context(tempfile.TemporaryFile())
            stdin_file.write(stdin.encode())
            stdin_file.seek(0)
        status_r, status_w = os.pipe()
        stack.callback(os.close, status_r)
        try:
            proc = subprocess.Popen(
                _command(
                    iso,
                    limits,
                    uid,
                    status_w,
                    cgroup=cgroup,
                    python=python,
                    writable_tmp=writable_tmp,
                ),
                stdin=stdin_file if stdin_file is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=environment,
                close_fds=True,
                pass_fds=(status_w,),
                start_new_session=True,
            )
        finally:
            os.close(status_w)
        with proc:
            watched = watch(
                proc,
                status_r,
                limit=limits.output_bytes,
                deadline=started + limits.wall_seconds,
                idle=idle_seconds,
                first_idle=startup_seconds,
                # No cgroup holds the run's processes together: sum their memory instead.
                memory=(limits.memory_mb << 20) if cgroup is None and limits.memory_mb else None,
                on_stdout=on_stdout,
            )
    applied = _limits_applied(limits, iso, watched.status, cgroup_failure)
    return _result(watched, iso, time.monotonic() - started, limits=applied)


def check_python(python: str) -> None:
    """Raise :class:`SandboxError` unless ``python`` is an interpreter the sandbox can
    run programs on (asked once per path)."""
    try:
        found = interpreter(python)
    except ValueError as exc:
        raise SandboxError(str(exc)) from None
    if found.version[:2] < MIN_PYTHON:
        version = ".".join(map(str, found.version))
        oldest = ".".join(map(str, MIN_PYTHON))
        raise SandboxError(f"{python} is Python {version}: the sandbox needs {oldest} or later")


def _environment(python: str | None) -> dict[str, str]:
    """ENVIRONMENT, with ``python``'s bin directory first on PATH (as if activated)."""
    if python is None:
        return ENVIRONMENT
    check_python(python)
    bin_dir = os.path.dirname(os.path.abspath(python))
    return {**ENVIRONMENT, "PATH": f"{bin_dir}:{ENVIRONMENT['PATH']}"}


def _enter_cgroup(stack: ExitStack, iso: Isolation, limits: Limits) -> tuple[str | None, str]:
    """The run's own cgroup (removed when ``stack`` closes), or None and why not: the
    run then has RLIMIT_AS alone, which it always has."""
    if iso.memory_limit != "cgroup" or limits.memory_mb is None:
        return None, ""
    parent, failure = cgroup_parent()
    if parent is None:
        return None, failure
    return stack.enter_context(run_cgroup(parent, limits.memory_mb << 20, limits.processes))


def _limits_applied(
    limits: Limits, iso: Isolation, status: str, cgroup_failure: str
) -> dict[str, object]:
    """describe_limits(), with the mechanism this run got: a cgroup counts only once the
    program reported that it joined it (the supervisor's ``cgroup`` status line)."""
    described = describe_limits(limits, iso)
    lines = status.splitlines()
    if iso.memory_limit == "cgroup" and "cgroup" not in lines:
        failed = [line[14:] for line in lines if line.startswith("cgroup-failed ")]
        reason = cgroup_failure or (failed or ["the program never joined its cgroup"])[0]
        described.update(memory_limit="rlimit-as", memory_fallback=reason)
    return described


def _write_files(workdir: Path, source: str, files: Mapping[str, str]) -> None:
    for name in files:
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts or "\0" in name or name == MAIN:
            raise ValueError(f"files: {name!r} must be a relative path inside the work dir")
    for name, text in {MAIN: source, **files}.items():
        path = workdir / name
        for parent in reversed(path.relative_to(workdir).parents[:-1]):
            (workdir / parent).mkdir(exist_ok=True)
            (workdir / parent).chmod(0o755)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        path.chmod(0o644)  # readable by the throwaway uid whatever our umask


def _command(
    iso: Isolation,
    limits: Limits,
    uid: int | None,
    status_fd: int,
    *,
    cgroup: str | None = None,
    python: str | None = None,
    writable_tmp: bool = False,
) -> list[str]:
    executable = python or sys.executable
    if not executable:
        raise SandboxError("sys.executable is empty: no interpreter to run programs with")
    memory_mb = limits.memory_mb if limits.memory_mb is not None else default_memory_mb()
    nproc = limits.processes
    if iso.method == "rlimit" or (iso.namespaces == "user" and not nproc_counts_per_namespace()):
        nproc += tasks_of(os.geteuid())  # RLIMIT_NPROC counts what we already run
    args = [
        executable,
        "-I",
        "-S",
        "-c",
        LOADER,
        BOOT_DIR,
        f"fd={status_fd}",
        f"parent={os.getpid()}",
        f"ns={iso.namespaces}",
        f"cpu={max(1, math.ceil(limits.cpu_seconds))}",
        f"as={memory_mb << 20}",
        f"fsize={limits.file_size_mb << 20}",
        f"nofile={limits.open_files}",
        f"nproc={nproc}",
        f"scratch={4 * limits.file_size_mb << 20}",
    ]
    if uid is not None:
        args += [f"uid={uid}", f"gid={uid}"]
    if cgroup is not None:
        args.append(f"cgroup={cgroup}/cgroup.procs")
    if not iso.network_isolated:
        args.append("guard=1")
    args += [f"path={d}" for d in site_dirs(python)]
    if iso.namespaces != "none":
        hide, expose = hidden_and_exposed(python)
        args += [f"hide={d}" for d in hide] + [f"expose={d}" for d in expose]
        if writable_tmp:
            args.append("tmp=rw")
    return args


def _result(
    watched: Watched, iso: Isolation, seconds: float, *, limits: dict[str, object] | None = None
) -> RunResult:
    lines = watched.status.splitlines()
    errors = [line[6:] for line in lines if line.startswith("error ")]
    if errors:
        raise SandboxError(f"sandbox setup failed ({iso.method}): {errors[0]}")
    waits = [int(line[5:]) for line in lines if line.startswith("exit ")]
    returncode = os.waitstatus_to_exitcode(waits[0]) if waits else None
    if returncode is None and not watched.stopped and "ready" not in lines:
        tail = watched.stderr.decode("utf-8", "replace").strip()[-500:]
        raise SandboxError(
            f"sandbox supervisor ended without starting the program "
            f"(exit code {watched.returncode}): {tail}"
        )
    limits = dict(limits or {})
    if watched.over_memory:  # our kill, for the memory its processes held together
        status, returncode = "killed", None
        limits["memory_exceeded_mb"] = watched.over_memory >> 20
    elif watched.halted:  # the caller had what it needed
        status, returncode = "halted", None
    elif watched.stopped and (returncode is None or returncode < 0):
        status, returncode = "timeout", None  # our kill, not the program's own ending
    elif returncode is None:  # the supervisor vanished under a running program
        status = "killed"
    else:
        status = "ok" if returncode == 0 else "error" if returncode > 0 else "killed"
    return RunResult(
        status=status,
        returncode=returncode,
        stdout=watched.stdout.decode("utf-8", "replace"),
        stderr=watched.stderr.decode("utf-8", "replace"),
        truncated=watched.truncated,
        seconds=seconds,
        idle=watched.idle,
        halted=watched.halted,
        limits=limits,
    )


Job = str | tuple[str] | tuple[str, str | None] | tuple[str, str | None, Mapping[str, str] | None]


class SandboxPool:
    """Runs many programs at once: each worker thread manages one sandboxed subprocess.

    Parameters
    ----------
    workers : how many programs run at once (default: one per core).
    limits : every run's limits. An unset ``memory_mb`` becomes
        ``default_memory_mb(workers)`` when the pool is made, so that all workers
        together stay within the host's memory.
    isolation : overrides the detected tier (see :func:`run_python`).
    python : run every program on that interpreter (see :func:`run_python`); it is
        checked here (:func:`check_python`).
    writable_tmp : give every run a writable private ``/tmp`` (see :func:`run_python`).

    Examples
    --------
    >>> with SandboxPool(workers=2) as pool:
    ...     [r.stdout for r in pool.run_many([("print(1)", None), ("print(input())", "2")])]
    ['1\\n', '2\\n']
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits = Limits(),
        *,
        isolation: Isolation | None = None,
        python: str | None = None,
        writable_tmp: bool = False,
    ) -> None:
        if python is not None:
            check_python(python)
        self.isolation = isolation
        self.python = python
        self.writable_tmp = writable_tmp
        self.workers = workers or os.cpu_count() or 1
        # Resolved once, here: a default memory cap is this pool's share of the host's.
        self.limits = _with_memory(limits, self.workers)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")

    def submit(
        self,
        source: str,
        stdin: str | None = None,
        files: Mapping[str, str] | None = None,
        *,
        wall_seconds: float | None = None,
        idle_seconds: float | None = None,
        startup_seconds: float | None = None,
        on_stdout: Callable[[bytes], bool] | None = None,
    ) -> Future[RunResult]:
        """Queue one run; the future's result is its :class:`RunResult`.

        Parameters
        ----------
        source, stdin, files : the program, its input and the files beside it, as for
            :func:`run_python`.
        wall_seconds : lowers the pool's wall clock for this run (never raises it).
        idle_seconds, startup_seconds, on_stdout : as for :func:`run_python`.
        """
        limits = self.limits
        if wall_seconds is not None and wall_seconds < limits.wall_seconds:
            limits = replace(limits, wall_seconds=max(0.1, wall_seconds))
        return self._executor.submit(
            run_python,
            source,
            stdin=stdin,
            limits=limits,
            files=files,
            isolation=self.isolation,
            idle_seconds=idle_seconds,
            startup_seconds=startup_seconds,
            python=self.python,
            on_stdout=on_stdout,
            writable_tmp=self.writable_tmp,
        )

    def run_many(self, jobs: Iterable[Job]) -> list[RunResult]:
        """Run ``(source, stdin[, files])`` jobs (or bare sources); results in input order."""
        futures = [self.submit(job) if isinstance(job, str) else self.submit(*job) for job in jobs]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Wait for queued runs and stop the worker threads."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
