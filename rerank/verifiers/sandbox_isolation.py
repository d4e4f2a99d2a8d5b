"""What this machine lets the sandbox do: the tiers, how they are chosen, and their needs.

Tiers, strongest first (see docs/sandbox.md):

- ``namespaces``: new mount, network, pid, ipc and uts namespaces entered with
  unshare(2) from the child itself (no util-linux needed). As root the program then
  drops to a throwaway uid (``process_limit="setuid-nobody"``); otherwise a user
  namespace maps us to root inside it (``"user-namespace"``). Either way RLIMIT_NPROC
  binds, and the pid namespace takes every descendant down with the program.
- ``setuid``: root without namespaces (e.g. a container without CAP_SYS_ADMIN): the
  throwaway uid still bounds processes; network is blocked by a Python-level guard.
- ``rlimit``: non-root without namespaces: RLIMIT_NPROC counts all our processes, so it
  is set to what we already run plus the budget; same Python-level network guard.
- ``none``: root that can neither create namespaces nor change uid. Nothing can bound a
  fork bomb, so :func:`rerank.verifiers.sandbox.run_python` refuses to run.

Detection tries each tier in order by running a real probe program under it, so a
kernel or container policy that forbids something shows up as a failed probe (its
reason is kept in ``notes``), never as a silently weaker sandbox.
"""

from __future__ import annotations

import os
import pwd
import random
import site
import stat
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache

__all__ = ["Isolation", "candidates", "detect", "hidden_and_exposed", "site_dirs", "uid_lease"]

# Throwaway uids/gids come from here: far above regular users, subuid ranges and
# systemd's dynamic users, and below 2**31 (tools that treat uid_t as signed).
UID_BASE, UID_COUNT = 0x70000000, 1 << 24


@dataclass(frozen=True)
class Isolation:
    """How programs are isolated here; ``notes`` lists what is weaker than ideal."""

    method: str  # "namespaces" | "setuid" | "rlimit" | "none"
    process_limit: str  # "user-namespace" | "setuid-nobody" | "rlimit" | "none"
    network_isolated: bool  # a network namespace (else: Python-level guard, or nothing)
    pid_namespace: bool  # descendants cannot outlive the program
    filesystem_isolated: bool  # read-only host, private /tmp, /root and $HOME hidden
    notes: list[str] = field(default_factory=list)

    @property
    def namespaces(self) -> str:
        """What the child sets up: "root" or "user" namespaces, or "none"."""
        if self.method != "namespaces":
            return "none"
        return "user" if self.process_limit == "user-namespace" else "root"

    @property
    def drops_uid(self) -> bool:
        """Whether the program runs under a throwaway uid of its own."""
        return self.process_limit == "setuid-nobody"


_GUARD_NOTE = (
    "no network namespace: sockets (and, to protect that guard, subprocesses and ctypes)"
    " are blocked by a Python-level audit hook only"
)
_NO_MOUNTS_NOTE = (
    "no mount namespace: the program sees the host filesystem and can write wherever its"
    " uid may (e.g. /tmp)"
)
_SHARED_MEMORY_NOTE = (
    "memory is bounded per process (RLIMIT_AS): all processes together may use up to"
    " processes x memory_mb"
)


def candidates(is_root: bool) -> list[Isolation]:
    """The tiers worth trying for this user, strongest first."""
    isolated = dict(network_isolated=True, pid_namespace=True, filesystem_isolated=True)
    exposed = dict(network_isolated=False, pid_namespace=False, filesystem_isolated=False)
    if is_root:
        return [
            Isolation("namespaces", "setuid-nobody", **isolated, notes=[_SHARED_MEMORY_NOTE]),
            Isolation(
                "setuid",
                "setuid-nobody",
                **exposed,
                notes=[
                    _GUARD_NOTE,
                    _NO_MOUNTS_NOTE,
                    _SHARED_MEMORY_NOTE,
                    "no pid namespace: descendants are killed by the supervisor, their subreaper",
                ],
            ),
        ]
    return [
        Isolation("namespaces", "user-namespace", **isolated, notes=[_SHARED_MEMORY_NOTE]),
        Isolation(
            "rlimit",
            "rlimit",
            **exposed,
            notes=[
                _GUARD_NOTE,
                _NO_MOUNTS_NOTE,
                _SHARED_MEMORY_NOTE,
                "same uid as this process: the program can signal it and read its"
                " /proc/<pid>/environ; RLIMIT_NPROC is our current task count plus the budget",
                "no pid namespace: descendants that escape the supervisor (by killing it)"
                " survive the run",
            ],
        ),
    ]


