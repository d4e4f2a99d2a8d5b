"""What made a report: the rerank version and commit, when it ran, and on what machine.

``metrics.json`` opens with this record (``run``), so a number can be traced to the code
and the hardware behind it (seconds per item mean little without the CPU count)::

    started = provenance()
    ...
    report["run"] = started.finish()
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rerank import __version__

__all__ = ["Provenance", "git_commit", "machine", "provenance"]

#: The checkout rerank runs from, when it runs from one (an editable install).
_CHECKOUT = Path(__file__).resolve().parents[2]


def git_commit(folder: Path = _CHECKOUT) -> dict[str, Any] | None:
    """The commit of the checkout at ``folder`` and whether tracked files differ from it.

    Returns
    -------
    ``{"commit": sha, "dirty": bool}``, or None when ``folder`` is no git checkout (an
    installed wheel) or git cannot be run.
    """
    if not (folder / ".git").exists():
        return None

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def machine() -> dict[str, Any]:
    """CPUs (all, and those this process may use), Python, the platform and processor."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(usable) if usable is not None else os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


@dataclass
class Provenance:
    """A report's start: finished by :meth:`finish` into ``metrics.json``'s ``run``."""

    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)

    def finish(self) -> dict[str, Any]:
        """The record: version, commit, start and end (UTC, ISO 8601), seconds, machine."""
        return {
            "rerank_version": __version__,
            "git": git_commit(),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - self.clock, 3),
            "machine": machine(),
        }


def provenance() -> Provenance:
    """Start the record of a report now."""
    return Provenance()
