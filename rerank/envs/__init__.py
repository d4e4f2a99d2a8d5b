"""Execution environments: the interpreter (and libraries) code candidates run on.

Candidates that import third-party libraries (BigCodeBench's use sklearn, scipy, seaborn,
requests, flask, ...) need an interpreter that has them, and rerank's own venv should
not be it. ``rerank env create bigcodebench`` builds one (:func:`create_env`, in
:mod:`rerank.envs.build`) from a requirement list shipped with the package; ``rerank
select --exec-env DIR`` runs candidates on its interpreter (:func:`exec_python`).
docs/environments.md has the whole picture.

Examples
--------
>>> sorted(NAMED)
['bigcodebench']
>>> default_env_dir("bigcodebench", cache_home="/c").as_posix()
'/c/rerank/envs/bigcodebench'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from rerank.envs.build import MIN_PYTHON, RECORD, EnvError, create_env, read_record

__all__ = [
    "MIN_PYTHON",
    "NAMED",
    "RECORD",
    "EnvError",
    "create_env",
    "default_env_dir",
    "env_dir",
    "exec_python",
    "named_requirements",
    "read_record",
]

#: Environments rerank knows how to build: name -> requirement file shipped here.
NAMED = {"bigcodebench": "bigcodebench.txt"}


def named_requirements(name: str) -> str:
    """The requirement list of a named environment (see :data:`NAMED`)."""
    if name not in NAMED:
        raise EnvError(
            f"no environment named {name!r} (known: {', '.join(sorted(NAMED))}); "
            "give your own list with --requirements FILE"
        )
    return resources.files(__name__).joinpath(NAMED[name]).read_text(encoding="utf-8")


def default_env_dir(name: str, *, cache_home: str | None = None) -> Path:
    """Where ``rerank env create NAME`` puts an environment by default:
    ``$XDG_CACHE_HOME/rerank/envs/NAME`` (``~/.cache`` when unset)."""
    home = cache_home or os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(home) / "rerank" / "envs" / name


def env_dir(value: str) -> Path:
    """An environment given as a directory, or by name (its default directory)."""
    path = Path(value).expanduser()
    if path.is_dir() or os.sep in value or value in (".", ".."):
        return path.absolute()
    return default_env_dir(value)


def exec_python(env: str | None = None, python: str | None = None) -> str | None:
    """The interpreter candidates run on: ``python`` as given, or ``env``'s (a directory
    from ``rerank env create``, or its name); None for the sandbox's default.

    Raises :class:`EnvError` for a missing interpreter or an environment still building.
    """
    if env is not None and python is not None:
        raise EnvError("give an environment or an interpreter, not both")
    if python is not None:
        path = Path(python).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EnvError(f"{python} is not an executable interpreter")
        return _checked(str(path.absolute()))
    if env is None:
        return None
    root = env_dir(env)
    interpreter = root / "bin" / "python"
    if not interpreter.is_file():
        hint = f"; build it with `rerank env create {env}`" if env in NAMED else ""
        raise EnvError(f"{root} is not an environment: no bin/python in it{hint}")
    record = read_record(root)
    if record is not None and record.get("status") != "complete":
        raise EnvError(f"{root} is still being built: run `rerank env create` again to finish it")
    return _checked(str(interpreter))


def _checked(python: str) -> str:
    """``python``, if the code verifier's worker runs on it (Python 3.10+)."""
    from rerank.sandbox.isolation import interpreter

    try:
        version = interpreter(python).version
    except ValueError as exc:
        raise EnvError(str(exc)) from None
    if tuple(version[:2]) < MIN_PYTHON:
        shown, oldest = ".".join(map(str, version)), ".".join(map(str, MIN_PYTHON))
        raise EnvError(f"{python} is Python {shown}: code candidates need {oldest} or later")
    return python
