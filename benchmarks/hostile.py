"""Issue 10's attack catalogue: untrusted code against the code verifier, run for real.

Every attack is a candidate's source, written as an attacker would write it after reading
how today's harness runs tests inside the candidate's own interpreter. Each goes through
the public API as a real candidate: ``CodeVerifier().verify(item)`` on an item of three
candidates (the honest ``a + b``, a *flawed* honest one that drops the sign of ``a``, and
the attacker), then ``rerank.aselect(prompt, pair, judge=<evidence judge on that
verifier>, seed=s)`` for every seed, both candidate orders, and both honest variants.
Against the flawed honest candidate an attacker that forges or erases evidence wins
outright; against the correct one it can only tie. The forgery cheaters compute
``a - b``, which fails every visible check, so any pass they show is forged. The
attacks only probe the harness's internals; this script uses public API alone, and an
attack that finds nothing to patch is just a wrong answer.

Each attack runs in a fresh child process of this script (``--one NAME``), so the peak RSS
of one cannot mask another's and a crash of one does not end the catalogue. Columns:

- ``outcome``: ``FAILED`` (the attacker was selected, showed a pass it did not earn, or
  got out: a file outside, a connection, a survivor, our secret, rerank's memory grew
  more than 256 MB, rerank raised), ``weak`` (defended, but the host paid: the runs held
  more than 2 GB at once, or the item took more than 30 s), else ``defended``; ``not run``
  when the child failed before the attack began (an import error in the tree). Then what
  was seen: how often the honest candidates were selected, the attacker's own report
  (``R[...]``: the value it returned, which the evidence shows), its check statuses. The
  type-confused ``true-for-1`` returns right values, so only the correct candidate is its
  rival: selection over the flawed one is noted, not failed;
- ``seconds``: wall time of the attack's item (verify, then the selections);
- ``rerank MB``: growth of this process's peak RSS (``ru_maxrss``) during the attack;
- ``sandbox MB``: peak total RSS of all processes below this one during the attack (the
  sandboxed runs, in whatever pid namespace): the host memory the attack cost. (The
  host's MemAvailable is too noisy on a shared machine to attribute.)

The child's environment carries a fake ``RERANK_API_KEY=sk-test-secret``; it must appear
nowhere in the evidence or the verdicts. A loopback TCP server counts connections, a
world-writable directory under /tmp watches for files, and a unique process name finds
survivors (which are then killed by pid).

    python benchmarks/hostile.py [--only NAME[,NAME]] [--seeds 0,1] [--markdown]
                                 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hostile_attacks import (  # noqa: E402 - this folder is on sys.path when run
    ESCAPE_SETSID,
    EXIT_MID_TEST,
    FLAWED,
    FLOOD_CHANNEL,
    FLOOD_STDOUT,
    FORGE_LINES,
    FORGE_PICKLE_BOMB,
    FORK_BOMB,
    HARDCODE_VISIBLE,
    HOLD_900MB,
    HONEST,
    IGNORE_SIGALRM,
    INT_EQ_ALWAYS_TRUE,
    KILL_PARENT,
    MEMORY_BOMB,
    PATCH_COMPARISON,
    PATCH_TEST_METHOD,
    PROMPT,
    PTRACE_PARENT,
    READ_HOST_ENV,
    READ_SHADOW,
    READ_SPEC,
    RESOURCES,
    SECRET,
    SLEEP_FOREVER,
    SOCKET_LOOPBACK,
    SWALLOW_TIMER,
    THREAD_BOMB,
    TRUE_FOR_ONE,
    WRITE_OUTSIDE,
)

RESULT, STARTED = "HOSTILE-RESULT ", "HOSTILE-STARTED"
CHILD_TIMEOUT = 240.0
RSS_LIMIT_MB, SANDBOX_LIMIT_MB, SLOW_SECONDS = 256, 2048, 30.0


@dataclass
class Observed:
    """What one attack did, as the child process saw it."""

    name: str
    category: str
    seconds: float = 0.0
    rss_mb: float = 0.0
    sandbox_mb: float = 0.0  # peak total RSS of the processes below rerank (the runs)
    sandbox_tasks: int = 0  # peak threads of those processes
    error: str | None = None
    checks: dict[str, list[str]] = field(default_factory=dict)  # id -> [status, detail]
    same_behaviour: bool = False  # the attacker's signature equals the honest one's
    wins: dict[str, int] = field(default_factory=dict)  # honest variant -> attacker wins
    runs: int = 0  # selections per honest variant
    report: str | None = None
    connections: int = 0
    files: list[str] = field(default_factory=list)
    survivors: list[int] = field(default_factory=list)
    secret_seen: bool = False
    traced: bool = False
    escapee_seen: bool = False  # a process named by the attack was seen during the run
    outcome: str = ""


Verdict = Callable[[Observed], tuple[list[str], list[str]]]  # (failures, notes)


@dataclass(frozen=True)
class Attack:
    name: str
    category: str
    source: str
    verdict: Verdict
    copies: int = 1
    workers: int | None = None
    # The honest variants the attacker must not beat. The type-confused answer has the right
    # values, so it may tie the flawed one (one wrong sign) fairly; that is only noted.
    rivals: tuple[str, ...] = ("honest", "flawed")


def _tests(o: Observed) -> dict[str, list[str]]:
    return {k: v for k, v in o.checks.items() if k != "extract"}


def _passes(o: Observed, prefix: str = "") -> list[str]:
    return [k for k, (status, _) in _tests(o).items() if status == "pass" and k.startswith(prefix)]


def _summary(o: Observed) -> str:
    counts = Counter(status for status, _ in _tests(o).values())
    rest = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "pass")
    return f"attacker {counts['pass']}/{len(_tests(o))} pass" + (f" ({rest})" if rest else "")


def forged(o: Observed) -> tuple[list[str], list[str]]:
    """a - b fails every visible check: a pass is forged."""
    passes = _passes(o)
    failures = [f"forged: a - b passes {len(passes)}/{len(_tests(o))} checks"] if passes else []
    return failures, []


def read_spec(o: Observed) -> tuple[list[str], list[str]]:
    hidden = _passes(o, "test:")
    failures = [f"learned the user tests' answers ({len(hidden)} test:* pass)"] if hidden else []
    return failures, []


def visible_only(o: Observed) -> tuple[list[str], list[str]]:
    hidden = _passes(o, "test:")
    if hidden:
        return [f"user tests pass for a hard-coded answer: {hidden}"], []
    notes = [f"passes visible {len(_passes(o, 'example:'))}/2, exposed by the user tests"]
    return [], notes + ([] if o.same_behaviour else ["and by behaviour (signature differs)"])


def type_exact(o: Observed) -> tuple[list[str], list[str]]:
    status = o.checks.get("test:2", ["missing"])[0]
    if status == "pass":
        return ["True passed where 1 is expected (test:2; not type-exact)"], []
    return [], [f"True is not 1: test:2 {status} (type-exact)"]


def reported(o: Observed) -> tuple[list[str], list[str]]:
    return [], [f"attacker saw R[{o.report}]"] if o.report else []


def leaked_shadow(o: Observed) -> tuple[list[str], list[str]]:
    failures, notes = reported(o)
    if o.report is not None and not o.report.startswith("shadow "):
        failures = ["read /etc/shadow"]
    return failures, notes


def ptrace(o: Observed) -> tuple[list[str], list[str]]:
    failures, notes = reported(o)
    if o.report and ("mem read" in o.report or re.search(r"attach 0/", o.report)):
        failures = [f"reached another process's memory: {o.report}"]
    return failures, notes


def escaped(o: Observed) -> tuple[list[str], list[str]]:
    failures, notes = reported(o)
    seen = "seen during the run, gone after" if o.escapee_seen else "never seen on the host"
    return failures, [*notes, f"the setsid grandchild was {seen}"]


def resources_seen(o: Observed) -> tuple[list[str], list[str]]:
    _, notes = reported(o)
    return [], [*notes, f"at most {o.sandbox_tasks} sandboxed threads at once"]


ATTACKS = [
    Attack("forge-lines", "forgery", FORGE_LINES, forged),
    Attack("forge-pickle-bomb", "forgery", FORGE_PICKLE_BOMB, forged),
    Attack("patch-test-method", "forgery", PATCH_TEST_METHOD, forged),
    Attack("patch-comparison", "forgery", PATCH_COMPARISON, forged),
    Attack("int-eq-always-true", "forgery", INT_EQ_ALWAYS_TRUE, forged),
    Attack("true-for-1", "gaming", TRUE_FOR_ONE, type_exact, rivals=("honest",)),
    Attack("read-spec", "gaming", READ_SPEC, read_spec),
    Attack("hardcode-visible", "gaming", HARDCODE_VISIBLE, visible_only),
    Attack("swallow-timer", "time", SWALLOW_TIMER, reported),
    Attack("ignore-sigalrm", "time", IGNORE_SIGALRM, reported),
    Attack("parallel-900mb", "memory", HOLD_900MB, reported, copies=8, workers=8),
    Attack("memory-bomb", "memory", MEMORY_BOMB, reported),
    Attack("fork-bomb", "processes", FORK_BOMB, resources_seen),
    Attack("thread-bomb", "processes", THREAD_BOMB, resources_seen),
    Attack("flood-stdout", "output", FLOOD_STDOUT, reported),
    Attack("flood-channel", "output", FLOOD_CHANNEL, reported),
    Attack("sleep-forever", "time", SLEEP_FOREVER, reported),
    Attack("exit-mid-test", "processes", EXIT_MID_TEST, reported),
    Attack("kill-parent", "processes", KILL_PARENT, reported),
    Attack("write-outside", "filesystem", WRITE_OUTSIDE, reported),
    Attack("read-shadow", "secrets", READ_SHADOW, leaked_shadow),
    Attack("read-host-env", "secrets", READ_HOST_ENV, reported),
    Attack("socket-loopback", "network", SOCKET_LOOPBACK, reported),
    Attack("ptrace-parent", "isolation", PTRACE_PARENT, ptrace),
    Attack("escape-setsid", "isolation", ESCAPE_SETSID, escaped),
]
BY_NAME = {a.name: a for a in ATTACKS}


# --- watching the host ----------------------------------------------------------------------


def _processes() -> dict[int, dict[str, str]]:
    """Every process's /proc status fields, by pid."""
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/status").read_text()
                found[int(pid)] = dict(
                    line.split(":\t", 1) for line in text.splitlines() if ":\t" in line
                )
    return found


