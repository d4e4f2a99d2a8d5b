"""Answer equivalence with math-verify, in worker processes with deadlines kept from outside.

math-verify (sympy underneath) can take forever on an adversarial answer (``9^{9^{9^9}}``),
and its own timeout uses ``signal.alarm``, which works only in the main thread: our judges
call verifiers from worker threads. So math-verify runs in a few persistent child processes
(:mod:`rerank.verifiers.math.worker`) with its timeouts off, and this side keeps the time:

- every step (parsing one answer, comparing two) must finish within ``timeout`` seconds;
  when one does not, its worker is killed and replaced, that step counts as timed out, and
  the call goes on without it;
- a whole call may spend at most ``budget`` seconds waiting on steps (worker start-up not
  counted); past it, whatever is still unknown is reported as timed out.

A call handles all of an item's answers at once (its equivalence classes and the reference
match), and its result is cached by content. Workers start on the first call, not on
import, and stop on :meth:`EquivalencePool.close` or at interpreter exit.

Examples
--------
>>> with EquivalencePool(workers=1) as pool:
...     pool.equivalence(["\\\\frac{1}{2}", "0.5", "3"]).classes
(0, 0, 2)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rerank.memo import LRU

__all__ = ["Equivalence", "EquivalencePool", "default_pool"]

_WORKER = Path(__file__).with_name("worker.py")


@dataclass(frozen=True)
class Equivalence:
    """What math-verify found about an item's answers.

    ``classes[i]`` is the index of the first answer equivalent to answer ``i`` (itself when
    none before it is); ``reference[i]`` whether answer ``i`` matches the reference (None:
    unknown), and ``reference`` is None when no reference was given. ``timed_out`` holds
    the answers a step of which timed out, ``reference_timed_out`` whether the reference's
    own parse did; ``error`` says why math-verify could not run at all (classes are then
    each answer alone, and every match unknown).
    """

    classes: tuple[int, ...]
    reference: tuple[bool | None, ...] | None = None
    timed_out: frozenset[int] = field(default_factory=frozenset)
    reference_timed_out: bool = False
    error: str | None = None

    @classmethod
    def unknown(cls, n: int, reference: bool, *, error: str | None = None) -> Equivalence:
        """Nothing known: each answer its own class, every match unknown."""
        return cls(
            classes=tuple(range(n)),
            reference=(None,) * n if reference else None,
            timed_out=frozenset() if error else frozenset(range(n)),
            reference_timed_out=reference and error is None,
            error=error,
        )


class EquivalencePool:
    """A few math-verify worker processes, shared by threads, with deadlines per step.

    Parameters
    ----------
    workers : worker processes at most (each started when first needed).
    timeout : seconds each step (a parse, a comparison) may take.
    budget : seconds one call may spend waiting on steps (default: four steps' worth).
    startup_timeout : seconds a worker may take to start (importing math-verify).
    cache_size : how many calls' results to keep (least recently used first out).
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        timeout: float = 5.0,
        budget: float | None = None,
        startup_timeout: float = 120.0,
        cache_size: int = 4096,
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.budget = 4 * timeout if budget is None else budget
        self.startup_timeout = startup_timeout
        self.cache_size = cache_size
        self._slots: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(workers):
            self._slots.put(None)
        self._lock = threading.Lock()
        self._cache: LRU[tuple[tuple[str, ...], str | None], Equivalence] = LRU(cache_size)
        self._live: set[_Worker] = set()
        self._generation = 0
        self._unavailable: str | None = None
        self._registered = False

    def __enter__(self) -> EquivalencePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def equivalence(self, answers: Sequence[str], reference: str | None = None) -> Equivalence:
        """Equivalence classes of ``answers`` and, given a ``reference``, their matches to it.

        Parameters
        ----------
        answers : the distinct answers of an item, as math-verify reads them.
        reference : the reference answer, if the item makes one visible.

        Returns
        -------
        Equivalence : the classes, the reference matches, and what timed out or could
            not run (never an exception for an answer math-verify cannot handle).

        Notes
        -----
        One request to one worker: a parse per answer, for each answer a comparison with
        the first member of each class found so far (at most ``k(k-1)/2`` for ``k``
        answers, ``k - 1`` when all agree), and one comparison per answer with the
        reference. A timed-out step adds a worker restart and a re-run without it. Results
        are cached by ``(answers, reference)``.
        """
        answers = tuple(answers)
        return self._cache.get_or_compute(
            (answers, reference), lambda: self._compute(answers, reference)
        )

    def pids(self) -> list[int]:
        """Process ids of the running workers."""
        with self._lock:
            return sorted(w.process.pid for w in self._live if w.process.poll() is None)

    def close(self) -> None:
        """Stop every worker now. The pool stays usable: workers restart when next needed."""
        with self._lock:
            self._generation += 1
            live, self._live = list(self._live), set()
        for worker in live:
            worker.stop()

    # --- one call ------------------------------------------------------------------------

    def _compute(self, answers: tuple[str, ...], reference: str | None) -> Equivalence:
        n, has_reference = len(answers), reference is not None
        if not answers and reference is None:
            return Equivalence(classes=())
        if self._unavailable is not None:
            return Equivalence.unknown(n, has_reference, error=self._unavailable)
        timeouts = _Timeouts()
        left = self.budget
        while True:
            try:
                worker, generation = self._acquire()
            except _Unavailable as exc:
                return Equivalence.unknown(n, has_reference, error=str(exc))
            request = {
                "answers": list(answers),
                "reference": reference,
                "cpu_seconds": left + self.timeout,
                **timeouts.request(),
            }
            started = time.monotonic()
            try:
                outcome = worker.run(request, self.timeout, left)
            except BaseException:
                self._discard(worker)  # never lose a slot
                raise
            left -= time.monotonic() - started
            if isinstance(outcome, dict):
                self._release(worker, generation)
                return timeouts.equivalence(outcome)
            self._discard(worker)
            if generation != self._generation:  # closed under us: no step is to blame
                return Equivalence.unknown(n, has_reference, error="the pool was closed")
            if outcome is None or left <= 0:  # nothing to skip, or no time left for it
                return Equivalence.unknown(n, has_reference)
            timeouts.add(outcome)

    def _acquire(self) -> tuple[_Worker, int]:
        worker = self._slots.get()
        generation = self._generation
        if worker is not None and worker.alive and worker.generation == generation:
            return worker, generation
        if worker is not None:
            self._discard(worker, release_slot=False)
        self._ensure_atexit()
        try:
            worker = _Worker.start(self.startup_timeout, generation)
        except _Unavailable as exc:
            if exc.permanent:
                self._unavailable = str(exc)
            self._slots.put(None)
            raise
        with self._lock:
            self._live.add(worker)
        return worker, generation

    def _release(self, worker: _Worker, generation: int) -> None:
        if generation != self._generation:  # closed while in use
            self._discard(worker)
        else:
            self._slots.put(worker)

    def _discard(self, worker: _Worker, *, release_slot: bool = True) -> None:
        worker.kill()
        with self._lock:
            self._live.discard(worker)
        if release_slot:
            self._slots.put(None)

    def _ensure_atexit(self) -> None:
        if not self._registered:
            self._registered = True
            atexit.register(self.close)


class _Timeouts:
    """The steps of a call that timed out, and the parties (answers, the reference) to avoid.

    A parse that times out quarantines its answer at once. A comparison that times out may
    be either party's fault, so each gets a strike and the pair is skipped; a second strike
    quarantines a party. One pathological answer thus costs about two timeouts, and the
    innocent answer it was compared with keeps its class.
    """

    def __init__(self) -> None:
        self.skip: list[list] = []
        self.strikes: Counter = Counter()

    def add(self, step: list) -> None:
        self.skip.append(step)
        parties = step[1:]
        for party in parties:
            self.strikes[party] += 2 if step[0] == "parse" else 1

    @property
    def quarantined(self) -> list:
        return [party for party, n in self.strikes.items() if n >= 2]

    def request(self) -> dict[str, list]:
        return {"skip": self.skip, "quarantine": self.quarantined}

    def equivalence(self, result: dict[str, Any]) -> Equivalence:
        quarantined = set(self.quarantined)
        timed_out = {p for p in quarantined if p != "reference"}
        if "reference" not in quarantined:
            timed_out |= {step[2] for step in self.skip if step[1] == "reference"}
        matches = result.get("reference")
        return Equivalence(
            classes=tuple(result["classes"]),
            reference=tuple(matches) if matches is not None else None,
            timed_out=frozenset(timed_out),
            reference_timed_out="reference" in quarantined,
        )


# --- one worker process -------------------------------------------------------------------


class _Unavailable(RuntimeError):
    """math-verify cannot run: ``permanent`` when it is not installed, not when slow to start."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _Worker:
    """One child process, and a thread that turns its output lines into messages."""

    def __init__(self, process: subprocess.Popen[str], generation: int) -> None:
        if process.stdin is None or process.stdout is None:
            raise ValueError("the math-verify worker is started with its stdin and stdout piped")
        self.process = process
        self.stdin, self.stdout = process.stdin, process.stdout
        self.generation = generation
        self.messages: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="math-verify-reader").start()

    @classmethod
    def start(cls, startup_timeout: float, generation: int) -> _Worker:
        try:
            process = subprocess.Popen(
                # -P: the worker's folder (which holds a math.py) stays off sys.path.
                [sys.executable, "-P", str(_WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
            )
        except OSError as exc:
            raise _Unavailable(
                f"cannot start the math-verify worker: {exc}", permanent=True
            ) from exc
        worker = cls(process, generation)
        message = worker._next(startup_timeout)
        if not isinstance(message, dict) or not message.get("ready"):
            worker.kill()
            if isinstance(message, dict) and message.get("error"):
                raise _Unavailable(message["error"], permanent=True)
            raise _Unavailable("the math-verify worker did not start in time")
        return worker

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, request: dict[str, Any], timeout: float, budget: float) -> dict | list | None:
        """The result; or the step that overran (or crashed), to skip; or None if unknown."""
        try:
            self.stdin.write(json.dumps(request) + "\n")
            self.stdin.flush()
        except (OSError, ValueError):
            return None
        deadline = time.monotonic() + budget
        step = None
        while True:
            wait = min(timeout, deadline - time.monotonic())
            message = self._next(wait) if wait > 0 else None
            if not isinstance(message, dict):  # timed out, or the worker died
                return step
            if "done" in message:
                return message["done"]
            step = message.get("step")

    def stop(self) -> None:
        """Ask the worker to exit (it does on end of input), and kill it if it will not."""
        try:
            self.stdin.close()
            self.process.wait(timeout=1)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def _next(self, timeout: float) -> dict | None:
        try:
            return self.messages.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def _read(self) -> None:
        try:
            for line in self.stdout:
                try:
                    self.messages.put(json.loads(line))
                except json.JSONDecodeError:
                    continue
        except (OSError, ValueError):
            pass
        self.messages.put(None)  # end of output: the worker exited or was killed


_default: EquivalencePool | None = None
_default_lock = threading.Lock()


def default_pool() -> EquivalencePool:
    """The process-wide pool the math verifier uses unless given one (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = EquivalencePool()
        return _default
