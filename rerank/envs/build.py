"""Building an execution environment: a venv, its requirements relaxed for this Python.

:func:`create_env` makes ``DIR`` a venv and installs a requirement list in five steps,
each printed through ``progress``:

1. **venv** with the chosen interpreter (``python -m venv``);
2. **probe** every requirement once with pip (``--dry-run --only-binary=:all:``), which
   lists the versions that have a wheel for this Python. A pin that has one is kept; one
   that has none moves to the nearest version that has
   (:func:`~rerank.envs.requirements.nearest_version`); a project with no wheel for this
   Python at all is built from its source distribution at the pin, and dropped if that
   build fails;
3. **resolve** the whole set with pip's resolver (``--dry-run``). Where pins contradict
   each other's dependencies, the pin that others constrain moves to the nearest version
   they allow; a dependency with no wheel is built from source like a requirement;
4. **install** the resolved set (wheels only, plus those built here);
5. **record** ``rerank-env.json``: per requirement the line as written, the version
   installed, and why it changed, with the interpreter and ``pip freeze``
   (also in ``pip-freeze.txt``).

The record says ``"status": "building"`` until the end, so an interrupted build resumes
where it was (probes are kept; pip skips what is installed), and a finished one is not
built again unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from rerank.envs.requirements import (
    Pin,
    conflicts,
    missing_distribution,
    nearest_version,
    parse_requirements,
    series,
    wheel_versions,
)
from rerank.errors import EnvError

__all__ = ["FREEZE", "MIN_PYTHON", "RECORD", "EnvError", "Package", "create_env", "read_record"]

RECORD = "rerank-env.json"
FREEZE = "pip-freeze.txt"
REQUIREMENTS = "rerank-requirements.txt"  # the relaxed list pip installed
WHEELS = ".rerank-wheels"  # wheels built here from source distributions
#: The code worker and checker use ``zip(strict=)``, ``X | Y`` isinstance checks and
#: ``sys.stdlib_module_names``: Python 3.10 is the oldest interpreter they run under.
MIN_PYTHON = (3, 10)
_PIP_UNREACHABLE = ("NewConnectionError", "Could not fetch URL", "ConnectTimeout", "ProxyError")
_MAX_ROUNDS = 12
Progress = Callable[[str], None]


@dataclass
class Package:
    """One requirement's fate: ``change`` is kept, relaxed, source or dropped."""

    name: str
    requested: str  # the line as written
    install: str | None  # the line given to pip; None when dropped
    change: str = "kept"
    reason: str = ""
    installed: str | None = None  # the version pip freeze shows afterwards


