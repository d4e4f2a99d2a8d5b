"""The script that runs one candidate's tests inside the sandbox, all in one process.

This file is not imported by the verifier: its source is sent to the sandbox as the
program to run (``python -I``, empty directory), with a spec on stdin (base64 of a pickle
of plain data: the program, the tests, the probes, the time limits). It uses only the
standard library and imports nothing of rerank, so it runs under any interpreter.

Protocol: it reads the whole spec first (so the candidate cannot read it), moves the
candidate's stdout to /dev/null, and writes its own results, one JSON object per line
prefixed by the spec's nonce, to a private copy of the original stdout:

- ``{"load": "ok", "fallback": bool}`` or ``{"load": "error", "d": detail}``
- ``{"k": i, "s": status, "d": detail}`` for test ``i`` (pass, fail, error, timeout, skip)
- ``{"k": i, "v": base64 pickle, "t": seconds}`` for a ``record`` test (expected outputs),
  or ``{"k": i, "big": bytes, "t": seconds}`` when the output is too big to ship (a
  ``call`` test then has ``recompute`` and the harness runs the spec's ``reference``)
- ``{"k": i, "h": digest}`` for probe ``i`` (numbered after the tests)
- ``{"done": true}`` at the end.

Each test runs under its own timer (``signal.setitimer``), so a slow test costs only
itself; a line is flushed as soon as a test ends, so when the process dies the parent
knows which test killed it (the first one without a line) and can resume after it.
"""

# No ``from __future__ import annotations`` here: exec() and compile() pass this file's
# future flags on to the candidate, whose annotations must be evaluated as Python would
# (a missing ``from typing import List`` is a NameError, as under evalplus).
import ast
import base64
import contextlib
import copy
import hashlib
import io
import json
import math
import os
import pickle
import re
import signal
import sys
import time
import types

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _Timeout(BaseException):
    """Raised by the timer; a BaseException so that ``except Exception`` in a candidate
    does not swallow it (a bare ``except:`` can, so the timer re-fires)."""


_armed = False


def _on_alarm(signum: int, frame: object) -> None:
    # A signal that arrives as the limit is lifted runs this handler a few bytecodes
    # later, outside any test: it must not raise there.
    if _armed:
        raise _Timeout()


@contextlib.contextmanager
def _time_limit(seconds: float):
    global _armed
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)
    try:
        yield
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def _clip(text: str, width: int = 80) -> str:
    text = _ADDRESS.sub("", text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: object, width: int = 80) -> str:
    """repr(value), clipped; a candidate's ``__repr__`` may raise."""
    try:
        return _clip(repr(value), width)
    except Exception as exc:
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def _error(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


# --- comparing values ---------------------------------------------------------------------


def _is_floats(x: object) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, list | tuple) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _close(out: object, exp: object, atol: float, rtol: float = 1e-07) -> bool:
    """numpy's ``allclose`` for what evalplus compares with it: numbers and sequences."""
    if isinstance(exp, list | tuple):
        return (
            isinstance(out, list | tuple)
            and len(out) == len(exp)
            and all(_close(o, e, atol, rtol) for o, e in zip(out, exp, strict=True))
        )
    numbers = (int, float)
    if not isinstance(out, numbers) or not isinstance(exp, numbers):
        return False
    if math.isinf(exp) or math.isinf(out):
        return out == exp
    return abs(out - exp) <= atol + rtol * abs(exp)


def same_output(out: object, exp: object, atol: float = 0.0) -> bool:
    """evalplus's rule: equal, or for floats (atol at least 1e-6) of one type, close."""
    try:
        if bool(out == exp):
            return True
    except Exception:
        return False
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if atol == 0 or type(out) is not type(exp):
        return False
    return _close(out, exp, atol)


def text_matches(got: str, want: str) -> bool:
    """doctest's comparison, forgiving about whitespace, with ``...`` as a wildcard."""
    got, want = " ".join(got.split()), " ".join(want.split())
    if got == want:
        return True
    if "..." not in want:
        return False
    pattern = ".*".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got, re.S) is not None


# --- behaviour signatures -----------------------------------------------------------------


