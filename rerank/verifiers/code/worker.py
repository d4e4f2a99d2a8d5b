"""The program that runs one candidate in the sandbox and reports the values it returned.

This file is not imported by the verifier: it is sent to the sandbox as the program to
run, with :mod:`code_values` beside it as a file, and a JSON spec on stdin. It uses only
the standard library and imports nothing of rerank, so it runs under any interpreter.

It is the candidate's own process, so nothing in it is trusted: it is never told what a
test expects (no expected values, no reference solution, no oracle), and it decides
nothing. It loads the program, then runs each step's operations and writes what they
gave, as tagged plain data (:func:`code_values.encode`), one JSON object per line on a
copy of the original stdout (the candidate's own stdout goes to /dev/null):

- ``{"load": "ok", "fallback": bool}`` or ``{"load": "error", "d": detail}``
- ``{"k": i, "r": [op results], "t": seconds}`` for step ``i``; an op result is
  ``{"v": value, "lvl": level, "out": printed}`` for an evaluation and ``{"out": printed}``
  for a statement; a step that raised adds ``"raise": name, "d": detail, "at": op``, one
  that ran out of time ``"timeout": true, "at": op``
- ``{"done": true}`` at the end.

A candidate can find that copy and write lines of its own. That gains it nothing it
could not get by returning the values itself: what a value must be to pass a check is
decided by rerank (or by the checker, ``checker.py``), in a process the candidate
cannot reach. Each step runs under a timer (``signal.setitimer``); a candidate that
swallows the timer is killed from outside when its step's line is late (the runner's
idle limit), and the rest resume in a new process.
"""

# No ``from __future__ import annotations`` here: exec() and compile() pass this file's
# future flags on to the candidate, whose annotations must be evaluated as Python would.
import contextlib
import io
import json
import os
import signal
import sys
import time
import types

import code_values

_OUT_WIDTH = 4000


class _Timeout(BaseException):
    """Raised by the timer; a BaseException so that ``except Exception`` does not catch it."""


_armed = False


def _on_alarm(signum, frame):
    # A signal that arrives as the limit is lifted runs this handler a few bytecodes
    # later, outside any step: it must not raise there.
    if _armed:
        raise _Timeout()


@contextlib.contextmanager
def _time_limit(seconds):
    global _armed
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)
    try:
        yield
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def _error(exc):
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    try:
        message = str(exc)
    except BaseException:
        message = ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def _clip_out(text):
    return text if len(text) <= _OUT_WIDTH else text[:_OUT_WIDTH] + "…"


class Worker:
    def __init__(self, spec, channel):
        self.spec = spec
        self.channel = channel
        self.timeout = float(spec.get("timeout", 3.0))
        self.max_bytes = int(spec.get("max_value_bytes", 100_000))
        # Past this many bytes sent, values go as digests (the parent keeps a bounded
        # amount of output per run).
        self.run_left = int(spec.get("max_run_bytes", 1 << 62))
        self.globals = {}

    def emit(self, record):
        line = json.dumps(record, separators=(",", ":")) + "\n"
        self.run_left -= len(line)
        self.channel.write(line)
        self.channel.flush()

    def load(self):
        first_error = None
        programs = [self.spec["program"]]
        if self.spec.get("fallback"):
            programs.append(self.spec["fallback"])
        for number, program in enumerate(programs):
            module = types.ModuleType("candidate")
            module.__dict__["__builtins__"] = __builtins__
            sys.modules["candidate"] = module
            try:
                with _time_limit(float(self.spec.get("load_timeout", 5.0))):
                    exec(compile(program, "<candidate>", "exec"), module.__dict__)
            except _Timeout:
                first_error = first_error or "loading the program timed out"
                continue
            except BaseException as exc:
                first_error = first_error or f"loading the program raised {_error(exc)}"
                continue
            self.globals = module.__dict__
            self.emit({"load": "ok", "fallback": number > 0})
            return True
        self.emit({"load": "error", "d": first_error})
        return False

    def run(self):
        if not self.load():
            return
        steps = self.spec.get("steps", [])
        budgets = self.spec.get("group_budget") or {}
        started = {}
        for k in range(int(self.spec.get("start", 0)), len(steps)):
            step = steps[k]
            seconds = float(step.get("timeout", self.timeout))
            group = step.get("group")
            if group in budgets:  # evalplus gives all inputs of a group one time budget
                began = started.setdefault(group, time.monotonic())
                left = budgets[group] - (time.monotonic() - began)
                if left <= 0:
                    self.emit({"k": k, "r": [], "timeout": True, "at": 0, "group": True})
                    continue
                seconds = min(seconds, left)
            self.emit({"k": k, **self.step(step, seconds)})

    def step(self, step, seconds):
        namespace = dict(self.globals)
        results = []
        start = time.perf_counter()
        try:
            with _time_limit(seconds):
                for op in step["ops"]:
                    results.append(self.op(op, namespace))
        except _Timeout:
            return {"r": results, "timeout": True, "at": len(results)}
        except BaseException as exc:
            detail = _error(exc)
            return {"r": results, "raise": type(exc).__name__, "d": detail, "at": len(results)}
        return {"r": results, "t": time.perf_counter() - start}

    def op(self, op, namespace):
        buffer = io.StringIO()
        if "exec" in op:
            with contextlib.redirect_stdout(buffer):
                exec(compile(op["exec"], "<test>", "exec"), namespace)
            return {"out": _clip_out(buffer.getvalue())}
        if "call" in op:
            args = code_values.decode(op["call"])
            function = namespace[self.spec["entry_point"]]
            with contextlib.redirect_stdout(buffer):
                value = function(*args)
            return {"v": self.encode(value), "lvl": 0, "out": _clip_out(buffer.getvalue())}
        chain = op["eval"]
        for level, source in enumerate(chain):
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                value = eval(compile(source, "<test>", "eval"), namespace)
            encoded = self.encode(value)
            if not (isinstance(encoded, dict) and "o" in encoded) or level == len(chain) - 1:
                return {"v": encoded, "lvl": level, "out": _clip_out(buffer.getvalue())}
        raise AssertionError("unreachable")

    def encode(self, value):
        try:
            return code_values.encode(value, min(self.max_bytes, max(1000, self.run_left)))
        except _Timeout:
            raise
        except BaseException as exc:
            return {"o": "unreadable", "r": f"<unreadable: {type(exc).__name__}>"}


def main():
    """Read the spec, hide the real stdout from the candidate, run, report."""
    spec = json.loads(sys.stdin.buffer.read())
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = sys.stdout
    signal.signal(signal.SIGALRM, _on_alarm)
    worker = Worker(spec, channel)
    del spec
    worker.run()
    worker.emit({"done": True})
    channel.close()
    os._exit(0)  # skip interpreter teardown: a candidate's atexit or __del__ cannot hang it


if __name__ == "__main__":
    main()