def detect(probe: Callable[[Isolation], str | None], *, is_root: bool) -> Isolation:
    """The first candidate whose probe succeeds (``probe`` returns why it failed, or None).

    Failed tiers are recorded in the chosen one's notes; when none works the result is
    ``method="none"``, which makes run_python refuse rather than run unbounded code.
    """
    failures = []
    for candidate in candidates(is_root):
        reason = probe(candidate)
        if reason is None:
            return replace(candidate, notes=[*failures, *candidate.notes])
        failures.append(f"{candidate.method} unavailable: {reason}")
    refusal = (
        "nothing here can bound the number of processes (root, no namespaces, no setuid):"
        " run_python refuses to run"
    )
    return Isolation("none", "none", False, False, False, notes=[*failures, refusal])


def _outermost(paths: Iterator[str] | list[str]) -> list[str]:
    """Unique paths with any path inside another one dropped."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


@cache
def site_dirs() -> tuple[str, ...]:
    """site-packages of this interpreter (the child runs with -S, so no .pth files)."""
    try:
        dirs = site.getsitepackages()
    except AttributeError:  # an old virtualenv's stripped site module
        dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return tuple(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


def _python_dirs() -> list[str]:
    executable = sys.executable
    dirs = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site_dirs(),
        os.path.dirname(executable),
        os.path.dirname(os.path.realpath(executable)),
    ]
    return _outermost(os.path.realpath(d) for d in dirs if os.path.isdir(d))


def _blocking_ancestor(path: str) -> str | None:
    """The topmost directory above ``path`` that others cannot traverse, if any."""
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        try:
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                return ancestor
        except OSError:
            return None
    return None


@cache
def hidden_and_exposed() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Directories to cover with an empty tmpfs, and interpreter dirs to bind back.

    Hidden: /root, our home, and whatever ancestor keeps an unprivileged uid from
    reaching the interpreter (pyenv under /root, say). Exposed: the interpreter's
    directories that such a cover, or the private /tmp, would otherwise hide.
    """
    python = _python_dirs()
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        home = ""
    hide = ["/root", home, *(a for p in python if (a := _blocking_ancestor(p)))]
    hide = [h for h in _outermost(hide) if os.path.isdir(h) and h not in ("/", "/tmp")]
    # Nothing at or under /tmp: the private /tmp covers all of it (a tmpfs mounted on a
    # directory under /tmp would find no such directory there), and above it would hide /tmp.
    hide = [h for h in hide if not (h + "/").startswith("/tmp/") and not "/tmp".startswith(h + "/")]
    covered = ["/tmp", *hide]
    expose = [p for p in python if any(p.startswith(c + "/") for c in covered)]
    return tuple(hide), tuple(expose)


_uids_in_use: set[int] = set()
_uids_lock = threading.Lock()


@contextmanager
def uid_lease() -> Iterator[int]:
    """A uid (also used as gid) no other run of this process holds until we exit.

    Random, so that other processes on the machine rarely pick the same one; a clash
    would only make two runs share one RLIMIT_NPROC budget.
    """
    rng = random.SystemRandom()
    with _uids_lock:
        uid = UID_BASE + rng.randrange(UID_COUNT)
        while uid in _uids_in_use:
            uid = UID_BASE + rng.randrange(UID_COUNT)
        _uids_in_use.add(uid)
    try:
        yield uid
    finally:
        with _uids_lock:
            _uids_in_use.discard(uid)


def tasks_of(uid: int) -> int:
    """Processes and threads of ``uid`` now: what RLIMIT_NPROC already counts."""
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                continue
    return count


def nproc_counts_per_namespace() -> bool:
    """Linux 5.14+ counts RLIMIT_NPROC per user namespace (ucounts)."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)