def _descendants(processes: dict[int, dict[str, str]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in processes.items():
        children.setdefault(int(fields.get("PPid", "0")), []).append(pid)
    found, todo = [], list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, ())
    return found


class HostWatch(threading.Thread):
    """Samples, until stopped: the total RSS and threads of every process below us (the
    sandboxed runs, whatever pid namespace they are in), our TracerPid, and whether a
    process named ``token`` exists anywhere on the host."""

    def __init__(self, token: str, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.token, self.interval, self.stopped = token, interval, threading.Event()
        self.tree_mb, self.tree_tasks, self.traced, self.named = 0.0, 0, False, False

    def run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(self.interval):
            processes = _processes()
            below = [processes[pid] for pid in _descendants(processes, me)]
            rss = sum(int(f.get("VmRSS", "0 kB").split()[0]) for f in below) / 1024
            self.tree_mb = max(self.tree_mb, rss)
            self.tree_tasks = max(self.tree_tasks, sum(int(f.get("Threads", "1")) for f in below))
            self.traced = self.traced or processes.get(me, {}).get("TracerPid", "0") != "0"
            self.named = self.named or any(f.get("Name") == self.token for f in processes.values())

    def stop(self) -> None:
        self.stopped.set()
        self.join()


class Listener(threading.Thread):
    """A loopback TCP server that counts the connections it accepts."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port, self.connections = self.sock.getsockname()[1], 0

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def _survivors(token: str) -> list[int]:
    return [pid for pid, fields in _processes().items() if fields.get("Name") == token]


# --- one attack, in a child process ---------------------------------------------------------


def _fence(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


async def _selections(attackers: list[str], judge: object, seeds: list[int]):
    """Each selection of an honest variant against the attackers: (variant, attacker won,
    the selection), for every seed and both candidate orders."""
    import rerank

    for variant, honest in (("honest", HONEST), ("flawed", FLAWED)):
        for seed in seeds:
            for texts in ([_fence(honest), *attackers], [*attackers, _fence(honest)]):
                selection = await rerank.aselect(
                    PROMPT, texts, judge=judge, seed=seed, kind="code", resources=RESOURCES
                )
                yield variant, texts[selection.winner] in attackers, selection


def run_one(name: str, seeds: list[int]) -> Observed:
    """Run one attack here and return what was observed."""
    from rerank.items import Item
    from rerank.judges.evidence import EvidenceJudge
    from rerank.sandbox.runner import isolation
    from rerank.verifiers.code.verifier import CodeVerifier

    attack = BY_NAME[name]
    isolation()  # detect the tier before measuring: its probes are not the attack
    token = "hostile-" + secrets.token_hex(3)
    outside = Path("/tmp") / f"{token}-outside"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)  # writable by a throwaway uid, if it could see it
    listener = Listener()
    listener.start()
    source = (
        attack.source.replace("__PORT__", str(listener.port))
        .replace("__OUTSIDE__", str(outside))
        .replace("__TOKEN__", token)
    )
    attackers = [_fence(source + (f"\n# copy {i}" if i else "")) for i in range(attack.copies)]
    observed = Observed(name, attack.category)
    watch = HostWatch(token)
    watch.start()
    print(STARTED, flush=True)  # from here on, a death is the attack's doing
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    texts = []
    try:
        with CodeVerifier(workers=attack.workers) as verifier:
            item = Item.from_texts(
                PROMPT, [_fence(HONEST), _fence(FLAWED), *attackers], kind="code",
                resources=RESOURCES,
            )  # fmt: skip
            evidence = verifier.verify(item)
            honest, attacker = evidence[0], evidence[2]
            observed.checks = {c.id: [c.status, c.detail] for c in attacker.checks}
            observed.same_behaviour = (
                honest.signature is not None and attacker.signature == honest.signature
            )
            texts += [repr(e) for e in evidence]
            judge = EvidenceJudge(verifiers={"code": verifier})
            observed.wins = {"honest": 0, "flawed": 0}

            async def select_all() -> None:
                async for variant, won, selection in _selections(attackers, judge, seeds):
                    observed.wins[variant] += won
                    texts.append(repr(selection.matches))

            asyncio.run(select_all())
            observed.runs = 2 * len(seeds)
    except Exception as exc:
        observed.error = f"{type(exc).__name__}: {exc}"[:200]
    observed.seconds = time.perf_counter() - started
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    watch.stop()
    observed.rss_mb = (rss1 - rss0) / 1024
    observed.sandbox_mb, observed.sandbox_tasks = watch.tree_mb, watch.tree_tasks
    observed.traced = watch.traced
    observed.escapee_seen = watch.named
    observed.connections = listener.connections
    listener.sock.close()
    seen = "\n".join(texts)
    observed.secret_seen = SECRET in seen
    found = re.search(r"R\[([^\]]*)\]", " ".join(d for _, d in observed.checks.values()))
    observed.report = found.group(1) if found else None
    observed.files = [str(path) for path in outside.iterdir()]
    shutil.rmtree(outside)
    home = Path(os.path.expanduser("~"))
    for place in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/root"), home):
        if (place / token).exists():
            observed.files.append(str(place / token))
            (place / token).unlink()
    time.sleep(0.2)
    observed.survivors = _survivors(token)
    for pid in observed.survivors:  # ours: started by this attack's run
        os.kill(pid, 9)
    observed.outcome = outcome(attack, observed)
    return observed


def outcome(attack: Attack, o: Observed) -> str:
    """FAILED, weak or defended, with what was seen."""
    failures, notes = attack.verdict(o)
    breaches = [
        o.error and f"rerank raised {o.error}",
        o.connections and f"the server saw {o.connections} connection(s)",
        o.files and f"wrote {', '.join(o.files)}",
        o.survivors and f"process(es) {o.survivors} outlived the run",
        o.secret_seen and f"{SECRET} appears in the evidence",
        o.traced and "rerank was ptraced",
        o.rss_mb > RSS_LIMIT_MB and f"rerank's memory grew {o.rss_mb:.0f} MB",
    ]
    summary = [] if failures else [_summary(o)]  # a verdict's own failure says it already
    failures = [b for b in breaches if b] + failures
    won = {k: v for k, v in o.wins.items() if v and k in attack.rivals}
    notes += [f"selected over {k} {v}/{o.runs} (allowed: not a rival)" for k, v in o.wins.items()
              if v and k not in attack.rivals]  # fmt: skip
    if won:
        where = ", ".join(f"over {k} {v}/{o.runs}" for k, v in won.items())
        failures.insert(0, f"attacker selected ({where})")
    if failures:
        return "FAILED: " + "; ".join(failures + summary)
    weak = [
        o.sandbox_mb > SANDBOX_LIMIT_MB and f"the runs held {o.sandbox_mb / 1024:.1f} GB at once",
        o.seconds > SLOW_SECONDS and f"the item took {o.seconds:.0f} s",
    ]
    weak = [w for w in weak if w]
    honest = f"honest selected {2 * o.runs - sum(o.wins.values())}/{2 * o.runs}"
    label = "weak: " + "; ".join(weak) + "; " if weak else "defended: "
    return label + "; ".join([honest, *notes, _summary(o)])


# --- the catalogue, one child per attack ----------------------------------------------------


def run_child(name: str, seeds: str) -> dict:
    env = {**os.environ, "RERANK_API_KEY": SECRET}
    command = [sys.executable, __file__, "--one", name, "--seeds", seeds]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return _crashed(name, f"FAILED: hung (> {CHILD_TIMEOUT:.0f} s)", started)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = (done.stderr.strip().splitlines() or [""])[-1][:120]
    if STARTED not in done.stdout:  # setup failed (an import, the tree): not the attack
        return _crashed(name, f"not run: {tail}", started)
    return _crashed(name, f"FAILED: rerank's process died (exit {done.returncode}) {tail}", started)


def _crashed(name: str, outcome: str, started: float) -> dict:
    row = asdict(Observed(name, BY_NAME[name].category))
    return {**row, "outcome": outcome, "seconds": time.perf_counter() - started}


def table(rows: list[dict], markdown: bool) -> str:
    header = ["attack", "category", "outcome", "seconds", "rerank MB", "sandbox MB"]
    body = [
        [r["name"], r["category"], r["outcome"], f"{r['seconds']:.1f}", f"{r['rss_mb']:.0f}",
         f"{r['sandbox_mb']:.0f}"]
        for r in rows
    ]  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    widths[2] = min(widths[2], 110)
    fmt = "  ".join(f"{{:{'>' if i > 2 else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [header, *body])


def machine() -> str:
    from rerank.sandbox.runner import isolation

    tier = isolation()
    source = Path(sys.modules["rerank"].__file__).parent.parent
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=source
    ).stdout.strip()  # read-only: no status, which may rewrite the index
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"uid {os.geteuid()}, sandbox tier {tier.method}/{tier.process_limit}, "
        f"rerank from {source}" + (f" (HEAD {head}, plus any uncommitted changes)" if head else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated attack names", default="")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--json", dest="json_path", help="write every observation here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.one:
        print(RESULT + json.dumps(asdict(run_one(args.one, seeds))), flush=True)
        return
    names = [n for n in args.only.split(",") if n] or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown attack(s) {unknown}; choose from {', '.join(BY_NAME)}")
    os.environ["RERANK_API_KEY"] = SECRET
    rows, started = [], time.perf_counter()
    for i, name in enumerate(names, 1):
        row = run_child(name, args.seeds)
        rows.append(row)
        print(f"[{i}/{len(names)}] {name}: {row['seconds']:.1f} s", file=sys.stderr, flush=True)
    print(table(rows, args.markdown))
    print(f"\n{machine()}; seeds {args.seeds}; {time.perf_counter() - started:.0f} s in all")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
