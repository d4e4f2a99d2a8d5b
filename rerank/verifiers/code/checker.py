"""The program that finishes checks the parent cannot finish alone, with no candidate in it.

Sent to the sandbox like ``worker.py`` (with ``values.py`` beside it as ``code_values``), but it
never loads a candidate's program: it evaluates the rest of a test expression (say
``math.isclose(_v0, 12.57, rel_tol=0.01)`` or ``set(_v0) == {1, 2}``) over values that
candidates returned, decoded into exact builtin types. So the comparison runs in a
process no candidate has touched, with the real ``math`` and the real builtins.

Spec on stdin: ``{"checks": [{"expr": source, "values": {name: tagged value},
"modules": [names]}], "timeout": seconds}``. One line per check on stdout:
``{"k": i, "v": tagged value, "out": printed}`` or ``{"k": i, "raise": name, "d": detail}``
or ``{"k": i, "timeout": true}``, then ``{"done": true}``.
"""

import contextlib
import importlib
import io
import json
import signal
import sys

import code_values


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _namespace(check):
    namespace = {name: code_values.decode(value) for name, value in check["values"].items()}
    for name in check.get("modules", ()):
        if name in sys.stdlib_module_names and name not in namespace:
            with contextlib.suppress(ImportError):
                namespace[name] = importlib.import_module(name)
    return namespace


def check(spec, k, item):
    buffer = io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, float(spec.get("timeout", 3.0)))
    try:
        namespace = _namespace(item)
        with contextlib.redirect_stdout(buffer):
            value = eval(compile(item["expr"], "<check>", "eval"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
        return {"k": k, "v": code_values.encode(value), "out": buffer.getvalue()[:4000]}
    except _Timeout:
        return {"k": k, "timeout": True}
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        message = str(exc)
        detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return {"k": k, "raise": type(exc).__name__, "d": detail[:160]}


def main():
    spec = json.loads(sys.stdin.buffer.read())
    signal.signal(signal.SIGALRM, _on_alarm)
    for k, item in enumerate(spec["checks"]):
        sys.stdout.write(json.dumps(check(spec, k, item), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    sys.stdout.write('{"done": true}\n')


if __name__ == "__main__":
    main()
