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
  fork bomb, so :func:`rerank.sandbox.runner.run_python` refuses to run.

Detection tries each tier in order by running a real probe program under it, so a
kernel or container policy that forbids something shows up as a failed probe (its
reason is kept in ``notes``), never as a silently weaker sandbox.

Memory is bounded per process by RLIMIT_AS everywhere. Where cgroup v2 lets us (a
memory controller we may hand to child cgroups), each run also gets a cgroup of its own
whose ``memory.max`` bounds the whole process tree: :func:`detect_memory_limit` proves it
with a probe run, like the tiers, and ``Isolation.memory_limit`` says which applies.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import random
import re
import secrets
import site
import stat
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TypedDict

__all__ = [
    "CGROUP_ENV",
    "Interpreter",
    "Isolation",
    "available_memory_mb",
    "candidates",
    "cgroup_parent",
    "detect",
    "detect_memory_limit",
    "hidden_and_exposed",
    "interpreter",
    "run_cgroup",
    "site_dirs",
    "uid_lease",
]

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
    # "cgroup": each run's process tree together under memory.max (and RLIMIT_AS per
    # process); "rlimit-as": RLIMIT_AS per process only. A run that cannot set up its
    # cgroup falls back to "rlimit-as"; RunResult.limits says what a run got.
    memory_limit: str = "rlimit-as"

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


class _Confinement(TypedDict):
    network_isolated: bool
    pid_namespace: bool
    filesystem_isolated: bool


def candidates(is_root: bool) -> list[Isolation]:
    """The tiers worth trying for this user, strongest first."""
    isolated = _Confinement(network_isolated=True, pid_namespace=True, filesystem_isolated=True)
    exposed = _Confinement(network_isolated=False, pid_namespace=False, filesystem_isolated=False)
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
    failures: list[str] = []
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


@dataclass(frozen=True)
class Interpreter:
    """Another interpreter programs can run on (an execution environment's): its
    version, prefixes, and the ``sys.path`` entries its ``site`` adds (site-packages and
    the directories its ``.pth`` files name), which the program, run with ``-S``, gets
    directly."""

    executable: str
    version: tuple[int, ...]
    prefixes: tuple[str, ...]
    site: tuple[str, ...]


# Run once per interpreter with -I -S: then site.main() does what site would have done at
# startup (for Python <= 3.10 that includes switching sys.prefix to the venv).
_QUERY = (
    "import json, sys\nbefore = list(sys.path)\nimport site\nsite.main()\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'prefixes': [sys.prefix,"
    " sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],"
    " 'site': [p for p in sys.path if p not in before]}))"
)


@cache
def interpreter(python: str) -> Interpreter:
    """Ask ``python`` (a path) where it lives; ValueError if it does not answer."""
    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", _QUERY],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
        )
        found = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        raise ValueError(f"{python} is not a Python interpreter that runs here ({exc})") from None
    return Interpreter(
        executable=python,
        version=tuple(found["version"]),
        prefixes=tuple(found["prefixes"]),
        site=tuple(found["site"]),
    )


