"""A persistent cache of verdicts, in SQLite, so a rerun costs no LLM call it already paid for.

A verdict is stored under :func:`verdict_key`: a SHA-256 of everything that can change the
answer (model, skill hash, prompt, candidate texts, display order, sampling parameters,
protocol version). Change any of them and the key changes; pass the same values (in any
keyword order) and it does not.

The file is in WAL mode and every :meth:`VerdictCache.put` commits, so several threads and
several processes can share it and a killed run keeps what it stored. :class:`NullCache`
stores nothing, for ``--no-cache``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from rerank.errors import CacheError

__all__ = ["NullCache", "VerdictCache", "default_cache_path", "verdict_key"]

# Part of every key: bump it when what a key stands for changes, and old entries are ignored.
KEY_VERSION = "rerank-verdict/1"
BUSY_TIMEOUT_SECONDS = 30.0


def verdict_key(**parts: Any) -> str:
    """A stable SHA-256 (hex) over a canonical JSON of ``parts``.

    Parameters
    ----------
    **parts : JSON data: everything that can change the answer. Keys are sorted, tuples
        count as lists and a whole float as the integer it equals (``temperature=0`` and
        ``temperature=0.0`` ask the same thing).

    Returns
    -------
    str, 64 hex digits.

    Raises
    ------
    TypeError
        for a part that is not JSON data.

    Examples
    --------
    >>> verdict_key(model="m", order=[1, 0]) == verdict_key(order=(1, 0), model="m")
    True
    >>> verdict_key(model="m", order=[1, 0]) == verdict_key(model="m", order=[0, 1])
    False
    """
    canonical = json.dumps(
        {"version": KEY_VERSION, "parts": _canonical(parts)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a verdict key part must be JSON data, not {type(value).__name__}: {value!r}")


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/rerank/verdicts.sqlite``, else ``~/.cache/rerank/verdicts.sqlite``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative path.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "rerank" / "verdicts.sqlite"


class VerdictCache:
    """Verdicts (JSON objects) by key, in the SQLite file at ``path`` (created if missing)."""

    key = staticmethod(verdict_key)

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit: each put is its own transaction
                check_same_thread=False,  # shared by threads, behind self._lock
            )
            # WAL lets readers and writers (other processes too) proceed together; with it,
            # synchronous=NORMAL keeps every commit through a crash of the process.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.DatabaseError) as exc:
            raise self._unusable(exc) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        """The verdict stored under ``key``, or ``None``."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT value FROM verdicts WHERE key = ?", (key,)
                ).fetchone()
            value = None if row is None else json.loads(row[0])
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise self._unusable(exc) from exc
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key`` (replacing what was there), committed at once."""
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO verdicts (key, value, created) VALUES (?, ?, ?)",
                    (key, text, time.time()),
                )
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VerdictCache({str(self.path)!r})"

    def _unusable(self, exc: BaseException) -> CacheError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            why = f"is locked: another process held it for over {BUSY_TIMEOUT_SECONDS:g} s"
        elif isinstance(exc, OSError):
            why = f"cannot be opened ({exc})"
        else:
            why = f"is damaged or not a rerank cache ({exc})"
        return CacheError(
            f"the verdict cache {self.path} {why}. Run with --no-cache, or delete the file "
            "to start an empty cache."
        )


class NullCache:
    """A cache that stores nothing (``--no-cache``): every :meth:`get` misses."""

    key = staticmethod(verdict_key)
    hits = 0
    misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> NullCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return "NullCache()"