def canonical(value: object, depth: int = 0) -> str:
    """A text that is equal for outputs a person would call equal, stable across processes.

    Sets and dicts are sorted (their order depends on hash seeds), floats rounded to nine
    significant digits (two correct programs may differ in the last bit), addresses
    dropped from reprs.
    """
    if depth > 30:
        return "…"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return "nan" if value != value else format(value, ".9g")
    if isinstance(value, int):
        try:
            return repr(value)
        except ValueError:  # more digits than int->str allows
            return f"int:{value.bit_length()}:{value % 1000000007}"
    if isinstance(value, str | bytes | complex):
        return repr(value)
    if isinstance(value, list | tuple):
        inner = ",".join(canonical(v, depth + 1) for v in value)
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, set | frozenset):
        return "set{" + ",".join(sorted(canonical(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(
            f"{canonical(k, depth + 1)}:{canonical(v, depth + 1)}" for k, v in value.items()
        )
        return "dict{" + ",".join(items) + "}"
    return f"{type(value).__qualname__}:{_ADDRESS.sub('', repr(value))}"


# --- running ------------------------------------------------------------------------------


class _Harness:
    def __init__(self, spec: dict, channel: io.TextIOBase) -> None:
        self.spec = spec
        self.channel = channel
        self.nonce = spec["nonce"]
        self.timeout = float(spec.get("timeout", 3.0))
        self.globals: dict = {}
        # Results of calls made by tests, by normalised source: a probe that repeats a
        # test's call reuses its result instead of running (and maybe timing out) again.
        self.memo: dict[str, str] = dict(spec.get("memo") or {})
        self.reference_globals: dict | None = None
        oracle_source = spec.get("oracle_source")
        self.oracle = None
        if oracle_source:
            namespace: dict = {}
            exec(oracle_source, namespace)
            self.oracle = namespace["oracle"]

    def emit(self, record: dict) -> None:
        self.channel.write(f"{self.nonce} {json.dumps(record)}\n")
        self.channel.flush()

    def load(self) -> bool:
        first_error = None
        candidates = [self.spec["program"]]
        if self.spec.get("fallback"):
            candidates.append(self.spec["fallback"])
        for number, program in enumerate(candidates):
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

    def run(self) -> None:
        if not self.load():
            return
        tests = self.spec.get("tests", [])
        probes = self.spec.get("probes", [])
        stopped: set = set()
        budgets = self.spec.get("group_budget") or {}
        started: dict = {}
        for k in range(int(self.spec.get("start", 0)), len(tests) + len(probes)):
            if k >= len(tests):
                self.emit({"k": k, "h": self.probe(probes[k - len(tests)])})
                continue
            test = tests[k]
            group = test.get("group")
            if group is not None and group in stopped:
                self.emit({"k": k, "s": "skip", "d": ""})
                continue
            left = None
            if group in budgets:  # evalplus gives all inputs of a group one time budget
                left = budgets[group] - (
                    time.monotonic() - started.setdefault(group, time.monotonic())
                )
            if left is not None and left <= 0:
                record = {"s": "timeout", "d": f"the {group} tests ran out of time"}
            else:
                if left is not None:
                    test = {**test, "timeout": min(float(test.get("timeout", self.timeout)), left)}
                record = self.test(test)
            record["k"] = k
            self.emit(record)
            if record.get("s") not in ("pass", None) and self.spec.get("stop_on_fail"):
                stopped.add(group)

    def test(self, test: dict) -> dict:
        namespace = dict(self.globals)
        seconds = float(test.get("timeout", self.timeout))
        if test.get("recompute"):  # an expected output too big to ship: the reference's
            try:
                test = {**test, "expected": self.reference(test)}
            except BaseException as exc:
                return {"s": "error", "d": f"the reference solution raised {_error(exc)}"}
        stage = "setup"
        try:
            with _time_limit(seconds):
                for statement in test.get("setup", ()):
                    exec(compile(statement, "<example>", "exec"), namespace)
                stage = "test"
                kind = test["kind"]
                if kind == "call":
                    return self.call(test, namespace)
                if kind == "record":
                    return self.record(test, namespace)
                if "want" in test:
                    return self.example(test, namespace)
                return self.statement(test, namespace)
        except _Timeout:
            self.remember(test, "timeout")
            return {"s": "timeout", "d": f"timed out after {seconds:g}s"}
        except AssertionError as exc:
            self.remember(test, "raise:AssertionError")
            detail = f"assertion failed: {_clip(test.get('source', ''))}"
            return {"s": "fail", "d": detail + (f" ({_error(exc)})" if str(exc) else "")}
        except BaseException as exc:
            if stage == "test":
                self.remember(test, "raise:" + type(exc).__name__)
            prefix = "setup raised " if stage == "setup" else ""
            return {"s": "error", "d": prefix + _error(exc)}

    def statement(self, test: dict, namespace: dict) -> dict:
        source = test["source"]
        tree = ast.parse(source)
        node = tree.body[0] if len(tree.body) == 1 else None
        if (
            isinstance(node, ast.Assert)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)
        ):
            left = eval(compile(ast.Expression(node.test.left), "<test>", "eval"), namespace)
            self.remember(test, "=" + canonical(left))
            right = eval(
                compile(ast.Expression(node.test.comparators[0]), "<test>", "eval"), namespace
            )
            if left == right:
                return {"s": "pass", "d": ""}
            call = ast.unparse(node.test.left)
            return {
                "s": "fail",
                "d": f"{_clip(call, 60)} returned {_short(left)}, expected {_short(right)}",
            }
        exec(compile(tree, "<test>", "exec"), namespace)
        return {"s": "pass", "d": ""}

    def example(self, test: dict, namespace: dict) -> dict:
        source, want = test["source"], test["want"]
        tree = ast.parse(source)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
                value = eval(
                    compile(ast.Expression(tree.body[0].value), "<example>", "eval"), namespace
                )
            else:
                exec(compile(tree, "<example>", "exec"), namespace)
                value = None
        printed = buffer.getvalue()
        self.remember(test, "=" + canonical(value))
        if value is None and printed:
            if text_matches(printed, want):
                return {"s": "pass", "d": ""}
            return {
                "s": "fail",
                "d": f"{_clip(source, 60)} printed {_short(printed)}, expected {_clip(want)}",
            }
        try:
            expected = eval(want, dict(namespace))
            if same_output(value, expected):
                return {"s": "pass", "d": ""}
        except Exception:  # output written as text, not as a Python literal
            pass
        if text_matches(repr(value), want) or text_matches(str(value), want):
            return {"s": "pass", "d": ""}
        return {
            "s": "fail",
            "d": f"{_clip(source, 60)} returned {_short(value)}, expected {_clip(want)}",
        }

    def call(self, test: dict, namespace: dict) -> dict:
        function = namespace[self.spec["entry_point"]]
        args = test["args"]
        out = function(*args)
        exp = test["expected"]
        atol = float(test.get("atol", 0.0))
        verdict = None
        if self.oracle is not None:
            verdict = self.oracle(self.spec["entry_point"], args, out, exp, atol)
        if verdict is None:
            verdict = same_output(out, exp, atol)
        if verdict:
            return {"s": "pass", "d": ""}
        shown = ", ".join(_short(a, 40) for a in args)
        return {
            "s": "fail",
            "d": f"{self.spec['entry_point']}({shown}) returned "
            f"{_short(out)}, expected {_short(exp)}",
        }

    def record(self, test: dict, namespace: dict) -> dict:
        function = namespace[self.spec["entry_point"]]
        start = time.perf_counter()
        out = function(*test["args"])
        seconds = time.perf_counter() - start
        if test.get("not_none"):
            out = out is not None
        try:
            data = pickle.dumps(out)
        except Exception as exc:
            return {"big": 0, "why": f"not picklable: {_error(exc)}", "t": seconds}
        if len(data) > int(self.spec.get("max_value_bytes", 100_000)):
            return {"big": len(data), "why": f"{len(data)} bytes", "t": seconds}
        return {"v": base64.b64encode(data).decode(), "t": seconds}

    def reference(self, test: dict) -> object:
        """The reference solution's output for a test (on a copy: candidates may mutate)."""
        if self.reference_globals is None:
            module = types.ModuleType("reference")
            with _time_limit(60.0):
                exec(compile(self.spec["reference"], "<reference>", "exec"), module.__dict__)
            self.reference_globals = module.__dict__
        function = self.reference_globals[self.spec["entry_point"]]
        with _time_limit(60.0):
            out = function(*copy.deepcopy(test["args"]))
        return (out is not None) if test.get("not_none") else out

    def remember(self, test: dict, text: str) -> None:
        key = test.get("memo")
        if key and key not in self.memo:
            self.memo[key] = text

    def probe(self, probe: dict) -> str:
        namespace = dict(self.globals)
        text = self.memo.get(probe.get("source") or "")
        if text is not None:
            return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
        try:
            with _time_limit(self.timeout):
                if probe.get("source") is not None:
                    value = eval(compile(probe["source"], "<probe>", "eval"), namespace)
                else:
                    value = namespace[self.spec["entry_point"]](*probe["args"])
                text = "=" + canonical(value)
        except _Timeout:
            text = "timeout"
        except BaseException as exc:
            text = "raise:" + type(exc).__name__
        return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def main() -> None:
    """Read the spec, hide the real stdout from the candidate, run, report."""
    spec = pickle.loads(base64.b64decode(sys.stdin.buffer.read()))
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = sys.stdout
    signal.signal(signal.SIGALRM, _on_alarm)
    harness = _Harness(spec, channel)
    harness.run()
    harness.emit({"done": True})
    channel.close()
    os._exit(0)  # skip interpreter teardown: a candidate's atexit or __del__ cannot hang it


if __name__ == "__main__":
    main()