@cache
def site_dirs(python: str | None = None) -> tuple[str, ...]:
    """site-packages of this interpreter (the child runs with -S, so no .pth files), or
    what ``site`` adds to another interpreter's path (see :class:`Interpreter`)."""
    if python is not None:
        return tuple(dict.fromkeys(d for d in interpreter(python).site if os.path.isdir(d)))
    try:
        dirs = site.getsitepackages()
    except AttributeError:  # an old virtualenv's stripped site module
        dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return tuple(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


def _python_dirs(python: str | None = None) -> list[str]:
    executable = python or sys.executable
    if python is None:
        prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        prefixes = list(interpreter(python).prefixes)
    dirs = [
        *prefixes,
        *site_dirs(python),
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
def hidden_and_exposed(python: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Directories to cover with an empty tmpfs, and interpreter dirs to bind back.

    Hidden: /root, our home, and whatever ancestor keeps an unprivileged uid from
    reaching the interpreter (pyenv under /root, say). Exposed: the interpreter's
    directories (``python``'s, else this one's) that such a cover, or the private
    /tmp, would otherwise hide.
    """
    python_dirs = _python_dirs(python)
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        home = ""
    hide = ["/root", home, *(a for p in python_dirs if (a := _blocking_ancestor(p)))]
    hide = [h for h in _outermost(hide) if os.path.isdir(h) and h not in ("/", "/tmp")]
    # Nothing at or under /tmp: the private /tmp covers all of it (a tmpfs mounted on a
    # directory under /tmp would find no such directory there), and above it would hide /tmp.
    hide = [h for h in hide if not (h + "/").startswith("/tmp/") and not "/tmp".startswith(h + "/")]
    covered = ["/tmp", *hide]
    expose = [p for p in python_dirs if any(p.startswith(c + "/") for c in covered)]
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


# --- Memory: a cgroup v2 per run where the machine allows it, else RLIMIT_AS alone ------

# An empty cgroup v2 directory delegated to us, for machines where our own cgroup holds
# processes and so cannot hand the memory controller to children.
CGROUP_ENV = "RERANK_SANDBOX_CGROUP"
_MAX_REMOVE_TRIES = 100  # x 10 ms: how long a finished run's cgroup may take to empty
_PROGRAM_CGROUP = "program"  # the leaf the program joins, below the one with the limits


def _mounts() -> list[tuple[str, str, str, list[str]]]:
    """(mount point, root inside its filesystem, type, super options) of each mount."""

    def unescape(text: str) -> str:  # mountinfo writes space, tab, newline, \ as \ooo
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)

    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields, _, rest = line.partition(" - ")
            parts, tail = fields.split(), rest.split()
            if len(parts) >= 5 and len(tail) >= 3:
                found.append((unescape(parts[4]), unescape(parts[3]), tail[0], tail[2].split(",")))
    return found


def _own_cgroup(controller: str | None) -> tuple[str, str] | None:
    """(mount point, our directory) in the cgroup v2 hierarchy (``controller`` None) or
    in the cgroup v1 hierarchy holding ``controller``; None if it is not mounted here."""
    try:
        with open("/proc/self/cgroup") as handle:
            memberships = [line.rstrip("\n").split(":", 2) for line in handle]
        mounts = _mounts()
    except OSError:
        return None
    if controller is None:
        paths = [path for hid, _, path in memberships if hid == "0"]
    else:
        paths = [path for _, names, path in memberships if controller in names.split(",")]
    for point, root, kind, options in mounts:
        if kind != ("cgroup2" if controller is None else "cgroup"):
            continue
        if controller is not None and controller not in options:
            continue
        for path in paths:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return point, os.path.join(point, path[len(root) :].lstrip("/")).rstrip("/")
    return None


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read().strip()


def available_memory_mb() -> int:
    """Memory new runs may take: MemAvailable, or less if our own cgroup's limit (a
    container's, say: /proc/meminfo shows the host's) leaves less room."""
    room = None
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                room = int(line.split()[1]) << 10
    if room is None:  # Linux < 3.14
        room = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for controller, limit_name, usage_name in (
        (None, "memory.max", "memory.current"),
        ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        own = _own_cgroup(controller)
        directory = own[1] if own else ""
        while own and directory.startswith(own[0]):  # our cgroup and its ancestors
            try:
                limit = _read(f"{directory}/{limit_name}")
                usage = _read(f"{directory}/{usage_name}")
                if limit.isdigit() and usage.isdigit():
                    room = min(room, max(int(limit) - int(usage), 0))
            except OSError:
                pass
            directory = os.path.dirname(directory)
    return room >> 20


@cache
def cgroup_parent() -> tuple[str | None, str]:
    """The cgroup v2 directory that runs get child cgroups under, or (None, why not).

    It is ``$RERANK_SANDBOX_CGROUP`` if set, else our own cgroup. cgroup v2 lets only a
    cgroup without processes of its own hand controllers to children (the root cgroup is
    exempt), so our own cgroup qualifies in practice only if it is the root; elsewhere
    an administrator makes an empty cgroup, delegates it, and names it in the variable.
    Enables the memory (and, if present, pids) controller in its ``subtree_control``.
    """
    parent = os.environ.get(CGROUP_ENV, "")
    if not parent:
        own = _own_cgroup(None)
        if own is None:
            return None, "no cgroup v2 hierarchy is mounted"
        parent = own[1]
    try:
        controllers = _read(f"{parent}/cgroup.controllers").split()
        enabled = _read(f"{parent}/cgroup.subtree_control").split()
    except OSError as exc:
        return None, f"{parent} is not a readable cgroup v2 directory ({exc.strerror})"
    if "memory" not in controllers:
        v1 = _own_cgroup("memory")
        where = f"; it is on a cgroup v1 hierarchy ({v1[0]})" if v1 else ""
        return None, f"cgroup v2 at {parent} has no memory controller{where}"
    for name in ("memory", "pids"):
        if name in controllers and name not in enabled:
            try:
                with open(f"{parent}/cgroup.subtree_control", "w") as handle:
                    handle.write(f"+{name}")
            except OSError as exc:
                if name != "memory":
                    continue  # pids.max is a bonus; RLIMIT_NPROC bounds processes anyway
                hint = ""
                if exc.errno == errno.EBUSY:
                    hint = (
                        ": it holds processes, and cgroup v2 lets only an empty cgroup hand"
                        f" controllers to children; set {CGROUP_ENV} to one delegated to us"
                    )
                return None, f"cannot enable memory for the children of {parent}{hint}"
    _sweep_stale_cgroups(parent)
    return parent, ""


def _sweep_stale_cgroups(parent: str) -> None:
    """Remove run cgroups left by a host process that died before it could (their
    programs died with it, so they are empty); a live pid's are its own business."""
    for name in os.listdir(parent):
        match = re.fullmatch(r"rerank-(\d+)-[0-9a-f]{8}", name)
        if match and not os.path.exists(f"/proc/{match[1]}"):
            with suppress(OSError):
                os.rmdir(os.path.join(parent, name))


def _make_cgroup(path: str, memory_bytes: int, processes: int) -> str:
    """Create the run's cgroup and set its limits; "" if done, else why not."""
    try:
        os.mkdir(path)
    except OSError as exc:
        return f"cannot create cgroup {path}: {exc.strerror}"
    # memory.max must take: opening it with "w" cannot create a missing control file in
    # cgroupfs, so a directory without the memory controller fails here. The others are
    # there only with swap accounting, Linux 4.19+, and the pids controller respectively.
    settings = {"memory.max": memory_bytes, "memory.swap.max": 0}
    settings |= {"memory.oom.group": 1, "pids.max": processes}
    for name, value in settings.items():
        if name != "memory.max" and not os.path.exists(f"{path}/{name}"):
            continue
        try:
            with open(f"{path}/{name}", "w") as handle:
                handle.write(str(value))
        except OSError as exc:
            return f"cannot set {name} of cgroup {path}: {exc.strerror}"
    try:
        os.mkdir(f"{path}/{_PROGRAM_CGROUP}")
    except OSError as exc:
        return f"cannot create cgroup {path}/{_PROGRAM_CGROUP}: {exc.strerror}"
    return ""


def _remove_cgroup(path: str) -> None:
    """Remove a finished run's cgroup and any the program made below it, killing
    anything still in them (a descendant that escaped a supervisor without a pid
    namespace) first if they will not go."""
    for attempt in range(_MAX_REMOVE_TRIES):
        busy = False
        for directory, _, _ in os.walk(path, topdown=False):  # children first
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return  # not a cgroup at all (a test's stand-in): nothing to free
                busy = True
        if not busy:
            return
        if attempt == 0 and os.path.exists(f"{path}/cgroup.kill"):  # Linux 5.14+
            with suppress(OSError), open(f"{path}/cgroup.kill", "w") as handle:
                handle.write("1")
        time.sleep(0.01)


@contextmanager
def run_cgroup(parent: str, memory_bytes: int, processes: int) -> Iterator[tuple[str | None, str]]:
    """A fresh child cgroup of ``parent`` for one run: memory.max, no swap, whole-group
    OOM kill, pids.max. Yields (the directory the program joins, "") or, if it cannot be
    set up, (None, why); the caller then relies on RLIMIT_AS alone. Removed when the
    block ends, which must be after the run's processes are gone.

    The program joins a leaf below the cgroup that holds the limits, and is charged to
    it all the same. A program that makes a cgroup namespace of its own (possible in a
    user namespace) sees that leaf as its root, so even where it owns the files (a cgroup
    delegated to a non-root user) the limits stay out of its reach.
    """
    path = os.path.join(parent, f"rerank-{os.getpid()}-{secrets.token_hex(4)}")
    failure = _make_cgroup(path, memory_bytes, processes)
    try:
        yield (None, failure) if failure else (f"{path}/{_PROGRAM_CGROUP}", "")
    finally:
        _remove_cgroup(path)


def detect_memory_limit(iso: Isolation, probe: Callable[[Isolation], str | None]) -> Isolation:
    """``iso`` with ``memory_limit="cgroup"`` if a probe run under it gets a cgroup here
    (``probe`` returns why not, or None), else ``iso`` noting why RLIMIT_AS is all."""
    if iso.process_limit == "none":
        return iso
    if iso.method == "rlimit":
        reason = "the program runs as our own uid, so it could move itself out of its cgroup"
    else:
        parent, reason = cgroup_parent()
        if parent is not None:
            notes = [note for note in iso.notes if note != _SHARED_MEMORY_NOTE]
            candidate = replace(iso, memory_limit="cgroup", notes=notes)
            failure = probe(candidate)
            if failure is None:
                return candidate
            reason = failure
    return replace(iso, notes=[*iso.notes, f"no per-run cgroup memory limit: {reason}"])
