"""Watching one sandboxed run: capped output from both pipes, and the wall clock.

One selector loop per run, in the calling thread: it reads stdout, stderr and the status
pipe as data arrives (so the program never blocks on a full pipe), keeps at most
``limit`` bytes of each stream and reads the rest only to drop it (so a program printing
gigabytes costs us no memory), and waits on a pidfd for the supervisor's exit (no
polling where the kernel has pidfds).

With ``idle`` set, the run is also stopped when stdout has been silent that long
(``first_idle`` before its first output, if given): a program that reports after each
step, and stalls in one, is stopped at once rather than at the wall clock. At the
deadline it sends SIGTERM to the supervisor, which SIGKILLs the program and reports once
everything below it is gone. With ``memory`` set, the resident memory of every process
below the supervisor is summed every ``MEMORY_POLL`` seconds, and the run is stopped the
same way once the sum passes it: where no per-run cgroup bounds a run's processes
together, this does (a poll can miss a spike between two reads, never a steady excess).
Only if the supervisor itself does not answer within
``KILL_GRACE`` is its whole process group SIGKILLed. The supervisor is our child and is
reaped only at the very end, so neither pid can have been reused by then. ``on_stdout``
sees each chunk of stdout as it arrives and may stop the run early by returning True.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KILL_GRACE", "Watched", "watch"]

KILL_GRACE = 5.0  # seconds the supervisor gets to clean up after SIGTERM
MEMORY_POLL = 0.1  # seconds between two sums of a run's resident memory
_PAGE = os.sysconf("SC_PAGE_SIZE")
_CHUNK = 1 << 16
_STATUS_LIMIT = 1 << 16


@dataclass
class Watched:
    """What one run produced, before interpretation."""

    stdout: bytes
    stderr: bytes
    status: str  # the supervisor's status lines
    truncated: bool  # stdout or stderr went past the limit
    stopped: bool  # we asked the supervisor to kill the program (wall clock or idle)
    returncode: int | None  # the supervisor's own exit code
    idle: bool = False  # it was stopped because stdout went silent for ``idle`` seconds
    over_memory: int = 0  # bytes its processes held together when it was stopped for it
    halted: bool = False  # stopped because ``on_stdout`` asked for it


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux < 5.3, or not Linux
        return None


def watch(
    proc: subprocess.Popen,
    status_fd: int,
    *,
    limit: int,
    deadline: float,
    idle: float | None = None,
    first_idle: float | None = None,
    memory: int | None = None,
    on_stdout: Callable[[bytes], bool] | None = None,
) -> Watched:
    """Drain ``proc``'s pipes until they close and it exits, enforcing ``deadline`` and,
    when given, at most ``idle`` seconds of silence on stdout."""
    assert proc.stdout is not None and proc.stderr is not None
    buffers = {
        proc.stdout.fileno(): bytearray(),
        proc.stderr.fileno(): bytearray(),
        status_fd: bytearray(),
    }
    caps = {proc.stdout.fileno(): limit, proc.stderr.fileno(): limit, status_fd: _STATUS_LIMIT}
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        selector.register(pidfd, selectors.EVENT_READ)
    open_pipes, exited, stopped, truncated, went_idle = len(buffers), False, False, False, False
    heard, silence = time.monotonic(), first_idle if first_idle is not None else idle
    polled, over_memory, halted = time.monotonic(), 0, False
    try:
        while open_pipes or not exited:
            now = time.monotonic()
            if memory is not None and not stopped and now - polled >= MEMORY_POLL:
                polled = now
                held = resident_below(proc.pid)
                if held > memory:
                    over_memory, deadline = held, now
            if silence is not None and not stopped and now - heard >= silence:
                went_idle, deadline = True, now
            if now >= deadline:
                if stopped:  # the supervisor did not answer: last resort
                    _killpg(proc.pid)
                    break
                proc.send_signal(signal.SIGTERM)
                stopped, deadline = True, now + KILL_GRACE
            wake = deadline if silence is None or stopped else min(deadline, heard + silence)
            if memory is not None and not stopped:
                wake = min(wake, polled + MEMORY_POLL)
            timeout = max(0.0, wake - now)
            timeout = timeout if pidfd is not None else min(timeout, 0.05)
            for key, _ in selector.select(timeout):
                if key.fd == pidfd:
                    exited = True
                    selector.unregister(pidfd)
                    continue
                try:
                    chunk = os.read(key.fd, _CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fd)
                    open_pipes -= 1
                    continue
                if key.fd == proc.stdout.fileno():
                    heard, silence = time.monotonic(), idle
                    if on_stdout is not None and not stopped and on_stdout(chunk):
                        halted, deadline = True, time.monotonic()
                buffer = buffers[key.fd]
                room = caps[key.fd] - len(buffer)
                if len(chunk) > room:
                    truncated = truncated or key.fd != status_fd
                    chunk = chunk[: max(room, 0)]
                buffer += chunk
            if pidfd is None and not exited:
                exited = proc.poll() is not None
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)
    proc.wait()
    return Watched(
        stdout=bytes(buffers[proc.stdout.fileno()]),
        stderr=bytes(buffers[proc.stderr.fileno()]),
        status=buffers[status_fd].decode("utf-8", "replace"),
        truncated=truncated,
        stopped=stopped,
        returncode=proc.returncode,
        idle=went_idle,
        over_memory=over_memory,
        halted=halted,
    )


def resident_below(pid: int) -> int:
    """Bytes resident in every process below ``pid`` (its children, theirs, ...).

    Read from ``/proc/<pid>/task/*/children`` and each process's ``statm``; pages shared
    after a fork count once per process (an overcount, never an undercount). 0 where
    /proc does not say.
    """
    total, todo, seen = 0, [pid], {pid}
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                if child in seen:
                    continue
                seen.add(child)
                todo.append(child)
                try:
                    with open(f"/proc/{child}/statm") as f:
                        total += int(f.read().split()[1]) * _PAGE
                except (OSError, ValueError, IndexError):
                    pass
    return total


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