def read_record(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The environment's ``rerank-env.json``, or None if it has none."""
    path = Path(directory) / RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnvError(f"{path}: unreadable environment record ({exc})") from None


def _write_record(directory: Path, record: dict[str, Any]) -> None:
    path = directory / RECORD
    path.with_suffix(".tmp").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(path.with_suffix(".tmp"), path)


def _pip(python: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _tail(text: str, lines: int = 3) -> str:
    kept = [
        line.strip()
        for line in text.strip().splitlines()
        if line.strip() and not line.startswith("WARNING:")
    ]
    return " / ".join(kept[-lines:])


def _reachable(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    if any(marker in output for marker in _PIP_UNREACHABLE):
        raise EnvError(f"pip could not reach the package index: {_tail(output)}")


def create_env(
    directory: str | os.PathLike[str],
    requirements: str,
    *,
    name: str,
    python: str | None = None,
    force: bool = False,
    progress: Progress = print,
    workers: int = 4,
) -> dict[str, Any]:
    """Build (or finish, or keep) the environment in ``directory``; returns its record.

    ``requirements`` is the text of a requirements file, ``python`` the interpreter of
    the venv (default: this one's base). Raises :class:`EnvError` when the directory is
    not an environment of ours, the interpreter is too old, or pip fails.
    """
    root = Path(directory).expanduser().absolute()
    digest = hashlib.sha256(requirements.encode()).hexdigest()
    record = read_record(root)
    if record is None and root.exists() and any(root.iterdir()):
        raise EnvError(f"{root} exists and is not an environment made by `rerank env create`")
    if record is not None and force:
        progress(f"removing {root} (--force)")
        shutil.rmtree(root)
        record = None
    if record is not None and record.get("requirements_sha256") != digest:
        raise EnvError(f"{root} was built from other requirements: add --force to rebuild it")
    if record is not None and record.get("status") == "complete":
        progress(f"{root} is already built ({record['python']['version']}); --force rebuilds it")
        return record
    started = time.monotonic()
    try:
        pins = parse_requirements(requirements, source=name)
    except ValueError as exc:
        raise EnvError(str(exc)) from None
    env_python = _make_venv(root, python, progress)
    if record is None:
        record = {
            "format": 1,
            "name": name,
            "status": "building",
            "requirements_sha256": digest,
            "python": _describe(env_python),
            "packages": [],
            "seconds": 0.0,
        }
        _write_record(root, record)
    packages = [Package(**p) for p in record["packages"]] or _probe_all(
        env_python, pins, progress, workers
    )
    record["packages"] = [asdict(p) for p in packages]
    _write_record(root, record)
    _build_sources(env_python, root, packages, progress)
    _resolve(env_python, root, packages, progress)
    record["packages"] = [asdict(p) for p in packages]
    _write_record(root, record)
    _install(env_python, root, packages, progress)
    freeze = _pip(env_python, "freeze", "--all").stdout.splitlines()
    (root / FREEZE).write_text("\n".join(freeze) + "\n", encoding="utf-8")
    installed: dict[str, str] = {
        canonicalize_name(n): v for n, _, v in (f.partition("==") for f in freeze) if v
    }
    for package in packages:
        package.installed = installed.get(package.name)
    record.update(
        status="complete",
        packages=[asdict(p) for p in packages],
        freeze=freeze,
        seconds=round(record.get("seconds", 0.0) + time.monotonic() - started, 1),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    _write_record(root, record)
    changed = [p for p in packages if p.change != "kept"]
    progress(f"done in {record['seconds']:.0f} s: {len(freeze)} distributions installed")
    for package in changed:
        progress(f"  {package.requested}: {package.change}, {package.reason}")
    return record


def _make_venv(root: Path, python: str | None, progress: Progress) -> Path:
    env_python = root / "bin" / "python"
    if not env_python.exists():
        base = python or getattr(sys, "_base_executable", None) or sys.executable
        progress(f"creating the venv {root} with {base}")
        made = subprocess.run(
            [base, "-m", "venv", str(root)], capture_output=True, text=True, check=False
        )
        if made.returncode != 0:
            raise EnvError(f"{base} -m venv {root} failed: {_tail(made.stderr or made.stdout)}")
    version = _describe(env_python)["version"]
    if tuple(int(x) for x in version.split(".")[:2]) < MIN_PYTHON:
        raise EnvError(
            f"{env_python} is Python {version}: candidates need Python "
            f"{'.'.join(map(str, MIN_PYTHON))} or later (choose another with --python)"
        )
    return env_python


def _describe(env_python: Path) -> dict[str, str]:
    query = "import platform, sys; print(platform.python_version(), sys.base_prefix)"
    out = subprocess.run(
        [str(env_python), "-I", "-c", query], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise EnvError(f"{env_python} does not run: {_tail(out.stderr)}")
    version, base = out.stdout.split(maxsplit=1)
    return {"executable": str(env_python), "version": version, "base_prefix": base.strip()}


def _probe_all(python: Path, pins: list[Pin], progress: Progress, workers: int) -> list[Package]:
    """Decide each requirement from the versions that have a wheel for this Python."""
    progress(f"probing {len(pins)} requirements for wheels that fit this Python")
    with ThreadPoolExecutor(workers) as pool:
        found = list(pool.map(lambda pin: _wheels(python, pin.name), pins))
    packages = []
    for pin, versions in zip(pins, found, strict=True):
        package = Package(pin.name, pin.line, pin.line)
        if not versions:
            package.change = "source"
            package.reason = "no wheel of any version for this Python: built from source"
        elif pin.version is not None and not _listed(pin.version, versions):
            chosen = nearest_version(pin.version, versions)
            assert chosen is not None  # versions is not empty
            package.install = series(pin.name, chosen)
            package.change = "relaxed"
            package.reason = (
                f"no wheel of {pin.version} for this Python; nearest with one: {chosen}"
            )
        packages.append(package)
        if package.change != "kept":
            progress(f"  {pin.line}: {package.change} -> {package.install} ({package.reason})")
    return packages


def _listed(version: str, versions: list[str]) -> bool:
    """Whether ``version`` is among ``versions`` as PEP 440 compares them (4.15 is 4.15.0)."""
    return any(SpecifierSet(f"=={version}").contains(v, prereleases=True) for v in versions)


def _wheels(python: Path, name: str) -> list[str]:
    """The versions of ``name`` that have a wheel for ``python`` (pip lists them when
    asked for a version that cannot exist)."""
    result = _pip(
        python,
        "install",
        "--dry-run",
        "--no-deps",
        "--ignore-installed",
        "--only-binary=:all:",
        f"{name}===rerank-probe",
        timeout=600,
    )
    _reachable(result)
    versions = wheel_versions(result.stdout + result.stderr)
    if versions is None:
        raise EnvError(f"probing {name} with pip failed: {_tail(result.stderr)}")
    return versions


def _build_sources(python: Path, root: Path, packages: list[Package], progress: Progress) -> None:
    """Build a wheel of each ``source`` package (dropping it if the build fails)."""
    for package in packages:
        if package.change == "source" and package.install is not None:
            _build_wheel(python, root, package, progress)


def _build_wheel(python: Path, root: Path, package: Package, progress: Progress) -> None:
    wheels = root / WHEELS
    if any(canonicalize_name(w.name.split("-")[0]) == package.name for w in wheels.glob("*.whl")):
        return
    progress(f"building {package.install} from its source distribution")
    assert package.install is not None
    result = _pip(python, "wheel", "--no-deps", "--wheel-dir", str(wheels), package.install)
    _reachable(result)
    if result.returncode != 0:
        package.reason = (
            f"no wheel for this Python and the source build failed: {_tail(result.stderr, 1)}"
        )
        package.change, package.install = "dropped", None
        progress(f"  dropped {package.requested}: {package.reason}")


def _install_args(root: Path, packages: list[Package]) -> list[str]:
    lines = [p.install for p in packages if p.install is not None]
    (root / REQUIREMENTS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / WHEELS).mkdir(exist_ok=True)
    return [
        "--only-binary=:all:",
        "--find-links",
        str(root / WHEELS),
        "-r",
        str(root / REQUIREMENTS),
    ]


def _resolve(python: Path, root: Path, packages: list[Package], progress: Progress) -> None:
    """Make the set consistent: move constrained pins, build missing dependencies."""
    by_name = {p.name: p for p in packages}
    for _ in range(_MAX_ROUNDS):
        progress("resolving the whole set with pip")
        result = _pip(
            python,
            "install",
            "--dry-run",
            "--ignore-installed",
            *_install_args(root, packages),
        )
        _reachable(result)
        if result.returncode == 0:
            return
        output = result.stdout + result.stderr
        constrained = conflicts(output)
        moved = [
            n
            for n, specs in constrained.items()
            if n in by_name and _move(python, by_name[n], specs)
        ]
        if moved:
            for package in (by_name[n] for n in moved):
                progress(f"  {package.requested}: relaxed -> {package.install} ({package.reason})")
            continue
        missing = missing_distribution(output)
        if missing is not None and missing not in by_name:
            extra = Package(
                missing, missing, missing, "source", "a dependency with no wheel for this Python"
            )
            _build_wheel(python, root, extra, progress)
            if extra.change == "source":
                packages.append(extra)
                by_name[missing] = extra
                continue
        raise EnvError(f"pip cannot install the requirements together: {_tail(output, 8)}")
    raise EnvError(f"the requirements did not resolve in {_MAX_ROUNDS} rounds")


def _move(python: Path, package: Package, specs: list[tuple[str, str]]) -> bool:
    """Move ``package`` to the nearest version every constraint allows; False if its
    current choice already satisfies them or no version does."""
    allowed = SpecifierSet(",".join(spec for _, spec in specs if spec))
    if package.install is None:
        return False
    current = Requirement(package.install).specifier
    wheels = _wheels(python, package.name)
    if any(v in allowed and v in current for v in wheels) or not current:
        return False  # some version fits both: the conflict is elsewhere
    requested = list(Requirement(package.requested).specifier)
    anchor = requested[0].version if requested else wheels[-1] if wheels else "0"
    chosen = nearest_version(anchor, wheels, allowed)
    if chosen is None:
        return False
    package.install = series(package.name, chosen)
    package.change = "relaxed"
    who = "; ".join(dict.fromkeys(f"{w.split()[0]} needs {s}" for w, s in specs))
    package.reason = (package.reason + "; " if package.reason else "") + who
    return True


def _install(python: Path, root: Path, packages: list[Package], progress: Progress) -> None:
    progress("installing (pip)")
    command = [str(python), "-m", "pip", "--disable-pip-version-check", "install"]
    command += _install_args(root, packages)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-8:]
            if line.startswith(("Collecting", "Installing", "Successfully", "ERROR")):
                progress("  " + line)
    if proc.returncode != 0:
        raise EnvError(f"pip install failed in {root}: {' / '.join(tail)}")
